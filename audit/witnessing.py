"""The log's side of C2SP `tlog-witness`: each new checkpoint goes to the witnesses, their cosignatures are kept.

For every configured witness (a URL and its verifier key) the log sends `POST <url>/add-checkpoint`
with the size that witness last cosigned (`old N`), the RFC 9162 consistency proof from that size,
and the signed checkpoint. A `409 Conflict` names the size the witness holds (`text/x.tlog.size`):
the log retries from it, with a proof from its own tree. A 200 answers cosignature lines, which
are verified against the witness's key before they are kept.

A witness that holds a tree the log cannot prove it extends (a 409 naming a larger size, or a
422 refusing the proof) has caught the log rolled back or rewritten. The log then asks the
witness for the checkpoint it holds (`GET <url>/<sha256(origin)>/checkpoint`, the protocol's
monitoring endpoint); when that checkpoint carries the log's own valid signature and the log's
tree does not have its root, the log has signed a fork: it raises the fork alarm and stops. A
witness that only claims so, without a checkpoint of the log's to show, is reported and not
obeyed, so that no single witness can halt a log by saying so.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from audit.cosignature import WitnessKey
from audit.notes import Checkpoint, NoteError, VerifierKey, b64, split_note

if TYPE_CHECKING:
    from datetime import datetime

    from audit.log import AuditLog, IssuedCheckpoint

log = logging.getLogger(__name__)

SIZE_MEDIA_TYPE = "text/x.tlog.size"
"""The media type of a 409 Conflict's body: the size the witness last cosigned, then a newline."""

_CONFLICTS = 3


class WitnessTrouble(Exception):
    """A witness could not be asked, or answered outside the protocol: its cosignature is missing this time."""


@dataclass(frozen=True)
class Witness:
    """A witness the log submits its checkpoints to: where it listens and the key its cosignatures verify with."""

    url: str
    """The submission prefix: `add-checkpoint` is appended to it (and the monitoring path too)."""
    key: WitnessKey

    @classmethod
    def parse(cls, text: str) -> Witness:
        """`<url>=<verifier key>` (or the two apart by a space), as CONSENT_LEDGER_WITNESSES lists them."""
        parts = text.strip().split(None, 1)
        url, _, key = parts[0].partition("=") if len(parts) == 1 else (parts[0], "", parts[1])
        if not url.startswith(("http://", "https://")) or not key.strip():
            msg = f"{text.strip()!r} is not '<http(s) URL>=<witness verifier key>'"
            raise ValueError(msg)
        try:
            return cls(url.rstrip("/"), WitnessKey.parse(key.strip()))
        except NoteError as e:
            raise ValueError(f"the witness key of {url}: {e}") from None


@dataclass(frozen=True)
class Answer:
    """A witness's answer to one add-checkpoint request."""

    status: int
    media_type: str
    body: str


