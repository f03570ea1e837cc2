"""A small, realistic year of one online shop's personal-data facts, recorded as a ledger would have recorded them.

The operator is a made-up Almaty shop, Dala Market, with a short privacy policy of its own in
Kazakh, Russian and English. The history is a data file in the import format
(`demo_history.jsonl`, see `cli.import_lines`), one write a line, in the order the ledger
recorded them over 2026. Each line also carries `recorded_at`, which is the demo's alone: the
driver here sets the ledger's clock to it, strips it, and records the line through the import
machinery, so every fact keeps the recording time it would have had, and "as known at" has a
past to look at: a paper consent entered four weeks after it was signed, and a withdrawal
filed under the wrong customer and struck out the next morning.

Every line carries an idempotency key, so running the demo again records nothing new. Subject
ids are pseudonyms, as the ledger expects; the few personal values (evidence, a representative,
a claimant) are sealed with their subject's key.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from cli.import_lines import BadLine, Line, parse_line
from ledger.application import Request
from ledger.errors import InvalidFact
from ledger.terms import PolicyId

if TYPE_CHECKING:
    from collections.abc import Callable

    from ledger.application import ConsentLedger, Receipt

HISTORY = Path(__file__).with_name("demo_history.jsonl")
"""The demo's history: import lines in recording order, each with the `recorded_at` the demo's clock is set to."""

POLICY = PolicyId("dala-market-privacy")

TIME_TRAVEL = ("cust-1002", "2026-02-01T12:00:00+05:00")
"""A subject and a moment whose answer changes with `as_known_at`: signed on paper on 20 January, entered on 16
February, so on 1 February the ledger did not know yet."""


class DemoClock:
    """The ledger's clock during the demo: set to each line's recording time, then back to the real one."""

    def __init__(self, real: Callable[[], datetime]) -> None:
        self._real = real
        self.now: datetime | None = None

    def __call__(self) -> datetime:
        """The time the demo set, or the real time when it set none."""
        return self.now if self.now is not None else self._real()


def record_demo_history(ledger: ConsentLedger, clock: DemoClock) -> list[Receipt]:
    """Record every line of the history at its own recording time; on a second run every receipt is a replay."""
    receipts = []
    try:
        for number, raw in enumerate(HISTORY.read_bytes().splitlines(), start=1):
            if raw.strip():
                clock.now, line = _stripped(number, raw)
                request = Request(line.recorded_by or "demo", line.idempotency_key)
                receipts.append(line.call(ledger, request))
    finally:
        clock.now = None
    return receipts


def _stripped(number: int, raw: bytes) -> tuple[datetime, Line]:
    """The line's recording time and the line without it, checked as `consent-ledger import` checks a line."""
    item = orjson.loads(raw)
    recorded_at = datetime.fromisoformat(item.pop("recorded_at"))
    try:
        return recorded_at, parse_line(orjson.dumps(item))
    except BadLine as e:
        msg = f"{HISTORY.name}:{number}: {e}"
        raise InvalidFact(msg) from None
