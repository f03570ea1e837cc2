"""A real `consent-ledger witness serve` process holds the log to what it cosigned, on each backend.

The insider's attack of issue 13: delete the last events, their tree rows and the checkpoints
that signed them (and the cosignatures kept of those), then write on. The log itself finds
nothing wrong (the remaining checkpoints agree with the rewritten tree), but the witness, a
separate process with its own store, refuses the rewritten log, and the log halts. An auditor who
demands the witness's cosignature (`verify --quorum 1`) rejects a bundle the witness did not
cosign.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from given import consented, published
from serving import free_port, stop, wait_for_http
from tampering import Insider, tally
from typer.testing import CliRunner

from audit.alarms import AlarmKind, LogHalted
from audit.cosignature import WitnessKey
from audit.evidence import build_bundle, bundle_bytes
from audit.integrity import sweep
from audit.log import AuditLog
from audit.notes import Checkpoint, SigningKey
from audit.witnessing import Witness, WitnessPanel
from cli.audit_commands import app as audit_app
from ledger.terms import SubjectId

if TYPE_CHECKING:
    from conftest import FakeClock

    from ledger.application import ConsentLedger

ORIGIN = "consent-ledger.local/witnessed"
KEY = SigningKey.from_seed(ORIGIN, bytes(range(32)))
CLI = str(Path(sys.executable).with_name("consent-ledger"))


@pytest.fixture
def witness_process(tmp_path: Path) -> Iterator[tuple[str, WitnessKey]]:
    """`consent-ledger witness init` then `serve`, trusting the test log's key; (its URL, its key)."""
    home = tmp_path / "witness"
    made = subprocess.run(  # noqa: S603  (our own command)
        [
            CLI,
            "witness",
            "init",
            "--name",
            "witness.test/w1",
            "--key-file",
            str(home / "w.key"),
            "--store",
            str(home / "w.db"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    key = WitnessKey.parse(made.stdout)
    port = free_port()
    process = subprocess.Popen(  # noqa: S603  (same)
        [
            CLI,
            "witness",
            "serve",
            "--name",
            "witness.test/w1",
            "--key-file",
            str(home / "w.key"),
            "--store",
            str(home / "w.db"),
            "--log",
            str(KEY.verifier),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/healthz", process)
        yield url, key
    finally:
        stop(process)
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture
def witnessed(ledger: ConsentLedger, witness_process: tuple[str, WitnessKey]) -> Iterator[AuditLog]:
    """The test's ledger, its log submitting to the witness process."""
    url, key = witness_process
    panel = WitnessPanel([Witness(url, key)], quorum=1)
    yield AuditLog(ledger, KEY, panel)
    panel.close()


def grow(ledger: ConsentLedger, subjects: range) -> None:
    if ledger.max_position() == 0:
        published(ledger)
    for n in subjects:
        consented(ledger, f"subject-{n}")


@pytest.mark.parametrize("written_on", [2, 12], ids=["written on short of the cut", "written on past the cut"])
def test_a_log_cut_and_rewritten_behind_its_back_is_refused_by_the_witness_and_halts(
    witnessed: AuditLog,
    ledger: ConsentLedger,
    clock: FakeClock,
    witness_process: tuple[str, WitnessKey],
    written_on: int,
) -> None:
    url, witness_key = witness_process
    grow(ledger, range(10))
    first = witnessed.issue_checkpoint(clock.now)
    grow(ledger, range(10, 15))
    second = witnessed.issue_checkpoint(clock.advance(minutes=5))
    assert witness_key.cosignature_in(first.published) is not None
    assert witness_key.cosignature_in(second.published) is not None

    insider = Insider(ledger, witnessed)
    cut = first.size + 2
    insider.delete_events([insider.log.tree.position_of(leaf) for leaf in range(cut, second.size)])
    insider.cut_tree_from(cut)
    insider.cut_checkpoints_from(second.number)
    grow(ledger, range(100, 100 + written_on))

    with pytest.raises(LogHalted, match=r"witness witness\.test/w1 holds checkpoint"):
        witnessed.issue_checkpoint(clock.advance(minutes=5))

    tally(f"events, tree and checkpoint rows cut, {written_on} written on", "a witness process refusing")
    held = httpx.get(f"{url}/{hashlib.sha256(ORIGIN.encode()).hexdigest()}/checkpoint", timeout=10)
    assert Checkpoint.parse(KEY.verifier.open(held.text)) == second.checkpoint  # the witness kept the truth
    assert witnessed.alarms.of(AlarmKind.FORK) is not None
    report = sweep(witnessed)
    assert any("witness witness.test/w1 cosigned a checkpoint" in f.what for f in report.forks)


def test_verify_with_a_quorum_of_one_rejects_a_bundle_the_witness_did_not_cosign(
    witnessed: AuditLog, ledger: ConsentLedger, clock: FakeClock, tmp_path: Path
) -> None:
    grow(ledger, range(3))
    unwitnessed = build_bundle(ledger, AuditLog(ledger, KEY), SubjectId("subject-1"), at=clock.now, now=clock.now)
    grow(ledger, range(3, 4))
    cosigned = build_bundle(
        ledger, witnessed, SubjectId("subject-1"), at=clock.now, now=clock.advance(minutes=1), quorum=1
    )
    (tmp_path / "unwitnessed.json").write_bytes(bundle_bytes(unwitnessed))
    (tmp_path / "cosigned.json").write_bytes(bundle_bytes(cosigned))
    assert witnessed.witnesses is not None
    witness_key = witnessed.witnesses.keys[0]

    def verify(name: str) -> tuple[int, str]:
        result = CliRunner().invoke(
            audit_app,
            [
                "verify",
                "--bundle",
                str(tmp_path / name),
                "--public-key",
                str(KEY.verifier),
                "--witness",
                str(witness_key),
                "--quorum",
                "1",
            ],
            env={"COLUMNS": "300"},
        )
        return result.exit_code, result.stdout

    code, out = verify("unwitnessed.json")
    tally("a bundle whose checkpoint no witness cosigned", "verify --quorum 1" if code == 1 else "")
    assert code == 1
    assert "carries 0 valid cosignature(s) of the 1 trusted witness(es), and 1 are demanded" in out
    code, out = verify("cosigned.json")
    assert code == 0, out
    assert "cosigned by witness.test/w1 at" in out
