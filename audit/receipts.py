"""Signed consent receipts the subject holds: a compact JWS (RFC 7515, `EdDSA` with Ed25519, RFC 8037).

Its payload is the ISO/IEC TS 27560 receipt for one consent event (a prompt, a refusal, a consent,
a withdrawal): the record's parts for that event, with a `receipt_id`, and a `ledger` part that
ties it to the log: the event's position, the stored event itself (the bytes its leaf hashes),
and, once a checkpoint covers it, that signed checkpoint and the RFC 9162 inclusion path. So a
receipt is checked offline with two public keys: the receipt key (a JWK, RFC 7517) for the JWS,
and the log's key for the checkpoint. Personal values stay sealed in the stored event, and the
receipt key is not the subject's: destroying the subject's data changes no byte a receipt holds.

The receipt key is kept like the log's signing key (`audit.signing_keys`), and is a key of its
own: a JWS signature and a signed note must never be made with one key. Signing is PyJWT's
(`jwt.api_jws`), verifying too; the tests check receipts with another library (joserfc).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast
from uuid import NAMESPACE_URL, UUID, uuid5

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jwt import PyJWK, PyJWS
from jwt.exceptions import InvalidTokenError, PyJWKError

from audit.formats import EVENT_KEYS, FormatError, encoded_hashes, event_from, event_record, hashes
from audit.leaves import LoggedEvent
from audit.log import ProofUnavailable
from audit.merkle import verify_inclusion
from audit.notes import NoteError
from ledger import rules
from ledger.errors import LedgerError, NotFound
from ledger.subject_facts import Acceptance, ConsentRefusal, ConsentRequest, SubjectFact, Withdrawal, subject_key
from ledger.terms import ConsentState, PolicyId, SubjectId
from projections.records import CONTEXT, consent_record

if TYPE_CHECKING:
    from audit.cosignature import Trust
    from audit.log import AuditLog
    from audit.tree import LedgerTree
    from ledger.application import ConsentLedger

ALGORITHM = "EdDSA"
"""RFC 8037's name for Ed25519 signatures in JOSE (the one verifiers know; RFC 9864 adds `Ed25519`)."""

RECEIPT_TYPE = "application/iso27560-receipt+json"
"""The JWS `cty` of a 27560 receipt."""

KANTARA_TYPE = "application/kantara-consent-receipt+json"
"""The JWS `cty` of a Kantara Consent Receipt v1.1."""

KANTARA_VERSION = "KI-CR-v1.1.0"


class ReceiptUnavailable(NotFound):
    """No consent receipt exists at that position for that subject (not a consent event, or another subject's)."""

    title = "No such consent receipt"


class NoReceiptKey(LedgerError):
    """The server was started without the receipt key, so it signs no receipt."""

    title = "This server signs no receipts"


@dataclass(frozen=True)
class ReceiptKey:
    """The Ed25519 key receipts are signed with, and its public half as a JWK."""

    private_key: Ed25519PrivateKey

    @property
    def jwk(self) -> dict[str, str]:
        """The public key as a JWK (RFC 8037), with its RFC 7638 thumbprint as `kid`."""
        return public_jwk(self.private_key.public_key())

    @property
    def kid(self) -> str:
        """The key's RFC 7638 thumbprint: what a receipt's header names it by."""
        return self.jwk["kid"]


class ReceiptKeyMismatch(LedgerError):
    """The configured receipt key is not the one this ledger's receipts were signed with."""

    title = "Not this ledger's receipt key"


