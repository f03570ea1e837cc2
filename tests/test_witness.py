"""Witnesses (C2SP tlog-witness): ours answers exactly as the specification says, and the log gets cosigned by it.

The witness runs in this process on a real socket (uvicorn), its store in a file of its own;
the log is the test's ledger on each backend, submitting through `audit.witnessing`.
"""

from __future__ import annotations

import base64
import hashlib
import io
from typing import TYPE_CHECKING

import httpx
import pytest
from given import consented, published
from serving import served_in_thread

from api.witness import create_witness_app
from audit.cosignature import Trust, WitnessKey
from audit.export import export_log
from audit.log import AuditLog
from audit.merkle import EMPTY_ROOT
from audit.notes import Checkpoint, SigningKey, b64
from audit.verify import verify_export, verify_inclusion_proof
from audit.witness import Witness, WitnessStore, WitnessStoreError, witness_key_from_seed
from audit.witnessing import Witness as Witnessed
from audit.witnessing import WitnessPanel

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from conftest import FakeClock

    from ledger.application import ConsentLedger

ORIGIN = "consent-ledger.local/test"
LOG_KEY = SigningKey.from_seed(ORIGIN, bytes(range(32)))
WITNESS_SEED = b64(bytes(range(100, 132)))
WITNESS = witness_key_from_seed("witness.example/w1", WITNESS_SEED)


@pytest.fixture
def witness_url(tmp_path: Path) -> Iterator[str]:
    """Our witness, trusting the test log's key, served on a loopback port."""
    store = WitnessStore.create(tmp_path / "witness.db", WITNESS)
    with served_in_thread(create_witness_app(Witness(WITNESS, store, {ORIGIN: [LOG_KEY.verifier]}))) as url:
        yield url
    store.close()


def submit(url: str, old: int, proof: list[bytes], note: str) -> httpx.Response:
    body = f"old {old}\n" + "".join(f"{b64(h)}\n" for h in proof) + "\n" + note
    return httpx.post(f"{url}/add-checkpoint", content=body.encode(), timeout=10)


def signed(size: int, root: bytes, key: SigningKey = LOG_KEY, origin: str = ORIGIN) -> str:
    return key.sign(Checkpoint(origin, size, root).text())


def grown_log(ledger: ConsentLedger, subjects: int) -> AuditLog:
    log = AuditLog(ledger, LOG_KEY)
    if ledger.max_position() == 0:
        published(ledger)
    for n in range(subjects):
        consented(ledger, f"subject-{ledger.max_position()}-{n}")
    return log


def test_the_witness_cosigns_a_first_checkpoint_and_then_only_one_that_extends_it(
    witness_url: str, ledger: ConsentLedger, clock: FakeClock
) -> None:
    log = grown_log(ledger, 3)
    first = log.issue_checkpoint(clock.now)
    answer = submit(witness_url, 0, [], first.note)
    assert answer.status_code == 200, answer.text
    assert answer.text.startswith("— witness.example/w1 ")
    cosignature = WITNESS.verifier.cosignature_in(first.note + answer.text)
    assert cosignature is not None

    grown_log(ledger, 2)
    second = log.issue_checkpoint(clock.advance(minutes=1))
    proof = log.tree.consistency_proof(first.size, second.size)
    assert submit(witness_url, first.size, proof, second.note).status_code == 200
    held = httpx.get(f"{witness_url}/{_hash(ORIGIN)}/checkpoint", timeout=10)
    assert held.status_code == 200
    assert Checkpoint.parse(LOG_KEY.verifier.open(held.text)) == second.checkpoint
    assert WITNESS.verifier.cosignature_in(held.text) is not None


def test_a_stale_old_size_gets_409_naming_the_size_the_witness_holds(
    witness_url: str, ledger: ConsentLedger, clock: FakeClock
) -> None:
    log = grown_log(ledger, 3)
    first = log.issue_checkpoint(clock.now)
    submit(witness_url, 0, [], first.note)
    grown_log(ledger, 1)
    second = log.issue_checkpoint(clock.now)

    answer = submit(witness_url, 0, [], second.note)

    assert answer.status_code == 409
    assert answer.headers["content-type"] == "text/x.tlog.size"
    assert answer.text == f"{first.size}\n"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (lambda: f"old 0\n\n{signed(0, EMPTY_ROOT, origin='elsewhere.example/log')}", 404),
        (lambda: f"old 0\n\n{signed(0, EMPTY_ROOT, SigningKey.from_seed(ORIGIN, bytes(32)))}", 403),
        (lambda: f"old 0\n\n{_broken_signature(signed(0, EMPTY_ROOT))}", 403),
        (lambda: f"old 1\n\n{signed(0, EMPTY_ROOT)}", 400),
        (lambda: f"old 00\n\n{signed(0, EMPTY_ROOT)}", 400),
        (lambda: "old 0\nnot base64\n\n" + signed(0, EMPTY_ROOT), 400),
        (lambda: f"old 0\n\n{ORIGIN}\n0\n", 400),
        (lambda: f"old 0\n\n{signed(0, bytes(32))}", 422),
        (lambda: f"old 0\n{b64(bytes(32))}\n\n{signed(3, bytes(32))}", 422),
    ],
    ids=[
        "unknown origin",
        "another key",
        "a failing signature of the log's key",
        "old above the size",
        "old with a leading zero",
        "a proof line that is not base64",
        "no signature",
        "size 0 with another root",
        "a proof from old 0",
    ],
)
def test_each_refusal_has_the_status_the_specification_gives(witness_url: str, body, status: int) -> None:
    answer = httpx.post(f"{witness_url}/add-checkpoint", content=body().encode(), timeout=10)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["status"] == status


