"""ISO/IEC TS 27560 consent records, as the W3C DPV guide maps the standard: header, processing, parties, events.

A record is built for one subject and one policy, at business time T from the entries known at
R, by the same rules that answer every other question (`ledger.rules.consent_timeline`): its
events are the changes of the consent's DPV state, its processing part the terms of the latest
consent (or, before any, of the version prompted). The standard publishes no JSON Schema, so
the field names are those of the DPV guide's mapping (STANDARDS.md) and the JSON-LD `@context`
ties them to DPV terms. Every mandatory field is present; where the ledger does not hold a value,
the field is null and `absent` says why, under the field's path.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, uuid5

from ledger import rules
from ledger.subject_facts import Acceptance, ConsentRefusal, ConsentRequest, Withdrawal
from ledger.terms import Actor, ConsentMethod, ConsentState

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ledger.policy import PolicyVersion
    from ledger.rules import Entry
    from ledger.terms import PolicyId, SubjectId

SCHEMA_VERSION = "ISO/IEC TS 27560:2023"
"""What `schema_version` names: the standard, as the DPV guide maps it (no JSON Schema is published)."""

CONTEXT: dict[str, object] = {
    "dpv": "https://w3id.org/dpv#",
    "dct": "http://purl.org/dc/terms/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "schema_version": "dct:conformsTo",
    "record_id": "dpv:hasIdentifier",
    "receipt_id": "dpv:hasIdentifier",
    "pii_principal_id": "dpv:hasDataSubject",
    "privacy_notice": "dpv:hasNotice",
    "language": "dct:language",
    "purposes": "dpv:hasPurpose",
    "purpose": "dct:identifier",
    "lawful_basis": {"@id": "dpv:hasLegalBasis", "@type": "@id"},
    "pii_information": "dpv:hasPersonalData",
    "pii_type": "dct:identifier",
    "pii_controllers": "dpv:hasDataController",
    "collection_method": "dpv:hasIndicationMethod",
    "storage_locations": "dpv:hasLocation",
    "retention_period": "dpv:hasDuration",
    "jurisdiction": "dpv:hasJurisdiction",
    "geographic_restrictions": "dpv:hasGeographicCoverage",
    "recipient_third_parties": "dpv:hasRecipient",
    "withdrawal_method": "dpv:hasWithdrawalMethod",
    "parties": "dpv:hasEntity",
    "party_name": "dpv:hasName",
    "party_address": "dpv:hasAddress",
    "party_contact": "dpv:hasContact",
    "party_type": {"@id": "@type", "@type": "@id"},
    "events": "dct:hasPart",
    "event_time": {"@id": "dpv:isIndicatedAtTime", "@type": "xsd:dateTime"},
    "validity_duration": "dpv:hasDuration",
    "entity_id": "dpv:isIndicatedBy",
    "event_type": {"@id": "dpv:hasConsentType", "@type": "@id"},
    "event_state": {"@id": "dpv:hasConsentStatus", "@type": "@id"},
    "consent_status": {"@id": "dpv:hasConsentStatus", "@type": "@id"},
}
"""The JSON-LD context that reads a record's fields as DPV terms."""

MANDATORY = {
    "header": ("schema_version", "record_id", "pii_principal_id"),
    "processing": (
        "privacy_notice",
        "language",
        "purposes",
        "pii_information",
        "pii_controllers",
        "storage_locations",
        "retention_period",
        "jurisdiction",
        "recipient_third_parties",
        "withdrawal_method",
    ),
    "purpose": ("purpose",),
    "pii": ("pii_type",),
    "party": ("party_id", "party_name", "party_address", "party_contact", "party_type"),
    "event": ("event_time", "validity_duration", "entity_id", "event_type", "event_state"),
}
"""The mandatory fields of each part (STANDARDS.md, after the DPV guide's mapping of ISO/IEC TS 27560)."""

CONSENT_TYPE = {
    ConsentMethod.WRITTEN: "dpv:ExplicitlyExpressedConsent",
    ConsentMethod.REGISTRATION: "dpv:ExpressedConsent",
    ConsentMethod.ORDER_CHECKOUT: "dpv:ExpressedConsent",
    ConsentMethod.APP_USE: "dpv:ImpliedConsent",
}
"""How each method of consent is expressed (clauses 2.1, 3.1): a signed form is explicit, using the app implied."""

