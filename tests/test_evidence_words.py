"""The printable evidence names every kind of event in the reader's language, prompts and refusals included."""

from __future__ import annotations

from typing import TYPE_CHECKING, get_args

import pytest
from given import POLICY, SERVICE, published, sha
from test_evidence import bundle_for

from audit.evidence_html import render
from audit.evidence_words import KINDS, Lang
from ledger.policy import PolicyVersion
from ledger.subject_facts import ConsentRefusal, ConsentRequest, SubjectFact
from ledger.terms import Language, SubjectId

if TYPE_CHECKING:
    from conftest import FakeClock

    from ledger.application import ConsentLedger
    from ledger.storage import Database


def test_every_kind_of_event_a_bundle_shows_is_named_in_kazakh_russian_and_english() -> None:
    shown = {fact.event for fact in SubjectFact.__subclasses__()} | {PolicyVersion.event, "Opened", "Adopted"}

    unnamed = {kind: sorted(set(get_args(Lang)) - set(KINDS.get(kind, {}))) for kind in shown}

    assert {kind: langs for kind, langs in unnamed.items() if langs} == {}


@pytest.mark.parametrize(
    ("language", "words"),
    [("en", ("Consent requested", "Consent refused")), ("ru", ("Запрошено согласие", "В согласии отказано"))],
)
def test_a_prompt_and_its_refusal_read_in_the_timeline_by_their_names(
    ledger: ConsentLedger, database: Database, clock: FakeClock, language: Lang, words: tuple[str, str]
) -> None:
    asked, refused = words
    published(ledger)
    subject = SubjectId("refuser")
    ledger.record(
        SERVICE,
        ConsentRequest(
            subject_id=subject,
            prompt_id="PR-1",
            policy_id=POLICY,
            policy_version="1",
            language=Language.EN,
            text_sha256=sha("1"),
            channel="app",
        ),
    )
    clock.advance(minutes=1)
    ledger.record(SERVICE, ConsentRefusal(subject_id=subject, prompt_id="PR-1", channel="app"))

    page = render(bundle_for(ledger, database, subject, clock.now), language)

    assert f"<td>{asked}</td>" in page  # the reader's words, not the event's name
    assert f"<td>{refused}</td>" in page
