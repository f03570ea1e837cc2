"""Interoperability with a witness that is not ours: `aics-witness` from PyPI, with its default settings.

Both ways: its witness cosigns the checkpoints our log submits (so our checkpoints carry no
extension line, which it refuses by default), and our witness cosigns what its client
(`aics_witness.feeder`) submits, refusing a forged proof (422) and answering a stale size with
409 as its client expects. What the public routes serve, and the tlog-proofs of a bundle, verify
with its library (`aics_tlog`), a verifier written apart from ours.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from aics import aics_python, aics_witness_command, run_script
from bearer import bearer
from fastapi.testclient import TestClient
from given import consented, published
from serving import free_port, served_in_thread, stop, wait_for_http

from api.app import create_app
from api.routes.public_log import serve_log
from api.tokens import Scope
from api.witness import create_witness_app
from audit.cosignature import WitnessKey
from audit.log import AuditLog
from audit.notes import Checkpoint, SigningKey, b64
from audit.witness import Witness, WitnessStore, witness_key_from_seed
from audit.witnessing import Witness as Witnessed
from audit.witnessing import WitnessPanel
from projections.keeper import open_view

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import FakeClock

    from ledger.application import ConsentLedger
    from ledger.storage import Database

ORIGIN = "consent-ledger.local/interop"
KEY = SigningKey.from_seed(ORIGIN, bytes(range(1, 33)))


@pytest.fixture
def aics_witness(tmp_path: Path) -> Iterator[tuple[str, WitnessKey]]:
    """`aics-witness` made with `init` and `add-log` and served with its defaults; (its URL, its key)."""
    aics_python()
    config = str(tmp_path / "aics" / "witness.json")
    made = subprocess.run(  # noqa: S603  (the package's own command, in the project's venv)
        aics_witness_command("init", "--config", config, "--name", "aics.test/w1"),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    subprocess.run(  # noqa: S603  (same)
        aics_witness_command("add-log", "--config", config, "--origin", ORIGIN, "--vkey", str(KEY.verifier)),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    port = free_port()
    process = subprocess.Popen(  # noqa: S603  (same)
        aics_witness_command("serve", "--config", config, "--listen", f"127.0.0.1:{port}"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", process)
        yield f"http://127.0.0.1:{port}", WitnessKey.parse(made.stdout.strip())
    finally:
        stop(process)
        if process.stdout is not None:
            process.stdout.close()


def grow(ledger: ConsentLedger, subjects: range) -> None:
    if ledger.max_position() == 0:
        published(ledger)
    for n in subjects:
        consented(ledger, f"subject-{n}")


VERIFY_WITH_AICS_TLOG = """
import base64, json, sys
from aics_tlog import parse_note, parse_vkey, parse_checkpoint, verify_checkpoint, verify_consistency
from aics_tlog import verify_leaf_inclusion
d = json.load(sys.stdin)
log_key, witness = parse_vkey(d["log_key"]), parse_vkey(d["witness_key"])
new = verify_checkpoint(parse_note(d["checkpoint"]), log_key, [witness], 1)
old = parse_checkpoint(parse_note(d["old"]).text)
proof = [base64.b64decode(h) for h in d["consistency"].split()]
proofs = []
for text in d["tlog_proofs"]:
    head, _, note = text.partition("\\n\\n")
    lines = head.split("\\n")
    extra = base64.b64decode(lines[1].removeprefix("extra "))
    index = int(lines[2].removeprefix("index "))
    path = [base64.b64decode(h) for h in lines[3:]]
    cp = parse_checkpoint(parse_note(note).text)
    proofs.append(verify_leaf_inclusion(extra, index, cp.size, path, cp.root))
print(json.dumps({"checkpoint": new.ok, "error": new.error, "witnesses": new.witnesses,
                  "consistent": verify_consistency(old.size, new.size, old.root, new.root, proof),
                  "inclusions": proofs}))
