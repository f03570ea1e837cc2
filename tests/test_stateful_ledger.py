"""Random command sequences against a plain model of the rules: the ledger accepts and refuses as the model does.

The model below is written from DOMAIN.md and the policy, in plain Python; it shares no code with
`ledger.rules`. After every step the log holds exactly the events of the commands the model
accepted, and each subject's record has the entries the model expects, in order.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from conftest import FakeClock
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ledger.application import Request, open_ledger, text_sha256
from ledger.errors import (
    InvalidFact,
    LedgerError,
    NoGroundForDisclosure,
    NotFound,
    NothingToAct,
    PolicyVersionConflict,
    SubjectBlocked,
    SubjectDestroyed,
)
from ledger.policy import PolicyVersion
from ledger.sealing import new_master_key, parse_master_key
from ledger.storage import Database
from ledger.subject_facts import (
    Acceptance,
    Block,
    BlockLift,
    Correction,
    Destruction,
    Disclosure,
    Permission,
    Retraction,
    Withdrawal,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from ledger.application import Receipt

POLICY = "qlever-privacy"
MANDATORY = frozenset({"4.1.1", "4.1.2", "4.1.3"})
OPTIONAL = "4.1.6"
DELIVERY = frozenset({"courier", "postal", "telecom"})
RETRACTABLE = {"consent", "withdrawal", "permission", "disclosure", "correction"}
ENTRY_NAMES = {
    "consent": "ConsentGranted",
    "withdrawal": "ConsentWithdrawn",
    "permission": "WrittenPermissionGranted",
    "disclosure": "DataDisclosed",
    "block": "DataBlocked",
    "lift": "BlockLifted",
    "correction": "DataCorrected",
    "destruction": "DataDestroyed",
    "retraction": "EntryRetracted",
}
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATE = 12
"""Destruction ends a record, so it comes only this many steps in: the record is exercised first."""
CALLER = Request("stateful-test")


# The model: versions and subjects as plain records, the rules as plain loops.


@dataclass
class Version:
    """What the model remembers of a published version."""

    text: str
    categories: frozenset[str]
    effective_from: datetime
    posted_at: datetime


@dataclass
class Entry:
    """One line of a subject's record in the model."""

    number: int
    kind: str
    at: datetime
    terms: dict[str, Any] = field(default_factory=dict)


@dataclass
class SubjectRecord:
    """A subject's record in the model: how many events it has, and its entries."""

    events: int = 0
    entries: list[Entry] = field(default_factory=list)

    def live(self) -> list[Entry]:
        """Entries not struck out by a retraction."""
        struck = {e.terms["number"] for e in self.entries if e.kind == "retraction"}
        return [e for e in self.entries if e.number not in struck]

    def destroyed(self) -> bool:
        """Whether the subject's data were destroyed."""
        return any(e.kind == "destruction" for e in self.entries)

    def consent_at(self, at: datetime) -> tuple[Entry, frozenset[str]] | None:
        """The latest consent by `at`, less purposes withdrawn since, unless expired."""
        standing: tuple[Entry, frozenset[str]] | None = None
        for e in sorted(self.live(), key=lambda e: (e.at, e.number)):
            if e.at > at:
                continue
            if e.kind == "consent":
                standing = (e, e.terms["purposes"])
            elif e.kind == "withdrawal" and standing is not None:
                left = standing[1] - e.terms["purposes"] if e.terms["purposes"] else frozenset()
                standing = (standing[0], left) if left else None
        until = None if standing is None else standing[0].terms["valid_until"]
        if until is not None and until <= at:
            return None
        return standing

    def blocks_at(self, at: datetime) -> set[str]:
        """Blocks requested by `at` and not lifted by then."""
        lifted = {e.terms["id"] for e in self.entries if e.kind == "lift" and e.at <= at}
        return {e.terms["id"] for e in self.entries if e.kind == "block" and e.at <= at} - lifted

    def permission_at(self, permission_id: str, at: datetime) -> Entry | None:
        """The written permission with this id given by `at`, if any."""
        given = [e for e in self.live() if e.kind == "permission" and e.terms["id"] == permission_id and e.at <= at]
        return max(given, key=lambda e: (e.at, e.number), default=None)


