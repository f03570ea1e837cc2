"""Rows changed behind the ledger's back are found, named by position, and never answered from, on each backend;
and whatever the ledger hands out, changed by whoever holds it, fails `verify`.

An insider with SQL access edits one byte of a stored event (a sealed personal value, a plain
field, the topic), deletes rows, swaps rows within and between subjects, or cuts the tail of
the log with or without its tree and checkpoint rows. The integrity sweep names each position,
readiness fails, the evidence route answers a problem naming the position (never a 500, never
a bundle), and a log whose tree was cut refuses to sign on and stops taking writes.

Whoever holds an evidence bundle changes each of its fields in turn (every scalar of its JSON),
or drops an event, a block, a disclosure, a deadline or a personal value: `verify --bundle`
fails each time naming a field (a statement by exactly its path). Whoever holds an export
changes each field of each line: `verify` fails, naming the line where it stopped.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
import pytest
from bearer import bearer
from conftest import FakeClock
from fastapi.testclient import TestClient
from given import POLICY, SERVICE, consented, published
from tampering import Insider, changed, dotted, scalars, tally
from test_audit_export_verify import VERIFIER as EXPORT_VERIFIER
from test_audit_export_verify import exported, recorded_history
from test_evidence import ANNA, dispute
from test_evidence import KEY as EVIDENCE_KEY
from test_evidence import PUBLIC as EVIDENCE_PUBLIC

from api.app import create_app
from api.tokens import Scope
from audit.alarms import AlarmKind, LogHalted
from audit.evidence import build_bundle, verify_bundle
from audit.integrity import record, sweep
from audit.log import AuditLog
from audit.notes import SigningKey
from audit.verify import verify_export
from ledger.application import open_ledger
from ledger.sealing import new_master_key, parse_master_key
from ledger.storage import Database
from ledger.subject_facts import Block, Correction, Retraction, SubjectRequest, Withdrawal
from ledger.terms import BlockGround, BlockRequester, DataCategory, Purpose, RequestKind
from projections.keeper import open_view

if TYPE_CHECKING:
    from ledger.application import ConsentLedger

ORIGIN = "consent-ledger.local/tampering"
KEY = SigningKey.from_seed(ORIGIN, bytes(range(32)))


class History:
    """Two subjects who each consented twice, a policy with two versions, a signed checkpoint of it all."""

    def __init__(self, ledger: ConsentLedger, clock: FakeClock) -> None:
        self.ledger = ledger
        published(ledger)
        self.anna_opened = consented(ledger, "anna").position - 1
        self.anna_v1 = self.anna_opened + 1
        self.boris_v1 = consented(ledger, "boris").position
        clock.advance(days=1)
        self.policy_v2 = published(ledger, "2").position
        clock.advance(days=1)
        self.anna_v2 = consented(ledger, "anna", "2").position
        self.boris_v2 = consented(ledger, "boris", "2").position
        self.log = AuditLog(ledger, KEY)
        self.checkpoint = self.log.issue_checkpoint(clock.now)
        self.insider = Insider(ledger, self.log)


@pytest.fixture
def history(ledger: ConsentLedger, clock: FakeClock) -> History:
    return History(ledger, clock)


@pytest.fixture
def served(history: History, database: Database) -> Iterator[TestClient]:
    app = create_app(history.ledger, open_view(database))
    app.state.signing_key = KEY
    with TestClient(app) as client:
        yield client


TAMPERING: dict[str, tuple[Callable[[History], list[int]], str]] = {
    "one byte of a sealed personal value": (
        lambda h: [h.insider.flip_byte(h.anna_v1, b'"ciphertext":"', 5) or h.anna_v1],
        "anna",
    ),
    "one byte of a plain field": (lambda h: [h.insider.flip_byte(h.anna_v2, b'"channel":"', 1) or h.anna_v2], "anna"),
    "one byte of the time a fact happened": (
        lambda h: [h.insider.flip_byte(h.boris_v1, b'"occurred_at":"', 3) or h.boris_v1],
        "boris",
    ),
    "one byte of a policy version's text hash": (
        lambda h: [h.insider.flip_byte(h.policy_v2, b'"text_sha256":{"en":"', 0) or h.policy_v2],
        "",
    ),
    "a subject's row deleted": (lambda h: [_delete(h, [h.anna_v1])], "anna"),
    "two rows of one subject swapped": (lambda h: _swap(h, h.anna_v1, h.anna_v2), "anna"),
    "rows of two subjects swapped": (lambda h: _swap(h, h.anna_v2, h.boris_v2), "boris"),
    "the log's tail cut, tree and checkpoints kept": (lambda h: [_delete(h, [h.boris_v2])], ""),  # the sweep's to find
}


def _delete(h: History, positions: list[int]) -> int:
    h.insider.delete_events(positions)
    return positions[0]


def _swap(h: History, a: int, b: int) -> list[int]:
    first, second = h.insider.state(a), h.insider.state(b)
    h.insider.set_state(a, second)
    h.insider.set_state(b, first)
    return [a, b]


@pytest.mark.parametrize("case", list(TAMPERING))
def test_the_sweep_names_every_tampered_position_and_raises_the_damage_alarm(
    history: History, clock: FakeClock, case: str
) -> None:
    tamper, _ = TAMPERING[case]
    positions = tamper(history)

    report = sweep(history.log)
    record(history.log, report, clock.now)

    found = {f.position for f in report.damaged}
    tally(case, "the integrity sweep" if set(positions) <= found else "")
    assert set(positions) <= found, [f.sentence() for f in report.findings]
    alarm = history.log.alarms.of(AlarmKind.DAMAGE)
    assert alarm is not None
    assert set(positions) <= set(alarm.positions)


@pytest.mark.parametrize("case", [c for c, (_, subject) in TAMPERING.items() if subject])
def test_the_evidence_route_answers_a_problem_naming_the_position_not_a_500_and_no_bundle(
    history: History, served: TestClient, case: str
) -> None:
    tamper, subject = TAMPERING[case]
    positions = tamper(history)

    answer = served.get(f"/v1/subjects/{subject}/evidence", headers=bearer(history.ledger, "disputes", Scope.EVIDENCE))

    tally(f"{case} (evidence route)", "the evidence route" if answer.status_code == 503 else "")
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert any(f"position {p}" in answer.json()["detail"] for p in positions), answer.json()["detail"]


def test_a_clean_log_sweeps_clean_and_stays_ready(history: History, served: TestClient, clock: FakeClock) -> None:
    report = sweep(history.log)
    record(history.log, report, clock.now)
    assert report.ok
    assert report.events == history.checkpoint.size
    served.app.state.keeper.catch_up()  # as the server's own keeper does, in the background
    assert served.get("/readyz").json()["status"] == "ready"


def test_after_a_sweep_finds_damage_readiness_and_metrics_show_it(
    history: History, served: TestClient, clock: FakeClock
) -> None:
    history.insider.flip_byte(history.boris_v1, b'"channel":"', 0)
    record(history.log, sweep(history.log), clock.now)

    ready = served.get("/readyz")
    metrics = served.get("/metrics").text

    assert ready.status_code == 503
    assert f"position {history.boris_v1}" in ready.json()["detail"]
    assert 'consent_ledger_log_alarm{kind="damage"} 1.0' in metrics
    assert "consent_ledger_log_damaged_events 1.0" in metrics
    evidence = served.get("/v1/subjects/anna/evidence", headers=bearer(history.ledger, "d", Scope.EVIDENCE))
    assert evidence.status_code == 503
    assert f"position {history.boris_v1}" in evidence.json()["detail"]


def test_cutting_events_and_tree_rows_then_writing_on_halts_the_log_and_stops_writes(
    history: History, served: TestClient, clock: FakeClock
) -> None:
    insider, log = history.insider, history.log
    insider.delete_events([history.anna_v2, history.boris_v2])
    insider.cut_tree_from(log.tree.leaf_of(history.anna_v2) or 0)
    consented(history.ledger, "carla", "2")  # the log is written on after the cut

    with pytest.raises(LogHalted, match="cannot be proven to extend checkpoint 1"):
        log.issue_checkpoint(clock.advance(minutes=5))

    tally("the tail cut with its tree rows, checkpoint kept, then written on", "the log refusing to sign")
    write = served.post("/v1/policies/qlever-privacy/versions", json={}, headers=bearer(history.ledger, "w"))
    assert write.status_code == 503
    assert "cannot be proven to extend checkpoint 1" in write.json()["detail"]
    assert served.get("/readyz").status_code == 503
    assert 'consent_ledger_log_alarm{kind="fork"} 1.0' in served.get("/metrics").text
    assert not sweep(log).ok


# What the ledger hands out, changed by whoever holds it: every field of a bundle, every field of an export.


def dispute_with_more(ledger: ConsentLedger, clock: FakeClock) -> None:
    """Anna's dispute (tests/test_evidence.py), then a block still in force, a request not yet answered, a
    correction struck out and a withdrawal of one purpose: every kind of statement a bundle makes has something."""
    dispute(ledger, clock)
    clock.advance(days=1)
    ledger.record(
        SERVICE,
        Block(
            subject_id=ANNA,
            block_id="blk-2",
            requester=BlockRequester.SUBJECT,
            ground=BlockGround.UNLAWFUL_PROCESSING,
            request="letter of 20 March",
        ),
    )
    asked = SubjectRequest(subject_id=ANNA, request_id="req-9", kind=RequestKind.ACCESS, channel="email")
    ledger.record(SERVICE, asked)
    address = frozenset({DataCategory("address")})
    corrected = ledger.record(SERVICE, Correction(subject_id=ANNA, data_categories=address))
    ledger.record(SERVICE, Retraction(subject_id=ANNA, retracted_number=corrected.version, reason="entered twice"))
    ledger.record(
        SERVICE, Withdrawal(subject_id=ANNA, policy_id=POLICY, purposes=frozenset({Purpose("4.1.2")}), channel="email")
    )
    clock.advance(hours=2)


@pytest.fixture(scope="module")
def bound(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Anna's bundle at a moment when a block is in force, built once (on SQLite: verifying needs no database)."""
    folder = tmp_path_factory.mktemp("bound")
    clock = FakeClock(datetime(2026, 3, 2, 9, tzinfo=UTC))
    ledger = open_ledger(Database.from_url(f"sqlite:///{folder}/ledger.db"), parse_master_key(new_master_key()), clock)
    dispute_with_more(ledger, clock)
    log = AuditLog(ledger, EVIDENCE_KEY)
    bundle = build_bundle(ledger, log, ANNA, at=clock.now - timedelta(hours=1), now=clock.now)
    ledger.close()
    assert verify_bundle(bundle, EVIDENCE_PUBLIC).ok
    return bundle