"""


def test_aics_witness_cosigns_our_checkpoints_and_its_library_verifies_what_we_serve(
    ledger: ConsentLedger, database: Database, clock: FakeClock, aics_witness: tuple[str, WitnessKey]
) -> None:
    url, witness_key = aics_witness
    panel = WitnessPanel([Witnessed(url, witness_key)], quorum=1)
    log = AuditLog(ledger, KEY, panel)
    grow(ledger, range(4))
    first = log.issue_checkpoint(clock.now)
    grow(ledger, range(4, 9))
    second = log.issue_checkpoint(clock.advance(minutes=5))
    assert witness_key.cosignature_in(first.published) is not None
    assert witness_key.cosignature_in(second.published) is not None

    app = create_app(ledger, open_view(database))
    serve_log(app, log, quorum=1)
    with TestClient(app) as client:
        served = client.get("/v1/log/checkpoint").text
        consistency = client.get("/v1/log/consistency", params={"old": first.size}).text
        bundle = client.get("/v1/subjects/subject-2/evidence", headers=bearer(ledger, "d", Scope.EVIDENCE)).json()
    panel.close()

    found = run_script(
        VERIFY_WITH_AICS_TLOG,
        {
            "log_key": str(KEY.verifier),
            "witness_key": str(witness_key),
            "checkpoint": served,
            "old": first.published,
            "consistency": consistency,
            "tlog_proofs": [e["tlog_proof"] for e in bundle["events"]],
        },
    )

    assert found == {
        "checkpoint": True,
        "error": None,
        "witnesses": ["aics.test/w1"],
        "consistent": True,
        "inclusions": [True] * len(bundle["events"]),
    }


FEED_OUR_WITNESS = """
import base64, json, sys
from aics_witness.feeder import WitnessClient, WitnessRejected
d = json.load(sys.stdin)
proofs = {tuple(int(n) for n in k.split(",")): [base64.b64decode(h) for h in v] for k, v in d["proofs"].items()}
answers = []
for client_name, note in d["submissions"]:
    client = WitnessClient(d["url"], d["vkey"]) if client_name == "fresh" or not answers else client
    try:
        answers.append({"line": client.submit(note, lambda old, new: proofs[(old, new)])})
    except WitnessRejected as e:
        answers.append({"status": e.status})
print(json.dumps(answers))
"""


def test_our_witness_cosigns_what_the_aics_feeder_submits_and_refuses_a_forged_proof(
    ledger: ConsentLedger, clock: FakeClock, tmp_path: Path
) -> None:
    witness_key = witness_key_from_seed("witness.example/ours", b64(bytes(range(64, 96))))
    store = WitnessStore.create(tmp_path / "ours.db", witness_key)
    log = AuditLog(ledger, KEY)
    grow(ledger, range(5))
    first = log.issue_checkpoint(clock.now)
    grow(ledger, range(5, 10))
    second = log.issue_checkpoint(clock.now)
    grow(ledger, range(10, 12))
    third = log.issue_checkpoint(clock.now)
    forged = KEY.sign(Checkpoint(ORIGIN, third.size + 3, bytes(32)).text())
    proofs = {
        f"{a},{b}": [b64(h) for h in log.tree.consistency_proof(a, b)]
        for a, b in ((first.size, second.size), (second.size, third.size))
    }
    proofs[f"{second.size},{third.size + 3}"] = [b64(bytes(32))] * 3

    with served_in_thread(create_witness_app(Witness(witness_key, store, {ORIGIN: [KEY.verifier]}))) as url:
        answers = run_script(
            FEED_OUR_WITNESS,
            {
                "url": url,
                "vkey": str(witness_key.verifier),
                "proofs": proofs,
                "submissions": [["same", first.note], ["same", second.note], ["same", forged], ["fresh", third.note]],
            },
        )
    store.close()

    assert [sorted(a) for a in answers] == [["line"], ["line"], ["status"], ["line"]]
    assert answers[2] == {"status": 422}
    for answer, issued in zip([answers[0], answers[1], answers[3]], [first, second, third], strict=True):
        assert witness_key.verifier.cosignature_in(issued.note + answer["line"]) is not None
