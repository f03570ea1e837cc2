"""An export verifies offline with the public key alone, and any change to it is caught, every time.

The verifier reads only the bytes of the export (or proof) and the public key: no database.
The properties below change one byte anywhere, or drop, swap or insert events, and expect a
failure each time; the examples check that untouched exports verify on each backend, for the
whole log or any range, after a subject's key was destroyed, and after an interrupted export
was resumed.
"""

from __future__ import annotations

import io
import string
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import orjson
import pytest
from conftest import FakeClock
from given import SERVICE, consented, published
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.export import ExportRefused, export_log, resume_export
from audit.log import AuditLog
from audit.notes import SigningKey, b64
from audit.verify import verify_consistency_proof, verify_export, verify_file, verify_inclusion_proof
from ledger.application import open_ledger
from ledger.sealing import new_master_key, parse_master_key
from ledger.storage import Database
from ledger.subject_facts import Destruction
from ledger.terms import DestructionGround, SubjectId

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from ledger.application import ConsentLedger

ORIGIN = "example.kz/consent-log"
KEY = SigningKey.from_seed(ORIGIN, bytes(range(32)))
VERIFIER = KEY.verifier


def recorded_history(ledger: ConsentLedger, clock: FakeClock) -> AuditLog:
    """Four checkpoints over 19 events: one of the empty log, and one repeated after a destruction."""
    log = AuditLog(ledger, KEY)
    log.issue_checkpoint(clock.now)
    published(ledger)
    for n in range(3):
        consented(ledger, f"subject-{n}")
    log.issue_checkpoint(clock.advance(hours=1))
    for n in range(3, 8):
        consented(ledger, f"subject-{n}")
    ledger.record(SERVICE, Destruction(subject_id=SubjectId("subject-4"), ground=DestructionGround.SUBJECT_REQUEST))
    log.issue_checkpoint(clock.advance(hours=1))
    log.issue_checkpoint(clock.advance(hours=1))
    return log


def exported(log: AuditLog, from_position: int = 1, to_position: int | None = None) -> bytes:
    out = io.BytesIO()
    export_log(log, out, from_position=from_position, to_position=to_position)
    return out.getvalue()


def verdict_of(data: bytes) -> bool:
    return verify_export(io.BytesIO(data), VERIFIER).ok


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, bytes]]:
    """A whole export, a range export, and both kinds of proof, made once on SQLite."""
    folder = tmp_path_factory.mktemp("audit")
    clock = FakeClock(datetime(2026, 3, 2, 9, tzinfo=UTC))
    ledger = open_ledger(Database.from_url(f"sqlite:///{folder}/ledger.db"), parse_master_key(new_master_key()), clock)
    log = recorded_history(ledger, clock)
    yield {
        "export": exported(log),
        "range": exported(log, from_position=5, to_position=12),
        "inclusion": log.inclusion_proof(7, 8).to_json(),
        "consistency": log.consistency_proof(8).to_json(),
    }
    ledger.close()