PROOFS = {"stored", "leaf_index", "inclusion", "tlog_proof"}
PARAMETERS = {"format", "subject_id", "at", "as_known_at", "zone", "public_key", "checkpoint"}


def test_every_field_of_a_bundle_changed_fails_verify_naming_a_field(bound: dict[str, Any]) -> None:
    missed = []
    for path, _ in scalars(bound):
        verdict = verify_bundle(changed(bound, path), EVIDENCE_PUBLIC)
        caught = not verdict.ok and bool(verdict.field)
        tally(f"bundle: {dotted(path)} changed", "verify --bundle" if caught else "")
        statement = path[0] not in PARAMETERS and not (path[0] == "events" and path[2] in PROOFS)
        if not caught or (statement and verdict.field != dotted(path)):
            missed.append((dotted(path), verdict.summary()))
    assert missed == []
    assert len(list(scalars(bound))) > 300, "the walk covers a bundle with something in every part"


@pytest.mark.parametrize("part", ["events", "blocks", "disclosures", "open_deadlines", "personal_values.values"])
def test_dropping_any_event_block_disclosure_deadline_or_value_of_a_bundle_fails_verify(
    bound: dict[str, Any], part: str
) -> None:
    section, _, inner = part.partition(".")
    rows = bound[section][inner] if inner else bound[section]
    assert rows, f"the history gives the bundle some {part}"
    for index in range(len(rows)):
        dropped = orjson.loads(orjson.dumps(bound))
        del (dropped[section][inner] if inner else dropped[section])[index]

        verdict = verify_bundle(dropped, EVIDENCE_PUBLIC)

        tally(f"bundle: {part}[{index}] dropped", "verify --bundle" if not verdict.ok and verdict.field else "")
        assert not verdict.ok, (part, index)
        assert verdict.field


