"""After destruction, nothing personal of that subject can be recovered from the database files.

Personal values are sealed with the subject's key before they reach an event, so they never
sit in the files in clear; destruction deletes the key and scrubs the freed bytes, so the
sealed values can never be opened again. Other subjects read back as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
from given import SERVICE, consented, published

from ledger.application import Request
from ledger.subject import subject_key
from ledger.subject_facts import Destruction
from ledger.terms import DestructionGround, SubjectId

if TYPE_CHECKING:
    from ledger.application import ConsentLedger
    from ledger.storage import Database

ALICE_EVIDENCE = "ip=203.0.113.77 device=alice-pixel-9"
BOB_EVIDENCE = "ip=198.51.100.12 device=bob-iphone"


def raw_bytes(database: Database) -> bytes:
    """Every byte the database keeps on disk for the ledger's tables."""
    if database.sqlite_path is not None:
        base = database.sqlite_path
        return b"".join(p.read_bytes() for p in (base, Path(f"{base}-wal"), Path(f"{base}-shm")) if p.exists())
    with psycopg.connect(**database.psycopg_kwargs(), autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        data_dir = conn.execute("SHOW data_directory").fetchone()[0]  # type: ignore[index]
        rows = conn.execute(
            "SELECT pg_relation_filepath(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 't', 'i') "
            "UNION SELECT pg_relation_filepath(c.reltoastrelid) FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.reltoastrelid <> 0",
            (database.schema, database.schema),
        ).fetchall()
    files = [Path(data_dir) / r[0] for r in rows if r[0]]
    assert files, "the ledger's tables were not found on disk"
    return b"".join(f.read_bytes() for f in files if f.exists())


def test_after_destruction_no_personal_value_or_key_of_that_subject_is_in_the_raw_files(
    ledger: ConsentLedger, database: Database
) -> None:
    published(ledger)
    consented(ledger, "alice", evidence=ALICE_EVIDENCE)
    consented(ledger, "bob", evidence=BOB_EVIDENCE)
    alice_key = ledger.sealer._keys.wrapped_key(subject_key(SubjectId("alice")))  # type: ignore[attr-defined]
    assert alice_key is not None
    before = raw_bytes(database)
    assert ALICE_EVIDENCE.encode() not in before  # sealed from the start
    assert alice_key in before  # the search below can see a key when there is one

    ledger.record(SERVICE, Destruction(subject_id=SubjectId("alice"), ground=DestructionGround.SUBJECT_REQUEST))

    after = raw_bytes(database)
    assert ALICE_EVIDENCE.encode() not in after
    assert alice_key not in after
    alice_facts = ledger.subject_facts(SubjectId("alice"))
    assert [f.fields.get("evidence") for f in alice_facts if f.event_type == "ConsentGranted"] == [None]
    bob_facts = ledger.subject_facts(SubjectId("bob"))
    assert [f.fields.get("evidence") for f in bob_facts if f.event_type == "ConsentGranted"] == [BOB_EVIDENCE]


def test_destruction_keeps_every_stored_event_byte_for_byte(ledger: ConsentLedger) -> None:
    published(ledger)
    consented(ledger, "alice", evidence=ALICE_EVIDENCE)
    stored_before = [(n.id, n.state) for n in ledger.iter_positions()]

    ledger.record(SERVICE, Destruction(subject_id=SubjectId("alice"), ground=DestructionGround.PURPOSE_ACHIEVED))

    stored_after = [(n.id, n.state) for n in ledger.iter_positions()]
    assert stored_after[: len(stored_before)] == stored_before
    assert len(stored_after) == len(stored_before) + 1


def test_a_retry_of_a_consent_after_the_subject_was_destroyed_gets_the_first_receipt(ledger: ConsentLedger) -> None:
    published(ledger)
    keyed = Request("orders-service", idempotency_key="consent-42")
    first = consented(ledger, "alice", evidence=ALICE_EVIDENCE, request=keyed)
    ledger.record(SERVICE, Destruction(subject_id=SubjectId("alice"), ground=DestructionGround.SUBJECT_REQUEST))

    again = consented(ledger, "alice", evidence=ALICE_EVIDENCE, request=keyed)

    assert again.replayed
    assert (again.position, again.version) == (first.position, first.version)


def test_no_fresh_key_can_be_made_for_a_destroyed_subject_even_by_a_writer_racing_the_destruction(
    ledger: ConsentLedger,
) -> None:
    from ledger.errors import SubjectDestroyed  # noqa: PLC0415

    published(ledger)
    consented(ledger, "alice", evidence=ALICE_EVIDENCE)
    ledger.record(SERVICE, Destruction(subject_id=SubjectId("alice"), ground=DestructionGround.SUBJECT_REQUEST))
    with pytest.raises(SubjectDestroyed):
        # What a writer that checked "not destroyed" a moment before the destruction would do next.
        ledger.sealer.seal(subject_key(SubjectId("alice")), "claimant", "A. Person")
    assert ledger.sealer._keys.wrapped_key(subject_key(SubjectId("alice"))) == b""  # type: ignore[attr-defined]