# The machine.

subjects = st.sampled_from(["subject-1", "subject-2"])
backs = st.sampled_from([timedelta(0), timedelta(0), timedelta(hours=1), timedelta(days=2)])
"""How long before the ledger's clock a fact is stated to have happened (0: not stated)."""
mostly = st.sampled_from([True, True, True, False])
"""A condition that usually holds, so that sequences get past it and reach the later rules."""
terms = st.sampled_from([None, None, timedelta(days=1)])
"""How long a consent is valid: a day lands on the clock's own steps, so the moment it ends gets tested."""
EVERY_CATEGORY = frozenset({*DELIVERY, "other", "state_authority"})
CATEGORY_SETS = [DELIVERY, DELIVERY, frozenset({"courier"}), frozenset(), EVERY_CATEGORY]
"""Recipients a version may allow: the delivery ones, fewer, none, or more than clause 5.2 lets an order use."""


class LedgerMachine(RuleBasedStateMachine):
    """Commands drawn at random, each checked against the model before its outcome is seen."""

    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.mkdtemp(prefix="stateful-ledger-")
        self.clock = FakeClock(START)
        database = Database.from_url(f"sqlite:///{self.folder}/ledger.db")
        self.ledger = open_ledger(database, parse_master_key(new_master_key()), self.clock)
        self.versions: dict[str, Version] = {}
        self.subjects: dict[str, SubjectRecord] = {}
        self.expected_events = 0
        self.steps = 0

    def teardown(self) -> None:
        self.ledger.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    # Helpers.

    def at(self, back: timedelta) -> datetime | None:
        return None if not back else self.clock.now - back

    def subject(self, name: str) -> SubjectRecord:
        return self.subjects.get(name, SubjectRecord())

    def attempt(self, step: str, refusals: set[type[LedgerError]], command: Callable[[], Receipt]) -> Receipt | None:
        """Run the command: it must succeed if `refusals` is empty, else raise one of them."""
        self.steps += 1
        if not refusals:
            event(f"{step}: accepted")
            return command()
        with pytest.raises(tuple(refusals)) as refused:
            command()
        event(f"{step}: {type(refused.value).__name__}")
        return None

    def record(self, name: str, kind: str, back: timedelta, **terms: Any) -> None:
        """The model's side of an accepted subject command."""
        record = self.subjects.setdefault(name, SubjectRecord())
        if record.events == 0:
            record.events = 1  # the record is opened by its first fact
            self.expected_events += 1
        record.events += 1
        self.expected_events += 1
        record.entries.append(Entry(record.events, kind, self.clock.now - back, terms))

    # Policy versions (clauses 9.1, 9.2).

    @initialize(categories=st.sampled_from([DELIVERY, *CATEGORY_SETS]), third_parties=st.booleans(), term=terms)
    def a_version_two_consents_and_a_permission(
        self,
        *,
        categories: frozenset[str],
        third_parties: bool,
        term: timedelta | None,
    ) -> None:
        """Start where most rules have something to judge; the same checks apply to these steps."""
        self.publish(version="1", text="a", categories=categories, starts_in=None)
        self.consent(
            name="subject-1",
            version="1",
            back=timedelta(0),
            opt_in=False,
            shown_right_text=True,
            third_parties=True,
            term=None,
        )
        self.consent(
            name="subject-2",
            version="1",
            back=timedelta(0),
            opt_in=True,
            shown_right_text=True,
            third_parties=third_parties,
            term=term,
        )
        self.permit(
            name="subject-1",
            permission_id="p1",
            recipient="R1",
            category="other",
            purpose="survey",
            lasts=False,
            back=timedelta(0),
        )
        self.clock.advance(days=3)  # so that facts stated to have happened earlier still come after these

    @rule(
        version=st.sampled_from(["1", "2", "3"]),
        text=st.sampled_from(["a", "b"]),
        categories=st.sampled_from(CATEGORY_SETS),
        starts_in=st.sampled_from([None, timedelta(days=1), timedelta(days=5)]),
    )
    def publish(self, *, version: str, text: str, categories: frozenset[str], starts_in: timedelta | None) -> None:
        effective = None if starts_in is None else self.clock.now + starts_in
        known = self.versions.get(version)
        refusals: set[type[LedgerError]] = set()
        if known is not None and (
            known.text != text
            or known.categories != categories
            or (effective is not None and effective != known.effective_from)
        ):
            refusals.add(PolicyVersionConflict)
        receipt = self.attempt(
            "publish",
            refusals,
            lambda: self.ledger.record(
                CALLER,
                PolicyVersion(
                    policy_id=POLICY,
                    version=version,
                    text_sha256={"en": text_sha256(f"v{version} {text}")},
                    purposes=MANDATORY | {OPTIONAL},
                    optional_purposes=frozenset({OPTIONAL}),
                    recipient_categories=categories,
                    effective_from=effective,
                ),
            ),
        )
        if receipt is None:
            return
        if known is not None:
            assert receipt.replayed, "republishing an identical version must record nothing"
            return
        self.expected_events += 2 if not self.versions else 1  # the first version adopts the policy
        self.versions[version] = Version(text, categories, effective or self.clock.now, self.clock.now)

    # Consent and withdrawal (clauses 2.1, 2.2, 4.1.6; Art. 8).

    @rule(
        name=subjects,
        version=st.sampled_from(["1", "1", "2", "3"]),
        back=backs,
        opt_in=st.booleans(),
        shown_right_text=mostly,
        third_parties=mostly,
        term=terms,
    )
    def consent(
        self,
        *,
        name: str,
        version: str,
        back: timedelta,
        opt_in: bool,
        shown_right_text: bool,
        third_parties: bool,
        term: timedelta | None,
    ) -> None:
        at = self.clock.now - back
        chosen = self.versions.get(version)
        refusals: set[type[LedgerError]] = set()
        if chosen is None:
            refusals.add(NotFound)
        else:
            if self.subject(name).destroyed():
                refusals.add(SubjectDestroyed)
            superseded = any(
                other.effective_from > chosen.effective_from and other.effective_from <= at
                for other in self.versions.values()
            )
            if at < chosen.posted_at or superseded or not shown_right_text:
                refusals.add(InvalidFact)
        shown = f"v{version} {chosen.text if chosen else 'a'}" if shown_right_text else "some other text"
        valid_until = None if term is None else self.clock.now + term
        receipt = self.attempt(
            "consent",
            refusals,
            lambda: self.ledger.record(
                CALLER,
                Acceptance(
                    subject_id=name,
                    policy_id=POLICY,
                    policy_version=version,
                    language="en",
                    text_sha256=text_sha256(shown),
                    method="app_use",
                    channel="app",
                    optional_purposes=frozenset({OPTIONAL}) if opt_in else frozenset(),
                    data_categories=frozenset({"contact", "address"}),
                    third_parties=third_parties,
                    valid_until=valid_until,
                    evidence="ip=10.0.0.1",
                ),
                self.at(back),
            ),
        )
        if receipt is not None:
            purposes = MANDATORY | {OPTIONAL} if opt_in else MANDATORY
            self.record(
                name,
                "consent",
                back,
                version=version,
                purposes=purposes,
                third_parties=third_parties,
                valid_until=valid_until,
            )

    @rule(name=subjects, which=st.sampled_from(["all", "4.1.2", OPTIONAL]), back=backs)
    def withdraw(self, *, name: str, which: str, back: timedelta) -> None:
        at = self.clock.now - back
        record = self.subject(name)
        purposes = frozenset() if which == "all" else frozenset({which})
        refusals: set[type[LedgerError]] = set()
        if record.destroyed():
            refusals.add(SubjectDestroyed)
        else:
            standing = record.consent_at(at)
            if standing is None or not purposes <= standing[1]:
                refusals.add(NothingToAct)
        receipt = self.attempt(
            "withdraw",
            refusals,
            lambda: self.ledger.record(
                CALLER, Withdrawal(subject_id=name, policy_id=POLICY, purposes=purposes, channel="app"), self.at(back)
            ),
        )
        if receipt is not None:
            self.record(name, "withdrawal", back, purposes=purposes)

    # Written permission and disclosure (clauses 5.2, 6.2.2; Art. 9).

    @rule(
        name=subjects,
        permission_id=st.sampled_from(["p1", "p2"]),
        recipient=st.sampled_from(["R1", "R2"]),
        category=st.sampled_from(["other", "courier"]),
        purpose=st.sampled_from(["survey", "ads"]),
        lasts=st.booleans(),
        back=backs,
    )
    def permit(
        self,
        *,
        name: str,
        permission_id: str,
        recipient: str,
        category: str,
        purpose: str,
        lasts: bool,
        back: timedelta,
    ) -> None:
        record = self.subject(name)
        refusals: set[type[LedgerError]] = set()
        if record.destroyed():
            refusals.add(SubjectDestroyed)
        elif any(e.kind == "permission" and e.terms["id"] == permission_id for e in record.live()):
            refusals.add(InvalidFact)
        until = None if lasts else self.clock.now - back + timedelta(days=1)
        receipt = self.attempt(
            "permit",
            refusals,
            lambda: self.ledger.record(
                CALLER,
                Permission(
                    subject_id=name,
                    permission_id=permission_id,
                    recipient=recipient,
                    recipient_category=category,
                    purpose=purpose,
                    document="scan",
                    valid_until=until,
                ),
                self.at(back),
            ),
        )
        if receipt is not None:
            self.record(
                name,
                "permission",
                back,
                id=permission_id,
                recipient=recipient,
                category=category,
                purpose=purpose,
                valid_from=self.clock.now - back,
                valid_until=until,
            )

    @rule(
        name=subjects,
        category=st.sampled_from(["courier", "courier", *sorted(EVERY_CATEGORY)]),
        purpose=st.sampled_from(["4.1.1", "4.1.1", OPTIONAL]),
        back=backs,
    )
    def fulfil_order(self, *, name: str, category: str, purpose: str, back: timedelta) -> None:
        at = self.clock.now - back
        record = self.subject(name)
        refusals: set[type[LedgerError]] = set()
        if record.destroyed():
            refusals.add(SubjectDestroyed)
        elif record.blocks_at(at):
            refusals.add(SubjectBlocked)
        else:
            standing = record.consent_at(at)
            allowed = (
                category in DELIVERY
                and standing is not None
                and category in self.versions[standing[0].terms["version"]].categories
                and purpose in standing[1]
                and standing[0].terms["third_parties"]
            )
            if not allowed:
                refusals.add(NoGroundForDisclosure)
        self.disclose(
            name, refusals, back, category=category, purpose=purpose, ground="order_fulfilment", reference="order-1"
        )

    @rule(
        name=subjects,
        category=st.sampled_from(["state_authority", "state_authority", "courier"]),
        reference=st.sampled_from(["", "req-1", "req-1"]),
        back=backs,
    )
    def answer_state_request(self, *, name: str, category: str, reference: str, back: timedelta) -> None:
        record = self.subject(name)
        refusals: set[type[LedgerError]] = set()
        if record.destroyed():
            refusals.add(SubjectDestroyed)
        elif category != "state_authority" or not reference:
            refusals.add(NoGroundForDisclosure)
        flagged = bool(record.blocks_at(self.clock.now - back))
        receipt = self.disclose(
            name,
            refusals,
            back,
            category=category,
            purpose="investigation",
            ground="state_request",
            reference=reference,
        )
        if receipt is not None:
            stored = self.ledger.subject_facts(name)[-1]
            assert stored.fields["flagged_while_blocked"] is flagged

    @rule(
        name=subjects,
        permission_id=st.sampled_from(["p1", "p2"]),
        recipient=st.sampled_from(["R1", "R2"]),
        category=st.sampled_from(["other", "courier"]),
        purpose=st.sampled_from(["survey", "ads"]),
        back=backs,
        as_permitted=mostly,
    )
    def disclose_with_permission(
        self,
        *,
        name: str,
        permission_id: str,
        recipient: str,
        category: str,
        purpose: str,
        back: timedelta,
        as_permitted: bool,
    ) -> None:
        at = self.clock.now - back
        record = self.subject(name)
        permissions = [e for e in record.entries if e.kind == "permission"]
        if as_permitted and permissions:  # usually disclose what a permission names, so that some are allowed
            terms = permissions[-1].terms
            permission_id, recipient = terms["id"], terms["recipient"]
            category, purpose = terms["category"], terms["purpose"]
        refusals: set[type[LedgerError]] = set()
        if record.destroyed():
            refusals.add(SubjectDestroyed)
        elif record.blocks_at(at):
            refusals.add(SubjectBlocked)
        else:
            permission = record.permission_at(permission_id, at)
            covered = permission is not None and (
                (permission.terms["recipient"], permission.terms["category"], permission.terms["purpose"])
                == (recipient, category, purpose)
                and permission.terms["valid_from"] <= at
                and (permission.terms["valid_until"] is None or at < permission.terms["valid_until"])
            )
            if not covered:
                refusals.add(NoGroundForDisclosure)
        self.disclose(
            name,
            refusals,
            back,
            category=category,
            purpose=purpose,
            ground="written_permission",
            reference=permission_id,
            recipient=recipient,
        )

    def disclose(
        self,
        name: str,
        refusals: set[type[LedgerError]],
        back: timedelta,
        *,
        category: str,
        purpose: str,
        ground: str,
        reference: str,
        recipient: str = "R1",
    ) -> Receipt | None:
        receipt = self.attempt(
            f"disclose on {ground}",
            refusals,
            lambda: self.ledger.record(
                CALLER,
                Disclosure(
                    subject_id=name,
                    recipient=recipient,
                    recipient_category=category,
                    purpose=purpose,
                    data_categories=frozenset({"address"}),
                    ground=ground,
                    reference=reference,
                ),
                self.at(back),
            ),
        )
        if receipt is not None:
            self.record(name, "disclosure", back)
        return receipt

    # Blocks, corrections, destruction (clauses 6.2.4, 6.1.2, 5.3; Art. 1(3)).

    @rule(name=subjects, block_id=st.sampled_from(["b1", "b2"]), back=backs)
    def block(self, *, name: str, block_id: str, back: timedelta) -> None:
        record = self.subject(name)
        refusals: set[type[LedgerError]] = set()
        if record.destroyed():
            refusals.add(SubjectDestroyed)
        elif any(e.kind == "block" and e.terms["id"] == block_id for e in record.entries):
            refusals.add(InvalidFact)
        receipt = self.attempt(
            "block",
            refusals,
            lambda: self.ledger.record(
                CALLER,
                Block(subject_id=name, block_id=block_id, requester="subject", ground="inaccurate_data"),
                self.at(back),
            ),
        )
        if receipt is not None:
            self.record(name, "block", back, id=block_id)

    @rule(name=subjects, block_id=st.sampled_from(["b1", "b2"]), back=backs)
    def lift(self, *, name: str, block_id: str, back: timedelta) -> None:
        at = self.clock.now - back
        record = self.subject(name)
        refusals: set[type[LedgerError]] = set()
        if record.events == 0:
            refusals.add(NotFound)
        elif record.destroyed():
            refusals.add(SubjectDestroyed)
        elif block_id not in record.blocks_at(at) or any(
            e.kind == "lift" and e.terms["id"] == block_id for e in record.entries
        ):
            refusals.add(NothingToAct)
        receipt = self.attempt(
            "lift",
            refusals,
            lambda: self.ledger.record(
                CALLER, BlockLift(subject_id=name, block_id=block_id, outcome="request_unfounded"), self.at(back)
            ),
        )
        if receipt is not None:
            self.record(name, "lift", back, id=block_id)

    @rule(name=subjects, back=backs)
    def correct(self, *, name: str, back: timedelta) -> None:
        refusals: set[type[LedgerError]] = {SubjectDestroyed} if self.subject(name).destroyed() else set()
        receipt = self.attempt(
            "correct",
            refusals,
            lambda: self.ledger.record(
                CALLER, Correction(subject_id=name, data_categories=frozenset({"address"})), self.at(back)
            ),
        )
        if receipt is not None:
            self.record(name, "correction", back)

    @precondition(lambda self: self.steps >= LATE)
    @rule(name=subjects, back=backs)
    def destroy(self, *, name: str, back: timedelta) -> None:
        at = self.clock.now - back
        record = self.subject(name)
        refusals: set[type[LedgerError]] = set()
        if record.events == 0:
            refusals.add(NotFound)
        elif record.destroyed():
            refusals.add(SubjectDestroyed)
        else:
            latest = max((e.at for e in record.live()), default=at)
            if record.blocks_at(max(at, latest)):
                refusals.add(SubjectBlocked)
            elif at < latest:
                refusals.add(InvalidFact)
        receipt = self.attempt(
            "destroy",
            refusals,
            lambda: self.ledger.record(CALLER, Destruction(subject_id=name, ground="subject_request"), self.at(back)),
        )
        if receipt is not None:
            self.record(name, "destruction", back)
            assert self.ledger.subject_facts(name)[1].fields.get("evidence") is None

    # Retraction: a mistake struck out by number.

    @rule(name=subjects, data=st.data())
    def retract(self, *, name: str, data: st.DataObject) -> None:
        record = self.subject(name)
        struck = [e.terms["number"] for e in record.entries if e.kind == "retraction"]
        numbers = [1, record.events + 1, *(e.number for e in record.entries), *struck]  # opening, none, entry, again
        number = data.draw(st.sampled_from(numbers), label="number")
        target = next((e for e in record.entries if e.number == number), None)
        refusals: set[type[LedgerError]] = set()
        if record.events == 0:
            refusals.add(NotFound)
        elif record.destroyed():
            refusals.add(SubjectDestroyed)
        elif target is None or target.kind not in RETRACTABLE or target not in record.live():
            refusals.add(NothingToAct)
        receipt = self.attempt(
            "retract",
            refusals,
            lambda: self.ledger.record(
                CALLER, Retraction(subject_id=name, retracted_number=number, reason="recorded by mistake")
            ),
        )
        if receipt is not None:
            self.record(name, "retraction", timedelta(0), number=number)

    # Time passes.

    @precondition(lambda self: self.clock.now < START + timedelta(days=60))
    @rule(hours=st.sampled_from([1, 24, 24, 240]))
    def advance_clock(self, *, hours: int) -> None:
        self.clock.advance(hours=hours)

    # What must hold after every step.

    @invariant()
    def the_log_holds_exactly_the_accepted_facts(self) -> None:
        assert sum(1 for _ in self.ledger.iter_positions()) == self.expected_events

    @invariant()
    def each_record_has_the_entries_the_model_expects(self) -> None:
        for name, record in self.subjects.items():
            entries = self.ledger.subject(name).entries
            assert [type(e).__name__ for e in entries] == [ENTRY_NAMES[e.kind] for e in record.entries]
            assert [e.occurred_at for e in entries] == [e.at for e in record.entries]


LedgerMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
test_random_command_sequences_follow_the_model = LedgerMachine.TestCase
