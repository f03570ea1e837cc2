"""Rows changed behind the ledger's back are found, named by position, and never answered from, on each backend.

An insider with SQL access edits one byte of a stored event (a sealed personal value, a plain
field, the topic), deletes rows, swaps rows within and between subjects, or cuts the tail of
the log with or without its tree and checkpoint rows. The integrity sweep names each position,
readiness fails, the evidence route answers a problem naming the position (never a 500, never
a bundle), and a log whose tree was cut refuses to sign on and stops taking writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest
from bearer import bearer
from fastapi.testclient import TestClient
from given import consented, published
from tampering import Insider, tally

from api.app import create_app
from api.tokens import Scope
from audit.alarms import AlarmKind, LogHalted
from audit.integrity import record, sweep
from audit.log import AuditLog
from audit.notes import SigningKey
from projections.keeper import open_view

if TYPE_CHECKING:
    from conftest import FakeClock

    from ledger.application import ConsentLedger
    from ledger.storage import Database

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
