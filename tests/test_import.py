"""`consent-ledger import`: a file of writes recorded as if POSTed, each line exactly once, even across stops."""

from __future__ import annotations

import base64
import contextlib
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson
import pytest
from bearer import bearer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from benchmarks.history import Mix, policy_lines, stored_events, subject_lines, write_history
from cli.import_file import FileImport, Progress, ProgressRecords, derived_key
from cli.main import app
from ledger.application import open_ledger
from ledger.storage import Database
from ledger.subject_facts import Disclosure
from ledger.terms import SubjectId
from projections.compliance import check_history
from projections.keeper import ViewKeeper, open_view
from projections.questions import LedgerQuestions

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from conftest import FakeClock

    from ledger.application import ConsentLedger

RICH = Mix(claims=0.5, destructions=0.3, breach_every=3)
"""Every kind of fact in a few subjects: claims, destructions and breaches are rare in a real shop."""

runner = CliRunner()


@pytest.fixture
def history(tmp_path: Path) -> Path:
    write_history(tmp_path / "history.jsonl", events=700, seed=5, mix=RICH)
    return tmp_path / "history.jsonl"


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(raw) for raw in path.read_bytes().splitlines()]


def facts(ledger: ConsentLedger, subject: str) -> list[tuple[object, ...]]:
    return [
        (f.number, f.event_type, f.occurred_at, f.recorded_by, orjson.dumps(f.fields, option=orjson.OPT_SORT_KEYS))
        for f in ledger.subject_facts(SubjectId(subject))
    ]


def answers(ledger: ConsentLedger, lines: list[dict[str, Any]]) -> dict[str, object]:
    """What a reader can ask of everything the lines name: every subject's facts, breaches, claims, the policy."""
    subjects = sorted({line["subject_id"] for line in lines if "subject_id" in line})
    breaches = sorted({line["body"]["breach_ref"] for line in lines if line["op"] == "record_breach"})
    claims = sorted({line["body"]["claim_ref"] for line in lines if line["op"] == "receive_claim"})
    return {
        "subjects": {s: facts(ledger, s) for s in subjects},
        "breaches": {b: (vars(ledger.breach(b)) | {"_id": None}) for b in breaches},
        "claims": {c: (ledger.claim(c).answered_at, ledger.claimant(c)) for c in claims},
        "policy": sorted(
            (v.version, v.effective_from, v.notifies_transfers)
            for v in ledger.policy("qlever-privacy").versions.values()
        ),
    }


ROUTES = {
    "publish_policy_version": "/v1/policies/{policy_id}/versions",
    "grant_consent": "/v1/subjects/{subject_id}/consents",
    "request_consent": "/v1/subjects/{subject_id}/consent-requests",
    "refuse_consent": "/v1/subjects/{subject_id}/consent-requests/{prompt_id}/refusal",
    "withdraw_consent": "/v1/subjects/{subject_id}/withdrawals",
    "refuse_withdrawal": "/v1/subjects/{subject_id}/withdrawal-refusals",
    "grant_written_permission": "/v1/subjects/{subject_id}/written-permissions",
    "record_disclosure": "/v1/subjects/{subject_id}/disclosures",
    "block_data": "/v1/subjects/{subject_id}/blocks",
    "lift_block": "/v1/subjects/{subject_id}/blocks/{block_id}/lift",
    "complete_verification": "/v1/subjects/{subject_id}/blocks/{block_id}/verification",
    "record_correction": "/v1/subjects/{subject_id}/corrections",
    "destroy_data": "/v1/subjects/{subject_id}/destruction",
    "retract_entry": "/v1/subjects/{subject_id}/retractions",
    "receive_request": "/v1/subjects/{subject_id}/requests",
    "answer_request": "/v1/subjects/{subject_id}/requests/{request_id}/answer",
    "record_disclosure_notice": "/v1/subjects/{subject_id}/disclosures/{number}/notice",
    "record_breach": "/v1/breaches",
    "record_authority_notice": "/v1/breaches/{breach_ref}/authority-notices",
    "record_subject_notice": "/v1/breaches/{breach_ref}/subject-notices",
    "receive_claim": "/v1/claims",
    "answer_claim": "/v1/claims/{claim_ref}/answer",
    "take_claim_to_court": "/v1/claims/{claim_ref}/court",
}
"""Where each operation of the import format is POSTed over HTTP."""