class ReceiptKeys:
    """The `audit_receipt_key` table: the id of the key this ledger signs receipts with, kept from its first.

    Subjects keep the receipts they were given; a new key would leave every one of them
    unverifiable against the key the ledger serves, so a different key is refused, never adopted.
    """

    def __init__(self, tree: LedgerTree) -> None:
        """Create the table beside the tree's, on the same datastore."""
        self._datastore, storage = tree.datastore, tree.storage
        self._p, self.table = storage.placeholder, storage.qualify("audit_receipt_key")
        with self._datastore.transaction(commit=True) as c:
            storage.creating_tables(c)
            c.execute(f"CREATE TABLE IF NOT EXISTS {self.table} (singleton INTEGER PRIMARY KEY, kid TEXT NOT NULL)")

    def kept(self) -> str | None:
        """The id of the key receipts were signed with, or None before the first receipt key."""
        with self._datastore.transaction(commit=False) as c:
            c.execute(f"SELECT kid FROM {self.table}")  # noqa: S608  (our own table's name)
            row = c.fetchone()
        return None if row is None else str(row[0] if isinstance(row, tuple) else row["kid"])

    def pin(self, key: ReceiptKey) -> ReceiptKey:
        """Keep `key` as the ledger's receipt key if it has none; refuse it if it has another."""
        with self._datastore.transaction(commit=True) as c:
            insert = f"INSERT INTO {self.table} VALUES (1, {self._p}) ON CONFLICT DO NOTHING"  # noqa: S608  (ours)
            c.execute(insert, (key.kid,))
        kept = self.kept()
        if kept != key.kid:
            msg = (
                f"the configured receipt key ({key.kid}) is not the key this ledger's receipts were signed with "
                f"({kept}): configure that key, or receipts subjects hold no longer verify"
            )
            raise ReceiptKeyMismatch(msg)
        return key


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    """An Ed25519 public key as a JWK, `kid` its RFC 7638 SHA-256 thumbprint."""
    x = _b64url(key.public_bytes(Encoding.Raw, PublicFormat.Raw))
    members = {"crv": "Ed25519", "kty": "OKP", "x": x}  # RFC 7638 section 3.2: the required members, sorted
    thumbprint = _b64url(hashlib.sha256(orjson.dumps(members)).digest())
    return {**members, "alg": ALGORITHM, "use": "sig", "kid": thumbprint}


def receipt_id(origin: str, position: int) -> str:
    """A receipt's id: the same for the same event of the same log, whenever it is issued again."""
    return str(uuid5(NAMESPACE_URL, f"consent-ledger:receipt:{origin}:{position}"))


def receipt_payload(ledger: ConsentLedger, log: AuditLog, subject_id: SubjectId, position: int) -> dict[str, Any]:
    """The 27560 receipt of the consent event at `position` on the subject's record, with its place in the log."""
    stored, event = _consent_event(ledger, subject_id, position)
    policy_id = _policy_of(ledger, subject_id, event)
    versions = list(ledger.policy(policy_id).versions.values())
    entries = [e for e in ledger.subject(subject_id).entries if e.number <= event.number]
    known = rules.known_entries(entries)
    timeline = rules.consent_timeline(known, versions, policy_id, event.occurred_at)
    record = consent_record(subject_id, policy_id, [*timeline, _state_of(event, policy_id, timeline)], versions)
    *earlier, this_event = cast("list[dict[str, Any]]", record["events"])
    this = f"events[{len(earlier)}]."
    origin = _origin(log)
    header = cast("dict[str, Any]", record["header"])
    return {
        "@context": CONTEXT,
        "header": {"schema_version": header["schema_version"], "receipt_id": receipt_id(origin, position), **header},
        "processing": record["processing"],
        "parties": record["parties"],
        "events": [this_event],
        "consent_status": record["consent_status"],
        "absent": {
            k.replace(this, "events[0]."): v
            for k, v in cast("dict[str, str]", record["absent"]).items()
            if not k.startswith("events[") or k.startswith(this)
        },
        "ledger": {"origin": origin, "position": position, "entry": event.number, **_proof(log, stored)},
    }


def _consent_event(ledger: ConsentLedger, subject_id: SubjectId, position: int) -> tuple[LoggedEvent, SubjectFact]:
    notes = ledger.recorder.select_notifications(start=position, limit=1) if position > 0 else []
    if not notes or notes[0].id != position or UUID(str(notes[0].originator_id)) != subject_key(subject_id):
        msg = f"subject {subject_id} has no event at log position {position}; a write's receipt names its position"
        raise ReceiptUnavailable(msg)
    event = ledger.mapper.to_domain_event(notes[0])
    if not isinstance(event, SubjectFact) or not type(event).receipted:
        msg = f"the event at position {position} is a {type(event).__name__}, not a consent event: it has no receipt"
        raise ReceiptUnavailable(msg)
    return LoggedEvent.of(notes[0]), event


