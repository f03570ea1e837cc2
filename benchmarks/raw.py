"""The write baselines: the plain `eventsourcing` library saving one disclosure-like aggregate per event.

A plain `Application` with its default transcoder, in a database of its own, saving a new
`RawDisclosure` (whose created event carries the fields of a disclosure) either one per
`save()` call (raw_single) or a hundred per call (raw_batch100). Whatever the ledger adds on
top of this (rules, idempotency, the read of the subject before deciding) is what its ratio
against these figures shows.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from benchmarks.progress import counter

if TYPE_CHECKING:
    from ledger.storage import Database

BATCH = 100


class RawDisclosure(Aggregate):
    """A disclosure as one aggregate of its own: the library's cheapest way to record the same fields."""

    class Created(Aggregate.Created):
        """The disclosure's fields, as `Subject.DataDisclosed` has them."""

        subject_id: str
        recipient: str
        recipient_category: str
        purpose: str
        data_categories: list[str]
        ground: str
        reference: str
        occurred_at: datetime
        recorded_by: str

    def __init__(  # noqa: PLR0917  (the Created event's fields, in order, as the library passes them)
        self,
        subject_id: str,
        recipient: str,
        recipient_category: str,
        purpose: str,
        data_categories: list[str],
        ground: str,
        reference: str,
        occurred_at: datetime,
        recorded_by: str,
    ) -> None:
        """Keep the fields."""
        self.subject_id = subject_id
        self.recipient = recipient
        self.recipient_category = recipient_category
        self.purpose = purpose
        self.data_categories = data_categories
        self.ground = ground
        self.reference = reference
        self.occurred_at = occurred_at
        self.recorded_by = recorded_by


def _one(n: int) -> RawDisclosure:
    return RawDisclosure(
        subject_id=f"s-{n:09d}",
        recipient="CDEK",
        recipient_category="courier",
        purpose="4.1.1",
        data_categories=["address"],
        ground="order_fulfilment",
        reference=f"order-{n}",
        occurred_at=datetime.now(UTC),
        recorded_by="bench",
    )


def raw_saves(database: Database, events: int, batch: int) -> float:
    """Save `events` new aggregates, `batch` per `save()` call, into `database`; the seconds it took."""
    app: Application[object] = Application(env=database.env)  # type: ignore[type-var]
    try:
        show = counter(f"raw save x{batch}", events)
        started = time.perf_counter()
        done = 0
        while done < events:
            n = min(batch, events - done)
            app.save(*(_one(done + i) for i in range(n)))
            done += n
            show(done)
        return time.perf_counter() - started
    finally:
        app.close()
