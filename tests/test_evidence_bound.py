"""A bundle says only what follows from the events it proves, recomputed by the verifier with the ledger's own rules.

Runs on each backend. The service's questions and the bundle agree on the demo's whole history;
a bundle that leaves out an event its answer depends on fails even when every count in it was
adjusted; personal values are checked against their sealed bytes; what no check covers (an old
bundle, a part of no known kind, an event of another kind of record) is refused.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
import pytest
from given import POLICY, SERVICE, consented, published
from test_evidence import ANNA, KEY, PAPER, PAPER_SIGNED, PUBLIC, START, V2_FROM, bundle_for, dispute

from audit.evidence import build_bundle, verify_bundle
from audit.formats import encoded_hashes, event_record, tlog_proof
from audit.log import AuditLog
from cli.demo import HISTORY, DemoClock, record_demo_history
from ledger.claim import ClaimFiling
from ledger.deadlines import DeadlineStatus
from ledger.subject_facts import Block, Retraction, SubjectRequest
from ledger.terms import BlockGround, BlockRequester, PolicyId, RequestKind, SubjectId
from projections.keeper import ViewKeeper, open_view
from projections.questions import LedgerQuestions

if TYPE_CHECKING:
    from conftest import FakeClock

    from ledger.application import ConsentLedger
    from ledger.storage import Database

AFTER_THE_DEMO = datetime(2026, 12, 1, 9, tzinfo=UTC)


def copy(bundle: dict[str, Any]) -> dict[str, Any]:
    return orjson.loads(orjson.dumps(bundle))


def without_last(bundle: dict[str, Any], kind: str) -> dict[str, Any]:
    """The bundle less the subject's last event (of `kind`), its record's count of events lowered to match."""
    changed = copy(bundle)
    last = changed["events"].pop(max(i for i, e in enumerate(changed["events"]) if e["aggregate"] == "subject"))
    assert last["kind"] == kind
    changed["records"][0]["events"] -= 1
    changed["records"][0]["last_recorded_at"] = max(
        e["recorded_at"] for e in changed["events"] if e["aggregate"] == "subject"
    )
    return changed


def demo_subjects() -> list[SubjectId]:
    lines = [orjson.loads(line) for line in HISTORY.read_bytes().splitlines() if line.strip()]
    return sorted({SubjectId(line["subject_id"]) for line in lines if "subject_id" in line and "claim_ref" not in line})


def answered_alike(bundle: dict[str, Any], questions: LedgerQuestions, subject: SubjectId, at: datetime) -> None:
    """The bundle's answer, blocks in force and disclosures are the service's answers to the same questions."""
    for shown in bundle["answer"]["policies"]:
        asked = questions.accepted_version_at(subject, PolicyId(shown["policy_id"]), at)
        standing = asked.accepted
        assert (shown["accepted_version"], shown["standing_purposes"], shown["in_effect_version"], shown["behind"]) == (
            standing.acceptance.policy_version if standing else None,
            sorted(standing.purposes) if standing else [],
            asked.in_effect.version if asked.in_effect else None,
            asked.behind,
        ), (subject, at)
    in_force = {b.block_id for b in questions.block_status(subject, at).in_force}
    assert {b["block_id"] for b in bundle["blocks"] if b["in_force_at_t"]} == in_force, (subject, at)
    assert [d["number"] for d in bundle["disclosures"]] == [d.number for d in questions.disclosures(subject)]


def deadlines_alike(bundle: dict[str, Any], questions: LedgerQuestions, subject: SubjectId) -> None:
    """The bundle's open deadlines are the service's, less a claim's (a claim is a record of its own)."""
    running = questions.deadlines(AFTER_THE_DEMO, {DeadlineStatus.OPEN, DeadlineStatus.OVERDUE}, subject_id=subject)
    assert [
        (d["obligation"], d["reference"], datetime.fromisoformat(d["due_at"]), d["status"])
        for d in bundle["open_deadlines"]
    ] == [
        (d.row.obligation, d.row.reference, d.row.due_at, d.status.value)
        for d in running
        if d.row.obligation != "claim_answer"
    ], subject


