"""Property: for any history, the DPV state of a consent at T as known at R equals a plain replay of the events.

Histories mix prompts, refusals, consents to either version (some with a term), withdrawals of
some or all purposes, retractions, late-recorded facts, and a second version that requires
re-consent and takes effect some days after it is posted. The reference walks the stored events
(not the entries the rules read) and works the states out its own way: every moment a state can
change is listed up front, expiries and invalidations included, then played in order.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import FakeClock
from given import POLICY, SERVICE, TEXTS, sha
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ledger.application import ConsentLedger, Request, open_ledger, text_sha256
from ledger.errors import LedgerError
from ledger.policy import PolicyVersion
from ledger.sealing import new_master_key, parse_master_key
from ledger.storage import Database
from ledger.subject import subject_key
from ledger.subject_facts import Acceptance, ConsentRefusal, ConsentRequest, Retraction, Withdrawal
from ledger.terms import DataCategory, Purpose, RecipientCategory, SubjectId
from projections.keeper import ViewKeeper, open_view
from projections.questions import LedgerQuestions

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
ANNA = SubjectId("anna")
PURPOSES = frozenset({Purpose("4.1.1"), Purpose("4.1.3"), Purpose("4.1.6")})


@dataclass(frozen=True)
class Step:
    kind: str
    hour: int  # occurred_at = EPOCH + hours
    lag: int  # the clock moves this many hours before the step is recorded
    arg: int


steps = st.lists(
    st.builds(
        Step,
        kind=st.sampled_from(["prompt", "prompt", "refuse", "refuse", "consent", "consent", "withdraw", "retract"]),
        hour=st.integers(0, 24 * 20),
        lag=st.integers(0, 48),
        arg=st.integers(0, 5),
    ),
    min_size=2,
    max_size=25,
)


def publish(ledger: ConsentLedger, version: str, at: datetime, effective_from: datetime, *, reconsent: bool) -> None:
    ledger.record(
        Request("privacy-officer"),
        PolicyVersion(
            policy_id=POLICY,
            version=version,
            text_sha256={lang: text_sha256(text) for lang, text in TEXTS[version].items()},
            purposes=PURPOSES,
            optional_purposes=frozenset({Purpose("4.1.6")}),
            recipient_categories=frozenset({RecipientCategory.COURIER}),
            effective_from=effective_from,
            reconsent_required=reconsent,
        ),
        at,
    )


def run(ledger: ConsentLedger, clock: FakeClock, history: list[Step], v2_day: int) -> None:
    """Record the history; steps a rule refuses are simply not recorded."""
    publish(ledger, "1", EPOCH - timedelta(days=30), EPOCH - timedelta(days=30), reconsent=False)
    posted, takes_effect = EPOCH + timedelta(days=v2_day - 1), EPOCH + timedelta(days=v2_day)
    prompts = 0
    for step in history:
        clock.advance(hours=step.lag)
        if posted is not None and clock.now >= posted:  # posted while the history goes on, announced a day ahead
            publish(ledger, "2", posted, takes_effect, reconsent=True)
            posted = None
        at = min(EPOCH + timedelta(hours=step.hour), clock.now)
        version = "2" if step.arg % 2 else "1"
        try:
            record(ledger, step, at, version, prompts)
        except LedgerError:
            continue
        prompts += step.kind == "prompt"


def record(ledger: ConsentLedger, step: Step, at: datetime, version: str, prompts: int) -> None:
    if step.kind == "prompt":
        fact: Any = ConsentRequest(
            subject_id=ANNA,
            prompt_id=f"p{prompts}",
            policy_id=POLICY,
            policy_version=version,
            language="en",
            text_sha256=sha(version),
            channel="app",
        )
    elif step.kind == "refuse":
        fact = ConsentRefusal(subject_id=ANNA, prompt_id=f"p{max(prompts - 1 - step.arg % 2, 0)}", channel="app")
    elif step.kind == "consent":
        fact = Acceptance(
            subject_id=ANNA,
            policy_id=POLICY,
            policy_version=version,
            language="en",
            text_sha256=sha(version),
            method="app_use",
            channel="app",
            optional_purposes=frozenset({Purpose("4.1.6")}) if step.arg > 2 else frozenset(),
            data_categories=frozenset({DataCategory("contact")}),
            valid_until=at + timedelta(hours=12 * step.arg) if step.arg in {1, 4} else None,
        )
    elif step.kind == "withdraw":
        some = frozenset({Purpose("4.1.6")}) if step.arg % 3 == 0 else frozenset()
        fact = Withdrawal(subject_id=ANNA, policy_id=POLICY, purposes=some, channel="app")
    else:
        entries = ledger.subject(ANNA).entries
        fact = Retraction(subject_id=ANNA, retracted_number=entries[-1 - step.arg % len(entries)].number, reason="x")
    ledger.record(SERVICE if step.kind != "retract" else Request("clerk"), fact, at)


# The reference.


def known_events(ledger: ConsentLedger, as_known_at: datetime) -> list[Any]:
    try:
        events = list(ledger.events.get(subject_key(ANNA)))
    except LedgerError:
        return []
    known = [e for e in events if e.timestamp <= as_known_at]
    struck = {e.retracted_number for e in known if type(e).__name__ == "EntryRetracted"}
    return [e for e in known if e.originator_version not in struck and type(e).__name__ != "Opened"]


def reference_state(ledger: ConsentLedger, at: datetime, as_known_at: datetime) -> str | None:
    versions = {v.version: v for v in ledger.policy(POLICY).versions.values() if v.recorded_at <= as_known_at}
    happenings: list[tuple[datetime, float, str, Any]] = []
    for e in known_events(ledger, as_known_at):
        kind = type(e).__name__
        if kind in {"ConsentRequested", "ConsentRefused", "ConsentGranted", "ConsentWithdrawn"}:
            happenings.append((e.occurred_at, e.originator_version, kind, e))
        if kind == "ConsentGranted":
            happenings.extend(ends_of(e, versions))
    played = Played()
    for moment, _, kind, e in sorted(happenings, key=lambda h: (h[0], h[1])):
        if moment <= at:
            played.play(kind, e)
    return played.state


@dataclass
class Played:
    """The consent as the happenings so far left it."""

    state: str | None = None
    current: Any = None
    remaining: frozenset[str] = frozenset()
    last_version: str | None = None

    def play(self, kind: str, e: Any) -> None:
        if kind in {"expired", "invalidated"}:
            if self.current is e:
                self.state, self.current = kind, None
        elif kind == "ConsentGranted":
            self.state = "renewed" if self.last_version not in (None, e.policy_version) else "given"
            self.current, self.remaining, self.last_version = e, e.purposes, e.policy_version
        elif kind == "ConsentWithdrawn" and self.current is not None:
            self.remaining = self.remaining - e.purposes if e.purposes else frozenset()
            if not self.remaining:
                self.state, self.current = "withdrawn", None
        elif kind in {"ConsentRequested", "ConsentRefused"} and self.current is None:
            self.state = "requested" if kind == "ConsentRequested" else "refused"


def ends_of(consent: Any, versions: dict[str, Any]) -> list[tuple[datetime, float, str, Any]]:
    """When this consent would stop being valid, if it is still the one standing then: the earlier end."""
    accepted = versions.get(consent.policy_version)
    candidates = []
    if consent.valid_until is not None:
        candidates.append((consent.valid_until, 0, "expired"))
    if accepted is not None:
        later = [
            v.effective_from
            for v in versions.values()
            if v.reconsent_required and v.version != accepted.version and v.effective_from > accepted.effective_from
        ]
        if later:
            candidates.append((max(min(later), consent.occurred_at), 1, "invalidated"))
    if not candidates:
        return []
    moment, _, kind = min(candidates)
    order = consent.originator_version + 0.5 if moment == consent.occurred_at else -1.0
    return [(moment, order, kind, consent)]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    history=steps,
    v2_day=st.integers(2, 30),
    probes=st.lists(st.tuples(st.integers(-24, 24 * 22), st.integers(0, 24 * 40)), min_size=4, max_size=12),
)
def test_the_state_at_t_as_known_at_r_equals_a_plain_replay(
    history: list[Step], v2_day: int, probes: list[tuple[int, int]]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        database = Database.from_url(f"sqlite:///{folder}/ledger.db")
        clock = FakeClock(EPOCH + timedelta(days=1))
        ledger = open_ledger(database, parse_master_key(new_master_key()), clock)
        view = open_view(database)
        try:
            run(ledger, clock, history, v2_day)
            ViewKeeper(ledger, view).catch_up()
            questions = LedgerQuestions(view)
            for t_hours, r_hours in probes:
                at, known = EPOCH + timedelta(hours=t_hours), EPOCH + timedelta(hours=r_hours)
                found = [s.state.value for s in questions.consent_states(ANNA, at, known)]
                expected = reference_state(ledger, at, known)
                event(f"state {expected}")
                assert found == [s for s in [expected] if s], (at, known)
        finally:
            ledger.close()
            view.datastore.close()
