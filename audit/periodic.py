"""Work on a timer: checkpoints (an idle ledger signs nothing new) and integrity sweeps of the stored events.

Auditors compare checkpoints they were handed at different times; the more often the ledger
commits to its tree (and its witnesses cosign it), the narrower the window in which history
could have been rewritten unnoticed. The sweep finds rows changed in the database behind the
ledger's back, and says where, before anyone is answered from them.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from audit.integrity import record, sweep

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from audit.log import AuditLog

log = logging.getLogger(__name__)


class Periodic:
    """Runs `tick` every `interval` seconds in a daemon thread until stopped; a failing tick is logged, not fatal."""

    name = "periodic"

    def __init__(self, audit_log: AuditLog, clock: Callable[[], datetime], interval: float) -> None:
        """Work on `audit_log`, dating what is done by `clock`."""
        self.audit_log = audit_log
        self.clock = clock
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    def start(self) -> None:
        """Start the timer."""
        self._thread.start()

    def tick(self) -> None:
        """One round of the work."""

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:  # a database hiccup must not stop the timer; the next tick retries
                log.exception("%s failed; retrying at the next interval", self.name)

    def stop(self) -> None:
        """Stop the timer (a round under way completes first)."""
        self._stop.set()
        self._thread.join(timeout=30)


class PeriodicCheckpoints(Periodic):
    """Signs a checkpoint every `interval` seconds when the log has grown (and offers it to the witnesses)."""

    name = "checkpoints"

    def tick(self) -> None:
        """Sign a checkpoint if the log grew."""
        self.audit_log.issue_checkpoint(self.clock(), only_if_grown=True)


class IntegritySweeps(Periodic):
    """Rehashes every stored event against the tree and the signed checkpoints every `interval` seconds."""

    name = "integrity"

    def tick(self) -> None:
        """Sweep, and raise or lower the alarms as found."""
        report = sweep(self.audit_log)
        record(self.audit_log, report, self.clock())
        if not report.ok:
            log.error("integrity sweep: %s", "; ".join(f.sentence() for f in report.findings[:5]))