def test_on_the_demo_every_subjects_bundle_says_what_the_services_questions_answer(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    demo_clock = DemoClock(clock)
    ledger.clock = demo_clock
    record_demo_history(ledger, demo_clock)
    clock.now = AFTER_THE_DEMO
    view = open_view(database)
    ViewKeeper(ledger, view).catch_up()
    questions, log = LedgerQuestions(view), AuditLog(ledger, KEY)
    checked = 0

    for subject in demo_subjects():
        for at in [datetime(2026, month, 1, 12, tzinfo=UTC) for month in (1, 2, 3, 6, 9, 11)]:
            bundle = build_bundle(ledger, log, subject, at=at, now=AFTER_THE_DEMO)
            assert verify_bundle(bundle, PUBLIC).ok, (subject, at)
            answered_alike(bundle, questions, subject, at)
            checked += len(bundle["answer"]["policies"])
        deadlines_alike(bundle, questions, subject)
    assert checked > 30


def test_a_policy_version_left_out_fails_in_the_middle_of_its_record_and_at_its_end(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    dispute(ledger, clock)
    bundle = bundle_for(ledger, database, ANNA, V2_FROM + timedelta(days=1))
    published_as = {
        e["summary"]["version"]: i for i, e in enumerate(bundle["events"]) if e["kind"] == "VersionPublished"
    }
    first, last = copy(bundle), copy(bundle)
    del first["events"][published_as["1"]]
    del last["events"][published_as["2"]]
    last["records"][1].update(events=2, last_recorded_at=bundle["events"][published_as["1"]]["recorded_at"])

    gap = verify_bundle(first, PUBLIC)
    assert gap.field == f"events[{published_as['2'] - 1}]", "the event after the gap, where the record breaks"
    assert "version 2 is missing" in gap.reason
    end = verify_bundle(last, PUBLIC)
    assert end.field == "answer.policies[0].in_effect_version"
    assert 'the bundle says "2"; the proven events say "1"' in end.reason


def test_a_retraction_recorded_after_the_moment_cannot_be_left_out_even_with_the_count_adjusted(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    published(ledger)
    consented(ledger, "mira")
    moment = clock.advance(days=1)
    clock.advance(days=1)
    ledger.record(SERVICE, Retraction(subject_id=SubjectId("mira"), retracted_number=2, reason="another customer"))
    bundle = bundle_for(ledger, database, "mira", moment)

    left_out = without_last(bundle, "EntryRetracted")
    consent = next(i for i, e in enumerate(left_out["events"]) if e["kind"] == "ConsentGranted")
    unmarked = copy(left_out)
    unmarked["events"][consent]["struck_out"] = False

    assert bundle["answer"]["policies"][0]["accepted_version"] is None  # struck out, as known now
    assert verify_bundle(left_out, PUBLIC).field == f"events[{consent}].struck_out"
    verdict = verify_bundle(unmarked, PUBLIC)
    assert verdict.field == "answer.policies[0].accepted_version"
    assert 'the bundle says null; the proven events say "1"' in verdict.reason


def test_a_block_or_a_paper_consent_recorded_last_cannot_be_left_out_even_with_the_count_adjusted(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    dispute(ledger, clock)
    paper = bundle_for(ledger, database, PAPER, PAPER_SIGNED + timedelta(days=1))
    clock.advance(days=1)
    ledger.record(
        SERVICE,
        Block(subject_id=ANNA, block_id="blk-9", requester=BlockRequester.SUBJECT, ground=BlockGround.INACCURATE_DATA),
    )
    blocked = bundle_for(ledger, database, ANNA, clock.now)

    no_consent = without_last(paper, "ConsentGranted")
    nor_its_policy = copy(no_consent)
    nor_its_policy["events"] = [e for e in no_consent["events"] if e["aggregate"] == "subject"]
    del nor_its_policy["records"][1]

    stranger = verify_bundle(no_consent, PUBLIC)
    assert stranger.field == "events[0]"
    assert "a policy the subject never accepted" in stranger.reason
    unanswered = verify_bundle(nor_its_policy, PUBLIC)
    assert unanswered.field == "answer.policies[0]"
    assert "which nothing proven says" in unanswered.reason
    verdict = verify_bundle(without_last(blocked, "DataBlocked"), PUBLIC)
    assert verdict.field == f"blocks[{len(blocked['blocks']) - 1}]"
    assert "the bundle says" in verdict.reason
    assert "blk-9" in verdict.reason


def test_each_personal_value_is_checked_against_its_sealed_bytes_with_the_key_the_bundle_gives(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    dispute(ledger, clock)
    bundle = bundle_for(ledger, database, PAPER, V2_FROM)
    other = bundle_for(ledger, database, ANNA, V2_FROM)
    edited, moved, wrong_key = copy(bundle), copy(bundle), copy(bundle)
    edited["personal_values"]["values"][0]["fields"]["evidence"] = "form 18/2026"
    fields = moved["personal_values"]["values"][0]["fields"]
    fields["representative"] = fields.pop("evidence")
    wrong_key["personal_values"]["key"] = other["personal_values"]["key"]

    assert verify_bundle(edited, PUBLIC).field == "personal_values.values[0].fields.evidence"
    assert verify_bundle(moved, PUBLIC).field == "personal_values.values[0].fields.evidence"
    verdict = verify_bundle(wrong_key, PUBLIC)
    assert verdict.field == "personal_values.key"
    assert "not this subject's key" in verdict.reason


def test_the_open_deadlines_are_counted_in_kazakh_working_days_from_the_proven_events(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    published(ledger)
    consented(ledger, "nurlan")
    clock.now = datetime(2026, 3, 6, 15, tzinfo=UTC)  # Friday 6 March, 20:00 in Almaty; Monday 9 March is a day off
    asked = SubjectRequest(subject_id=SubjectId("nurlan"), request_id="q-1", kind=RequestKind.ACCESS, channel="sms")
    ledger.record(SERVICE, asked)
    clock.advance(days=1)

    bundle = bundle_for(ledger, database, "nurlan", clock.now)

    assert bundle["open_deadlines"] == [
        {
            "obligation": "access_request",
            "reference": "q-1",
            "status": "open",
            "triggered_at": "2026-03-06T15:00:00+00:00",
            "due_at": "2026-03-12T23:59:59.999999+05:00",  # 3 WD: Tuesday 10, Wednesday 11, Thursday 12 March
        }
    ]
    assert verify_bundle(bundle, PUBLIC).ok


def test_a_bundle_of_the_old_format_is_refused_with_what_to_ask_for_instead(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    dispute(ledger, clock)
    old = copy(bundle_for(ledger, database, ANNA, V2_FROM))
    old["format"] = "consent-ledger/evidence/v1"

    verdict = verify_bundle(old, PUBLIC)

    assert verdict.field == "format"
    assert "Ask the operator for a new bundle of the same subject and moment" in verdict.reason


def test_a_part_no_check_covers_is_refused_and_so_is_a_proven_event_of_another_kind_of_record(
    ledger: ConsentLedger, clock: FakeClock
) -> None:
    dispute(ledger, clock)
    ledger.record(SERVICE, ClaimFiling(claim_ref="cl-1", subject_id=ANNA, claimant="A. Subject"))
    log = AuditLog(ledger, KEY)
    bundle = build_bundle(ledger, log, ANNA, at=V2_FROM, now=clock.now)
    log.issue_checkpoint(clock.advance(minutes=1))
    claim = log.inclusion_proof(ledger.max_position())
    with_claim = copy(bundle)
    with_claim["checkpoint"] = {
        "tree_size": claim.tree_size,
        "root": list(log.checkpoints())[-1].checkpoint.root.hex(),
        "note": claim.checkpoint,
    }
    for event in with_claim["events"]:
        proof = log.inclusion_proof(event["position"])
        event["inclusion"] = encoded_hashes(proof.path)
        event["tlog_proof"] = tlog_proof(proof.event, proof.leaf_index, proof.path, proof.checkpoint)
    with_claim["events"].append({
        **with_claim["events"][-1], "stored": event_record(claim.event), "leaf_index": claim.leaf_index,
        "inclusion": encoded_hashes(claim.path), "tlog_proof": tlog_proof(claim.event, claim.leaf_index, claim.path,
                                                                           claim.checkpoint),
    })  # fmt: skip
    unproven = copy(bundle)
    unproven["unproven"] = {"note": "the subject called twice"}

    claimed = verify_bundle(with_claim, PUBLIC)
    assert claimed.field == f"events[{len(with_claim['events']) - 1}].stored"
    assert "not 'ledger.claim:Claim.Received'" in claimed.reason
    refused = verify_bundle(unproven, PUBLIC)
    assert refused.field == "unproven"
    assert "nothing checks it" in refused.reason


def test_a_version_recorded_before_versions_named_their_policy_is_read_as_the_ledger_reads_it(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    receipt = published(ledger)
    consented(ledger, "old-timer")
    datastore = ledger.recorder.datastore  # type: ignore[attr-defined]
    storage = ledger.storage
    column = "rowid" if storage.local else "notification_id"
    mark = storage.placeholder
    with datastore.transaction(commit=True) as c:
        c.execute(f"SELECT state FROM {storage.events_table} WHERE {column} = {mark}", (receipt.position,))
        row = c.fetchone()
        state = orjson.loads(bytes(row["state"]))
        del state["policy_id"]  # as versions were stored before they named their policy
        c.execute(
            f"UPDATE {storage.events_table} SET state = {mark} WHERE {column} = {mark}",
            (orjson.dumps(state, option=orjson.OPT_SORT_KEYS), receipt.position),
        )

    bundle = bundle_for(ledger, database, "old-timer", clock.now)

    published_v1 = next(e for e in bundle["events"] if e["kind"] == "VersionPublished")
    assert b"policy_id" not in base64.b64decode(published_v1["stored"]["state"])
    assert published_v1["summary"] == {"policy_id": POLICY, "version": "1"}
    assert bundle["answer"]["policies"][0]["in_effect_version"] == "1"
    assert verify_bundle(bundle, PUBLIC).ok


ISSUE_13 = {
    "answer.policies[0].accepted_version": (("answer", "policies", 0, "accepted_version"), lambda _: "2"),
    "answer.policies[0].behind": (("answer", "policies", 0, "behind"), lambda _: False),
    "answer.sentence": (("answer", "sentence"), lambda said: said.replace("was behind", "was current")),
    "answer.policies[0].standing_purposes[1]": (("answer", "policies", 0, "standing_purposes"), lambda _: ["4.1.1"]),
    "blocks[0].in_force_at_t": (("blocks", 0, "in_force_at_t"), lambda _: True),
    "events[3].summary.channel": (("events", 3, "summary", "channel"), lambda _: "paper"),
    "disclosures[0].recipient": (("disclosures", 0, "recipient"), lambda _: "Kazpost"),
    "events[4].occurred_after_t": (("at",), lambda _: START.isoformat()),
    "personal_values.values[0].fields.evidence": (
        ("personal_values", "values", 0, "fields", "evidence"),
        lambda _: "ip=1.2.3.4",
    ),
    "disclosures[0]": (("disclosures",), lambda _: []),
    "blocks[0]": (("blocks",), lambda _: []),
}
"""The edits of a bundle issue 13 found still printing VERIFIED, by the field a verifier must now name."""


@pytest.mark.parametrize("field", list(ISSUE_13))
def test_the_edits_that_used_to_verify_now_fail_naming_the_field(
    ledger: ConsentLedger, database: Database, clock: FakeClock, field: str
) -> None:
    dispute(ledger, clock)
    bundle = copy(bundle_for(ledger, database, ANNA, V2_FROM + timedelta(days=1)))
    path, edit = ISSUE_13[field]
    into = bundle
    for part in path[:-1]:
        into = into[part]
    into[path[-1]] = edit(into[path[-1]])

    verdict = verify_bundle(bundle, PUBLIC)

    assert not verdict.ok
    assert verdict.field == field, verdict.summary()


def places(document: object, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every place in a JSON document, containers included."""
    found = [path] if path else []
    if isinstance(document, dict):
        for key, value in document.items():
            found += places(value, (*path, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += places(value, (*path, index))
    return found


def test_any_part_of_a_bundle_replaced_by_a_value_of_another_shape_fails_verify_without_raising(
    ledger: ConsentLedger, database: Database, clock: FakeClock
) -> None:
    dispute(ledger, clock)
    bundle = bundle_for(ledger, database, PAPER, V2_FROM)
    tried = 0

    for path in places(bundle):
        for replacement in (None, -1, 2**70, "x", [], {}, True, 1.5):
            changed = copy(bundle)
            into = changed
            for part in path[:-1]:
                into = into[part]
            if type(into[path[-1]]) is type(replacement) and into[path[-1]] == replacement:
                continue
            into[path[-1]] = replacement
            verdict = verify_bundle(changed, PUBLIC)
            assert not verdict.ok, (path, replacement)
            assert verdict.field, (path, replacement)
            tried += 1
    assert tried > 1000
