"""The log's alarms as the HTTP edge sees them: writes stop on a fork, readiness and metrics show every alarm.

The alarms live in the database (`audit.alarms`), so every worker sees what any process found.
A write asks at most once a second (the answer is kept that long): a fork found by another
process stops this one's writes within a second, and a write costs no extra query.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, cast

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from audit.alarms import Alarm, AlarmKind, LogHalted
from audit.log import AuditLog

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from prometheus_client.metrics_core import Metric
    from starlette.requests import HTTPConnection

    from ledger.application import ConsentLedger

REFRESH_SECONDS = 1.0
"""How long a write relies on the last look at the alarms."""


class LogWatch:
    """The alarms of one ledger's log, read fresh for probes and at most once a second for writes.

    The audit log is opened on first use (it creates its tables), inside the caller's handling of
    an unreachable database, never when the watch is made.
    """

    def __init__(self, ledger: ConsentLedger, opener: Callable[[], AuditLog]) -> None:
        self.ledger = ledger
        self._opener = opener
        self._audit_log: AuditLog | None = None
        self._fork: Alarm | None = None
        self._seen = float("-inf")

    @property
    def audit_log(self) -> AuditLog:
        """The ledger's audit log (opened now if it was not)."""
        if self._audit_log is None:
            self._audit_log = self._opener()
        return self._audit_log

    def alarms(self) -> list[Alarm]:
        """Every raised alarm, read now."""
        found = self.audit_log.alarms.raised()
        self._fork = next((a for a in found if a.kind is AlarmKind.FORK), None)
        self._seen = time.monotonic()
        return found

    def stale(self) -> bool:
        """Whether the last look at the alarms is older than a second."""
        return time.monotonic() - self._seen > REFRESH_SECONDS

    def require_writable(self) -> None:
        """Refuse a write (LogHalted, 503) while the fork alarm is raised (looking again if the last look is stale)."""
        if self.stale():
            self.alarms()
        if self._fork is not None:
            msg = (
                f"{self._fork.sentence()}; nothing is recorded until an operator has run "
                "`consent-ledger audit check` (README, 'When the log halts')"
            )
            raise LogHalted(msg)


def log_watch(connection: HTTPConnection) -> LogWatch:
    """The watch of the log of the ledger this app serves (made on first use)."""
    state = connection.app.state
    watch: LogWatch | None = getattr(state, "log_watch", None)
    if watch is None or watch.ledger is not state.ledger:
        watch = state.log_watch = LogWatch(state.ledger, lambda: _audit_log(state))
    return watch


def audit_log_of(connection: HTTPConnection) -> AuditLog:
    """The audit log of the ledger this app serves, with the signing key and witnesses it was given."""
    return _audit_log(connection.app.state)


def _audit_log(state: Any) -> AuditLog:
    log: AuditLog | None = getattr(state, "audit_log", None)
    if log is None or log.ledger is not state.ledger:
        log = state.audit_log = AuditLog(cast("ConsentLedger", state.ledger))
    log.signing_key = getattr(state, "signing_key", None)
    log.witnesses = getattr(state, "witnesses", None)
    return log


class LogHealth(Collector):
    """The log's alarms, damaged events and witnessed sizes, asked of the database at each scrape."""

    def __init__(self, watch: LogWatch) -> None:
        self.watch = watch

    def collect(self) -> Iterator[Metric]:
        """Yield one gauge per alarm kind (1 raised, 0 not), the damaged positions, and sizes signed and cosigned."""
        raised = {a.kind: a for a in self.watch.alarms()}
        alarm = GaugeMetricFamily(
            "consent_ledger_log_alarm",
            "1 while the log's alarm of this kind is raised (fork: writes stop).",
            labels=["kind"],
        )
        for kind in AlarmKind:
            alarm.add_metric([str(kind)], 1 if kind in raised else 0)
        damage = raised.get(AlarmKind.DAMAGE)
        damaged = GaugeMetricFamily(
            "consent_ledger_log_damaged_events", "Stored events the last integrity sweep found not matching their leaf."
        )
        damaged.add_metric([], len(damage.positions) if damage is not None else 0)
        yield alarm
        yield damaged
        yield from self._sizes()

    def _sizes(self) -> Iterator[Metric]:
        audit_log = self.watch.audit_log
        latest = audit_log.latest_checkpoint()
        signed = GaugeMetricFamily("consent_ledger_log_checkpoint_size", "Events the newest signed checkpoint covers.")
        signed.add_metric([], latest.size if latest is not None else 0)
        yield signed
        if audit_log.witnesses is None or latest is None:
            return
        cosigned = GaugeMetricFamily(
            "consent_ledger_witness_cosigned_size",
            "Events of the largest checkpoint each witness cosigned.",
            labels=["witness"],
        )
        for witness in audit_log.witnesses.witnesses:
            cosigned.add_metric([witness.key.name], audit_log.cosigned_size(witness.key.name, at_most=latest.size))
        yield cosigned
