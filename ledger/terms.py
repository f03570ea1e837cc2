"""The vocabulary of the policy and the law: identifiers and the closed lists of values.

Closed lists are `StrEnum`s so that a typo is refused at the edge, and so that stored events
carry the operator's words, not numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum, StrEnum
from typing import Annotated, NewType, TypeVar

from ledger.errors import InvalidFact

E = TypeVar("E", bound=StrEnum)

SubjectId = NewType("SubjectId", str)
"""A pseudonymous id chosen by the operator; never a name, phone or e-mail."""

PolicyId = NewType("PolicyId", str)
"""The operator's name for one privacy policy, e.g. ``qlever-privacy``."""

Purpose = NewType("Purpose", str)
"""A purpose of processing as the policy numbers it, e.g. ``4.1.1`` (clause 4)."""

DataCategory = NewType("DataCategory", str)
"""A category of personal data, e.g. ``contact``, ``address`` (never the values)."""


class Language(StrEnum):
    """Languages a policy text is published in (clause 9.1)."""

    KK = "kk"
    RU = "ru"
    EN = "en"


class RecipientCategory(StrEnum):
    """Who receives personal data (clause 5.2)."""

    COURIER = "courier"
    POSTAL = "postal"
    TELECOM = "telecom"
    STATE_AUTHORITY = "state_authority"
    OTHER = "other"


ORDER_FULFILMENT_RECIPIENTS = frozenset(
    {RecipientCategory.COURIER, RecipientCategory.POSTAL, RecipientCategory.TELECOM}
)
"""Clause 5.2: the only recipients an order may be fulfilled through."""


class ConsentMethod(StrEnum):
    """How consent was given (clauses 2.1, 3.1; Art. 8(1))."""

    APP_USE = "app_use"
    REGISTRATION = "registration"
    ORDER_CHECKOUT = "order_checkout"
    WRITTEN = "written"


class Channel(StrEnum):
    """Where a consent, withdrawal or notice travelled (Art. 8(1))."""

    APP = "app"
    SITE = "site"
    PAPER = "paper"
    STATE_CONSENT_SERVICE = "state_consent_service"
    NON_STATE_SERVICE = "non_state_service"
    EMAIL = "email"
    SMS = "sms"
    OTHER = "other"


class Actor(StrEnum):
    """Who acted for the subject (Art. 8(7)): the subject or their legal representative."""

    SUBJECT = "subject"
    LEGAL_REPRESENTATIVE = "legal_representative"


class DisclosureGround(StrEnum):
    """The legal ground a disclosure rests on (clauses 5.2, 6.2.2; Art. 9)."""

    ORDER_FULFILMENT = "order_fulfilment"
    STATE_REQUEST = "state_request"
    WRITTEN_PERMISSION = "written_permission"


class BlockRequester(StrEnum):
    """Who asked for a block (clause 6.2.4; Art. 27(2), 27-1(1)(5))."""

    SUBJECT = "subject"
    LEGAL_REPRESENTATIVE = "legal_representative"
    AUTHORISED_BODY = "authorised_body"
    AKIMAT = "akimat"


class BlockGround(StrEnum):
    """Why data were blocked (clause 6.2.4)."""

    INACCURATE_DATA = "inaccurate_data"
    UNLAWFUL_PROCESSING = "unlawful_processing"


class BlockOutcome(StrEnum):
    """What the verification found when a block was lifted (clause 6.2.4)."""

    DATA_CORRECTED = "data_corrected"
    REQUEST_UNFOUNDED = "request_unfounded"
    DATA_DESTROYED = "data_destroyed"


class DestructionGround(StrEnum):
    """Why data were destroyed (clause 5.3; Art. 1(6), 18)."""

    PURPOSE_ACHIEVED = "purpose_achieved"
    RETENTION_ENDED = "retention_ended"
    SUBJECT_REQUEST = "subject_request"
    RELATIONSHIP_ENDED = "relationship_ended"
    COURT_DECISION = "court_decision"
    COLLECTED_WITHOUT_CONSENT = "collected_without_consent"