def lines_of(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def event_lines(data: bytes) -> list[int]:
    return [i for i, line in enumerate(lines_of(data)) if line.startswith(b'{"position":')]


# Untouched exports verify.


def test_the_whole_log_exports_and_verifies_with_the_public_key_alone(ledger: ConsentLedger, clock: FakeClock) -> None:
    log = recorded_history(ledger, clock)
    data = exported(log)
    verdict = verify_export(io.BytesIO(data), VERIFIER)
    assert verdict.ok, verdict.summary()
    assert (verdict.events, verdict.checkpoints, verdict.tree_size) == (19, 4, 19)
    assert verdict.verified_through == ledger.max_position()
    assert verdict.latest is not None
    assert verdict.latest.root == log.tree.root(19)
    assert verdict.complete
    assert verdict.summary().startswith("VERIFIED: 19 events and 4 signed checkpoints agree.")
    assert "range" not in verdict.summary()


def test_every_range_of_the_log_exports_and_verifies_on_its_own(ledger: ConsentLedger, clock: FakeClock) -> None:
    log = recorded_history(ledger, clock)
    for start, end in [(1, 19), (1, 1), (2, 8), (8, 8), (9, 9), (5, 12), (12, 19), (19, 19), (3, 18)]:
        data = exported(log, from_position=start, to_position=end)
        verdict = verify_export(io.BytesIO(data), VERIFIER)
        assert verdict.ok, (start, end, verdict.summary())
        assert verdict.events == end - start + 1
        assert verdict.complete == (start == 1 and end == 19)
        assert (f"This export is a range: leaves {start - 1} to {end - 1};" in verdict.summary()) != verdict.complete
        assert [orjson.loads(line)["position"] for line in lines_of(data) if line.startswith(b'{"position":')] == list(
            range(start, end + 1)
        )


def test_an_export_verifies_although_a_subjects_key_was_destroyed(ledger: ConsentLedger, clock: FakeClock) -> None:
    log = recorded_history(ledger, clock)
    before = exported(log)
    ledger.record(SERVICE, Destruction(subject_id=SubjectId("subject-6"), ground=DestructionGround.SUBJECT_REQUEST))
    log.issue_checkpoint(clock.advance(days=1))
    after = exported(log)
    assert verdict_of(before)
    assert verdict_of(after)
    assert after.startswith(b"".join(lines_of(before)[:-1]))  # every earlier line is byte for byte the same


def test_an_interrupted_export_resumes_to_the_same_bytes(
    ledger: ConsentLedger, clock: FakeClock, tmp_path: Path
) -> None:
    log = recorded_history(ledger, clock)
    whole = exported(log)
    boundaries = [len(b"".join(lines_of(whole)[:i])) for i in range(1, len(lines_of(whole)) + 1)]
    for cut in sorted({*boundaries, *(b - 7 for b in boundaries[1:]), len(whole) // 2}):
        path = tmp_path / f"cut-{cut}.jsonl"
        path.write_bytes(whole[:cut])
        resume_export(log, path)
        assert path.read_bytes() == whole, cut


def test_an_export_covers_only_what_a_checkpoint_vouches_for(ledger: ConsentLedger, clock: FakeClock) -> None:
    log = AuditLog(ledger, KEY)
    published(ledger)
    with pytest.raises(ExportRefused, match="no checkpoint has been issued yet"):
        exported(log)
    log.issue_checkpoint(clock.now)
    consented(ledger, "late")
    with pytest.raises(ExportRefused, match="events after position 2 are not covered by a checkpoint yet"):
        exported(log, to_position=4)
    assert verdict_of(exported(log))  # by default: up to the newest checkpoint


def test_resuming_a_file_that_is_not_an_export_of_this_log_is_refused(
    ledger: ConsentLedger, clock: FakeClock, tmp_path: Path
) -> None:
    log = recorded_history(ledger, clock)
    stranger = tmp_path / "stranger.jsonl"
    stranger.write_bytes(b'{"hello":"world"}\n')
    with pytest.raises(ExportRefused, match="does not start like an export"):
        resume_export(log, stranger)
    other = tmp_path / "other.jsonl"
    header = orjson.loads(lines_of(exported(log, from_position=5))[0])
    header["prefix"][0] = b64(bytes(32))
    other.write_bytes(orjson.dumps(header) + b"\n")
    with pytest.raises(ExportRefused, match="an export of another log"):
        resume_export(log, other)


# What a failure says.


def test_a_changed_event_is_located_between_the_checkpoints_around_it(documents: dict[str, bytes]) -> None:
    lines = lines_of(documents["export"])
    index = event_lines(documents["export"])[10]  # position 11, between the checkpoints of 8 and 19 events
    record = orjson.loads(lines[index])
    record["topic"] += "Revised"
    lines[index] = orjson.dumps(record) + b"\n"
    verdict = verify_export(io.BytesIO(b"".join(lines)), VERIFIER)
    assert not verdict.ok
    assert verdict.first_bad_position == 9
    assert verdict.verified_through == 8
    assert "(positions 9 to 19) do not hash to the root signed for 19 events" in verdict.reason


def stray_bits(encoded: str) -> str:
    """The same bytes in base64 whose last character sets bits the padding says are unused."""
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"
    last = len(encoded.rstrip("=")) - 1
    return encoded[:last] + alphabet[alphabet.index(encoded[last]) | 1] + encoded[last + 1 :]


@pytest.mark.parametrize(
    ("field", "spelling", "complaint"),
    [
        ("originator_id", str.upper, "originator_id is not a UUID in its canonical lower-case form"),
        ("originator_id", lambda u: u.replace("-", ""), "originator_id is not a UUID in its canonical lower-case form"),
        ("originator_id", lambda u: "{" + u + "}", "originator_id is not a UUID in its canonical lower-case form"),
        ("state", stray_bits, "not canonical base64"),
    ],
)
def test_an_event_spelled_otherwise_than_its_export_wrote_it_is_refused_at_its_line(
    documents: dict[str, bytes], field: str, spelling: Callable[[str], str], complaint: str
) -> None:
    # The same UUID or the same state bytes, written another way: the leaf would hash the same, so only the strict
    # reading of the line can refuse it, and it must, or one export could be written in many ways.
    lines = lines_of(documents["export"])
    index = next(i for i in event_lines(documents["export"]) if orjson.loads(lines[i])["state"].endswith("="))
    record = orjson.loads(lines[index])
    record[field] = spelling(record[field])
    lines[index] = orjson.dumps(record) + b"\n"
    verdict = verify_export(io.BytesIO(b"".join(lines)), VERIFIER)
    assert (verdict.ok, verdict.line) == (False, index + 1)
    assert complaint in verdict.reason


def test_swapped_events_are_caught_where_the_order_breaks(documents: dict[str, bytes]) -> None:
    lines = lines_of(documents["export"])
    a, b = event_lines(documents["export"])[3:5]
    lines[a], lines[b] = lines[b], lines[a]
    verdict = verify_export(io.BytesIO(b"".join(lines)), VERIFIER)
    assert (verdict.ok, verdict.first_bad_position) == (False, 4)
    assert "position 4 follows position 5" in verdict.summary()


def test_events_after_the_last_checkpoint_are_not_vouched_for(documents: dict[str, bytes]) -> None:
    last = orjson.loads(lines_of(documents["export"])[event_lines(documents["export"])[-1]])
    last["position"] += 1
    verdict = verify_export(io.BytesIO(documents["export"] + orjson.dumps(last) + b"\n"), VERIFIER)
    assert (verdict.ok, verdict.first_bad_position) == (False, 20)
    assert "1 events after the last checkpoint are not covered" in verdict.reason


def test_another_logs_key_verifies_nothing(documents: dict[str, bytes]) -> None:
    stranger = SigningKey.from_seed(ORIGIN, bytes(32)).verifier
    verdict = verify_export(io.BytesIO(documents["export"]), stranger)
    assert not verdict.ok
    assert "no signature of example.kz/consent-log" in verdict.reason


def test_proof_documents_verify_offline(documents: dict[str, bytes], tmp_path: Path) -> None:
    inclusion = verify_inclusion_proof(documents["inclusion"], VERIFIER)
    assert inclusion.ok, inclusion.reason
    assert inclusion.summary().startswith("VERIFIED: the event at position 7 is leaf 6 of the 8 events")
    assert verify_consistency_proof(documents["consistency"], VERIFIER).ok
    for name, data in documents.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert verify_file(path, VERIFIER).ok, name


# Any change is caught, every time.


@st.composite
def one_byte_changed(draw: st.DrawFn, data: bytes) -> bytes:
    """`data` with one byte of one line (lines drawn evenly, so headers and checkpoints get their share) changed."""
    lines = lines_of(data)
    index = draw(st.integers(0, len(lines) - 1))
    offset = draw(st.integers(0, len(lines[index]) - 1))
    line = bytearray(lines[index])
    line[offset] = draw(st.integers(0, 255).filter(lambda b: b != line[offset]))
    return b"".join([*lines[:index], bytes(line), *lines[index + 1 :]])


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), which=st.sampled_from(["export", "range"]))
def test_changing_any_byte_of_an_export_is_caught(documents: dict[str, bytes], data: st.DataObject, which: str) -> None:
    assert not verdict_of(data.draw(one_byte_changed(documents[which])))


@settings(max_examples=1000, deadline=None)
@given(data=st.data(), which=st.sampled_from(["inclusion", "consistency"]))
def test_changing_any_byte_of_a_proof_is_caught(documents: dict[str, bytes], data: st.DataObject, which: str) -> None:
    changed = data.draw(one_byte_changed(documents[which]))
    verify = verify_inclusion_proof if which == "inclusion" else verify_consistency_proof
    assert not verify(changed, VERIFIER).ok


@settings(max_examples=1000, deadline=None)
@given(data=st.data(), which=st.sampled_from(["export", "range"]), change=st.sampled_from(["drop", "swap", "insert"]))
def test_dropping_reordering_or_inserting_an_event_is_caught(
    documents: dict[str, bytes], data: st.DataObject, which: str, change: str
) -> None:
    lines = lines_of(documents[which])
    events = event_lines(documents[which])
    if change == "drop":
        del lines[data.draw(st.sampled_from(events))]
    elif change == "swap":
        a, b = data.draw(st.lists(st.sampled_from(events), min_size=2, max_size=2, unique=True))
        lines[a], lines[b] = lines[b], lines[a]
    else:
        inserted = orjson.loads(lines[data.draw(st.sampled_from(events))])
        inserted["position"] = data.draw(st.sampled_from([inserted["position"], *range(1, 30)]))
        lines.insert(data.draw(st.integers(1, len(lines))), orjson.dumps(inserted) + b"\n")
    assert not verdict_of(b"".join(lines))