def test_a_proof_that_does_not_verify_and_another_root_at_the_same_size_get_422(
    witness_url: str, ledger: ConsentLedger, clock: FakeClock
) -> None:
    log = grown_log(ledger, 2)
    first = log.issue_checkpoint(clock.now)
    assert submit(witness_url, 0, [], first.note).status_code == 200
    forged = signed(first.size + 3, bytes(32))
    assert submit(witness_url, first.size, [bytes(32)] * 3, forged).status_code == 422
    other_root = signed(first.size, bytes(32))
    assert submit(witness_url, first.size, [], other_root).status_code == 422
    held = httpx.get(f"{witness_url}/{_hash(ORIGIN)}/checkpoint", timeout=10)
    assert Checkpoint.parse(LOG_KEY.verifier.open(held.text)) == first.checkpoint


def test_the_log_keeps_and_serves_the_cosignature_and_follows_the_witness_409(
    witness_url: str, ledger: ConsentLedger, clock: FakeClock
) -> None:
    panel = WitnessPanel([Witnessed(witness_url, WITNESS.verifier)], quorum=1)
    log = grown_log(ledger, 2)
    log.witnesses = panel
    first = log.issue_checkpoint(clock.now)
    assert len(first.cosignatures) == 1
    assert WITNESS.verifier.cosignature_in(first.published) is not None

    forgetful = AuditLog(ledger, LOG_KEY, panel)  # a second process that knows nothing of what was cosigned
    with ledger.recorder.datastore.transaction(commit=True) as c:  # type: ignore[attr-defined]
        c.execute(f"DELETE FROM {forgetful.cosignatures_table}")
    grown_log(ledger, 2)
    second = forgetful.issue_checkpoint(clock.now)

    assert len(second.cosignatures) == 1
    assert log.latest_witnessed(1) == second
    panel.close()


def test_a_witness_store_is_never_made_anew_nor_used_with_another_key(tmp_path: Path) -> None:
    with pytest.raises(WitnessStoreError, match="no witness store"):
        WitnessStore(tmp_path / "lost.db")
    store = WitnessStore.create(tmp_path / "w.db", WITNESS)
    with pytest.raises(WitnessStoreError, match="belongs to the witness key"):
        Witness(witness_key_from_seed("witness.example/w1", b64(bytes(32))), store, {})
    store.close()


def test_a_witness_key_string_round_trips_and_names_its_type() -> None:
    text = str(WITNESS.verifier)
    assert text.startswith("witness.example/w1+")
    assert WitnessKey.parse(text) == WITNESS.verifier
    assert b64(bytes([4]) + WITNESS.verifier.public_key) in text


def _hash(origin: str) -> str:
    return hashlib.sha256(origin.encode()).hexdigest()


def _broken_signature(note: str) -> str:
    text, _, line = note.rpartition("\n\n")
    name, _, blob = line.removeprefix("— ").strip().partition(" ")
    raw = bytearray(base64.b64decode(blob))
    raw[10] ^= 1
    return f"{text}\n\n— {name} {b64(bytes(raw))}\n"


def test_an_export_and_an_inclusion_proof_carry_the_cosignature_and_verify_only_with_the_quorum(
    witness_url: str, ledger: ConsentLedger, clock: FakeClock
) -> None:
    panel = WitnessPanel([Witnessed(witness_url, WITNESS.verifier)], quorum=1)
    log = grown_log(ledger, 3)
    log.witnesses = panel
    log.issue_checkpoint(clock.now)
    out = io.BytesIO()
    export_log(log, out)
    proof = log.inclusion_proof(2).to_json()
    panel.close()
    demanding = Trust(LOG_KEY.verifier, (WITNESS.verifier,), 1)
    another_witness = witness_key_from_seed("witness.example/w2", b64(bytes(32))).verifier

    assert verify_export(io.BytesIO(out.getvalue()), demanding).ok
    assert verify_inclusion_proof(proof, demanding).ok
    assert not verify_export(io.BytesIO(out.getvalue()), Trust(LOG_KEY.verifier, (another_witness,), 1)).ok
    assert not verify_inclusion_proof(proof, Trust(LOG_KEY.verifier, (another_witness,), 1)).ok
