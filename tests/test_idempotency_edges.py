"""Idempotency keys: a retry must be the same request down to its personal values, and callers never collide."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from given import consented, published

from ledger.application import Request
from ledger.errors import IdempotencyKeyReused
from ledger.subject_facts import Correction
from ledger.terms import DataCategory, SubjectId

if TYPE_CHECKING:
    from ledger.application import ConsentLedger


def test_a_retry_with_other_personal_values_under_the_same_key_is_refused(ledger: ConsentLedger) -> None:
    published(ledger)
    keyed = Request("orders-service", idempotency_key="consent-7")
    consented(ledger, "u-1", evidence="ip=10.0.0.1", request=keyed)
    with pytest.raises(IdempotencyKeyReused):
        consented(ledger, "u-1", evidence="ip=10.0.0.2", request=keyed)
    facts = ledger.subject_facts(SubjectId("u-1"))
    assert [f.fields.get("evidence") for f in facts if f.event_type == "ConsentGranted"] == ["ip=10.0.0.1"]


def test_keys_of_callers_whose_names_run_together_do_not_collide(ledger: ConsentLedger) -> None:
    published(ledger)
    consented(ledger, "u-1")
    categories = frozenset({DataCategory("address")})
    first = ledger.record(
        Request("a:b", idempotency_key="c"), Correction(subject_id=SubjectId("u-1"), data_categories=categories)
    )
    second = ledger.record(
        Request("a", idempotency_key="b:c"), Correction(subject_id=SubjectId("u-1"), data_categories=categories)
    )
    assert not second.replayed
    assert second.position > first.position
