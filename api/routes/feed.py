"""The change feed: internal services follow the ledger's notification log, page by page or as a live stream.

Positions only grow, and a page starts right after the cursor the caller holds, so a follower
that always asks `after=<the last position it saw>` sees every event once, in log order. Each
item is the event as stored: personal fields stay sealed (AES-GCM ciphertext under the
subject's key), so the feed carries nothing personal in clear, and a destroyed subject's
values stay unreadable in it too (Art. 1(6), 18: crypto-shredding).
"""

from __future__ import annotations

from time import monotonic
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

import anyio
import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials
from starlette.concurrency import run_in_threadpool

from api.deps import BEARER, LedgerDep, scoped, token_store
from api.problems import is_database_unavailable, problem_responses, refused
from api.tokens import Scope
from ledger.storage import DRIVER_ERRORS, translated

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

    from eventsourcing.persistence import Notification

    from ledger.application import ConsentLedger

router = APIRouter(tags=["feed"], dependencies=[scoped(Scope.AUDIT)])
"""The whole log is for auditors and the services they trust: both routes need the `audit` scope."""

DEFAULT_LIMIT = 100
"""A page size that keeps an answer small (tens of kilobytes) while a follower catches up quickly."""
MAX_LIMIT = 1000
"""The largest page: bounds the memory and time of one answer whatever the caller asks."""
POLL_SECONDS = 0.25
"""How often the stream asks the log for new events when it has none to send."""
KEEPALIVE_SECONDS = 15.0
"""A comment line at least this often keeps proxies from closing an idle stream."""
REAUTHORISE_SECONDS = 1.0
"""How often an open stream asks again whether its token may still read the log: a revocation ends it this fast."""

After = Annotated[int, Query(ge=0, le=2**62, description="The last position the caller has seen (0: from the start).")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="At most this many events (1 to 1000).")]

FEED_EXAMPLE = {
    "events": [
        {
            "position": 4,
            "aggregate_id": "15c7292e-c843-50c8-9e0f-33036a548002",
            "version": 2,
            "topic": "Subject.ConsentGranted",
            "recorded_at": "2026-03-02T09:00:00+00:00",
            "state": {"evidence": {"ciphertext": "Adleng3jI9X1rvWjxuN2..."}, "policy_version": "1"},
        }
    ],
    "next_after": 4,
}


def item(note: Notification) -> dict[str, Any]:
    """One event as the feed shows it: where it sits in the log, what it is, and its stored (sealed) state."""
    state = orjson.loads(note.state)
    return {
        "position": note.id,
        "aggregate_id": str(note.originator_id),
        "version": note.originator_version,
        "topic": note.topic.rpartition(":")[2],
        "recorded_at": state.get("timestamp"),
        "state": orjson.Fragment(note.state),  # as stored: sealed fields are never opened here
    }


def read_after(ledger: ConsentLedger, after: int, limit: int) -> Sequence[Notification]:
    """The events after position `after`, oldest first, at most `limit`."""
    return ledger.recorder.select_notifications(start=after + 1, limit=limit)


@router.get(
    "/events",
    summary="Follow the log: the events after a position",
    response_class=Response,
    responses={
        200: {
            "description": "The next events (maybe none) and the cursor to ask with next.",
            "content": {"application/json": {"example": FEED_EXAMPLE}},
            "headers": {"Link": {"description": 'The next page: `<...>; rel="next"`.', "schema": {"type": "string"}}},
        },
        **problem_responses(),
    },
)
def events(ledger: LedgerDep, request: Request, after: After = 0, limit: Limit = DEFAULT_LIMIT) -> Response:
    """Give the events after `after` in log order; ask again with `after=next_after` for the next page.

    An empty page means the caller is up to date: `next_after` stays where it was.
    """
    notes = read_after(ledger, after, limit)
    cursor = notes[-1].id if notes else after
    body = orjson.dumps({"events": [item(n) for n in notes], "next_after": cursor})
    next_page = f"{request.url.path}?{urlencode({'after': cursor, 'limit': limit})}"
    return Response(body, media_type="application/json", headers={"Link": f'<{next_page}>; rel="next"'})


LastEventId = Annotated[
    str | None,
    Header(alias="Last-Event-ID", pattern=r"^[0-9]{1,18}$", description="The `id` of the last event received."),
]


@router.get(
    "/events/stream",
    summary="Follow the log live (Server-Sent Events)",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "An endless `text/event-stream`: one `id: <position>` event per log event, "
            "`: keep-alive` comments when idle. Reconnect with `Last-Event-ID` to resume.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **problem_responses(),
    },
)
async def stream(
    ledger: LedgerDep,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
    last_event_id: LastEventId = None,
    after: After = 0,
) -> Response:
    """Send every event after `Last-Event-ID` (or `after`), then each new one as it is recorded.

    The token is checked again every `REAUTHORISE_SECONDS` while the stream is open (the route's
    scope check ran once, when it opened): once revoked, or stripped of the `audit` scope, the
    stream ends with a `revoked` event.
    """
    cursor = int(last_event_id) if last_event_id is not None else after
    secret = credentials.credentials if credentials is not None else ""
    store = token_store(request)

    async def still_allowed() -> bool:
        token = store.authenticate(secret) if store.local else await run_in_threadpool(store.authenticate, secret)
        return token is not None and Scope.AUDIT in token.scopes

    try:  # fail now, as a problem, if the database is down; later failures end the stream
        first = await run_in_threadpool(read_after, ledger, cursor, DEFAULT_LIMIT)
    except DRIVER_ERRORS as e:
        meaning = translated(e)
        if meaning is None:
            raise
        return await refused(request, meaning)
    return StreamingResponse(
        follow(ledger, cursor, first, still_allowed),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def follow(
    ledger: ConsentLedger,
    cursor: int,
    first: Sequence[Notification],
    still_allowed: Callable[[], Awaitable[bool]],
) -> AsyncIterator[bytes]:
    """Yield SSE frames from `cursor` on, polling the log; ends when the client goes (Starlette cancels it).

    While the database is unreachable the stream stays open (with keep-alive comments) and goes
    on from its cursor once the database answers again. Every `REAUTHORISE_SECONDS` it asks
    `still_allowed`; once not, it sends a `revoked` event and ends.
    """
    yield b"retry: 1000\n\n"
    notes: Sequence[Notification] = first
    idle = 0.0
    checked = monotonic()
    while True:
        if monotonic() - checked >= REAUTHORISE_SECONDS:
            checked = monotonic()
            if not await _allowed(still_allowed):
                yield b'event: revoked\ndata: {"detail": "the token was revoked or lost the audit scope"}\n\n'
                return
        for note in notes:
            yield b"id: %d\nevent: ledger-event\ndata: %b\n\n" % (note.id, orjson.dumps(item(note)))
            cursor = note.id
        if not notes:
            await anyio.sleep(POLL_SECONDS)
            idle += POLL_SECONDS
            if idle >= KEEPALIVE_SECONDS:
                idle = 0.0
                yield b": keep-alive\n\n"
        else:
            idle = 0.0
        try:
            notes = await run_in_threadpool(read_after, ledger, cursor, DEFAULT_LIMIT)
        except Exception as e:
            if not is_database_unavailable(e):
                raise
            notes = ()


async def _allowed(still_allowed: Callable[[], Awaitable[bool]]) -> bool:
    """Whether the stream may go on; while the tokens cannot be read (the database is down) it may, until they can."""
    try:
        return await still_allowed()
    except Exception as e:
        if not is_database_unavailable(e):
            raise
        return True
