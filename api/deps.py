"""What every route needs, as reusable `Annotated` dependencies: the ledger, the caller, the request.

The caller comes from one dependency (`recorded_by`), so replacing the `X-Caller` header with
bearer tokens later changes this file only.
"""

from typing import Annotated, cast

from fastapi import Depends, Header, Path
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator
from starlette.requests import HTTPConnection

from api.answers import Reply
from api.schemas.common import IN_A_PATH, nameable
from ledger.application import ConsentLedger, Request
from ledger.terms import SubjectId

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Any unique string (a UUID will do): a retry with the same key and body records nothing new "
        "and gets the first receipt back; the same key with another body is refused.",
    ),
]
"""The caller's key that makes a retried write safe: printable ASCII, as a header allows."""

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        pattern=r'^"[0-9]{1,18}"$',
        description='The record\'s version as last read (its `ETag`, e.g. `"4"`): the write is refused with 412 '
        "if anything was recorded since (optimistic concurrency, RFC 9110 §13.1.1).",
    ),
]
"""The record version the writer last read, as the `ETag` it was given."""


def ledger(connection: HTTPConnection) -> ConsentLedger:
    """Hand routes the ledger this app was made for (`create_app(ledger)`)."""
    return cast("ConsentLedger", connection.app.state.ledger)


def recorded_by(
    caller: Annotated[
        str,
        Header(
            alias="X-Caller",
            min_length=1,
            max_length=100,
            description="The service or person recording the fact (UTF-8); every event keeps it.",
        ),
    ],
) -> str:
    """Name who records the fact: every event keeps the calling service or person (Art. 22(1)(5))."""
    try:  # HTTP hands header bytes over as Latin-1; a person's name arrives as UTF-8
        return caller.encode("latin-1").decode()
    except UnicodeError:
        error = {"type": "value_error", "loc": ("header", "X-Caller"), "msg": "must be UTF-8 text", "input": caller}
        raise RequestValidationError([error]) from None


LedgerDep = Annotated[ConsentLedger, Depends(ledger)]
"""The ledger, for a route parameter."""

RecordedBy = Annotated[str, Depends(recorded_by)]
"""The calling service or person, for a route parameter; the one place that knows where it comes from."""


def write_request(caller: RecordedBy, idempotency_key: IdempotencyKey = None) -> Request:
    """Describe a write to a policy, breach or claim: who writes, and their idempotency key."""
    return Request(caller, idempotency_key)


def subject_write_request(
    caller: RecordedBy, idempotency_key: IdempotencyKey = None, if_match: IfMatch = None
) -> Request:
    """Describe a write to a subject's record, which may also name the version the writer last read."""
    expected = int(if_match.strip('"')) if if_match is not None else None
    return Request(caller, idempotency_key, expected)


WriteRequest = Annotated[Request, Depends(write_request)]
"""The ledger's `Request` for a write to a policy, breach or claim."""

SubjectWriteRequest = Annotated[Request, Depends(subject_write_request)]
"""The ledger's `Request` for a write to a subject's record, with `If-Match` as its expected version."""

ReplyDep = Annotated[Reply, Depends()]
"""The answer a write builds: status, `Location`, `ETag`, the receipt."""

SubjectIdPath = Annotated[
    SubjectId,
    Path(min_length=1, max_length=200, pattern=IN_A_PATH, description="The subject's pseudonymous id."),
    AfterValidator(nameable),
]
"""A subject id in the path, bounded as the ledger bounds it (200 characters)."""
RefPath = Annotated[str, Path(min_length=1, max_length=200, pattern=IN_A_PATH), AfterValidator(nameable)]
"""A reference in the path: a policy id, block id, breach or claim reference."""
