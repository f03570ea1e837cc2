"""The one place that turns a refusal into an HTTP answer: RFC 9457 `application/problem+json`.

Every domain error class has one status and one problem type, so a client branches on `type`
and a person reads `detail`. Invalid requests (bad JSON, a naive time, an unknown enum value,
a missing header) and Starlette's own HTTP errors answer in the same shape.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException
from starlette.routing import compile_path

from api.schemas.problem import FieldError, Problem
from audit.alarms import LogDamaged, LogHalted
from audit.log import NotWitnessed
from audit.receipts import NoReceiptKey
from ledger.errors import (
    ConcurrentWriteConflict,
    IdempotencyKeyReused,
    InvalidFact,
    LedgerError,
    NotFound,
    RuleBroken,
    StorageFull,
    StorageUnavailable,
    VersionMismatch,
)
from ledger.storage import DRIVER_ERRORS, translated
from projections.errors import ViewBehind

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Sequence

    from starlette.requests import Request
    from starlette.responses import Response

PROBLEM_JSON = "application/problem+json"
"""The media type of every error answer (RFC 9457 §3)."""

TYPE_PREFIX = "tag:consent-ledger,2026:problem:"
"""Problem types are `tag:` URIs (RFC 4151): stable names that do not pretend to be web pages."""

STATUS: dict[type[LedgerError], int] = {
    InvalidFact: 422,
    NotFound: 404,
    RuleBroken: 409,
    IdempotencyKeyReused: 422,
    ConcurrentWriteConflict: 409,
    VersionMismatch: 412,
    ViewBehind: 503,
    LogHalted: 503,
    LogDamaged: 503,
    NotWitnessed: 503,
    NoReceiptKey: 503,
    StorageUnavailable: 503,
    StorageFull: 507,
    LedgerError: 400,
}
"""The status of each refusal; a subclass (e.g. `SubjectBlocked` of `RuleBroken`) takes its base's."""

NAMES: dict[type[LedgerError], str] = {StorageUnavailable: "database-unavailable"}
"""Problem types named otherwise than their class: the name clients knew before the storage seam named the error."""

RETRY_AFTER_SECONDS = 1
"""A concurrent-write conflict clears as soon as the other writers are done: retry shortly."""

DATABASE_RETRY_AFTER_SECONDS = 5
"""How long a client should wait before retrying while the database is unreachable."""

FULL_RETRY_AFTER_SECONDS = 60
"""A full disk needs an operator to free space: retry in a minute, not at once."""

RETRY_AFTER: dict[type[LedgerError], int] = {
    ConcurrentWriteConflict: RETRY_AFTER_SECONDS,
    ViewBehind: RETRY_AFTER_SECONDS,
    StorageUnavailable: DATABASE_RETRY_AFTER_SECONDS,
    StorageFull: FULL_RETRY_AFTER_SECONDS,
}
"""Refusals that clear by themselves, and how many seconds a client should wait before retrying as is."""

INVALID_REQUEST_TITLE = "The request is not valid"
log = logging.getLogger(__name__)


class ProblemResponse(JSONResponse):
    """A JSON answer labelled as an RFC 9457 problem."""

    media_type = PROBLEM_JSON


def status_of(error: type[LedgerError]) -> int:
    """Give the HTTP status of a refusal: that of the nearest class in `STATUS`."""
    return next(STATUS[cls] for cls in error.__mro__ if cls in STATUS)


def type_of(error: type[LedgerError]) -> str:
    """Name a refusal's problem type after its class: `...:no-ground-for-disclosure`."""
    return TYPE_PREFIX + NAMES.get(error, re.sub(r"(?<!^)(?=[A-Z])", "-", error.__name__).lower())


def _instance(request: Request) -> str:
    """The path as the client sent it, still percent-encoded: a URI reference, as RFC 9457 asks."""
    raw: bytes = request.scope.get("raw_path") or request.url.path.encode()
    return raw.decode("latin-1")


def edge_problem(scope: Any, status: int, detail: str) -> ProblemResponse:
    """A refusal answered before any route ran (a path that is not UTF-8, a header sent twice)."""
    raw: bytes = scope.get("raw_path") or scope["path"].encode()
    phrase = HTTPStatus(status).phrase
    return _answer(
        Problem(type="about:blank", title=phrase, status=status, detail=detail, instance=raw.decode("latin-1"))
    )


def _answer(problem: Problem, headers: dict[str, str] | None = None) -> ProblemResponse:
    return ProblemResponse(problem.model_dump(mode="json", by_alias=True, exclude_none=True), problem.status, headers)


async def refused(request: Request, error: LedgerError) -> Response:
    """Answer a refusal of the ledger: nothing was recorded; its message says what to do next."""
    kind = type(error)
    status = status_of(kind)
    retry = next((RETRY_AFTER[cls] for cls in kind.__mro__ if cls in RETRY_AFTER), None)
    headers = {"Retry-After": str(retry)} if retry is not None else None
    detail = str(error)
    if isinstance(error, (StorageUnavailable, StorageFull)):
        detail = f"{detail}; {_what_became_of(request)}"
    problem = Problem(type=type_of(kind), title=kind.title, status=status, detail=detail, instance=_instance(request))
    return _answer(problem, headers)


def _what_became_of(request: Request) -> str:
    """What a request the database could not take left behind, and how to retry it safely."""
    if request.method in {"GET", "HEAD"}:
        return "the question was not answered. Retry it later"
    return (
        "nothing is known to have been recorded. Retry the same request later, with the same "
        "Idempotency-Key so that it is recorded at most once"
    )


