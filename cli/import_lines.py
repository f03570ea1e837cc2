"""The import format: one JSON object per line, each a write the operator could have made over HTTP.

A line names the operation (the HTTP route's name, e.g. `record_disclosure`), the caller the
fact is recorded by (what a bearer token's name is over HTTP), an optional idempotency key, the
path parameters of the route (`subject_id`, `block_id`, `breach_ref`, ...) at the top level, and
the request body under `body`, exactly as it would be POSTed:

    {"op": "record_disclosure", "recorded_by": "orders", "subject_id": "s-1",
     "body": {"recipient": "CDEK", "recipient_category": "courier", "purpose": "4.1.1",
              "data_categories": ["address"], "ground": "order_fulfilment", "reference": "order-7"}}

Each body is checked by the very pydantic model the HTTP API checks it with, so a line is refused
for the same reasons, in the same words, as the POST would be.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Union, cast

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError, create_model

from api.schemas.facts import FactBody, path_parameters, translated
from api.schemas.policies import body_for
from ledger.application import FACTS
from ledger.facts import Fact, hints, sealed

if TYPE_CHECKING:
    from ledger.application import ConsentLedger, Receipt, Request
    from ledger.terms import SubjectId

Caller = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")]
"""Who recorded the fact, as a token's name is over HTTP: one line of at most 100 characters."""

IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]
"""The caller's key that makes a write safe to repeat, as the `Idempotency-Key` header allows it."""


class Line(BaseModel):
    """What every line carries besides its operation's own parameters; unknown fields are refused, as in a body."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    fact: ClassVar[type[Fact]]

    recorded_by: Caller | None = Field(
        default=None, description="The caller the fact is recorded by; the command's --recorded-by if absent."
    )
    idempotency_key: IdempotencyKey | None = Field(
        default=None, description="As the Idempotency-Key header; derived from the line when absent."
    )
    body: FactBody

    def stated(self) -> Fact:
        """The fact this line states, as its HTTP route would: the body, with the path parameters beside it."""
        in_path = path_parameters(self.fact).items()
        return self.body.stated(**{field: getattr(self, name) for name, field in in_path})

    def call(self, ledger: ConsentLedger, request: Request) -> Receipt:
        """Make the write this line stands for, as its HTTP route would."""
        return ledger.record(request, self.stated(), self.body.occurred_at)

    def sealed_for(self) -> SubjectId | None:
        """The subject whose key will seal a personal value of this line, if it carries one."""
        fact = self.stated()
        carries = any(getattr(fact, name) is not None for name in sealed(type(fact)))
        return cast("SubjectId", getattr(fact, "subject_id", None)) if carries else None


def _line(fact: type[Fact]) -> type[Line]:
    """The line of one operation: its `op`, its route's path parameters beside the body, the body itself."""
    fields: dict[str, Any] = {"op": (Literal[fact.command], ...)}
    fields.update({name: (translated(hints(fact)[field]), ...) for name, field in path_parameters(fact).items()})
    fields["body"] = (body_for(fact), ...)
    model: type[Line] = create_model(fact.command, __base__=Line, __doc__=f"`POST /v1{fact.path}`.", **fields)
    model.fact = fact
    return model


LINES = tuple(_line(fact) for fact in FACTS)
AnyLine: Any = Annotated[Union[LINES], Field(discriminator="op")]  # noqa: UP007  (a union of made models)
"""Any line, told apart by its `op`."""

OPERATIONS = tuple(sorted(fact.command for fact in FACTS))
"""The operation names a line may give."""

_LINE: TypeAdapter[Any] = TypeAdapter(cast("Any", AnyLine))  # mypy reads the Annotated union as a type


class BadLine(ValueError):
    """A line that is not a write the HTTP API would accept; the message says why, in one line."""


def parse_line(raw: bytes) -> Line:
    """Read and check one line: JSON, then the same model its HTTP route checks the body with."""
    try:
        line: Line = _LINE.validate_json(raw)
    except ValidationError as e:
        raise BadLine(_first_error(e)) from None
    return line


def _first_error(error: ValidationError) -> str:
    """The first problem, where it is (`body.occurred_at`) and what is wrong, plus how many more there are."""
    problems = error.errors(include_url=False)
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"])
    if first["type"] == "json_invalid":
        message = f"not JSON: {first.get('ctx', {}).get('error', first['msg'])}"
    elif first["type"] == "union_tag_invalid":
        message = f"op must be one of: {', '.join(OPERATIONS)}"
    elif first["type"] == "union_tag_not_found":
        message = "a line names its operation in `op`"
    else:
        message = f"{_without_op(where)}: {first['msg']}" if where else first["msg"]
    more = len(problems) - 1
    return message + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")


def _without_op(where: str) -> str:
    """`record_disclosure.body.reference` reads better as `body.reference`: the op is known from the line."""
    head, _, rest = where.partition(".")
    return rest if head in OPERATIONS and rest else where
