"""The read side's shortcuts give exactly what the ledger's own code gives.

The view keeps each entry in its event's own encoding and reads it back through the ledger's
mapper. Any difference from the event as stored would silently change the view's answers, so
every entry of varied histories is kept and read back, and compared with the log's.
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
from projections import codec
from projections.questions import subject_hex


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=steps)
def test_every_entry_the_view_keeps_reads_back_as_the_event_the_log_holds(history: list[Step]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        database = Database.from_url(f"sqlite:///{folder}/ledger.db")
        ledger = open_ledger(database, parse_master_key(new_master_key()), FakeClock(EPOCH + timedelta(days=1)))
        try:
            run(ledger, ledger.clock, history)  # type: ignore[arg-type]
            notes = ledger.recorder.select_notifications(start=1, limit=10_000)
            assert notes
            entries = [note for note in notes if note.topic in codec.ENTRY_TOPICS.values()]
            for note in entries:
                expected = ledger.mapper.to_domain_event(note)
                kind = type(expected).__name__
                got = codec.entry(note.originator_id, note.originator_version, kind, codec.encoded(expected))
                assert type(got) is type(expected)
                assert got.__dict__ == expected.__dict__, note.topic
                assert {k: type(v) for k, v in vars(got).items()} == {k: type(v) for k, v in vars(expected).items()}
        finally:
            ledger.close()


@given(st.text(max_size=60))
def test_the_questions_subject_key_shortcut_is_the_subjects_aggregate_id(subject_id: str) -> None:
    assert subject_hex(SubjectId(subject_id)) == subject_key(SubjectId(subject_id)).hex
