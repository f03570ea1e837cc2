"""What auditors receive over HTTP: signed checkpoints, inclusion and consistency proofs, the public key."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from audit.formats import ConsistencyProof, InclusionProof, encoded_hashes, event_record
from audit.log import IssuedCheckpoint


class CheckpointPublic(BaseModel):
    """One signed checkpoint: the tree size and root the ledger committed to, when, and the C2SP signed note."""

    number: int = Field(description="Its place in the sequence of checkpoints, from 1.")
    tree_size: int = Field(description="How many events the tree held.")
    root: str = Field(description="The RFC 9162 root hash, hex.")
    issued_at: datetime = Field(
        description="When the log signed it, by its own clock (not in the note: witnesses' cosignatures date it)."
    )
    note: str = Field(description="The C2SP checkpoint in a C2SP signed note: check it with the public key.")

    @classmethod
    def of(cls, issued: IssuedCheckpoint) -> CheckpointPublic:
        """The checkpoint as the log keeps it."""
        c = issued.checkpoint
        return cls(
            number=issued.number, tree_size=c.size, root=c.root.hex(), issued_at=issued.signed_at, note=issued.published
        )


class CheckpointsPublic(BaseModel):
    """Every checkpoint ever issued, oldest first: the sequence an auditor checks for consistency."""

    checkpoints: list[CheckpointPublic]


class StoredEventPublic(BaseModel):
    """An event exactly as the leaf encodes it (audit.leaves): state as stored, base64, sealed fields sealed."""

    position: int
    originator_id: str
    version: int
    topic: str
    state: str = Field(description="The stored bytes, base64 (RFC 4648).")


class InclusionProofPublic(BaseModel):
    """The proof that one event is a leaf of a signed checkpoint's tree (RFC 9162 section 2.1.3)."""

    position: int = Field(description="The event's log position.")
    leaf_index: int = Field(description="Its leaf in the tree, from 0.")
    tree_size: int
    inclusion: list[str] = Field(description="The audit path, base64 SHA-256 hashes, leaf first.")
    event: StoredEventPublic
    checkpoint: str = Field(description="The signed note whose root the path leads to.")

    @classmethod
    def of(cls, proof: InclusionProof) -> InclusionProofPublic:
        """The proof the audit log gives."""
        return cls(
            position=proof.event.position,
            leaf_index=proof.leaf_index,
            tree_size=proof.tree_size,
            inclusion=encoded_hashes(proof.path),
            event=StoredEventPublic.model_validate(event_record(proof.event)),
            checkpoint=proof.checkpoint,
        )


class ConsistencyProofPublic(BaseModel):
    """The proof that a later checkpoint's tree extends an earlier one's (RFC 9162 section 2.1.4)."""

    from_size: int
    to_size: int
    consistency: list[str] = Field(description="Base64 SHA-256 hashes, as RFC 9162 section 2.1.4.1 lists them.")
    old: str = Field(description="The earlier signed note.")
    new: str = Field(description="The later signed note.")

    @classmethod
    def of(cls, proof: ConsistencyProof, from_size: int, to_size: int) -> ConsistencyProofPublic:
        """The proof the audit log gives."""
        return cls(
            from_size=from_size, to_size=to_size, consistency=encoded_hashes(proof.path), old=proof.old, new=proof.new
        )


class PublicKeyPublic(BaseModel):
    """The key auditors check checkpoints against, as a C2SP signed-note verifier key."""

    origin: str = Field(description="The log's name, which every checkpoint starts with.")
    public_key: str = Field(description="`<name>+<hex key id>+<base64 key>`, as `consent-ledger audit verify` takes.")