def test_every_operation_of_the_format_is_the_http_route_of_the_same_name() -> None:
    from cli.import_lines import OPERATIONS  # noqa: PLC0415

    paths = create_app(None).openapi()["paths"]

    assert sorted(ROUTES) == list(OPERATIONS)
    for op, path in ROUTES.items():
        assert paths[path]["post"]["operationId"].startswith(f"{op}_v1_")


def test_importing_a_file_gives_the_same_answers_as_posting_each_line_over_http(
    ledger: ConsentLedger, history: Path, tmp_path: Path, master_key: bytes, clock: FakeClock
) -> None:
    lines = lines_of(history)
    over_http = open_ledger(Database.from_url(f"sqlite:///{tmp_path}/http.db"), master_key, clock)
    try:
        headers = {name: bearer(over_http, name) for name in {line["recorded_by"] for line in lines}}
        with TestClient(create_app(over_http)) as client:
            for number, (line, raw) in enumerate(zip(lines, history.read_bytes().splitlines(), strict=True), 1):
                path = ROUTES[line["op"]].format(**{k: quote(str(v), safe="") for k, v in line.items()})
                key = {"Idempotency-Key": derived_key(number, raw + b"\n")}
                answer = client.post(path, json=line["body"], headers=headers[line["recorded_by"]] | key)
                assert answer.status_code == 201, (number, answer.json())

        outcome = FileImport(ledger, history, batch=50).run()

        assert outcome.recorded == len(lines)
        assert answers(ledger, lines) == answers(over_http, lines)
        assert stored_events(ledger) == stored_events(over_http)
    finally:
        over_http.close()


def test_a_generated_history_is_recorded_without_a_refusal_and_counted_as_its_generator_said(
    ledger: ConsentLedger, tmp_path: Path
) -> None:
    written = write_history(tmp_path / "h.jsonl", events=900, seed=11, mix=RICH)

    outcome = FileImport(ledger, written.path, batch=64).run()

    assert (outcome.lines, outcome.recorded, outcome.refused) == (written.lines, written.lines, [])
    assert stored_events(ledger) == written.events


def test_an_imported_generated_history_breaks_no_rule_and_misses_no_deadline(
    ledger: ConsentLedger, database: Database, history: Path, clock: FakeClock
) -> None:
    FileImport(ledger, history).run()
    view = open_view(database)
    ViewKeeper(ledger, view).catch_up()

    assert list(check_history(LedgerQuestions(view), clock.now)) == []


def stop_on_call(count: int, real: Callable[..., Any]) -> Callable[..., Any]:
    """`real`, until its `count`-th call, which is interrupted as by Ctrl-C."""
    calls = 0

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == count:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    return wrapper


