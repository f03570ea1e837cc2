"""How entries and times are kept in view tables so that both backends sort and compare them alike.

Times are stored as ISO 8601 strings in UTC with microseconds and a fixed width, so string
order is time order on SQLite and PostgreSQL alike, and an index on them serves range queries.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from ledger import history
from ledger.transcoding import restore

ENTRY_KINDS: dict[str, type[history.Entry]] = {
    cls.__name__: cls
    for cls in (
        history.Acceptance,
        history.Withdrawal,
        history.WithdrawalRefusal,
        history.Permission,
        history.Disclosure,
        history.Block,
        history.BlockLift,
        history.Correction,
        history.Destruction,
        history.Retraction,
        history.SubjectRequest,
        history.Verification,
        history.TransferNotice,
        history.RequestAnswer,
    )
}


def utc_text(moment: datetime) -> str:
    """A sortable text form of an aware time."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")  # as strftime(%Y-%m-%dT%H:%M:%S.%f+00:00)


def _default(obj: object) -> object:
    if isinstance(obj, frozenset):
        return sorted(obj)
    msg = f"{type(obj).__name__} cannot be stored in a view"
    raise TypeError(msg)


def dump(value: object) -> str:
    """JSON text of an entry or terms (dataclasses, enums, frozensets, datetimes)."""
    return orjson.dumps(value, default=_default, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()


def load_entry(kind: str, text: str | bytes) -> history.Entry:
    """Rebuild an entry of the given kind from its JSON text."""
    entry: history.Entry = restore(orjson.loads(text), ENTRY_KINDS[kind])
    return entry


def load_terms(text: str | bytes) -> history.PolicyVersionTerms:
    """Rebuild a policy version's terms from JSON text."""
    terms: history.PolicyVersionTerms = restore(orjson.loads(text), history.PolicyVersionTerms)
    return terms
