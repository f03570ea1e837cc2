"""Answers judged once, when a fact is projected, instead of at every question.

A point-in-time question has two times: business time `at` and record time `as_known_at`.
For one subject the answer only changes at a few moments of each: what the ledger knew
changes when a fact the rules read is recorded, and what had happened changes at each
occurred time, consent expiry and permission validity bound of the facts it knew. So the
projection cuts both axes at those moments, judges each cell once with the ledger's own
rules, and keeps the result as bitemporal interval rows: valid over [occurred_from,
occurred_to) and known over [recorded_from, recorded_to). A question then reads the one row
whose rectangle holds (at, as_known_at) — no replay, no decoding, no judging.

Every rule the rules module applies here is "the fact had happened by `at`" or "`at` has
reached a bound", i.e. of the form `x <= at`; so a verdict judged at a cell's lower edge holds
for the whole cell. The disclosure decision is kept only where it allows: every refusal the
question can give is one of three sentences that need no per-pair row (see `refusal`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple, cast

from ledger import rules
from ledger.rules import Entry
from ledger.subject_facts import Acceptance, Block, BlockLift, Destruction, Permission, Retraction, Withdrawal
from ledger.terms import ORDER_FULFILMENT_RECIPIENTS, DisclosureGround, PolicyId, Purpose, RecipientCategory

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from ledger.policy import PolicyVersion

    Versions = Mapping[tuple[PolicyId, str], PolicyVersion]

JUDGED = (Acceptance, Withdrawal, Permission, Block, BlockLift, Destruction, Retraction)
"""The kinds of entry the two pre-judged questions read; no other fact can change their answers."""

FOREVER = datetime.max.replace(tzinfo=UTC)
"""The open end of an interval (stored as the largest time text)."""

NOW = datetime(9999, 12, 31, tzinfo=UTC)
"""What a question "as known now" asks with: later than every record time, earlier than FOREVER."""

BLOCKED = "*"
"""The disclosure key of a row saying "blocked": it answers every recipient category and purpose."""


class Standing(NamedTuple):
    """Clauses 2.1-2.2 pre-judged: over these intervals, this acceptance stands for these purposes.

    (Rows are tuples, not frozen dataclasses: a replay makes one per interval, and a frozen
    dataclass's `__init__` cost more than judging the interval.)
    """

    policy_id: str
    occurred_from: datetime
    occurred_to: datetime
    recorded_from: datetime
    recorded_to: datetime
    acceptance: Acceptance
    purposes: frozenset[Purpose]


class Grant(NamedTuple):
    """Over these intervals: per purpose, the ground and basis allowing disclosure to one recipient category.

    Key `*` (no purposes) says the subject's data were blocked. One row per category, not per
    (category, purpose): a consent allows several purposes at once, and each row costs a write.
    """

    key: str
    occurred_from: datetime
    occurred_to: datetime
    recorded_from: datetime
    recorded_to: datetime
    purposes: tuple[tuple[str, str, str], ...]
    """(purpose, ground, basis), sorted by purpose."""


def refusal(category: RecipientCategory, purpose: Purpose, *, blocked: bool) -> rules.DisclosureDecision:
    """The refusal `rules.may_disclose` gives when nothing allows the disclosure.

    Its refusals are exactly these: state authorities (always), a block in force, or no ground.
    A refusal by a deeper rule (destroyed data, an expired permission) is never returned: the
    question moves on to the next possible ground and ends at one of these three.
    """
    if category == RecipientCategory.STATE_AUTHORITY:
        return rules.DisclosureDecision(
            allowed=False,
            ground=None,
            basis="",
            reason="state authorities receive data only on a request reference (Art. 9)",
        )
    if blocked:
        return rules.DisclosureDecision(
            allowed=False, ground=None, basis="", reason="the subject's data are blocked until the verification ends"
        )
    return rules.DisclosureDecision(
        allowed=False,
        ground=None,
        basis="",
        reason=f"no consent or written permission allows {category} recipients for purpose {purpose!r}",
    )


def allowed(ground: str, basis: str) -> rules.DisclosureDecision:
    """The decision a grant row stands for."""
    return rules.DisclosureDecision(allowed=True, ground=DisclosureGround(ground), basis=basis, reason="")


def _happened(kind: type[Entry], entries: Iterable[Entry], at: datetime) -> list[Entry]:
    found = [e for e in entries if isinstance(e, kind) and e.occurred_at <= at]
    return sorted(found, key=lambda e: (e.occurred_at, e.number))


def standing_at(known: Sequence[Entry], at: datetime) -> dict[str, tuple[int, frozenset[Purpose]]]:
    """Per policy, the acceptance standing at `at` and its purposes (the rules' `standing_consent`)."""
    found: dict[str, tuple[int, frozenset[Purpose]]] = {}
    for policy_id in sorted({e.policy_id for e in known if isinstance(e, Acceptance) and e.occurred_at <= at}):
        standing = rules.standing_consent(known, policy_id, at)
        if standing is not None:
            found[policy_id] = (standing.acceptance.number, standing.purposes)
    return found


def grants_at(
    known: Sequence[Entry],
    versions: Versions,
    at: datetime,
    standing: dict[str, tuple[int, frozenset[Purpose]]] | None = None,
) -> dict[tuple[str, str], tuple[str, str]]:
    """Every (category, purpose) `rules.may_disclose` allows at `at`, with ground and basis; `*` if blocked.

    Follows `rules.may_disclose` branch by branch: destroyed or blocked data allow nothing;
    otherwise order fulfilment (first policy by id whose standing consent covers the pair), then
    the newest written permission for the pair whose id's latest permission covers it.
    """
    found: dict[tuple[str, str], tuple[str, str]] = {}
    if rules.open_blocks(known, at):
        found[BLOCKED, ""] = ("", "")
        return found
    if rules.destruction(known, at) is not None:
        return found
    for policy_id, (number, purposes) in (standing_at(known, at) if standing is None else standing).items():
        accepted = next(e for e in known if e.number == number)
        assert isinstance(accepted, Acceptance)  # noqa: S101  (standing_at names acceptances only)
        terms = versions.get((accepted.policy_id, accepted.policy_version))
        if terms is None or not accepted.third_parties:
            continue
        basis = f"consent to {policy_id} version {accepted.policy_version}"
        allowing = (DisclosureGround.ORDER_FULFILMENT.value, basis)
        for pair in _order_pairs(terms.recipient_categories, purposes):
            found.setdefault(pair, allowing)
    _permitted(known, at, found)
    return found


@lru_cache(maxsize=4096)
def _order_pairs(categories: frozenset[RecipientCategory], purposes: frozenset[Purpose]) -> tuple[tuple[str, str], ...]:
    """The (category, purpose) pairs a consent allows for order fulfilment, in order: few combinations, judged often."""
    return tuple((c.value, p) for c in sorted(categories & ORDER_FULFILMENT_RECIPIENTS) for p in sorted(purposes))


def _permitted(known: Sequence[Entry], at: datetime, found: dict[tuple[str, str], tuple[str, str]]) -> None:
    """Add the pairs a written permission allows at `at` (the newest permission for a pair decides)."""
    permits = [p for p in _happened(Permission, known, at) if isinstance(p, Permission)]
    latest = {p.permission_id: p for p in permits}
    for permit in reversed(permits):
        if permit.recipient_category == RecipientCategory.STATE_AUTHORITY:
            continue
        key = (permit.recipient_category.value, permit.purpose)
        if key in found:
            continue
        last = latest[permit.permission_id]
        if last.recipient_category == permit.recipient_category and rules.covers(
            last, permit.recipient, permit.purpose, at
        ):
            found[key] = (DisclosureGround.WRITTEN_PERMISSION.value, f"written permission {permit.permission_id}")


def _cuts(known: Sequence[Entry]) -> list[datetime]:
    """The business times at which some verdict over `known` can change."""
    moments = {e.occurred_at for e in known}
    for e in known:
        if isinstance(e, Acceptance) and e.valid_until is not None:
            moments.add(e.valid_until)
        elif isinstance(e, Permission):
            moments.add(e.valid_from or e.occurred_at)
            if e.valid_until is not None:
                moments.add(e.valid_until)
    return sorted(moments)


@dataclass
class _Open:
    recorded_from: datetime
    value: object


def _timeline(known: Sequence[Entry], versions: Versions) -> dict[tuple[str, str, datetime, datetime], object]:
    """The verdicts over business time of one state of knowledge, merged where adjacent cells agree.

    Keys are (table, key, occurred_from, occurred_to); values what the row says.
    """
    cuts = _cuts(known)
    rows: dict[tuple[str, str, datetime, datetime], object] = {}
    running: dict[tuple[str, str], tuple[datetime, object]] = {}
    for at in cuts:
        cell: dict[tuple[str, str], object] = {}
        standing = standing_at(known, at)
        for policy_id, consent in standing.items():
            cell["standing", policy_id] = consent
        by_category: dict[str, list[tuple[str, str, str]]] = {}
        for (category, purpose), (ground, basis) in sorted(grants_at(known, versions, at, standing).items()):
            by_category.setdefault(category, []).append((purpose, ground, basis))
        for category, purposes in by_category.items():
            cell["grant", category] = tuple(purposes)
        for k in list(running):
            start, before = running[k]
            if cell.get(k, _MISSING) != before:
                rows[(*k, start, at)] = before
                del running[k]
        for k, now in cell.items():
            if k not in running:
                running[k] = (at, now)
    for k, (start, last) in running.items():
        rows[(*k, start, FOREVER)] = last
    return rows


_MISSING = object()


def judge(entries: Sequence[Entry], versions: Versions, since: datetime | None = None) -> list[Standing | Grant]:
    """The pre-judged rows of one subject whose knowledge starts at or after `since` (all if None).

    `entries` are every entry of the subject the rules read (`JUDGED` kinds suffice), in any order.
    """
    ordered = sorted(entries, key=lambda e: e.number)
    by_number = {e.number: e for e in ordered}
    known_at = sorted({e.recorded_at for e in ordered})
    if since is not None:
        known_at = [r for r in known_at if r >= since]
    out: list[Standing | Grant] = []
    opened: dict[tuple[str, str, datetime, datetime], _Open] = {}
    for r in known_at:
        timeline = _timeline(rules.known_entries(ordered, r), versions)
        for key in list(opened):
            if timeline.get(key, _MISSING) != opened[key].value:
                out.append(_row(key, opened[key], r, by_number))
                del opened[key]
        for key, value in timeline.items():
            if key not in opened:
                opened[key] = _Open(r, value)
    out.extend(_row(key, o, FOREVER, by_number) for key, o in opened.items())
    return out


def _row(
    key: tuple[str, str, datetime, datetime], o: _Open, recorded_to: datetime, by_number: dict[int, Entry]
) -> Standing | Grant:
    table, name, occurred_from, occurred_to = key
    if table == "standing":
        number, purposes = cast("tuple[int, frozenset[Purpose]]", o.value)
        acceptance = by_number[number]
        assert isinstance(acceptance, Acceptance)  # noqa: S101  (standing_at names acceptances only)
        return Standing(name, occurred_from, occurred_to, o.recorded_from, recorded_to, acceptance, purposes)
    allowing = cast("tuple[tuple[str, str, str], ...]", o.value)
    return Grant(name, occurred_from, occurred_to, o.recorded_from, recorded_to, allowing)