def test_an_import_interrupted_in_the_middle_of_a_batch_records_every_line_exactly_once_when_run_again(
    ledger: ConsentLedger, history: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    total = len(lines_of(history))
    record, disclose = ledger.record, stop_on_call(40, ledger.record)
    monkeypatch.setattr(ledger, "record", lambda *a: disclose(*a) if isinstance(a[1], Disclosure) else record(*a))
    first = FileImport(ledger, history, batch=25)
    with pytest.raises(KeyboardInterrupt):
        first.run()
    monkeypatch.undo()

    again = FileImport(ledger, history, batch=25).run()

    assert 0 < again.skipped_ahead == first.outcome.lines < total
    assert again.lines == total
    assert stored_events(ledger) == write_history(history.with_suffix(".again"), 700, 5, RICH).events


def test_an_import_stopped_after_a_commit_but_before_its_progress_was_kept_records_nothing_twice(
    ledger: ConsentLedger, history: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    total = len(lines_of(history))
    monkeypatch.setattr(ProgressRecords, "put", stop_on_call(3, ProgressRecords.put))
    with pytest.raises(KeyboardInterrupt):
        FileImport(ledger, history, batch=20).run()  # batches 1-3 recorded, progress kept for 1-2 only
    monkeypatch.undo()

    again = FileImport(ledger, history, batch=20).run()

    assert (again.skipped_ahead, again.already_there, again.recorded) == (40, 20, total - 60)
    assert stored_events(ledger) == write_history(history.with_suffix(".again"), 700, 5, RICH).events


def test_a_finished_import_run_again_skips_to_the_end_and_records_nothing(ledger: ConsentLedger, history: Path) -> None:
    FileImport(ledger, history).run()
    stored = stored_events(ledger)

    again = FileImport(ledger, history).run()

    assert (again.skipped_ahead, again.recorded, again.already_there) == (len(lines_of(history)), 0, 0)
    assert stored_events(ledger) == stored


@pytest.fixture
def with_bad_line(tmp_path: Path) -> Callable[[str], Path]:
    """A file whose line 7 is `bad`: four policy lines, two of subject s-000000000's, then three more of theirs."""
    life = subject_lines(0, seed=1)

    def make(bad: str) -> Path:
        lines = [orjson.dumps(line).decode() for line in [*policy_lines(), *life[:2]]]
        lines += [bad, *(orjson.dumps(line).decode() for line in life[2:5])]
        path = tmp_path / "with-bad-line.jsonl"
        path.write_text("\n".join(lines) + "\n")
        return path

    return make


def cli_import(database: Database, master_key: bytes, *args: str) -> Any:
    key = base64.urlsafe_b64encode(master_key).decode()
    return runner.invoke(app, ["import", *args, "--database-url", database.url], env={"CONSENT_LEDGER_MASTER_KEY": key})


@contextlib.contextmanager
def opened(database: Database, master_key: bytes) -> Iterator[ConsentLedger]:
    ledger = open_ledger(database, master_key)
    try:
        yield ledger
    finally:
        ledger.close()


NAIVE_TIME = (
    '{"op": "record_correction", "recorded_by": "crm", "subject_id": "s-000000000",'
    ' "body": {"data_categories": ["address"], "occurred_at": "2024-01-01T10:00:00"}}'
)
NO_GROUND = (
    '{"op": "record_disclosure", "recorded_by": "orders", "subject_id": "s-000000000", "body": {"recipient": "X",'
    ' "recipient_category": "other", "purpose": "4.1.1", "data_categories": ["address"],'
    ' "ground": "written_permission", "reference": "wp-none", "occurred_at": "2025-01-01T10:00:00+05:00"}}'
)


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("{not json", "not JSON"),
        ('{"op": "record_everything"}', "op must be one of: answer_claim, answer_request"),
        (NAIVE_TIME, "body.occurred_at: Input should have timezone info"),
        (NO_GROUND, "no written permission 'wp-none' was given by then"),
    ],
    ids=["unparseable", "unknown operation", "invalid as over HTTP", "refused by a rule"],
)
def test_a_bad_line_stops_the_import_naming_its_line_and_keeps_everything_before_it_and_nothing_after(
    database: Database, master_key: bytes, with_bad_line: Callable[[str], Path], bad: str, says: str
) -> None:
    path = with_bad_line(bad)

    result = cli_import(database, master_key, str(path))

    assert result.exit_code == 1
    message = result.stderr.strip().splitlines()[-1]  # after the progress bar's last state
    assert message.startswith(f"error: {path}:7: ")
    assert says in message
    with opened(database, master_key) as ledger:
        recorded = [f.event_type for f in ledger.subject_facts(SubjectId("s-000000000"))]
    assert recorded == ["Opened", "ConsentGranted", "DataDisclosed"]  # lines 5 and 6; not 8 to 10


def test_a_bad_line_met_again_among_lines_already_recorded_stops_at_the_same_line(
    database: Database, master_key: bytes, with_bad_line: Callable[[str], Path]
) -> None:
    path = with_bad_line(NO_GROUND)
    cli_import(database, master_key, str(path))
    with opened(database, master_key) as ledger:
        stored = stored_events(ledger)
        ProgressRecords(ledger).put(str(path.resolve()), Progress(0, 0, ""))  # as if the progress had been lost

    result = cli_import(database, master_key, str(path))

    assert result.exit_code == 1
    assert f"{path}:7: no ground for this disclosure" in result.stderr
    with opened(database, master_key) as ledger:
        assert stored_events(ledger) == stored


