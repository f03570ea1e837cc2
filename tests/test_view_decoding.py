"""The read side's shortcuts give exactly what the ledger's own code gives.

The keeper's fast decoder gives back exactly the events the ledger's own mapper does.

Replaying the log decodes every stored event; the projection uses a decoder that works out
each field's conversion once per class. Any difference from `TypedMapper` would silently
change the view, so every event of varied histories is decoded both ways and compared.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta

from conftest import FakeClock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_projection_matches_replay import EPOCH, Step, run, steps

from ledger.application import open_ledger
from ledger.sealing import new_master_key, parse_master_key
from ledger.storage import Database
from ledger.subject import subject_key
from ledger.terms import SubjectId
from projections.codec import EventDecoder
from projections.questions import subject_hex


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=steps)
def test_every_stored_event_decodes_to_the_same_event_as_the_ledgers_mapper(history: list[Step]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        database = Database.from_url(f"sqlite:///{folder}/ledger.db")
        ledger = open_ledger(database, parse_master_key(new_master_key()), FakeClock(EPOCH + timedelta(days=1)))
        try:
            run(ledger, ledger.clock, history)  # type: ignore[arg-type]
            decode = EventDecoder(ledger.mapper.transcoder)
            notes = ledger.recorder.select_notifications(start=1, limit=10_000)
            assert len(notes) > 1
            for note in notes:
                expected = ledger.mapper.to_domain_event(note)
                got = decode(note)
                assert type(got) is type(expected)
                assert got.__dict__ == expected.__dict__, note.topic
                assert {k: type(v) for k, v in vars(got).items()} == {k: type(v) for k, v in vars(expected).items()}
        finally:
            ledger.close()


@given(st.text(max_size=60))
def test_the_questions_subject_key_shortcut_is_the_subjects_aggregate_id(subject_id: str) -> None:
    assert subject_hex(SubjectId(subject_id)) == subject_key(SubjectId(subject_id)).hex
