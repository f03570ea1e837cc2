"""How routes answer: a write with its receipt and where to read the record; a read with the record's version."""

from typing import Any
from urllib.parse import quote

from fastapi import Response
from pydantic import BaseModel
from starlette.datastructures import URLPath
from starlette.requests import HTTPConnection

from api.problems import problem_responses
from api.schemas.common import ReceiptPublic
from ledger import application
from ledger.errors import ConcurrentWriteConflict, IdempotencyKeyReused, LedgerError

ETAG: dict[str, Any] = {
    "description": 'The record\'s version, e.g. `"4"`: send it as `If-Match`.',
    "schema": {"type": "string"},
}
_HEADERS: dict[str, Any] = {
    "Location": {"description": "Where to read the record the fact was added to.", "schema": {"type": "string"}},
    "ETag": ETAG,
}


class Reply:
    """The answer being built for one write (a FastAPI dependency: it holds the request and response)."""

    def __init__(self, connection: HTTPConnection, response: Response) -> None:
        self.connection = connection
        self.response = response

    def receipt(self, receipt: application.Receipt, read_at: str, **path: str) -> BaseModel:
        """Answer with the receipt and where to read the record (`read_at`, a GET route, with its `path`)."""
        self.response.status_code = 200 if receipt.replayed else 201
        if receipt.replayed:
            self.response.headers["Idempotent-Replayed"] = "true"
        self.response.headers["Location"] = self._location(read_at, path)
        self.response.headers["ETag"] = f'"{receipt.version}"'
        return ReceiptPublic.model_validate(receipt)

    def _location(self, read_at: str, path: dict[str, str]) -> str:
        """`url_for(read_at, **path)`, from a template found once per route: finding a route by name is slow."""
        router = self.connection.scope["router"]
        key = (id(router), read_at, tuple(path))
        template = _TEMPLATES.get(key)
        if template is None:
            template = _TEMPLATES[key] = router.url_path_for(read_at, **{name: "{" + name + "}" for name in path})
        params = {name: quote(value, safe="") for name, value in path.items()}
        return self._origin() + template.format(**params)

    def _origin(self) -> str:
        """Scheme, host and root path, as `make_absolute_url` would put them before a path (found once per host)."""
        scope = self.connection.scope
        server = scope.get("server")  # a list, from some servers and test clients
        key = (scope.get("scheme"), self.connection.headers.get("host"), tuple(server or ()), scope.get("root_path"))
        origin = _ORIGINS.get(key)
        if origin is None:
            origin = str(URLPath("").make_absolute_url(base_url=self.connection.base_url))
            if len(_ORIGINS) < MAX_ORIGINS:
                _ORIGINS[key] = origin
        return origin


_TEMPLATES: dict[tuple[int, str, tuple[str, ...]], str] = {}
"""The path of each read route with `{name}` for each parameter, by router and route name."""

_ORIGINS: dict[tuple[object, ...], str] = {}
"""The start of an absolute URL, by scheme, `Host` header, server and root path: building it took a URL parse."""

MAX_ORIGINS = 64
"""Hosts remembered at most: a `Host` header is the client's to choose, so the memo must not grow without bound."""


def write_responses(*errors: type[LedgerError]) -> dict[int | str, dict[str, Any]]:
    """Document a write's answers in OpenAPI: its receipts, the refusals it may meet, and those every write may."""
    return {
        201: {"description": "The fact was recorded.", "headers": _HEADERS},
        200: {
            "description": "Nothing new was recorded: a retry with the same `Idempotency-Key` and body, "
            "or a fact already on record, gets the first receipt back.",
            "model": ReceiptPublic,
            "headers": {
                **_HEADERS,
                "Idempotent-Replayed": {"description": "`true`.", "schema": {"type": "string", "enum": ["true"]}},
            },
        },
        **problem_responses(*errors, IdempotencyKeyReused, ConcurrentWriteConflict, reads_body=True),
    }


def read_responses(*errors: type[LedgerError]) -> dict[int | str, dict[str, Any]]:
    """Document a read's answers in OpenAPI: the record with its version, or the refusals it may meet."""
    return {200: {"headers": {"ETag": ETAG}}, **problem_responses(*errors)}