def _policy_of(ledger: ConsentLedger, subject_id: SubjectId, event: SubjectFact) -> PolicyId:
    if isinstance(event, ConsentRefusal):
        prompts = (e for e in ledger.subject(subject_id).entries if isinstance(e, ConsentRequest))
        return next(e.policy_id for e in prompts if e.prompt_id == event.prompt_id)
    return cast("Acceptance", event).policy_id


def _state_of(event: SubjectFact, policy_id: PolicyId, timeline: list[rules.StateOfConsent]) -> rules.StateOfConsent:
    """The receipt's one event: what this entry expressed (a consent: given, or renewed as the rules found)."""
    if isinstance(event, Acceptance):
        found = next((s for s in timeline if s.entry.number == event.number), None)
        state = found.state if found is not None else ConsentState.GIVEN
    elif isinstance(event, Withdrawal):
        state = ConsentState.WITHDRAWN
    elif isinstance(event, ConsentRefusal):
        state = ConsentState.REFUSED
    else:
        state = ConsentState.REQUESTED
    return rules.StateOfConsent(policy_id, state, event.occurred_at, event)


def _origin(log: AuditLog) -> str:
    latest = log.latest_checkpoint()
    if latest is not None:
        return latest.checkpoint.origin
    return log.signing_key.name if log.signing_key is not None else "consent-ledger"


def _proof(log: AuditLog, stored: LoggedEvent) -> dict[str, object]:
    """The stored event, and the newest checkpoint covering it with the inclusion path (none yet: nulls)."""
    try:
        proof = log.inclusion_proof(stored.position)
    except ProofUnavailable:
        return {
            "event": event_record(stored),
            "checkpoint": None,
            "leaf_index": None,
            "tree_size": None,
            "inclusion": [],
        }
    return {
        "event": event_record(proof.event),
        "checkpoint": proof.checkpoint,
        "leaf_index": proof.leaf_index,
        "tree_size": proof.tree_size,
        "inclusion": encoded_hashes(proof.path),
    }


def kantara_payload(receipt: dict[str, Any]) -> dict[str, Any]:
    """The same receipt as a Kantara Consent Receipt v1.1 (its required fields; the log's part kept beside them)."""
    processing, header = receipt["processing"], receipt["header"]
    [operator] = receipt["parties"]
    [event] = receipt["events"]
    third = processing["recipient_third_parties"]
    return {
        "version": KANTARA_VERSION,
        "jurisdiction": processing["jurisdiction"],
        "consentTimestamp": int(_seconds(event["event_time"])),
        "collectionMethod": processing["collection_method"] or "prompt",
        "consentReceiptID": header["receipt_id"],
        "language": processing["language"] or "",
        "piiPrincipalId": header["pii_principal_id"],
        "piiControllers": [
            {
                "piiController": operator["party_name"] or operator["party_id"],
                "contact": "",
                "address": {},
                "email": "",
                "phone": "",
            }
        ],
        "policyUrl": (processing["privacy_notice"] or {}).get("ni", ""),
        "services": [
            {
                "service": (processing["privacy_notice"] or {}).get("policy_id", ""),
                "purposes": [
                    {
                        "purpose": p["purpose"],
                        "consentType": event["event_type"] or "",
                        "purposeCategory": [p["purpose_type"]],
                        "piiCategory": [i["pii_type"] for i in processing["pii_information"]],
                        "termination": event["validity_duration"] or "until the purpose is achieved (Art. 8(6))",
                        "primaryPurpose": p["purpose_type"] == "required",
                        "thirdPartyDisclosure": bool(third),
                        **({"thirdPartyName": ", ".join(third)} if third else {}),
                    }
                    for p in processing["purposes"]
                ],
            }
        ],
        "sensitive": False,
        "spiCat": [],
        "eventState": event["event_state"],
        "ledger": receipt["ledger"],
    }


