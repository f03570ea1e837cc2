"""The read side over HTTP: each GET answers one question from the view, at `at`, as known at `as_known_at`.

Every question accepts `wait_for_position` (a write's `position`): the answer then waits, a
few seconds at most, until the view has reached that write — so a service that just recorded
a consent gets "yes" on its very next disclosure check.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

from fastapi import APIRouter, Depends, Path, Query
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from api.deps import LedgerDep, SubjectAccess, SubjectRead, scoped
from api.problems import problem_responses
from api.schemas.common import IN_A_PATH
from api.schemas.common import QueryMoment as Moment
from api.schemas.questions import (
    AcceptedVersionAnswer,
    BlockStatusAnswer,
    Deadline,
    DeadlinesAnswer,
    DisclosureCheckAnswer,
    DisclosureRecord,
    DisclosuresAnswer,
    UntoldBreachesAnswer,
    UntoldBreachRecord,
    VersionInEffectAnswer,
    VersionTerms,
)
from api.tokens import Scope
from ledger.application import ConsentLedger
from ledger.deadlines import DeadlineStatus
from ledger.errors import InvalidFact
from ledger.terms import DataCategory, PolicyId, Purpose, RecipientCategory, SubjectId
from projections.errors import ViewBehind
from projections.keeper import MAX_LAG_SECONDS, ViewKeeper
from projections.questions import LedgerQuestions

if TYPE_CHECKING:
    from collections.abc import Callable

router = APIRouter(tags=["questions"])
T = TypeVar("T")
MAX_WAIT_SECONDS = 5.0


def demo_example(value: str, summary: str) -> dict[str, dict[str, str]]:
    """An OpenAPI example that answers against the demo history (`consent-ledger demo`)."""
    return {"demo": {"summary": summary, "value": value}}


At = Annotated[
    Moment | None,
    Query(
        description="Business time the question is about (default: now), with offset.",
        openapi_examples=demo_example("2026-02-01T12:00:00+05:00", "1 February 2026, noon in Almaty"),
    ),
]
AsKnownAt = Annotated[
    Moment | None,
    Query(
        description="Answer only from what the ledger had recorded by this time (default: now), with offset.",
        openapi_examples=demo_example(
            "2026-02-01T12:00:00+05:00", "as known then: cust-1002's paper form was not in yet"
        ),
    ),
]
Subject = Annotated[
    str,
    Path(
        min_length=1,
        max_length=200,
        pattern=IN_A_PATH,
        description="The subject's pseudonymous id.",
        openapi_examples={
            **demo_example("cust-1002", "a minor whose father signed on paper on 20 January, entered on 16 February"),
            "struck": {"summary": "a withdrawal filed by mistake, struck out (at 2026-03-05)", "value": "cust-1001"},
        },
    ),
]
"""A subject id in the path, with examples from the demo."""
Policy = Annotated[
    str,
    Path(
        min_length=1,
        max_length=200,
        pattern=IN_A_PATH,
        openapi_examples=demo_example("dala-market-privacy", "the demo's"),
    ),
]
WaitFor = Annotated[
    int | None,
    Query(ge=0, description="Wait (at most 5 s) until the view reflects this log position, e.g. a write's `position`."),
]


async def questions(connection: HTTPConnection, wait_for_position: WaitFor = None) -> LedgerQuestions:
    """The questions, after the view reached the position the caller waits for.

    `async` so that a question that waits for nothing costs no trip through the thread pool; the
    waiting (and reading the log's newest position) is done there.
    """
    state = connection.app.state
    if state.questions is None:
        msg = "this server answers no questions: it was started without a read model"
        raise ViewBehind(msg)
    if not wait_for_position:
        await _current(state)
    else:
        newest = await run_in_threadpool(cast("ConsentLedger", state.ledger).max_position)
        if wait_for_position > newest:
            msg = f"position {wait_for_position} is not in the log (the newest is {newest}); pass a write's position"
            raise InvalidFact(msg)
        keeper = cast("ViewKeeper", state.keeper)
        if not await run_in_threadpool(keeper.wait_for, wait_for_position, MAX_WAIT_SECONDS):
            msg = (
                f"the read model is at position {keeper.position}, not yet {wait_for_position}; "
                "retry in a moment (nothing is wrong with the write)"
            )
            raise ViewBehind(msg)
    return cast("LedgerQuestions", state.questions)


async def _current(state: Any) -> None:
    """Refuse to answer from a view that lacks an event older than the lag allowed, after a moment's catching up.

    A keeper that keeps up leaves nothing to do here (what it last saw is enough to know). One
    that has fallen behind (it failed, the disk is full) is given `MAX_WAIT_SECONDS` to catch up,
    here if need be; then the question is refused with 503 and how far behind the view is, rather
    than answered from it as if it were current (a block recorded a moment ago would be missing).
    """
    keeper = cast("ViewKeeper | None", state.keeper)
    max_lag = float(getattr(state, "max_view_lag", MAX_LAG_SECONDS))
    if keeper is None or keeper.fresh_within(max_lag):
        return
    lag = await run_in_threadpool(keeper.lag)
    if lag.seconds <= max_lag or await run_in_threadpool(keeper.wait_for, lag.log_position, MAX_WAIT_SECONDS):
        return
    msg = (
        f"the read model is {lag.events} events behind the log and lacks an event recorded {lag.seconds:.1f} s ago "
        f"(at most {max_lag:g} s allowed); nothing is wrong with what was recorded: retry in a moment"
    )
    raise ViewBehind(msg)


Questions = Annotated[LedgerQuestions, Depends(questions)]
BEHIND = problem_responses(ViewBehind, InvalidFact)


def _times(ledger: LedgerDep, at: datetime | None, as_known_at: datetime | None) -> tuple[datetime, datetime]:
    now = ledger.clock()
    return at or now, as_known_at or now


async def _answered(access: SubjectAccess, subject_id: str, question: Callable[[], T]) -> T:
    """The question's answer, once the read's row in the access log is committed.

    The row's commit (a disk flush, or a round trip) starts first and the question is asked
    meanwhile, so a read waits for the longer of the two, not for both. A question that then
    fails has still been logged: the log keeps every attempt to read a subject's data that
    passed the token, scope and purpose checks. The question is asked on the event loop when
    the view is a file on this host (SQLite): it takes tens of microseconds and cannot hang on
    a network, while a trip through the thread pool costs more CPU than that (as for the bearer
    token's lookup). PostgreSQL's is a round trip, which must never stall the loop.
    """
    recorded = access.recording(subject_id)
    try:
        if access.local:
            return question()
        return await run_in_threadpool(question)
    finally:
        await recorded


@router.get("/subjects/{subject_id}/accepted-version", responses=BEHIND)
async def accepted_version_at(
    subject_id: Subject,
    policy_id: Annotated[
        str,
        Query(min_length=1, max_length=200, openapi_examples=demo_example("dala-market-privacy", "the demo's policy")),
    ],
    ask: Questions,
    access: SubjectRead,
    at: At = None,
    as_known_at: AsKnownAt = None,
) -> AcceptedVersionAnswer:
    """Which version of the policy had the subject accepted at `at`, with its text hash; were they behind?"""
    when, known = _times(access.ledger, at, as_known_at)
    answer = await _answered(
        access, subject_id, lambda: ask.accepted_version_at(SubjectId(subject_id), PolicyId(policy_id), when, known)
    )
    return AcceptedVersionAnswer.of(subject_id, when, known, answer)


@router.get("/policies/{policy_id}/version-in-effect", responses=BEHIND, dependencies=[scoped(Scope.READ)])
def version_in_effect(
    policy_id: Policy, ask: Questions, ledger: LedgerDep, at: At = None, as_known_at: AsKnownAt = None
) -> VersionInEffectAnswer:
    """Which version of the policy was in effect at `at` (clause 9.2), and the version history."""
    when, known = _times(ledger, at, as_known_at)
    current = ask.version_in_effect(PolicyId(policy_id), when, known)
    return VersionInEffectAnswer(
        policy_id=policy_id,
        at=when,
        as_known_at=known,
        in_effect=VersionTerms.of(current) if current else None,
        history=[VersionTerms.of(v) for v in ask.version_history(PolicyId(policy_id), known)],
    )


@router.get("/subjects/{subject_id}/disclosure-check", responses=BEHIND)
async def may_disclose(
    subject_id: Subject,
    recipient_category: Annotated[RecipientCategory, Query(openapi_examples=demo_example("courier", "a courier"))],
    purpose: Annotated[
        str, Query(min_length=1, max_length=50, openapi_examples=demo_example("4.1.1", "deliver orders"))
    ],
    ask: Questions,
    access: SubjectRead,
    at: At = None,
    as_known_at: AsKnownAt = None,
    recipient: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="Answer for this recipient by name (a written permission names its recipient).",
        ),
    ] = None,
    data_categories: Annotated[
        list[str] | None,
        Query(
            max_length=100, description="The data categories to disclose: within those the consent named (Art. 8(4))."
        ),
    ] = None,
    cross_border: Annotated[
        bool, Query(description="The recipient is outside Kazakhstan: the consent must allow it (Art. 8(4), 16).")
    ] = False,
) -> DisclosureCheckAnswer:
    """May the subject's data go to this recipient (or any of its category) for this purpose, and on which ground?"""
    when, known = _times(access.ledger, at, as_known_at)
    categories = frozenset(DataCategory(c) for c in data_categories or ())
    decision = await _answered(
        access,
        subject_id,
        lambda: ask.may_disclose(
            SubjectId(subject_id),
            recipient_category,
            Purpose(purpose),
            when,
            known,
            recipient=recipient,
            data_categories=categories,
            cross_border=cross_border,
        ),
    )
    return DisclosureCheckAnswer(
        subject_id=subject_id,
        recipient_category=recipient_category,
        recipient=recipient,
        purpose=purpose,
        data_categories=sorted(categories),
        cross_border=cross_border,
        at=when,
        as_known_at=known,
        allowed=decision.allowed,
        ground=decision.ground,
        basis=decision.basis,
        reason=decision.reason,
    )


@router.get("/subjects/{subject_id}/block-status", responses=BEHIND)
def block_status(
    subject_id: Subject,
    ask: Questions,
    ledger: LedgerDep,
    access: SubjectRead,
    at: At = None,
    as_known_at: AsKnownAt = None,
) -> BlockStatusAnswer:
    """Is (was) the subject blocked at `at`, by whom, on which ground, since when; and the block history."""
    when, known = _times(ledger, at, as_known_at)
    status = ask.block_status(SubjectId(subject_id), when, known)
    access.record(subject_id)
    return BlockStatusAnswer.of(subject_id, when, known, status)


@router.get("/subjects/{subject_id}/disclosures", responses=BEHIND)
def disclosures(
    subject_id: Subject,
    ask: Questions,
    ledger: LedgerDep,
    access: SubjectRead,
    since: Annotated[Moment | None, Query(description="From this time (inclusive), with offset.")] = None,
    until: Annotated[Moment | None, Query(description="Up to this time (inclusive), with offset.")] = None,
    as_known_at: AsKnownAt = None,
) -> DisclosuresAnswer:
    """Every disclosure of the subject's data in the time range, with its ground and recipient."""
    _, known = _times(ledger, None, as_known_at)
    rows = ask.disclosures(SubjectId(subject_id), since, until, known)
    access.record(subject_id)
    return DisclosuresAnswer(
        subject_id=subject_id, as_known_at=known, disclosures=[DisclosureRecord.of(r) for r in rows]
    )


@router.get("/deadlines", responses=BEHIND, dependencies=[scoped(Scope.READ)])
def deadlines(
    ask: Questions,
    ledger: LedgerDep,
    status: Annotated[list[DeadlineStatus] | None, Query(description="Only these standings.")] = None,
    at: At = None,
    subject_id: Annotated[
        str | None,
        Query(min_length=1, max_length=200, description="Only the obligations about this subject (pseudonymous id)."),
    ] = None,
) -> DeadlinesAnswer:
    """Every obligation an event started, with its due date and standing at `at`: open, met, met late, overdue."""
    when, _ = _times(ledger, at, None)
    subject = SubjectId(subject_id) if subject_id is not None else None
    answers = ask.deadlines(when, set(status) if status else None, subject_id=subject)
    return DeadlinesAnswer(at=when, deadlines=[Deadline.of(a) for a in answers])


@router.get("/breaches-not-all-told", responses=BEHIND, dependencies=[scoped(Scope.READ)])
def breaches_not_all_told(ask: Questions, ledger: LedgerDep, at: At = None) -> UntoldBreachesAnswer:
    """Breaches whose affected subjects were not all told, and whether the authority was told in time."""
    when, _ = _times(ledger, at, None)
    return UntoldBreachesAnswer(at=when, breaches=[UntoldBreachRecord.of(b) for b in ask.breaches_not_all_told(when)])
