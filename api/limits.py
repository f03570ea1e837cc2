"""The edge of every request, before any route reads it: bounded, spelt one way, read one way.

- A body larger than the bound is refused with 413 before it is read past the bound.
- A body must be what the OpenAPI document says, UTF-8 JSON (RFC 8259 §8.1): no byte-order
  mark, not UTF-16 or UTF-32 (which Python's `json` would otherwise guess and accept), no key
  twice in one object (which it would let the last one win), at most `MAX_MEMBERS` members in
  an object: each is a 400.
- A path or query whose percent-decoded bytes are not UTF-8 is a 400: they used to be decoded
  with replacement characters, so `%ff`, `%fe`, `%ED%A0%80` and `%C0%AE%C0%AE` all named the
  one subject stored as U+FFFD. One spelling, one record.
- A header that may come once (the bearer token, the idempotency key...) coming twice is a 400,
  rather than the first one silently winning.
- An answer holding one subject's data (`subject_access` marks the request) is `no-store`, so
  that no cache along the way keeps personal data.

These are raised as Starlette's `HTTPException` from inside the route that reads the body, or
answered here before routing, so `api.problems` answers them all as RFC 9457 problems.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException

from api.problems import edge_problem

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

PERSONAL = "consent_ledger.personal_data"
"""The scope key a dependency sets on a request whose answer holds one subject's data."""

ONCE = (b"authorization", b"idempotency-key", b"if-match", b"x-purpose", b"last-event-id", b"content-type")
"""Headers that mean one thing each: two of them make the request ambiguous."""

MARKS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
"""Byte-order marks: UTF-8's, and UTF-16's (UTF-32's begin with these too)."""


MAX_MEMBERS = 1000
"""Members of one JSON object at most (no body of ours has 50): past it, pydantic would list each unknown one."""


class DuplicateKey(ValueError):
    """A JSON object names a key twice."""


class TooManyMembers(ValueError):
    """A JSON object has more members than any body of the API."""


def _refusing_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object's members as a dict, unless a key comes twice or there are too many (JSON's `object_pairs_hook`)."""
    if len(pairs) > MAX_MEMBERS:
        raise TooManyMembers(len(pairs))
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
        raise DuplicateKey(twice)
    return found


def check_json(body: bytes) -> None:
    """Refuse (400) a JSON body that is not UTF-8, starts with a byte-order mark, or names a key twice in an object.

    Time and memory are linear in the body. A body that is not JSON at all is left to FastAPI,
    which answers it with its own 422 (as before).
    """
    if body.startswith(MARKS):
        raise HTTPException(400, "the body starts with a byte-order mark: send UTF-8 JSON without one (RFC 8259 §8.1)")
    if b"\x00" in body:
        raise HTTPException(400, "the body holds NUL bytes, as UTF-16 or UTF-32 text does: send UTF-8 JSON")
    try:
        json.loads(body.decode(), object_pairs_hook=_refusing_duplicates)
    except UnicodeDecodeError:
        raise HTTPException(400, "the body is not UTF-8 text: send UTF-8 JSON") from None
    except DuplicateKey as e:
        detail = f"the key {e.args[0]!r} is given twice in one object: give each key once (RFC 8259 §4)"
        raise HTTPException(400, detail) from None
    except TooManyMembers as e:
        raise HTTPException(400, f"an object has {e.args[0]} members; the ledger reads at most {MAX_MEMBERS}") from None
    except (ValueError, RecursionError):  # not JSON: FastAPI says where
        return


def _utf8_after_decoding(raw: bytes) -> bool:
    """Whether percent-encoded bytes are UTF-8 text once decoded (strictly: no overlong forms, no surrogates)."""
    try:
        unquote_to_bytes(raw).decode()
    except UnicodeDecodeError:
        return False
    return True


def head_refusal(scope: Scope) -> str | None:
    """Why the request's path, query or headers cannot be taken as they are (None if they can)."""
    raw_path = scope.get("raw_path")
    if raw_path is not None and not _utf8_after_decoding(raw_path):
        return "the path is not UTF-8 text once percent-decoded: an id must be UTF-8, spelt one way"
    query: bytes = scope.get("query_string", b"")
    if query and not _utf8_after_decoding(query.replace(b"+", b" ")):
        return "the query is not UTF-8 text once percent-decoded"
    names = [name.lower() for name, _ in scope["headers"]]
    for name in ONCE:
        if (times := names.count(name)) > 1:
            return f"the {name.decode()} header may be sent once, not {times} times: which one is meant is unclear"
    return None


class BodyLimit:
    """The request's edges: a bounded and strictly read body, a UTF-8 path, headers once, no-store for personal data."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse what the head already shows is wrong; pass the rest on with a `receive` that checks the body."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = head_refusal(scope)
        if refusal is not None:
            await edge_problem(scope, 400, refusal)(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        kind = headers.get("content-type", "application/json").split(";")[0].strip().lower()
        checked = kind == "application/json" or kind.endswith("+json")
        received = int(declared) if declared.isdigit() else 0
        chunks: list[bytes] = []

        async def counted() -> Message:
            nonlocal received
            if received <= self.max_bytes:
                message = await receive()
                body = message.get("body", b"")
                if not declared.isdigit():
                    received += len(body)
                if received <= self.max_bytes:
                    if checked and message["type"] == "http.request":
                        chunks.append(body)
                        if not message.get("more_body", False) and any(chunks):
                            check_json(b"".join(chunks))
                    return message
            raise HTTPException(413, f"the body is larger than the {self.max_bytes} bytes the ledger accepts")

        await self.app(scope, counted, _no_store_if_personal(scope, send))


def _no_store_if_personal(scope: Scope, send: Send) -> Send:
    """`send`, adding `Cache-Control: no-store` to the answer if the request read one subject's data."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start" and scope.get(PERSONAL):
            headers = MutableHeaders(scope=message)
            headers["Cache-Control"] = "no-store"
        await send(message)

    return sending


def mark_personal(scope: Scope) -> None:
    """Say that the answer to this request holds one subject's data (see `BodyLimit`)."""
    scope[PERSONAL] = True
