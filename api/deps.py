"""What every route needs, as reusable `Annotated` dependencies: the ledger, the caller, the request.

The caller comes from one dependency (`caller`): a bearer token that must be known, not
revoked, and hold the scope its route declares (`Security(..., scopes=[...])`, which also puts
the scope in the OpenAPI document). A read of one subject's data also needs an `X-Purpose`
and is logged (`SubjectAccess.record`). Authentication runs before the route's own path, query
and body are checked, so a caller without a valid token learns nothing about them; only a body
that is not JSON at all, or is too large, is refused (422, 413) before.
"""

import asyncio
import re
from collections.abc import Callable
from typing import Annotated, Any, cast

from fastapi import Depends, Header, Path, Response, Security, params
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
from pydantic import WithJsonSchema
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection

from api.access_log import AccessLog
from api.answers import Reply
from api.limits import mark_personal
from api.log_watch import log_watch
from api.schemas.common import IN_A_PATH, ONE_LINE
from api.tokens import Scope, Token, TokenStore
from ledger import application
from ledger.application import ConsentLedger, Request
from ledger.errors import StorageUnavailable
from ledger.group_commit import GroupCommitter
from ledger.terms import SubjectId

GRACE_SECONDS = 1.0
"""How much longer than the database's own bound (`Database.timeout`) a write may take before it is a 503."""

IdempotencyKey = Annotated[
    str | None,
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"^[\x21-\x7e]+$"}),
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
    WithJsonSchema({"type": "string", "pattern": r'^"[0-9]{1,18}"$'}),
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


async def committer(connection: HTTPConnection) -> GroupCommitter:
    """Every write of this app goes through one group committer (made on first use, like the tokens).

    Like every dependency here that neither blocks nor waits, it is `async`: a plain `def` would
    cost each request a trip through the thread pool for nothing.
    """
    state = connection.app.state
    commit: GroupCommitter | None = getattr(state, "committer", None)
    if commit is None or commit.ledger is not state.ledger or commit.closed:
        commit = state.committer = GroupCommitter(cast("ConsentLedger", state.ledger))
    return commit


def token_store(connection: HTTPConnection) -> TokenStore:
    """The tokens of the ledger this app serves (made on first use: tests hand an app its ledger late)."""
    state = connection.app.state
    store: TokenStore | None = getattr(state, "tokens", None)
    if store is None or store.ledger is not state.ledger:
        store = state.tokens = TokenStore(cast("ConsentLedger", state.ledger))
    return store


def access_log(connection: HTTPConnection) -> AccessLog:
    """The access log of the ledger this app serves (made on first use, like the tokens)."""
    state = connection.app.state
    log: AccessLog | None = getattr(state, "access_log", None)
    if log is None or log.ledger is not state.ledger:
        log = state.access_log = AccessLog(cast("ConsentLedger", state.ledger))
    return log


BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="BearerToken",
    description="A token made with `consent-ledger token create NAME --scope ...`; its name is recorded as the "
    "caller of every fact it writes, and each operation lists the scope it needs.",
)
"""The `Authorization: Bearer` scheme, documented once in OpenAPI; refusals are ours (401/403 problems)."""


CHALLENGE = {"WWW-Authenticate": 'Bearer realm="consent-ledger"'}
"""The challenge of a 401 (RFC 6750 §3): the client is to authenticate with a bearer token."""

_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {
        "description": "No bearer token, or one unknown or revoked",
        "content": _PROBLEM,
        "headers": {"WWW-Authenticate": {"description": "`Bearer` (RFC 6750).", "schema": {"type": "string"}}},
    },
    403: {"description": "The token lacks the scope this operation needs", "content": _PROBLEM},
}
"""The refusals every authenticated operation may answer, for its OpenAPI document."""