def sign(payload: dict[str, Any], key: ReceiptKey, content_type: str = RECEIPT_TYPE) -> str:
    """The compact JWS of `payload` (canonical JSON, sorted keys) under the receipt key."""
    body = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    headers = {"kid": key.kid, "typ": "JOSE", "cty": content_type}
    return PyJWS().encode(body, key.private_key, algorithm=ALGORITHM, headers=headers)


@dataclass(frozen=True)
class ReceiptVerdict:
    """What checking a receipt found, in a sentence."""

    ok: bool
    reason: str
    proven: bool = False
    """Whether its inclusion in a signed checkpoint was proven (else: signed by the operator, not yet in one)."""

    def summary(self) -> str:
        """One line a person can act on."""
        return f"{'VERIFIED' if self.ok else 'FAILED'}: {self.reason}."


def verify_receipt(token: str, receipt_key: dict[str, Any], trust: Trust) -> ReceiptVerdict:
    """Check a receipt offline: its JWS under the receipt key, its event against the stored one, its inclusion."""
    try:
        jwk = PyJWK(receipt_key, ALGORITHM)
        decoded = PyJWS().decode_complete(token.strip(), jwk, algorithms=[ALGORITHM])
        payload = orjson.loads(decoded["payload"])
    except (InvalidTokenError, PyJWKError, orjson.JSONDecodeError) as e:
        return ReceiptVerdict(ok=False, reason=f"the receipt's signature does not verify with that key: {e}")
    if decoded["header"].get("kid") != public_jwk(cast("Ed25519PublicKey", jwk.key)).get("kid"):
        return ReceiptVerdict(ok=False, reason="the receipt names another key (kid) than the one given")
    try:
        return _check_event(payload, trust)
    except (FormatError, NoteError, KeyError, TypeError, ValueError) as e:
        return ReceiptVerdict(ok=False, reason=f"the receipt is signed but malformed: {e}")


def _check_event(payload: dict[str, Any], trust: Trust) -> ReceiptVerdict:
    ledger_part = payload["ledger"]
    event = ledger_part["event"]
    stored = event_from({k: event[k] for k in EVENT_KEYS} if set(event) == set(EVENT_KEYS) else event)
    subject = payload["header"]["pii_principal_id"]
    if stored.position != ledger_part["position"] or stored.originator_id != subject_key(SubjectId(subject)):
        return ReceiptVerdict(ok=False, reason="the stored event it carries is not the subject's event it names")
    fields = orjson.loads(stored.state)
    notice = payload["processing"]["privacy_notice"] or {}
    if "text_sha256" in fields and fields["text_sha256"] != notice.get("text_sha256"):
        return ReceiptVerdict(ok=False, reason="the text hash it shows is not the one the stored event recorded")
    what = f"{stored.topic.rsplit('.', 1)[-1]} of subject {subject} at log position {stored.position}"
    if ledger_part["checkpoint"] is None:
        reason = f"{what}, signed by the operator; no checkpoint covered it yet: fetch it again for its proof"
        return ReceiptVerdict(ok=True, reason=reason)
    checkpoint, cosignatures = trust.open(ledger_part["checkpoint"])
    short = trust.short_of_quorum(cosignatures)
    path = hashes(ledger_part, "inclusion")
    size, index = ledger_part["tree_size"], ledger_part["leaf_index"]
    if short is not None:
        return ReceiptVerdict(ok=False, reason=f"its checkpoint is not witnessed: {short}")
    if size != checkpoint.size or not verify_inclusion(stored.leaf_hash(), index, size, path, checkpoint.root):
        return ReceiptVerdict(ok=False, reason=f"{what} is not in the checkpoint it carries")
    reason = f"{what}, leaf {index} of the {size} events signed by {checkpoint.origin}"
    return ReceiptVerdict(ok=True, reason=reason, proven=True)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()
