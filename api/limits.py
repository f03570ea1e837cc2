"""A limit on request bodies that answers 413 as a problem, like every other refusal.

FastAPI's own `max_body_size` answers `text/plain` whenever the declared length is too big,
whatever the exception handlers say; this raises Starlette's `HTTPException` instead, from
inside the route that reads the body, so `api.problems` answers it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    """Refuse a body larger than `max_bytes` before reading past it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on with a `receive` that counts what it hands over."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        received = int(declared) if declared.isdigit() else 0

        async def counted() -> Message:
            nonlocal received
            if received <= self.max_bytes:
                message = await receive()
                if not declared.isdigit():
                    received += len(message.get("body", b""))
                if received <= self.max_bytes:
                    return message
            raise HTTPException(413, f"the body is larger than the {self.max_bytes} bytes the ledger accepts")

        await self.app(scope, counted, send)