WITHDRAWAL_METHOD = (
    "In writing, by the subject or their legal representative, through any channel the operator can prove it "
    "received, at any time (Art. 8(1), 8(7); clause 2.2); processing stops within 15 working days."
)
WHY_NO_ADDRESS = "the ledger records the operator's name and BIN (Art. 8(4)); its address is in the policy text"
WHY_NO_CONTACT = "the ledger records no contact of the operator; the policy text names it"
WHY_NO_RETENTION = (
    "the policy states no retention period: data are kept until the purpose is achieved, then destroyed "
    "(Art. 8(6); clause 5.3), and that destruction is itself a fact of this ledger"
)
WHY_NO_TERM = "the consent states no term: it lasts until its purpose is achieved (Art. 8(6))"
WHY_NO_TYPE = "the operator showed the prompt; the subject expressed nothing yet"
WHY_NO_DATA = "no consent was given yet; the categories are those a consent will name (Art. 8(4))"
STORAGE = ["KZ"]
"""Art. 12(2): the database holding personal data is located in Kazakhstan."""


def record_id(subject_id: SubjectId, policy_id: PolicyId) -> str:
    """The record's id: derived from the subject and the policy, so it is the same at every T and R."""
    return str(uuid5(NAMESPACE_URL, f"consent-ledger:consent-record:{subject_id}:{policy_id}"))


def consent_records(
    subject_id: SubjectId, entries: Sequence[Entry], versions: Sequence[PolicyVersion], at: datetime
) -> list[dict[str, object]]:
    """The subject's 27560 records at `at`, one per policy their consent entries name (entries known at R)."""
    found = []
    for policy_id in rules.consent_policies(entries):
        timeline = rules.consent_timeline(entries, versions, policy_id, at)
        if timeline:
            found.append(consent_record(subject_id, policy_id, timeline, versions))
    return found


def consent_record(
    subject_id: SubjectId,
    policy_id: PolicyId,
    timeline: Sequence[rules.StateOfConsent],
    versions: Sequence[PolicyVersion],
) -> dict[str, object]:
    """One 27560 record: its parts, the DPV state it ends in, and why any mandatory value is absent."""
    absent: dict[str, str] = {}
    mine = [v for v in versions if v.policy_id == policy_id]
    operator = _operator(mine)
    basis = _terms_entry(timeline)
    shown = next((v for v in mine if v.version == getattr(basis, "policy_version", None)), None)
    record: dict[str, object] = {
        "header": {
            "schema_version": SCHEMA_VERSION,
            "record_id": record_id(subject_id, policy_id),
            "pii_principal_id": subject_id,
        },
        "processing": _processing(basis, shown, operator["party_id"], absent),
        "parties": [operator],
        "events": [_event(i, s, subject_id, operator["party_id"], absent) for i, s in enumerate(timeline)],
        "consent_status": timeline[-1].state.dpv,
        "state": timeline[-1].state.value,
        "state_since": _utc(timeline[-1].since),
    }
    absent["parties[0].party_address"] = WHY_NO_ADDRESS
    absent["parties[0].party_contact"] = WHY_NO_CONTACT
    record["absent"] = dict(sorted(absent.items()))
    return record


def _terms_entry(timeline: Sequence[rules.StateOfConsent]) -> Acceptance | ConsentRequest | None:
    """The entry whose terms the processing part shows: the latest consent, else the latest prompt."""
    consents = [s.entry for s in timeline if isinstance(s.entry, Acceptance)]
    if consents:
        return consents[-1]
    prompts = [s.entry for s in timeline if isinstance(s.entry, ConsentRequest)]
    return prompts[-1] if prompts else None


def _operator(versions: Sequence[PolicyVersion]) -> dict[str, object]:
    first = min(versions, key=lambda v: v.recorded_at, default=None)
    name = first.operator_name if first is not None else ""
    bin_ = first.operator_bin if first is not None else ""
    return {
        "party_id": f"BIN {bin_}" if bin_ else (first.policy_id if first is not None else "operator"),
        "party_name": name or None,
        "party_address": None,
        "party_contact": None,
        "party_type": "dpv:DataController",
        "party_role": "PII controller",
    }


