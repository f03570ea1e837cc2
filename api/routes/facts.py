"""Every fact the ledger records, as a POST route read off its declaration (`ledger.facts`).

A route takes its path parameters and its body (`api.schemas.facts`), states the fact, runs
`ledger.record` in the next group commit, and answers 201 with the receipt, the record's
`Location` and `ETag` (200 for an idempotent retry). Its path, name, description and the
refusals it documents are the fact's own, so a new fact needs no route written for it.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.answers import write_responses
from api.deps import AdminWriteRequest, SubjectWriteRequest, Write, WriteRequest
from api.routes.receipts import ReceiptFormat, receipt_key_of, signed_receipt
from api.schemas.common import ReceiptPublic, attribute_docstrings
from api.schemas.facts import path_parameters, translated
from api.schemas.policies import body_for
from ledger.application import FACTS
from ledger.breach import BreachFact
from ledger.claim import ClaimFact
from ledger.facts import hints
from ledger.policy import PolicyVersion
from ledger.subject_facts import SubjectFact

if TYPE_CHECKING:
    from ledger.facts import Fact
    from ledger.writing import Request

router = APIRouter()


class ConsentWriteReceipt(ReceiptPublic):  # type: ignore[misc,valid-type]
    """What a consent event's write answers: the receipt of the write, and the subject's signed consent receipt."""

    consent_receipt: str | None = Field(
        default=None,
        description="The subject's signed ISO/IEC TS 27560 receipt of this event: a compact JWS (EdDSA, Ed25519) "
        "checked with GET /v1/log/receipt-key; later, with its inclusion proof, at GET "
        "/v1/subjects/{subject_id}/receipts/{position}.",
    )


READ: dict[type[Fact], tuple[str, str, str]] = {
    PolicyVersion: ("read_policy", "policy_id", "policies"),
    SubjectFact: ("read_subject_facts", "subject_id", "subjects"),
    BreachFact: ("read_breach", "breach_ref", "breaches"),
    ClaimFact: ("read_claim", "claim_ref", "claims"),
}
"""Per family of facts: the GET route a write's `Location` points to, the parameter naming the record, its tag."""


def _family(fact: type[Fact]) -> tuple[str, str, str]:
    return next(read for family, read in READ.items() if issubclass(fact, family))


def _writer(fact: type[Fact]) -> Any:
    """Who may state the fact: policies take the `admin` scope; a subject's record honours `If-Match`."""
    if issubclass(fact, PolicyVersion):
        return AdminWriteRequest
    return SubjectWriteRequest if issubclass(fact, SubjectFact) else WriteRequest


def _route(fact: type[Fact]) -> None:
    body_model = body_for(fact)
    read_at, names_record, tag = _family(fact)
    in_path = path_parameters(fact)

    async def write_fact(**given: Any) -> BaseModel:
        body, request, write = given.pop("body"), given.pop("request"), given.pop("write")
        stated: Fact = body.stated(**{in_path[name]: value for name, value in given.items()})
        ledger = write.ledger

        def command(r: Request = request) -> Any:
            return ledger.record(r, stated, body.occurred_at)

        receipt = await write.run(command)
        answer: BaseModel = write.receipt(receipt, read_at, **{names_record: getattr(stated, names_record)})
        if fact.receipted and receipt_key_of(write.connection) is not None:
            subject = str(getattr(stated, "subject_id", ""))
            kind = ReceiptFormat.ISO_27560
            token = await run_in_threadpool(signed_receipt, write.connection, subject, receipt.position, kind)
            return ConsentWriteReceipt(**answer.model_dump(), consent_receipt=token)
        return answer

    docs = attribute_docstrings(fact)
    parameters = [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[translated(hints(fact)[field], strict=False), Path(description=docs.get(field))],
        )
        for name, field in in_path.items()
    ]
    parameters += [
        inspect.Parameter("body", inspect.Parameter.KEYWORD_ONLY, annotation=body_model),
        inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=_writer(fact)),
        inspect.Parameter("write", inspect.Parameter.KEYWORD_ONLY, annotation=Write),
    ]
    answered = ConsentWriteReceipt if fact.receipted else ReceiptPublic
    write_fact.__signature__ = inspect.Signature(parameters, return_annotation=answered)  # type: ignore[attr-defined]
    write_fact.__name__ = fact.command
    router.add_api_route(
        fact.path,
        write_fact,
        methods=["POST"],
        name=fact.command,
        status_code=201,
        response_model=answered,
        summary=fact.command.replace("_", " ").capitalize(),
        description=inspect.cleandoc(fact.__doc__ or ""),
        responses=write_responses(*fact.refusals),
        tags=[tag],
    )


for _fact in FACTS:
    _route(_fact)
