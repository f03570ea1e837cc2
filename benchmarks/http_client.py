"""A lean HTTP/1.1 client for load: kept-alive sockets, no per-request objects beyond the bytes.

The server and its load generator share this machine's two cores. httpx spends about 2.4 ms of
CPU per request on the client side, more than the ledger's server spends answering one, so with
it the benchmark measured mostly httpx. Load tools such as wrk write the request bytes and read
status, headers and body by Content-Length; this does the same, so what is measured is the server.
It speaks only what `consent-ledger serve` (uvicorn) answers: HTTP/1.1 with a Content-Length.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Self
from urllib.parse import urlencode, urlsplit


class TransportError(ConnectionError):
    """The connection failed or the answer was not HTTP/1.1 with a Content-Length."""


@dataclass(frozen=True)
class Answer:
    """Status and body of one response."""

    status: int
    body: bytes

    @property
    def is_success(self) -> bool:
        """A 2xx status."""
        return 200 <= self.status < 300


class Connection:
    """One kept-alive connection; one request at a time on it, as HTTP/1.1 without pipelining does."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes) -> None:
        """Use `open`; `head` is the header lines every request on this connection carries."""
        self._reader = reader
        self._writer = writer
        self._head = head

    @classmethod
    async def open(cls, base: str, headers: dict[str, str]) -> Self:
        """Connect to `base` (http://host:port); every request sends `headers`."""
        url = urlsplit(base)
        host, port = url.hostname or "127.0.0.1", url.port or 80
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError as e:
            raise TransportError(str(e)) from e
        head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"{host}:{port}", **headers}.items())
        return cls(reader, writer, head.encode())

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """Send one request and read its whole answer."""
        target = f"{path}?{urlencode(params)}" if params else path
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        if body:
            extra += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        try:
            start = f"{method} {target} HTTP/1.1\r\n".encode()
            self._writer.write(start + self._head + extra.encode() + b"\r\n" + body)
            head = await self._reader.readuntil(b"\r\n\r\n")
            status, length = _status_and_length(head)
            return Answer(status, await self._reader.readexactly(length))
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
            raise TransportError(str(e) or type(e).__name__) from e

    async def close(self) -> None:
        """Close the socket."""
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()


def _status_and_length(head: bytes) -> tuple[int, int]:
    lines = head.split(b"\r\n")
    try:
        status = int(lines[0].split(b" ", 2)[1])
    except (IndexError, ValueError):
        msg = f"not an HTTP status line: {lines[0][:80]!r}"
        raise TransportError(msg) from None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return status, int(value)
    msg = "an answer without Content-Length (this client reads no chunked bodies)"
    raise TransportError(msg)