def _processing(
    basis: Acceptance | ConsentRequest | None, shown: PolicyVersion | None, controller: object, absent: dict[str, str]
) -> dict[str, object]:
    consent = basis if isinstance(basis, Acceptance) else None
    purposes = sorted(consent.purposes) if consent is not None else sorted(shown.purposes) if shown else []
    optional = shown.optional_purposes if shown is not None else frozenset()
    categories = (
        sorted(consent.data_categories) if consent is not None else sorted(shown.data_categories or ()) if shown else []
    )
    if consent is None:
        absent["processing.pii_information"] = WHY_NO_DATA
    third_parties = consent.third_parties if consent is not None else bool(shown and shown.third_parties)
    cross_border = consent.cross_border if consent is not None else bool(shown and shown.cross_border)
    absent["processing.retention_period"] = WHY_NO_RETENTION
    return {
        "privacy_notice": _notice(basis, shown),
        "language": str(basis.language) if basis is not None else None,
        "purposes": [
            {"purpose": p, "purpose_type": "optional" if p in optional else "required", "lawful_basis": "dpv:Consent"}
            for p in purposes
        ],
        "pii_information": [{"pii_type": c, "pii_optional": False} for c in categories],
        "pii_controllers": [controller],
        "collection_method": str(consent.method) if consent is not None else None,
        "storage_locations": STORAGE,
        "retention_period": None,
        "jurisdiction": "KZ",
        "geographic_restrictions": [] if cross_border else ["KZ"],
        "recipient_third_parties": sorted(str(c) for c in shown.recipient_categories)
        if shown and third_parties
        else [],
        "withdrawal_method": WITHDRAWAL_METHOD,
        "third_parties": third_parties,
        "cross_border": cross_border,
        "publication": consent.publication if consent is not None else False,
    }


def _notice(basis: Acceptance | ConsentRequest | None, shown: PolicyVersion | None) -> dict[str, object] | None:
    """The exact text shown: its policy, version and SHA-256 (clause 9.1), as an RFC 6920 `ni` name too."""
    if basis is None:
        return None
    return {
        "policy_id": basis.policy_id,
        "version": basis.policy_version,
        "text_sha256": basis.text_sha256,
        "ni": f"ni:///sha-256;{_b64url(bytes.fromhex(basis.text_sha256))}",
        "effective_from": _utc(shown.takes_effect) if shown is not None else None,
    }


def _event(
    index: int, state: rules.StateOfConsent, subject_id: SubjectId, operator: object, absent: dict[str, str]
) -> dict[str, object]:
    entry = state.entry
    ended = state.state in {ConsentState.EXPIRED, ConsentState.INVALIDATED}
    event_type: str | None = None
    if isinstance(entry, Acceptance) and not ended:
        event_type = CONSENT_TYPE.get(ConsentMethod(entry.method), "dpv:ExpressedConsent")
    elif isinstance(entry, (Withdrawal, ConsentRefusal)):
        event_type = "dpv:ExplicitlyExpressedConsent"
    elif ended:
        event_type = CONSENT_TYPE.get(ConsentMethod(getattr(entry, "method", "registration")), "dpv:ExpressedConsent")
    else:
        absent[f"events[{index}].event_type"] = WHY_NO_TYPE
    duration: str | None = "PT0S"
    if state.state.valid:
        until = getattr(entry, "valid_until", None)
        duration = None if until is None else _duration(until - state.since)
        if until is None:
            absent[f"events[{index}].validity_duration"] = WHY_NO_TERM
    by_representative = getattr(entry, "actor", Actor.SUBJECT) == Actor.LEGAL_REPRESENTATIVE
    entity: object = f"legal representative of {subject_id}" if by_representative else subject_id
    if ended or isinstance(entry, ConsentRequest):
        entity = operator
    found: dict[str, Any] = {
        "event_time": _utc(state.since),
        "validity_duration": duration,
        "entity_id": entity,
        "event_type": event_type,
        "event_state": state.state.dpv,
        "state": state.state.value,
        "entry": entry.number,
        "recorded_at": _utc(entry.recorded_at),
    }
    if state.invalidated_by is not None:
        found["invalidated_by_version"] = state.invalidated_by.version
    return found


def _utc(moment: datetime) -> str:
    """ISO 8601 in UTC, as 27560 asks of `event_time`."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _duration(span: timedelta) -> str:
    """An ISO 8601 duration in days and seconds (`P30DT0S`)."""
    seconds = int(span.total_seconds())
    days, rest = divmod(max(seconds, 0), 86_400)
    return f"P{days}DT{rest}S"


def _b64url(raw: bytes) -> str:
    import base64  # noqa: PLC0415  (used only here)

    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
