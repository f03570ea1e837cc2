"""The access log for auditors: who read which subject's data, when, and for which declared purpose."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.access_log import AccessLog
from api.deps import RefPath, access_log, scoped
from api.problems import problem_responses
from api.schemas.access_log import AccessEntry, AccessLogPage
from api.schemas.common import QueryMoment as Moment
from api.tokens import Scope

router = APIRouter(tags=["audit"])

MAX_LIMIT = 1000
"""The most entries one page holds."""


@router.get("/access-log", responses=problem_responses(), dependencies=[scoped(Scope.AUDIT)])
def read_access_log(
    log: Annotated[AccessLog, Depends(access_log)],
    subject_id: Annotated[RefPath | None, Query(description="Only reads of this subject's data.")] = None,
    since: Annotated[Moment | None, Query(description="From this time (inclusive), with offset.")] = None,
    until: Annotated[Moment | None, Query(description="Up to this time (inclusive), with offset.")] = None,
    after: Annotated[int, Query(ge=0, le=2**62, description="The last entry `number` seen (0: from the start).")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="At most this many entries (1 to 1000).")] = 100,
) -> AccessLogPage:
    """Every logged read of one subject's data, oldest first, by subject and time range (protection rules)."""
    rows = log.entries(subject_id=subject_id, since=since, until=until, after=after, limit=limit)
    entries = [AccessEntry.model_validate(row) for row in rows]
    return AccessLogPage(entries=entries, next_after=entries[-1].number if len(entries) == limit else None)