async def caller(
    needed: SecurityScopes,
    connection: HTTPConnection,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> Token:
    """Who calls, if their token is known, not revoked and holds the scope the route needs (401, else 403).

    The token is looked up on every request (a revocation holds at once). A lookup in a SQLite file
    is made on the event loop: it takes microseconds and cannot hang on a network, while a trip
    through the thread pool cost more CPU than the query. PostgreSQL's goes to the thread pool, so
    that a database that does not answer never stalls the loop (and `/healthz` with it).
    """
    if credentials is None:
        raise HTTPException(
            401,
            "send Authorization: Bearer <token>; an operator makes one with `consent-ledger token create`",
            headers=CHALLENGE,
        )
    store = token_store(connection)
    secret = credentials.credentials
    token = store.authenticate(secret) if store.local else await run_in_threadpool(store.authenticate, secret)
    if token is None:
        raise HTTPException(
            401, "the bearer token is unknown or revoked; ask the operator for a valid one", headers=CHALLENGE
        )
    missing = [scope for scope in needed.scopes if scope not in token.scopes]
    if missing:
        raise HTTPException(
            403,
            f"the token {token.name!r} lacks the {', '.join(missing)} scope this needs; "
            "ask the operator for a token that has it",
        )
    return token


def scoped(scope: Scope) -> params.Depends:
    """The dependency a route declares to need `scope` (`dependencies=[scoped(Scope.READ)]`)."""
    dependency: params.Depends = Security(caller, scopes=[scope])
    return dependency


Purpose = Annotated[
    str,
    Header(
        alias="X-Purpose",
        min_length=1,
        max_length=200,
        description="Why the caller reads this subject's data (1-200 characters), kept in the access log that "
        "auditors read (the protection rules ask for a log of actions on personal data).",
        openapi_examples={"claim": {"summary": "answering a claim", "value": "answering claim CL-2026-014"}},
    ),
]
"""The purpose a caller declares for reading one subject's data."""


class SubjectAccess:
    """A read of one subject's data about to be answered: who, why, through which route."""

    def __init__(self, log: AccessLog, ledger: ConsentLedger, token: Token, purpose: str, route: str) -> None:
        self._log, self.ledger = log, ledger
        self.caller, self.purpose, self.route = token.name, purpose, route
        self.local = log.local
        """Whether the ledger is a file on this host, where a question cannot wait on a network."""

    def record(self, subject_id: str) -> None:
        """Log the read of `subject_id`'s data, now; the route answers only after this succeeded."""
        self._log.record(
            at=self.ledger.clock(), caller=self.caller, subject_id=subject_id, route=self.route, purpose=self.purpose
        )

    def recording(self, subject_id: str) -> asyncio.Future[None]:
        """`record` for an `async` route: the row's commit starts now; await it before answering."""
        return self._log.recording(
            at=self.ledger.clock(), caller=self.caller, subject_id=subject_id, route=self.route, purpose=self.purpose
        )


async def subject_access(
    token: Annotated[Token, Security(caller)], purpose: Purpose, connection: HTTPConnection
) -> SubjectAccess:
    """A read of one subject's data, by a caller with the scope the route needs, for a declared purpose.

    `async` because it neither blocks nor waits (the route starts the row's commit and awaits it before answering).
    """
    method = getattr(connection, "method", "GET")
    text = _utf8(purpose, "X-Purpose")
    mark_personal(connection.scope)  # its answer holds the subject's data: no cache may keep it
    return SubjectAccess(access_log(connection), ledger(connection), token, text, f"{method} {_template(connection)}")


def _template(connection: HTTPConnection) -> str:
    """The operation's path as the OpenAPI document names it (`/v1/subjects/{subject_id}/facts`), never the id."""
    route = connection.scope.get("route")
    template: str = getattr(route, "path_format", "")
    path: str = connection.scope["path"]
    concrete = template.format(**connection.scope.get("path_params", {}))
    if template and path.endswith(concrete):  # an included router's route holds its own part of the path only
        return path.removesuffix(concrete) + template
    return template or path


def _utf8(value: str, header: str) -> str:
    """HTTP hands header bytes over as Latin-1; a person's words arrive as UTF-8, on one line (`ONE_LINE`)."""
    try:
        text = value.encode("latin-1").decode()
    except UnicodeError:
        error = {"type": "value_error", "loc": ("header", header), "msg": "must be UTF-8 text", "input": value}
        raise RequestValidationError([error]) from None
    if not re.fullmatch(ONE_LINE, text):
        message = "must be one line of text, without control, line-separator or bidirectional-override characters"
        error = {"type": "value_error", "loc": ("header", header), "msg": message, "input": value}
        raise RequestValidationError([error])
    return text


async def _ledger(connection: HTTPConnection) -> ConsentLedger:
    return ledger(connection)


class Writing(Reply):
    """A write being answered: the ledger, the group commit its command goes through, the reply it builds."""

    def __init__(self, connection: HTTPConnection, response: Response, committer: GroupCommitter) -> None:
        super().__init__(connection, response)
        self.committer = committer
        self.ledger = committer.ledger

    async def run(self, command: Callable[[], application.Receipt]) -> application.Receipt:
        """Run the route's command (`lambda: write.ledger.record(request, fact)`) in the next group commit.

        The database's own waits are bounded (`Database.timeout`); a database that accepts a
        statement and never answers is bounded here: a write not answered by then is a 503. If its
        command had not started, it never will (the committer leaves out a caller that has gone).
        """
        deadline = self.committer.timeout + GRACE_SECONDS
        try:
            async with asyncio.timeout(deadline):  # no task of its own, unlike `wait_for`
                return await self.committer.run(command)
        except TimeoutError:
            msg = f"the ledger's database did not answer within {deadline:g} s"
            raise StorageUnavailable(msg) from None


async def _writing(connection: HTTPConnection, response: Response) -> Writing:
    """One dependency for everything a write route needs besides its caller: each one costs FastAPI time.

    A write is refused (503) while the log is halted: it cannot prove it extends what it signed.
    """
    watch = log_watch(connection)
    if watch.stale():  # at most once a second a write looks at the alarms table, off the event loop
        await run_in_threadpool(watch.alarms)
    watch.require_writable()
    return Writing(connection, response, await committer(connection))


LedgerDep = Annotated[ConsentLedger, Depends(_ledger)]
"""The ledger, for a route parameter."""


RecordedBy = Annotated[Token, Security(caller)]
"""The calling token, whose name every event written keeps; the scope comes from the route that needs it."""


async def write_request(token: RecordedBy, idempotency_key: IdempotencyKey = None) -> Request:
    """Describe a write to a policy, breach or claim: who writes (the token's name), and their idempotency key."""
    return Request(token.name, idempotency_key)


async def subject_write_request(
    token: RecordedBy, idempotency_key: IdempotencyKey = None, if_match: IfMatch = None
) -> Request:
    """Describe a write to a subject's record, which may also name the version the writer last read."""
    expected = int(if_match.strip('"')) if if_match is not None else None
    return Request(token.name, idempotency_key, expected)


WriteRequest = Annotated[Request, Security(write_request, scopes=[Scope.WRITE])]
"""The ledger's `Request` for a write to a breach or claim, by a token with the `write` scope."""

AdminWriteRequest = Annotated[Request, Security(write_request, scopes=[Scope.ADMIN])]
"""The ledger's `Request` for publishing a policy version, by a token with the `admin` scope."""

SubjectWriteRequest = Annotated[Request, Security(subject_write_request, scopes=[Scope.WRITE])]
"""The ledger's `Request` for a write to a subject's record, with `If-Match` as its expected version."""

SubjectRead = Annotated[SubjectAccess, Security(subject_access, scopes=[Scope.READ])]
"""A `read`-scoped question about one subject, logged in the access log with its declared purpose."""

SubjectEvidence = Annotated[SubjectAccess, Security(subject_access, scopes=[Scope.EVIDENCE])]
"""An `evidence`-scoped read of one subject's history or claimant, logged in the access log with its purpose."""

Write = Annotated[Writing, Depends(_writing)]
"""A write route's ledger, group commit and answer (status, `Location`, `ETag`, the receipt)."""

SubjectIdPath = Annotated[
    SubjectId,
    Path(min_length=1, max_length=200, pattern=IN_A_PATH, description="The subject's pseudonymous id."),
]
"""A subject id in the path, bounded as the ledger bounds it (200 characters)."""
RefPath = Annotated[str, Path(min_length=1, max_length=200, pattern=IN_A_PATH)]
"""A reference in the path: a policy id, block id, breach or claim reference."""