class WitnessPanel:
    """The witnesses a log submits every checkpoint to, and how many cosignatures make a checkpoint witnessed."""

    def __init__(self, witnesses: list[Witness], quorum: int, *, timeout: float = 10.0) -> None:
        """`quorum` cosignatures of these witnesses make a checkpoint count as witnessed (at most their number)."""
        if not 0 <= quorum <= len(witnesses):
            msg = f"a quorum of {quorum} cannot be met by {len(witnesses)} witness(es)"
            raise ValueError(msg)
        self.witnesses = witnesses
        self.quorum = quorum
        self.keys = [w.key for w in witnesses]
        self._client = httpx.Client(timeout=timeout, headers={"User-Agent": "consent-ledger"})

    def close(self) -> None:
        """Close the HTTP connections kept to the witnesses."""
        self._client.close()

    def cosign(self, audit_log: AuditLog, issued: IssuedCheckpoint, at: datetime) -> IssuedCheckpoint:
        """Ask every witness that has not cosigned `issued` yet; keep what they give; the checkpoint as kept now.

        A witness that cannot be reached or misbehaves is logged and skipped (the next checkpoint
        asks it again); one that proves the log forked halts the log (LogHalted is raised).
        """
        have = {line.removeprefix("— ").partition(" ")[0] for line in issued.cosignatures}
        for witness in self.witnesses:
            if witness.key.name in have:
                continue
            try:
                line = self._submit(audit_log, witness, issued, at)
            except WitnessTrouble as e:
                log.warning("witness %s did not cosign checkpoint %s: %s", witness.url, issued.number, e)
                continue
            audit_log.keep_cosignature(issued.number, witness.key.name, line)
        return audit_log.checkpoint(issued.number) or issued

    def _submit(self, audit_log: AuditLog, witness: Witness, issued: IssuedCheckpoint, at: datetime) -> str:
        """Submit until the witness cosigns (its verified line) or refuses; follow its 409s a few times."""
        size = issued.size
        old = audit_log.cosigned_size(witness.key.name, at_most=size)
        for _ in range(_CONFLICTS + 1):
            proof = [] if old in (0, size) else audit_log.tree.consistency_proof(old, size)
            body = f"old {old}\n" + "".join(f"{b64(h)}\n" for h in proof) + "\n" + issued.note
            answer = self._post(f"{witness.url}/add-checkpoint", body)
            if answer.status == 200:  # noqa: PLR2004  (HTTP 200: cosigned)
                return self._verified(witness, issued, answer.body)
            if answer.status == 409:  # noqa: PLR2004  (HTTP 409: the witness holds another size)
                known = _size_of(answer)
                if known > size or known == old:
                    self._check_for_fork(audit_log, witness, issued, at, f"it holds a tree of {known} events")
                    raise WitnessTrouble(f"409 naming {known} events for a checkpoint of {size} after old {old}")
                old = known
                continue
            if answer.status == 422:  # noqa: PLR2004  (HTTP 422: the proof does not verify)
                self._check_for_fork(audit_log, witness, issued, at, f"it refused the proof from {old} events (422)")
            raise WitnessTrouble(f"{answer.status}: {answer.body.strip()[:200]}")
        raise WitnessTrouble(f"it kept naming other sizes ({_CONFLICTS} conflicts)")

    def _post(self, url: str, body: str) -> Answer:
        try:
            response = self._client.post(url, content=body.encode(), headers={"Content-Type": "text/plain"})
        except httpx.HTTPError as e:
            raise WitnessTrouble(f"cannot reach it: {e}") from None
        media_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        return Answer(response.status_code, media_type, response.text)

    def _verified(self, witness: Witness, issued: IssuedCheckpoint, lines: str) -> str:
        """The witness's own cosignature line from a 200 answer, verified over the checkpoint; others ignored."""
        text, _ = split_note(issued.note)
        try:
            _, signatures = split_note(text + "\n" + lines)
            mine = [(n, blob) for n, blob in signatures if n == witness.key.name and blob[:4] == witness.key.key_id]
            if not mine:
                raise WitnessTrouble("its answer holds no cosignature of its key")
            line = f"— {mine[0][0]} {b64(mine[0][1])}\n"
            witness.key.cosignature_in(text + "\n" + line)
        except NoteError as e:
            raise WitnessTrouble(f"its answer is not a valid cosignature: {e}") from None
        return line

    def _check_for_fork(
        self, audit_log: AuditLog, witness: Witness, issued: IssuedCheckpoint, at: datetime, claim: str
    ) -> None:
        """Halt the log if the witness shows a checkpoint this log signed that its tree does not extend to."""
        held = self.held_checkpoint(witness, audit_log.signing_key_verifier(), issued.checkpoint.origin)
        if held is None:
            log.error("witness %s says %s but shows no checkpoint of this log to prove it", witness.url, claim)
            return
        if audit_log.tree_holds(held):
            return
        reason = (
            f"witness {witness.key.name} holds checkpoint ({held.size} events, root {held.root.hex()[:16]}…) "
            f"signed by this log, which the log's tree of {issued.size} events cannot be proven to extend: "
            "the log was rolled back or rewritten"
        )
        raise audit_log.halt(reason, at)

    def held_checkpoint(self, witness: Witness, log_key: VerifierKey | None, origin: str) -> Checkpoint | None:
        """The checkpoint of `origin` the witness last cosigned, if it serves it and the log's key signed it."""
        digest = hashlib.sha256(origin.encode()).hexdigest()
        try:
            response = self._client.get(f"{witness.url}/{digest}/checkpoint")
        except httpx.HTTPError:
            return None
        if response.status_code != 200 or log_key is None:  # noqa: PLR2004  (HTTP 200: it has one)
            return None
        try:
            return Checkpoint.parse(log_key.open(response.text))
        except NoteError:
            return None


def _size_of(answer: Answer) -> int:
    body = answer.body
    if answer.media_type != SIZE_MEDIA_TYPE or not body.endswith("\n") or not body[:-1].isdigit():
        raise WitnessTrouble(f"a 409 that is not a {SIZE_MEDIA_TYPE} size: {body[:60]!r}")
    return int(body[:-1])