class ClaimOutcome(StrEnum):
    """The result of reviewing a pre-trial claim (clause 8.2)."""

    SATISFIED = "satisfied"
    PARTLY_SATISFIED = "partly_satisfied"
    REJECTED = "rejected"


class RequestKind(StrEnum):
    """What a subject (or their representative) asked the operator to do; each starts a legal deadline."""

    ACCESS = "access"
    """Art. 24, 25(2)(6): what is held, why, for how long."""
    CORRECTION = "correction"
    """Art. 25(2)(8): correct data, within 1 working day."""
    BLOCKING = "blocking"
    """Art. 25(2)(8): block data, within 1 working day."""
    DESTRUCTION = "destruction"
    """Art. 25(2)(8): destroy data, within 1 working day."""
    WITHDRAWAL = "withdrawal"
    """Art. 8(7): stop processing or refuse with reasons, within 15 working days."""
    OBJECTION = "objection"
    """Art. 19-1: answer an objection to an automated decision, within 3 working days."""


class ConsentState(StrEnum):
    """Where a subject's consent to a policy stands: the W3C DPV consent states the ledger can tell apart."""

    REQUESTED = "requested"
    """A prompt was shown and not yet answered (dpv:ConsentRequested)."""
    REFUSED = "refused"
    """The subject refused at a prompt (dpv:ConsentRefused)."""
    GIVEN = "given"
    """Consent given and valid (dpv:ConsentGiven)."""
    RENEWED = "renewed"
    """Consent given again, for another version than the one before it (dpv:RenewedConsentGiven)."""
    WITHDRAWN = "withdrawn"
    """Every purpose withdrawn (dpv:ConsentWithdrawn; Art. 8(7))."""
    EXPIRED = "expired"
    """Its `valid_until` passed (dpv:ConsentExpired; Art. 8(5))."""
    INVALIDATED = "invalidated"
    """A later version that requires re-consent took effect (dpv:ConsentInvalidated)."""

    @property
    def dpv(self) -> str:
        """The DPV concept, as a compact IRI (`dpv:ConsentGiven`)."""
        return DPV_STATES[self]

    @property
    def valid(self) -> bool:
        """Whether processing may rest on it (DPV: only given and renewed consent are valid)."""
        return self in {ConsentState.GIVEN, ConsentState.RENEWED}


DPV_STATES = {
    ConsentState.REQUESTED: "dpv:ConsentRequested",
    ConsentState.REFUSED: "dpv:ConsentRefused",
    ConsentState.GIVEN: "dpv:ConsentGiven",
    ConsentState.RENEWED: "dpv:RenewedConsentGiven",
    ConsentState.WITHDRAWN: "dpv:ConsentWithdrawn",
    ConsentState.EXPIRED: "dpv:ConsentExpired",
    ConsentState.INVALIDATED: "dpv:ConsentInvalidated",
}
"""Each state's W3C DPV concept (namespace `https://w3id.org/dpv#`)."""


class RequestOutcome(StrEnum):
    """How a subject's request was met."""

    DONE = "done"
    ANSWERED = "answered"
    REFUSED = "refused"


@dataclass(frozen=True)
class Sealed:
    """A personal value encrypted with its subject's key (AES-GCM, base64).

    Events hold only this, so destroying the subject's key makes the value unreadable
    while the event, and every hash over it, stays as it was recorded.
    """

    ciphertext: str


def one_of(kind: type[E], value: object, name: str) -> E:
    """The member of a closed list that `value` names: a word outside it is refused, never stored unreadable."""
    if isinstance(value, str) and value in kind._value2member_map_:  # the enum's own index of its values
        return kind(value)
    allowed = ", ".join(kind)
    msg = f"{name} {value!r} is not one of: {allowed}"
    raise InvalidFact(msg)


# How stated values are bounded: declared here with the vocabulary, checked where facts come in.


@dataclass(frozen=True)
class Bounds:
    """How long a stated text may be and which characters it may hold; checked where facts come in."""

    max_length: int
    min_length: int = 1
    pattern: str | None = None


