"""Point-in-time questions in process: the ledger's view against the naive answer from the subject's events.

The naive answer is what `eventsourcing`'s searchable-timestamps example does: rebuild the
subject (and its policy) from their events, then judge with the ledger's own rules. The view
answers the same question from tables kept up to date by the projection. Both are asked the
same random (subject, moment) probes, interleaved, so the operating system's cache favours
neither.
"""

from __future__ import annotations

import random
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from eventsourcing.application import AggregateNotFoundError

from benchmarks.history import POLICY, START, subject_name
from benchmarks.progress import counter
from benchmarks.stats import Latency
from ledger import rules
from ledger.subject import subject_key
from ledger.terms import Purpose, RecipientCategory, SubjectId
from projections.keeper import open_view
from projections.questions import LedgerQuestions

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from benchmarks.databases import Filled, Target
    from ledger.application import ConsentLedger
    from ledger.subject import Subject

COURIER = RecipientCategory.COURIER
PURPOSE = Purpose("4.1.1")
NAMES = ("accepted_version_at", "may_disclose", "naive_accepted_version_at", "naive_may_disclose")


def probes(filled: Filled, count: int, seed: int = 11) -> list[tuple[SubjectId, datetime]]:
    """`count` random (generated subject, moment in its history) pairs, the same for every run of a size."""
    rng = random.Random(seed)
    return [
        (subject_name(rng.randrange(filled.subjects)), START + timedelta(days=rng.randrange(0, 800)))
        for _ in range(count)
    ]


def naive_accepted_version_at(ledger: ConsentLedger, subject: SubjectId, at: datetime) -> object:
    """Rebuild the subject and the policy from their events, then judge which version stood at `at`."""
    record: Subject = ledger.repository.get(subject_key(subject))
    entries = [e for e in record.entries if e.occurred_at <= at]
    standing = rules.standing_consent(entries, POLICY, at)
    return standing, rules.version_in_effect(ledger.policy(POLICY).versions.values(), at)


def naive_may_disclose(ledger: ConsentLedger, subject: SubjectId, at: datetime) -> object:
    """Rebuild the subject and its policies from their events, then judge a courier disclosure at `at`."""
    record: Subject = ledger.repository.get(subject_key(subject))
    return rules.may_disclose(record.entries, ledger.policy_versions(record), category=COURIER, purpose=PURPOSE, at=at)


WARM_UP_SEED = 11
"""The timed probes themselves, asked once first both ways and not timed.

The p50 is then that of a service whose tables are in memory, as they are once it has run a
while with the RAM for them. Other probes (seed 12, as before) did not warm these probes' pages:
a run right after jobs that read gigabytes (the 10M history's replay and export) timed the disk
instead, 291 against 57 µs at 1M on SQLite. Both ways get the same warming, so neither is favoured.
"""


def in_process(target: Target, filled: Filled, count: int) -> dict[str, Latency]:
    """Time the two questions and their naive answers on `count` probes, after as many others; p50/p95/p99."""
    ledger = target.open()
    questions = LedgerQuestions(open_view(target.database()))
    asked: dict[str, list[float]] = {name: [] for name in NAMES}
    ways: dict[str, Callable[[SubjectId, datetime], object]] = {
        "accepted_version_at": lambda s, at: questions.accepted_version_at(s, POLICY, at),
        "may_disclose": lambda s, at: questions.may_disclose(s, COURIER, PURPOSE, at),
        "naive_accepted_version_at": lambda s, at: naive_accepted_version_at(ledger, s, at),
        "naive_may_disclose": lambda s, at: naive_may_disclose(ledger, s, at),
    }
    show = counter("probes", count)
    try:
        for subject, at in probes(filled, count, seed=WARM_UP_SEED):  # untimed: the pages a running service keeps
            for ask in ways.values():
                try:
                    ask(subject, at)
                except AggregateNotFoundError:
                    break
        for n, (subject, at) in enumerate(probes(filled, count), start=1):
            for name, ask in ways.items():
                started = time.perf_counter()
                try:
                    ask(subject, at)
                except AggregateNotFoundError:  # a history filled by an older generator: skip, do not guess
                    break
                asked[name].append(time.perf_counter() - started)
            show(n)
    finally:
        ledger.close()
    return {name: Latency.of(samples) for name, samples in asked.items()}
