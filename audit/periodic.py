"""Checkpoints on a timer: an idle ledger signs nothing new, a busy one a checkpoint every interval.

Auditors compare checkpoints they were handed at different times; the more often the ledger
commits to its tree, the narrower the window in which history could have been rewritten
unnoticed.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from audit.log import AuditLog

log = logging.getLogger(__name__)


class PeriodicCheckpoints:
    """Signs a checkpoint every `interval` seconds in a daemon thread, when the log has grown."""

    def __init__(self, audit_log: AuditLog, clock: Callable[[], datetime], interval: float) -> None:
        """Sign with `audit_log`'s key, dating checkpoints by `clock`."""
        self.audit_log = audit_log
        self.clock = clock
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="checkpoints", daemon=True)

    def start(self) -> None:
        """Start signing."""
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.audit_log.issue_checkpoint(self.clock(), only_if_grown=True)
            except Exception:  # a database hiccup must not stop the timer; the next tick retries
                log.exception("periodic checkpoint failed; retrying at the next interval")

    def stop(self) -> None:
        """Stop signing (a checkpoint being signed completes first)."""
        self._stop.set()
        self._thread.join(timeout=30)
