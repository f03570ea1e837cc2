"""A deterministic generator of realistic histories, saved in bulk through the ledger's aggregates.

Every event is made by the aggregates' own commands (so every rule still holds), but many
subjects are saved per transaction, which is how a bulk import fills a database quickly.
Personal evidence is left out so that no key needs creating per subject.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ledger.application import ConsentLedger, Request, text_sha256
from ledger.stamp import Stamp
from ledger.subject import Subject
from ledger.terms import (
    BlockGround,
    BlockOutcome,
    BlockRequester,
    ConsentMethod,
    DataCategory,
    DisclosureGround,
    Language,
    PolicyId,
    Purpose,
    RecipientCategory,
    SubjectId,
)

if TYPE_CHECKING:
    from collections.abc import Callable

POLICY = PolicyId("qlever-privacy")
START = datetime(2024, 1, 1, tzinfo=UTC)
V2_AT = START + timedelta(days=365)
TEXTS = {
    "1": {Language.EN: "Policy v1", Language.RU: "Политика v1", Language.KK: "Саясат v1"},
    "2": {Language.EN: "Policy v2", Language.RU: "Политика v2", Language.KK: "Саясат v2"},
}
PURPOSES = frozenset(Purpose(p) for p in ("4.1.1", "4.1.2", "4.1.3", "4.1.6"))
COURIERS = [
    ("CDEK", RecipientCategory.COURIER),
    ("Kazpost", RecipientCategory.POSTAL),
    ("Beeline", RecipientCategory.TELECOM),
]


POLICY_EVENTS = 3
"""The policy's adoption and its two versions."""


@dataclass
class Generated:
    """What a generator run produced."""

    events: int
    subjects: int
    last_time: datetime


def subject_name(n: int) -> SubjectId:
    """The pseudonymous id of generated subject `n`."""
    return SubjectId(f"s-{n:09d}")


def publish_policy(ledger: ConsentLedger) -> None:
    """The two versions every generated subject consents to, recorded before any subject's first fact."""
    clock = ledger.clock
    ledger.clock = lambda: START - timedelta(days=1)
    try:
        _publish_versions(ledger)
    finally:
        ledger.clock = clock


def _publish_versions(ledger: ConsentLedger) -> None:
    for version, at in (("1", START - timedelta(days=1)), ("2", V2_AT)):
        ledger.publish_policy_version(
            Request("generator"),
            policy_id=POLICY,
            version=version,
            text_sha256={lang: text_sha256(t) for lang, t in TEXTS[version].items()},
            purposes=PURPOSES,
            optional_purposes=frozenset({Purpose("4.1.6")}),
            recipient_categories=frozenset(c for _, c in COURIERS),
            effective_from=at,
            operator_name="Qlever",
            operator_bin="000000000000",
            occurred_at=START - timedelta(days=1),
        )


def one_subject(ledger: ConsentLedger, n: int, seed: int, events: int) -> Subject:
    """Subject `n` with exactly `events` events: consent, orders, sometimes a block or a correction."""
    rng = random.Random(seed * 1_000_003 + n)
    policy = ledger.policy(POLICY)
    at = START + timedelta(minutes=rng.randrange(0, 60 * 24 * 600))
    recorded = at + timedelta(minutes=rng.choice((0, 0, 0, 5, 60 * 24 * 3)))  # some are recorded late
    subject = Subject.open(subject_name(n), recorded)

    def stamp() -> Stamp:
        return Stamp("generator", at, max(at, recorded))

    version = "2" if at >= V2_AT else "1"
    subject.grant_consent(
        policy.versions[version],
        list(policy.versions.values()),
        language=Language.RU,
        text_sha256=text_sha256(TEXTS[version][Language.RU]),
        method=ConsentMethod.REGISTRATION,
        channel="app",
        optional_purposes=frozenset({Purpose("4.1.6")}) if n % 3 == 0 else frozenset(),
        data_categories=frozenset({DataCategory("contact"), DataCategory("address")}),
        third_parties=True,
        cross_border=False,
        publication=False,
        valid_until=None,
        actor="subject",
        representative=None,  # type: ignore[arg-type]
        evidence=None,
        stamp=stamp(),
    )
    versions = {(POLICY, v.version): v for v in policy.versions.values()}
    while subject.version < events:
        at += timedelta(hours=rng.randrange(1, 24 * 20))
        recorded = max(at, recorded)  # the ledger's clock never runs back
        roll = rng.random()
        if roll < 0.05 and subject.version <= events - 2:
            subject.block(f"b-{subject.version}", BlockRequester.SUBJECT, BlockGround.INACCURATE_DATA, None, stamp())
            at += timedelta(hours=5)
            recorded = max(at, recorded)
            subject.lift_block(f"b-{subject.version - 1}", BlockOutcome.DATA_CORRECTED, stamp())
        elif roll < 0.1:
            subject.correct(frozenset({DataCategory("address")}), stamp())
        else:
            recipient, category = rng.choice(COURIERS)
            subject.disclose(
                versions,
                recipient=recipient,
                recipient_category=category,
                purpose=Purpose("4.1.1"),
                data_categories=frozenset({DataCategory("address")}),
                ground=DisclosureGround.ORDER_FULFILMENT,
                reference=f"order-{n}-{subject.version}",
                stamp=stamp(),
            )
    return subject


def generate(
    ledger: ConsentLedger,
    total_events: int,
    *,
    events_per_subject: int = 10,
    batch_subjects: int = 200,
    seed: int = 7,
    progress: Callable[[int], None] | None = None,
) -> Generated:
    """Save about `total_events` events, `batch_subjects` subjects per transaction; resumable by count."""
    if ledger.max_position() == 0:
        publish_policy(ledger)
    done = ledger.max_position()
    n = (done - POLICY_EVENTS) // events_per_subject
    last = START
    while done < total_events:
        batch = [one_subject(ledger, n + i, seed, events_per_subject) for i in range(batch_subjects)]
        n += batch_subjects
        ledger.save(*batch)
        done += sum(s.version for s in batch)
        last = max(last, *(s.modified_on for s in batch))
        if progress is not None:
            progress(done)
    return Generated(events=done, subjects=n, last_time=last)
