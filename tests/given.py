"""Facts a test starts from, in the operator's words: a published policy, a consenting subject."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from ledger.application import ConsentLedger, Receipt, Request, text_sha256
from ledger.facts import Fact, terms
from ledger.policy import PolicyVersion
from ledger.subject_facts import Acceptance
from ledger.terms import ConsentMethod, DataCategory, Language, PolicyId, Purpose, RecipientCategory, SubjectId

POLICY = PolicyId("qlever-privacy")
TEXTS = {
    "1": {
        Language.KK: "Құпиялылық саясаты v1",
        Language.RU: "Политика конфиденциальности v1",
        Language.EN: "Privacy policy v1",
    },
    "2": {
        Language.KK: "Құпиялылық саясаты v2",
        Language.RU: "Политика конфиденциальности v2",
        Language.EN: "Privacy policy v2",
    },
}
PURPOSES = frozenset({Purpose("4.1.1"), Purpose("4.1.2"), Purpose("4.1.3"), Purpose("4.1.6")})
OPTIONAL = frozenset({Purpose("4.1.6")})
CATEGORIES = frozenset({"contact", "address", "phone"})
"""What the sample consent lets the operator collect (Art. 8(4))."""
DELIVERY = frozenset({RecipientCategory.COURIER, RecipientCategory.POSTAL, RecipientCategory.TELECOM})
SERVICE = Request("orders-service")
F = TypeVar("F", bound=Fact)


def sha(version: str, language: Language = Language.EN) -> str:
    """The hash of a sample policy text."""
    return text_sha256(TEXTS[version][language])


def consent_body(version: str = "1", **changes: object) -> dict[str, object]:
    """A consent as JSON over HTTP: at checkout on the site, to `version` in English, overridden by `changes`."""
    return {
        "policy_id": POLICY,
        "policy_version": version,
        "language": "en",
        "text_sha256": sha(version),
        "method": "order_checkout",
        "channel": "site",
        "data_categories": ["contact"],
        **changes,
    }


def published(
    ledger: ConsentLedger,
    version: str = "1",
    *,
    at: datetime | None = None,
    effective_from: datetime | None = None,
    recipients: frozenset[RecipientCategory] = DELIVERY,
) -> Receipt:
    """A version of the sample policy, posted in kk, ru and en."""
    return ledger.record(
        Request("privacy-officer"),
        PolicyVersion(
            policy_id=POLICY,
            version=version,
            text_sha256={lang: text_sha256(text) for lang, text in TEXTS[version].items()},
            purposes=PURPOSES,
            optional_purposes=OPTIONAL,
            recipient_categories=recipients,
            effective_from=effective_from,
            operator_name="Qlever",
            operator_bin="000000000000",
        ),
        at,
    )


def consented(
    ledger: ConsentLedger,
    subject: str,
    version: str = "1",
    *,
    at: datetime | None = None,
    third_parties: bool = True,
    data_categories: frozenset[str] = CATEGORIES,
    evidence: str | None = "ip=10.0.0.7 device=android",
    request: Request = SERVICE,
) -> Receipt:
    """A subject who registered in the app and accepted a version."""
    return ledger.record(
        request,
        Acceptance(
            subject_id=SubjectId(subject),
            policy_id=POLICY,
            policy_version=version,
            language=Language.EN,
            text_sha256=sha(version),
            method=ConsentMethod.REGISTRATION,
            channel="app",
            data_categories=frozenset(DataCategory(c) for c in data_categories),
            third_parties=third_parties,
            evidence=evidence,
        ),
        at,
    )


def recorded(fact: F, number: int, occurred_at: datetime, recorded_at: datetime | None = None) -> F:
    """`fact` as its record would hold it: entry `number`, happened at `occurred_at`, recorded then or later.

    For the rules' own tests, which judge entries without a ledger.
    """
    event: F = type(fact).recorded(
        originator_id=fact.key(),
        originator_version=number,
        timestamp=recorded_at or occurred_at,
        recorded_by="test",
        occurred_at=occurred_at,
        **terms(fact),
    )
    return event