@dataclass(frozen=True)
class Count:
    """How many items a stated set may hold."""

    max_items: int
    min_items: int = 0


@dataclass(frozen=True)
class Range:
    """The least and greatest a stated number may be."""

    least: int
    most: int


@dataclass(frozen=True)
class Given:
    """The name a writer gives a field, where the name it is stored under differs (kept for stored events)."""

    name: str


class Mark(Enum):
    """What a field is beyond its type."""

    SEALED = "sealed"
    """A personal value: sealed with its subject's key, so destroying the key destroys it."""
    DECIDED = "decided"
    """Filled in by the ledger's decision (e.g. the legal basis found), never stated by a writer."""


SEALED = Mark.SEALED
DECIDED = Mark.DECIDED


NOT_ON_ONE_LINE = r"\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
"""What a single-line value may not hold: C0 and C1 controls, the line and paragraph separators
(U+2028, U+2029), and the bidirectional embeddings, overrides and isolates (U+202A-U+202E,
U+2066-U+2069), which make a name read otherwise than it is stored (`abc\u202efdp.exe`)."""

ONE_LINE = f"^[^{NOT_ON_ONE_LINE}]*$"
"""No control or layout characters at all: names, channels, references."""

FREE_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
"""Tabs and line breaks allowed (and the layout of text written right to left): reasons, documents, evidence."""

_PATH_CHAR = f"[^/{NOT_ON_ONE_LINE}]"
IN_A_PATH = f"^(?:{_PATH_CHAR}{{3,}}|[^./{NOT_ON_ONE_LINE}]{_PATH_CHAR}?|\\.[^./{NOT_ON_ONE_LINE}])$"
"""Ids that later name a resource in a URL: no `/`, and not `.` or `..` (clients resolve those away), on one line."""

MAX_ITEMS = 100
"""The most purposes or categories one fact may list."""

Name = Annotated[str, Bounds(200, pattern=ONE_LINE)]
"""A short single-line value: a recipient, a reference number, a court case."""

Text = Annotated[str, Bounds(4000, pattern=FREE_TEXT)]
"""Free text a person wrote: a reason, a document reference, evidence of consent."""

Ref = Annotated[str, Bounds(200, pattern=IN_A_PATH)]
"""An operator's reference that also names something in a URL (a block, a breach, a claim)."""

SubjectRef = Annotated[SubjectId, Bounds(200, pattern=IN_A_PATH)]
"""A pseudonymous subject id as the operator chose it; never a name, phone or e-mail."""

PolicyRef = Annotated[PolicyId, Bounds(200, pattern=IN_A_PATH)]
"""The operator's name for a policy."""

PurposeCode = Annotated[Purpose, Bounds(50, pattern=ONE_LINE)]
"""A purpose of processing as the policy numbers it, e.g. `4.1.1` (clause 4)."""

CategoryCode = Annotated[DataCategory, Bounds(100, pattern=ONE_LINE)]
"""A category of personal data, e.g. `contact` (never the values)."""

Sha256Hex = Annotated[str, Bounds(64, 64, r"^[0-9a-f]{64}$")]
"""SHA-256 of a policy text's exact UTF-8 bytes, as 64 lowercase hex digits (clause 9.1)."""

Purposes = Annotated[frozenset[PurposeCode], Count(MAX_ITEMS)]
"""Purposes named by a fact; each once."""

Categories = Annotated[frozenset[CategoryCode], Count(MAX_ITEMS, 1)]
"""Data categories named by a fact: at least one, each once."""

Personal = Annotated[str, Bounds(4000, pattern=FREE_TEXT), SEALED]
"""A personal value a person wrote (evidence, a representative, a document): sealed with the subject's key."""

EntryNumber = Annotated[int, Range(1, 2**53)]
"""The number of an entry on a subject's record, as `GET .../facts` shows it."""

Moment = datetime
"""A time with its UTC offset: the edge refuses naive times, and times outside 1900-01-01 .. 9998-12-31."""