def test_fixing_the_bad_line_and_running_again_records_the_rest_once(
    database: Database, master_key: bytes, with_bad_line: Callable[[str], Path]
) -> None:
    path = with_bad_line(NO_GROUND)
    cli_import(database, master_key, str(path))
    fixed = path.read_text().replace(NO_GROUND, NO_GROUND.replace('"written_permission"', '"state_request"'))
    path.write_text(fixed.replace('"recipient_category": "other"', '"recipient_category": "state_authority"'))

    result = cli_import(database, master_key, str(path))

    assert result.exit_code == 0, result.stderr
    assert "10 lines; 4 facts recorded now, 0 already there, 6 done by an earlier run, 0 refused" in result.stdout
    with opened(database, master_key) as ledger:
        assert len(ledger.subject_facts(SubjectId("s-000000000"))) == 1 + 6


def test_with_keep_going_bad_lines_are_reported_and_set_aside_and_the_rest_is_recorded(
    database: Database, master_key: bytes, with_bad_line: Callable[[str], Path], tmp_path: Path
) -> None:
    path = with_bad_line(NO_GROUND)
    rejects = tmp_path / "rejects.jsonl"

    result = cli_import(database, master_key, str(path), "--keep-going", "--rejects", str(rejects))

    assert result.exit_code == 1
    assert f"refused: {path}:7: no ground for this disclosure: disclosure to X refused" in result.stderr
    assert rejects.read_text() == NO_GROUND + "\n"
    with opened(database, master_key) as ledger:
        assert len(ledger.subject_facts(SubjectId("s-000000000"))) == 1 + 5


def test_the_same_seed_writes_the_same_bytes_and_another_seed_another_history(tmp_path: Path) -> None:
    one = write_history(tmp_path / "a.jsonl", events=2000, seed=3)
    two = write_history(tmp_path / "b.jsonl", events=2000, seed=3)
    other = write_history(tmp_path / "c.jsonl", events=2000, seed=4)

    assert one.path.read_bytes() == two.path.read_bytes()
    assert one.path.read_bytes() != other.path.read_bytes()
    assert (one.lines, one.events, one.subjects) == (two.lines, two.events, two.subjects)
    assert 2000 <= one.events < 2000 + 200  # whole lives only: a little over, never under


def test_a_larger_history_begins_with_the_smaller_one(tmp_path: Path) -> None:
    small = write_history(tmp_path / "small.jsonl", events=1000, seed=3).path.read_bytes()
    large = write_history(tmp_path / "large.jsonl", events=3000, seed=3).path.read_bytes()

    assert large.startswith(small)  # so a fill grown from 1,000 to 3,000 events replays the first lines' keys


def test_nothing_personal_is_sealed_for_a_subject_destroyed_earlier_in_the_same_batch(
    ledger: ConsentLedger, tmp_path: Path
) -> None:
    life = subject_lines(0, seed=1)[:1]
    life[0]["body"]["evidence"] = "ip=10.0.0.7 device=android"
    destroy = {"op": "destroy_data", "recorded_by": "dpo", "subject_id": "s-000000000", "body": {}}
    destroy["body"] = {"ground": "subject_request", "occurred_at": "2025-12-20T10:00:00+05:00"}
    claim = {"op": "receive_claim", "recorded_by": "legal", "body": {"claim_ref": "c-1", "subject_id": "s-000000000"}}
    claim["body"] |= {"claimant": "A. Person", "occurred_at": "2025-12-21T10:00:00+05:00"}
    path = tmp_path / "destroyed.jsonl"
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in [*policy_lines(), *life, destroy, claim]))

    outcome = FileImport(ledger, path, keep_going=True).run()

    assert [reason.split(":")[0] for _, reason in outcome.refused] == ["the subject's data were destroyed"]
    assert ledger.subject_facts(SubjectId("s-000000000"))[1].fields["evidence"] is None  # its key is gone
