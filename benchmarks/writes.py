"""Single-fact writes through the ledger's API in process, one call at a time, as a service would make them.

`record_disclosure` on subjects the history already holds (each call with its own idempotency
key, so the ledger does everything a real write does: look the key up, read the subject, judge,
save the fact with its acknowledgement), and `grant_consent` for subjects it has never seen.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import TYPE_CHECKING

from benchmarks.history import POLICY, subject_name
from benchmarks.progress import counter
from ledger.application import Request
from ledger.errors import LedgerError
from ledger.policy import PolicyVersion
from ledger.subject_facts import Acceptance, Disclosure
from ledger.terms import (
    Channel,
    ConsentMethod,
    DataCategory,
    DisclosureGround,
    Language,
    Purpose,
    RecipientCategory,
    SubjectId,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from benchmarks.databases import Filled, Target
    from ledger.application import ConsentLedger, Receipt

CALLER = "bench"


def disclose(ledger: ConsentLedger, request: Request, subject: SubjectId, reference: str) -> Receipt:
    """A courier disclosure for an order: the commonest write of the operator."""
    return ledger.record(
        request,
        Disclosure(
            subject_id=subject,
            recipient="CDEK",
            recipient_category=RecipientCategory.COURIER,
            purpose=Purpose("4.1.1"),
            data_categories=frozenset({DataCategory("address")}),
            ground=DisclosureGround.ORDER_FULFILMENT,
            reference=reference,
        ),
    )


def newest_version(ledger: ConsentLedger) -> PolicyVersion:
    """The policy's newest version (whatever the generator published): the one a registration page shows."""
    return max(ledger.policy(POLICY).versions.values(), key=lambda v: v.takes_effect)


def consent(ledger: ConsentLedger, request: Request, subject: SubjectId, newest: PolicyVersion) -> Receipt:
    """A new subject's consent at registration to the version the page showed them.

    The registration service knows that version (it showed its text), as it knows the page it
    serves: it does not read the policy again for each subject. The ledger still judges each
    consent against the policy as stored at that moment (a version published since is seen).
    """
    return ledger.record(
        request,
        Acceptance(
            subject_id=subject,
            policy_id=POLICY,
            policy_version=newest.version,
            language=Language.RU,
            text_sha256=newest.text_sha256[Language.RU],
            method=ConsentMethod.REGISTRATION,
            channel=Channel.APP,
            data_categories=frozenset({DataCategory("contact"), DataCategory("address")}),
            third_parties=True,
        ),
    )


def _timed(label: str, count: int, write: Callable[[int], object]) -> tuple[float, int]:
    """Run `write(i)` for i < count; (seconds, refusals)."""
    show = counter(label, count)
    refused = 0
    started = time.perf_counter()
    for i in range(count):
        try:
            write(i)
        except LedgerError:
            refused += 1
        show(i + 1)
    return time.perf_counter() - started, refused


def in_process(target: Target, filled: Filled, count: int) -> dict[str, tuple[float, int]]:
    """Disclosures on existing subjects and consents of new ones, `count` each; (seconds, refused) of each."""
    run = uuid.uuid4().hex[:12]
    rng = random.Random(run)
    subjects = [subject_name(rng.randrange(filled.subjects)) for _ in range(count)]
    ledger = target.open()
    try:
        newest = newest_version(ledger)
        return {
            "disclosure": _timed(
                "record_disclosure",
                count,
                lambda i: disclose(ledger, Request(CALLER, f"{run}-d{i}"), subjects[i], f"bench {run} {i}"),
            ),
            "consent": _timed(
                "grant_consent",
                count,
                lambda i: consent(ledger, Request(CALLER, f"{run}-c{i}"), SubjectId(f"n-{run}-{i}"), newest),
            ),
        }
    finally:
        ledger.close()