@pytest.mark.parametrize("kind", ["DataBlocked", "DataDisclosed"])
def test_dropping_a_block_or_a_disclosure_with_its_row_fails_verify(bound: dict[str, Any], kind: str) -> None:
    dropped = orjson.loads(orjson.dumps(bound))
    event = next(e for e in dropped["events"] if e["kind"] == kind)
    section = "blocks" if kind == "DataBlocked" else "disclosures"
    dropped["events"].remove(event)
    dropped[section] = [row for row in dropped[section] if row["position"] != event["position"]]

    verdict = verify_bundle(dropped, EVIDENCE_PUBLIC)

    tally(f"bundle: a {kind} event dropped with its row", "verify --bundle" if not verdict.ok else "")
    assert not verdict.ok
    assert "is missing" in verdict.reason


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A whole export and a range export of a log with four checkpoints (tests/test_audit_export_verify.py)."""
    folder = tmp_path_factory.mktemp("exports")
    clock = FakeClock(datetime(2026, 3, 2, 9, tzinfo=UTC))
    ledger = open_ledger(Database.from_url(f"sqlite:///{folder}/ledger.db"), parse_master_key(new_master_key()), clock)
    log = recorded_history(ledger, clock)
    made = {"whole": exported(log), "range": exported(log, from_position=5, to_position=12)}
    ledger.close()
    return made


@pytest.mark.parametrize("which", ["whole", "range"])
def test_every_field_of_every_line_of_an_export_changed_fails_verify_naming_where_it_stopped(
    exports: dict[str, bytes], which: str
) -> None:
    lines = exports[which].splitlines(keepends=True)
    missed = []
    for number, line in enumerate(lines, start=1):
        for path, _ in scalars(orjson.loads(line)):
            edited = [*lines[: number - 1], orjson.dumps(changed(orjson.loads(line), path)) + b"\n", *lines[number:]]
            verdict = verify_export(io.BytesIO(b"".join(edited)), EXPORT_VERIFIER)
            tally(f"export ({which}): line {number}, {dotted(path)} changed", "verify" if not verdict.ok else "")
            if verdict.ok or verdict.line is None:
                missed.append((number, dotted(path), verdict.summary()))
    assert missed == []
