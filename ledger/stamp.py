"""Who recorded a fact and its two times: when it happened and when the ledger learned it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ledger.errors import InvalidFact

CLOCK_SKEW = timedelta(minutes=5)
"""How far a writer's clock may run ahead of the ledger's before `occurred_at` is refused."""


def require_aware(value: datetime, name: str) -> datetime:
    """Refuse naive times: a time without an offset cannot be proved in court."""
    if value.tzinfo is None or value.utcoffset() is None:
        msg = f"{name} must carry a UTC offset, e.g. 2026-03-01T10:00:00+05:00"
        raise InvalidFact(msg)
    return value


@dataclass(frozen=True)
class Stamp:
    """The who and when every event carries.

    `occurred_at` is stated by the writer (a paper form signed last week); `recorded_at` is
    set by the ledger. Neither is ever rewritten.
    """

    recorded_by: str
    occurred_at: datetime
    recorded_at: datetime

    def __post_init__(self) -> None:
        """Check both times are aware and the fact did not happen in the future."""
        if not self.recorded_by.strip():
            msg = "recorded_by must name the calling service or person"
            raise InvalidFact(msg)
        require_aware(self.occurred_at, "occurred_at")
        require_aware(self.recorded_at, "recorded_at")
        if self.occurred_at > self.recorded_at + CLOCK_SKEW:
            msg = (
                f"occurred_at {self.occurred_at.isoformat()} is in the future "
                f"(the ledger's time is {self.recorded_at.isoformat()})"
            )
            raise InvalidFact(msg)
