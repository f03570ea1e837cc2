"""How uvicorn serves the API: with a bound on the request head (request line and headers) it reads into memory.

uvicorn's default HTTP parser (httptools) keeps reading headers for as long as they come: one
`GET /healthz` with a 400 MB header was answered 200 while the server grew by 436 MB. Its h11
parser has a bound (`h11_max_incomplete_event_size`) but costs about 80 µs more CPU a request.
`BoundedHead` is uvicorn's httptools protocol, counting what it has read of the head of the
request in progress: past `MAX_HEAD_BYTES` the client gets a 431 problem and the connection is
closed, having cost at most the bound plus one read from the socket.
"""

from __future__ import annotations

from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 32 * 1024
"""The request line and every header, as sent: a bearer token, a purpose and the usual headers take under 2 KB."""


class BoundedHead(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing a request whose head outgrows `MAX_HEAD_BYTES` (431, then close).

    Two counts, because the head may arrive in one read or in many: what the parser handed over
    of a head that came whole (its request target and headers), and the bytes read while a head
    is still incomplete (httptools buffers a header until its end, so a 400 MB one never reaches
    the callbacks).
    """

    max_head_bytes = MAX_HEAD_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Start a connection expecting a request head."""
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._read = 0
        self._parsed = 0
        self._refused = False

    def data_received(self, data: bytes) -> None:
        """Parse `data`, then count it against the head if the head is still not complete."""
        if self._refused:
            return
        super().data_received(data)
        if self._refused or not self._in_head:
            return
        self._read += len(data)  # at most one read more than this head's own bytes
        if self._read > self.max_head_bytes:
            self._refuse()

    def on_message_begin(self) -> None:
        """A request begins: nothing of its head parsed yet."""
        super().on_message_begin()
        self._parsed = 0

    def on_url(self, url: bytes) -> None:
        """Count the request target."""
        super().on_url(url)
        self._parsed += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        """Count one header line as sent: `Name: value` and its line end."""
        super().on_header(name, value)
        self._parsed += len(name) + len(value) + 4

    def on_headers_complete(self) -> None:
        """The head is whole: refuse it if it is too large, else what follows is its body."""
        request_line = len(self.parser.get_method()) + len(b"  HTTP/1.1\r\n")  # with the target counted before
        if self._parsed + request_line + len(b"\r\n") > self.max_head_bytes:
            self._refuse()
            return
        self._in_head, self._read = False, 0
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        """Pass the body on, unless the request was refused."""
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        """The request is whole: the next bytes begin the next request's head."""
        if self._refused:
            return
        super().on_message_complete()
        self._in_head, self._read = True, 0

    def _refuse(self) -> None:
        if self._refused:
            return
        self._refused = True
        body = orjson.dumps(
            {
                "type": "about:blank",
                "title": "Request Header Fields Too Large",
                "status": 431,
                "detail": f"the request line and headers take more than the {self.max_head_bytes} bytes the "
                "ledger reads; send fewer or shorter headers",
                "instance": "",
            }
        )
        head = (
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/problem+json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
        )
        self.transport.write(head + body)
        self.transport.close()


SERVER_OPTIONS: dict[str, Any] = {"http": BoundedHead}
"""What `uvicorn.run` and `uvicorn.Config` are given, besides the app, wherever the API is served."""
