"""An evidence bundle for a dispute: what a subject had accepted at a moment, why, and the proof a court can check.

Runs on each backend. A bundle is checked offline with the public key alone; any single changed
byte of an event, a proof or the checkpoint is caught, and so is any statement that does not
follow from the proven events (tests/test_evidence_bound.py, tests/test_tampering.py).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import orjson
import pytest
from given import POLICY, SERVICE, consented, published, sha
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.evidence import build_bundle, bundle_bytes, verify_bundle
from audit.evidence_statements import DESTROYED
from audit.log import AuditLog
from audit.notes import SigningKey
from ledger.application import ConsentLedger, Request
from ledger.subject_facts import Acceptance, Block, BlockLift, Destruction, Disclosure, SubjectRequest
from ledger.terms import (
    BlockGround,
    BlockOutcome,
    BlockRequester,
    ConsentMethod,
    DataCategory,
    DestructionGround,
    DisclosureGround,
    Language,
    Purpose,
    RecipientCategory,
    RequestKind,
    SubjectId,
)

if TYPE_CHECKING:
    from conftest import FakeClock

    from ledger.storage import Database

ORIGIN = "example.kz/consent-log"
KEY = SigningKey.from_seed(ORIGIN, bytes(range(32)))
PUBLIC = str(KEY.verifier)
ANNA, PAPER = SubjectId("subject-anna"), SubjectId("subject-on-paper")
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
V2_FROM = START + timedelta(days=10)
PAPER_SIGNED = START + timedelta(days=3)
"""The day the paper form was signed; the clerk entered it only on day 18."""


def dispute(ledger: ConsentLedger, clock: FakeClock) -> None:
    """Anna accepts v1 in the app, is blocked and unblocked, her address goes to a courier; v2 takes effect on
    day 10; a paper consent signed on day 3 is entered on day 18."""
    published(ledger)
    consented(ledger, ANNA)
    clock.advance(days=1)
    ledger.record(
        SERVICE,
        Block(subject_id=ANNA, block_id="blk-1", requester=BlockRequester.SUBJECT, ground=BlockGround.INACCURATE_DATA),
    )
    clock.advance(days=1)
    ledger.record(SERVICE, BlockLift(subject_id=ANNA, block_id="blk-1", outcome=BlockOutcome.DATA_CORRECTED))
    clock.advance(days=1)
    ledger.record(
        SERVICE,
        Disclosure(
            subject_id=ANNA,
            recipient="Kazpost Courier",
            recipient_category=RecipientCategory.COURIER,
            purpose=Purpose("4.1.1"),
            data_categories=frozenset({DataCategory("address")}),
            ground=DisclosureGround.ORDER_FULFILMENT,
            reference="order-1001",
        ),
    )
    clock.now = V2_FROM
    published(ledger, "2")
    clock.now = START + timedelta(days=18)
    ledger.record(
        Request("front-office"),
        Acceptance(
            subject_id=PAPER,
            policy_id=POLICY,
            policy_version="1",
            language=Language.RU,
            text_sha256=sha("1", Language.RU),
            method=ConsentMethod.WRITTEN,
            channel="paper",
            data_categories=frozenset({"contact", "address"}),
            evidence="form 17/2026, signed in the Almaty office",
        ),
        PAPER_SIGNED,
    )


def bundle_for(ledger: ConsentLedger, database: Database, subject: str, at: datetime) -> dict:  # noqa: ARG001
    """The bundle as the operator would hand it over (the database is named for the backend it runs on)."""
    log = AuditLog(ledger, KEY)
    return build_bundle(ledger, log, SubjectId(subject), at=at, now=ledger.clock())


def events_of(bundle: dict, kind: str) -> list[dict]:
    return [e for e in bundle["events"] if e["kind"] == kind]


def test_the_bundle_answers_which_version_was_accepted_and_that_the_subject_was_behind(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    dispute(ledger, clock)

    bundle = bundle_for(ledger, database, ANNA, V2_FROM + timedelta(days=2))

    [answer] = bundle["answer"]["policies"]
    assert (answer["accepted_version"], answer["in_effect_version"], answer["behind"]) == ("1", "2", True)
    assert answer["accepted_text_sha256"] == sha("1")
    assert answer["in_effect_text_sha256"]["en"] == sha("2")
    assert "had accepted version 1" in bundle["answer"]["sentence"]
    assert "version 2 was in effect, so the subject was behind" in bundle["answer"]["sentence"]
    acceptance = next(e for e in bundle["events"] if e["position"] == answer["acceptance_position"])
    assert acceptance["kind"] == "ConsentGranted"
    published_v2 = next(e for e in bundle["events"] if e["position"] == answer["in_effect_position"])
    assert published_v2["summary"] == {"policy_id": POLICY, "version": "2"}
    assert verify_bundle(bundle_bytes(bundle), PUBLIC).ok


def test_a_paper_consent_entered_after_the_moment_answers_for_it_and_is_marked_recorded_after_t(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    dispute(ledger, clock)
    moment = PAPER_SIGNED + timedelta(days=1)

    bundle = bundle_for(ledger, database, PAPER, moment)

    [answer] = bundle["answer"]["policies"]
    assert (answer["accepted_version"], answer["behind"], answer["accepted_recorded_after_t"]) == ("1", False, True)
    assert answer["accepted_text_sha256"] == sha("1", Language.RU)
    [paper] = events_of(bundle, "ConsentGranted")
    assert paper["recorded_after_t"] is True
    assert paper["occurred_at"] == PAPER_SIGNED.isoformat()
    assert "recorded later" in bundle["answer"]["sentence"]
    [opened] = events_of(bundle, "Opened")
    assert opened["recorded_after_t"] is True
    assert verify_bundle(bundle_bytes(bundle), PUBLIC).ok


def test_blocks_lifts_and_disclosures_are_shown_with_both_times_even_after_the_moment(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    dispute(ledger, clock)

    bundle = bundle_for(ledger, database, ANNA, START + timedelta(hours=1))

    assert [(b["kind"], b["in_force_at_t"]) for b in bundle["blocks"]] == [
        ("DataBlocked", False),
        ("BlockLifted", False),
    ]
    [disclosure] = bundle["disclosures"]
    assert disclosure["recipient"] == "Kazpost Courier"
    assert disclosure["occurred_at"] == (START + timedelta(days=3)).isoformat()
    assert {e["kind"] for e in bundle["events"] if e["occurred_after_t"]} == {
        "DataBlocked",
        "BlockLifted",
        "DataDisclosed",
        "VersionPublished",  # v2: the policy's record is carried whole too
    }
    shown = {e["position"] for e in bundle["events"]}
    assert {b["position"] for b in bundle["blocks"]} | {disclosure["position"]} <= shown
    assert verify_bundle(bundle, PUBLIC).ok


def test_a_block_in_force_at_the_moment_is_marked(ledger: ConsentLedger, database: Database, clock: FakeClock) -> None:
    dispute(ledger, clock)

    bundle = bundle_for(ledger, database, ANNA, START + timedelta(days=1, hours=1))

    assert [(b["kind"], b["in_force_at_t"]) for b in bundle["blocks"]] == [
        ("DataBlocked", True),
        ("BlockLifted", False),
    ]


def test_the_bundle_carries_the_sealed_bytes_and_the_values_opened_with_the_subjects_key_which_it_gives(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    dispute(ledger, clock)

    bundle = bundle_for(ledger, database, PAPER, V2_FROM)

    [paper] = events_of(bundle, "ConsentGranted")
    stored = base64.b64decode(paper["stored"]["state"])
    assert b"Almaty" not in stored
    assert "ciphertext" in orjson.loads(stored)["evidence"]
    shown = bundle["personal_values"]
    assert shown["values"] == [
        {"version": 2, "kind": "ConsentGranted", "fields": {"evidence": "form 17/2026, signed in the Almaty office"}}
    ]
    assert len(base64.b64decode(shown["key"])) == 32
    assert verify_bundle(bundle, PUBLIC).ok


def test_after_destruction_the_bundle_still_verifies_and_carries_no_personal_values(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    dispute(ledger, clock)
    before = bundle_for(ledger, database, PAPER, V2_FROM)
    clock.advance(days=1)
    ledger.record(SERVICE, Destruction(subject_id=PAPER, ground=DestructionGround.SUBJECT_REQUEST))

    after = bundle_for(ledger, database, PAPER, V2_FROM)

    assert verify_bundle(bundle_bytes(after), PUBLIC).ok
    assert after["personal_values"] == {"key": None, "values": None, "why_absent": DESTROYED}
    assert b"signed in the Almaty office" not in bundle_bytes(after)
    stored_before = {e["position"]: e["stored"] for e in before["events"]}
    assert all(stored_before[e["position"]] == e["stored"] for e in after["events"] if e["position"] in stored_before)


def test_a_checkpoint_is_issued_only_when_none_covers_the_newest_event(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    dispute(ledger, clock)
    log = AuditLog(ledger, KEY)

    first = bundle_for(ledger, database, ANNA, V2_FROM)
    again = bundle_for(ledger, database, ANNA, V2_FROM)
    clock.advance(days=1)
    consented(ledger, ANNA, "2")
    newer = bundle_for(ledger, database, ANNA, clock.now)

    assert first["checkpoint"] == again["checkpoint"]
    assert bundle_bytes(first) == bundle_bytes(again)
    assert newer["checkpoint"]["tree_size"] == first["checkpoint"]["tree_size"] + 1
    assert [c.size for c in log.checkpoints()] == [first["checkpoint"]["tree_size"], newer["checkpoint"]["tree_size"]]
    assert verify_bundle(bundle_bytes(newer), PUBLIC).ok


def test_a_bundle_checked_against_another_key_fails(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    dispute(ledger, clock)
    bundle = bundle_bytes(bundle_for(ledger, database, ANNA, V2_FROM))
    other = SigningKey.from_seed(ORIGIN, bytes(32)).verifier

    verdict = verify_bundle(bundle, other)

    assert not verdict.ok
    assert "FAILED" in verdict.summary()


def test_a_subject_never_recorded_has_no_bundle(ledger: ConsentLedger, database: Database, clock: FakeClock) -> None:
    from ledger.errors import NotFound  # noqa: PLC0415

    dispute(ledger, clock)
    with pytest.raises(NotFound):
        bundle_for(ledger, database, "nobody", V2_FROM)


def flip(bundle: dict, part: str, index: int, pick: int, mask: int) -> dict:
    """A copy of the bundle with one byte changed in one event's stored bytes, one proof hash, or the checkpoint."""
    changed = orjson.loads(orjson.dumps(bundle))
    event = changed["events"][index % len(changed["events"])]
    if part == "state":
        data = bytearray(base64.b64decode(event["stored"]["state"]))
        data[pick % len(data)] ^= mask
        event["stored"]["state"] = base64.b64encode(bytes(data)).decode()
    elif part == "proof":
        if not event["inclusion"]:
            event["inclusion"] = [base64.b64encode(bytes(32)).decode()]
        else:
            path = event["inclusion"]
            hashes = bytearray(base64.b64decode(path[pick % len(path)]))
            hashes[(pick // len(path)) % 32] ^= mask
            path[pick % len(path)] = base64.b64encode(bytes(hashes)).decode()
    elif part == "originator":
        raw = bytearray(bytes.fromhex(event["stored"]["originator_id"].replace("-", "")))
        raw[pick % 16] ^= mask
        hexed = raw.hex()
        event["stored"]["originator_id"] = f"{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}-{hexed[20:]}"
    else:
        note = bytearray(changed["checkpoint"]["note"].encode())
        note[pick % len(note)] ^= mask & 0x7F or 1
        changed["checkpoint"]["note"] = note.decode(errors="replace")
    return changed


@pytest.fixture
def made(ledger: ConsentLedger, database: Database, clock: FakeClock) -> dict:
    dispute(ledger, clock)
    return bundle_for(ledger, database, ANNA, V2_FROM + timedelta(days=1))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    part=st.sampled_from(["state", "proof", "originator", "checkpoint"]),
    index=st.integers(0, 50),
    pick=st.integers(0, 10_000),
    mask=st.integers(1, 255),
)
def test_any_single_changed_byte_of_an_event_a_proof_or_the_checkpoint_fails_verification(
    made: dict, part: str, index: int, pick: int, mask: int
) -> None:
    assert verify_bundle(bundle_bytes(made), PUBLIC).ok

    verdict = verify_bundle(bundle_bytes(flip(made, part, index, pick, mask)), PUBLIC)

    assert not verdict.ok, (part, index, pick, mask)


def test_a_shown_time_that_differs_from_the_stored_one_fails_verification(made: dict) -> None:
    changed = orjson.loads(orjson.dumps(made))
    changed["events"][-1]["recorded_at"] = "2020-01-01T00:00:00+00:00"

    verdict = verify_bundle(changed, PUBLIC)

    assert not verdict.ok
    assert verdict.field == f"events[{len(made['events']) - 1}].recorded_at"
    assert "2020-01-01T00:00:00+00:00" in verdict.reason


def test_a_dropped_event_that_the_answer_cites_fails_verification_where_the_record_breaks(made: dict) -> None:
    changed = orjson.loads(orjson.dumps(made))
    cited = changed["answer"]["policies"][0]["acceptance_position"]
    changed["events"] = [e for e in changed["events"] if e["position"] != cited]

    verdict = verify_bundle(changed, PUBLIC)

    assert not verdict.ok
    assert "version 2 is missing" in verdict.reason
    assert verdict.field is not None
    assert verdict.field.startswith("events[")


def test_reordered_events_fail_verification(made: dict) -> None:
    changed = orjson.loads(orjson.dumps(made))
    changed["events"][0], changed["events"][1] = changed["events"][1], changed["events"][0]

    assert "log order" in verify_bundle(changed, PUBLIC).reason


def test_another_subjects_proven_consent_cannot_be_passed_off_as_this_subjects(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    dispute(ledger, clock)
    anna = bundle_for(ledger, database, ANNA, V2_FROM)
    paper = bundle_for(ledger, database, PAPER, V2_FROM)
    forged = orjson.loads(orjson.dumps(anna))
    [borrowed] = events_of(paper, "ConsentGranted")
    forged["events"] = sorted([*forged["events"], borrowed], key=lambda e: e["position"])
    assert anna["checkpoint"] == paper["checkpoint"]  # so the borrowed event's own proof still holds

    verdict = verify_bundle(forged, PUBLIC)

    assert not verdict.ok
    assert verdict.field == f"events[{forged['events'].index(borrowed)}]"
    assert "belongs to another subject's record" in verdict.reason


def test_a_text_hash_shown_that_is_not_the_proven_one_fails_verification(made: dict) -> None:
    changed = orjson.loads(orjson.dumps(made))
    changed["answer"]["policies"][0]["in_effect_text_sha256"]["en"] = sha("1")

    verdict = verify_bundle(changed, PUBLIC)

    assert not verdict.ok
    assert verdict.field == "answer.policies[0].in_effect_text_sha256.en"


def test_the_subjects_open_deadlines_are_in_the_bundle(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    dispute(ledger, clock)
    ledger.record(
        SERVICE, SubjectRequest(subject_id=PAPER, request_id="req-7", kind=RequestKind.ACCESS, channel="paper")
    )

    bundle = bundle_for(ledger, database, PAPER, V2_FROM)

    assert [(d["reference"], d["status"]) for d in bundle["open_deadlines"]] == [("req-7", "open")]
    assert bundle_for(ledger, database, ANNA, V2_FROM)["open_deadlines"] == []