def _field_error(error: dict[str, Any]) -> FieldError:
    location, *path = error["loc"] or ("body",)
    message = str(error["msg"])
    if error.get("type") == "json_invalid":
        return FieldError(location="body", name="", detail=f"{message}: {error.get('ctx', {}).get('error', '')}")
    if location == "body":
        name = "".join(f"/{str(part).replace('~', '~0').replace('/', '~1')}" for part in path)
    else:
        name = ".".join(str(part) for part in path)
    return FieldError.model_validate({"location": location, "name": name, "detail": message})


MAX_LISTED_ERRORS = 20
"""Parts of a request named in one refusal at most: the answer stays small whatever the request."""


async def invalid_request(request: Request, error: RequestValidationError) -> Response:
    """Answer a request the edge cannot accept as it is, with each part that is wrong and why (the first 20)."""
    found = error.errors()
    errors = [_field_error(e) for e in found[:MAX_LISTED_ERRORS]]
    if "json" not in request.headers.get("content-type", "") and any(e.location == "body" for e in errors):
        errors.append(FieldError(location="header", name="Content-Type", detail="send the body as application/json"))
    listed = "; ".join(f"{e.location} {e.name or '(whole)'}: {e.detail}" for e in errors)
    problem = Problem(
        type=TYPE_PREFIX + "invalid-request",
        title=INVALID_REQUEST_TITLE,
        status=422,
        detail=f"{len(found)} part(s) of the request are not valid: {listed}{_more(len(found) - MAX_LISTED_ERRORS)}",
        instance=_instance(request),
        errors=errors,
    )
    return _answer(problem)


def _more(unlisted: int) -> str:
    return f"; and {unlisted} more, not listed" if unlisted > 0 else ""


async def http_error(request: Request, error: HTTPException) -> Response:
    """Answer Starlette's own errors (no such route, method not allowed, body too large) as problems."""
    phrase = HTTPStatus(error.status_code).phrase
    path = _instance(request)
    detail = error.detail if error.detail and error.detail != phrase else f"{phrase}: {request.method} {path}"
    problem = Problem(type="about:blank", title=phrase, status=error.status_code, detail=detail, instance=path)
    headers = dict(error.headers or {})
    if error.status_code == HTTPStatus.METHOD_NOT_ALLOWED:
        headers["Allow"] = ", ".join(_allowed(request))
    return _answer(problem, headers)


def _allowed(request: Request) -> list[str]:
    """Every method some route answers at this path: Starlette names only the first route's (GET, not also POST)."""
    methods: set[str] = set()
    path = request.url.path
    for route in iter_route_contexts(request.app.router.routes):
        if route.path and route.methods and compile_path(route.path)[0].match(path):
            methods.update(route.methods)
    return sorted(methods)


async def unexpected(request: Request, _error: Exception) -> Response:
    """Answer a fault of ours, not of the request, without leaking internals (the server logs it)."""
    problem = Problem(
        type="about:blank",
        title="Internal Server Error",
        status=500,
        detail="the ledger could not answer; nothing is known to have been recorded. Retry, or report it",
        instance=_instance(request),
    )
    return _answer(problem)


def is_database_unavailable(error: BaseException) -> bool:
    """Whether `error` says the database cannot be reached, rather than that something of ours is broken."""
    return isinstance(translated(error), StorageUnavailable)


async def database_error(request: Request, error: Exception) -> Response:
    """Answer a request the database could not take (down, unreachable, full) with 503 or 507, or a fault with 500."""
    meaning = translated(error)
    if meaning is None:
        return await unexpected(request, error)
    cause = error.__cause__ or error
    log.warning("database: %s: %s", type(cause).__name__, (str(error).splitlines() or [""])[0])
    return await refused(request, meaning)


HANDLERS: dict[int | type[Exception], Callable[[Request, Any], Coroutine[Any, Any, Response]]] = {
    LedgerError: refused,
    RequestValidationError: invalid_request,
    HTTPException: http_error,
    **dict.fromkeys(DRIVER_ERRORS, database_error),
    Exception: unexpected,
}
"""Exception handlers for `FastAPI(exception_handlers=...)`."""


def _content(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def problem_responses(*errors: type[LedgerError], reads_body: bool = False) -> dict[int | str, dict[str, Any]]:
    """Document the refusals a route may answer in OpenAPI, always with the 422 of a bad request."""
    reasons: dict[int, list[str]] = {422: [f"{INVALID_REQUEST_TITLE} (`invalid-request`: see `errors`)"]}
    if reads_body:
        reasons[400] = ["The body could not be read (it is not UTF-8 text)"]
        reasons[413] = ["The body is larger than the ledger accepts"]
    for error in errors:
        reasons.setdefault(status_of(error), []).append(f"{error.title} (`{type_of(error).removeprefix(TYPE_PREFIX)}`)")
    responses: dict[int | str, dict[str, Any]] = {
        status: _content("; ".join(dict.fromkeys(titles))) for status, titles in sorted(reasons.items())
    }
    if ConcurrentWriteConflict in errors:
        responses[409]["headers"] = {
            "Retry-After": {"description": "Seconds to wait before retrying as is.", "schema": {"type": "integer"}}
        }
    return responses


def problem_schemas() -> dict[str, Any]:
    """Give the `Problem` schema and those it uses, for the OpenAPI document's components."""
    models: Sequence[tuple[type[Problem], Any]] = [(Problem, "serialization")]
    _, top = models_json_schema(models, ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = top["$defs"]
    return schemas
