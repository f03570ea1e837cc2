"""Group commit: concurrent commands of one process saved together, each still judged and answered alone.

A transaction's commit (a disk flush, a round trip) costs far more than deciding one fact, so
a server that commits each request on its own is bound by commits. `GroupCommitter` runs one
thread that takes every command waiting (up to `max_group`) and hands them to
`ConsentLedger.record_many`: one commit for the lot, and each caller gets exactly the receipt
or the refusal it would have got alone. Nothing waits on a timer: a lone command is run as
soon as it arrives, and commands queue up only while the previous group is being committed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from concurrent.futures import Future
from typing import TYPE_CHECKING

from ledger.errors import LedgerError

if TYPE_CHECKING:
    from collections.abc import Callable

    from ledger.application import ConsentLedger, Receipt

MAX_GROUP = 200
"""Commands per transaction at most: enough to amortise a commit, few enough to keep one group's latency short."""

log = logging.getLogger(__name__)


class GroupCommitter:
    """Runs the commands submitted from many threads in groups, one group at a time, on its own thread."""

    def __init__(self, ledger: ConsentLedger, max_group: int = MAX_GROUP) -> None:
        """Commit `ledger`'s commands in groups of at most `max_group`; the thread starts on first use."""
        self.ledger = ledger
        self.max_group = max_group
        self._waiting: deque[tuple[Callable[[], Receipt], Future[Receipt]]] = deque()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def __call__(self, command: Callable[[], Receipt]) -> Receipt:
        """Run `command` in the next group and answer as it would alone: its receipt, or raise its error."""
        return self.submit(command).result()

    async def run(self, command: Callable[[], Receipt]) -> Receipt:
        """`__call__` for a coroutine: wait for the group without holding a thread."""
        return await asyncio.wrap_future(self.submit(command))

    def submit(self, command: Callable[[], Receipt]) -> Future[Receipt]:
        """Queue `command` for the next group; the future holds its receipt or its error."""
        future: Future[Receipt] = Future()
        with self._changed:
            if not self._closed:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
                    self._thread.start()
                self._waiting.append((command, future))
                self._changed.notify()
                return future
        future.set_running_or_notify_cancel()
        _settle(future, command)  # closed: nobody will take it from the queue, so run it here, alone
        return future

    @property
    def queued(self) -> int:
        """How many commands wait for the next group."""
        with self._changed:
            return len(self._waiting)

    @property
    def closed(self) -> bool:
        """Whether `close` was called (commands submitted since run alone, on the caller's thread)."""
        return self._closed

    def close(self, timeout: float | None = None) -> None:
        """Stop taking commands; those already queued are committed first (a shutdown drains, it never drops)."""
        with self._changed:
            self._closed = True
            self._changed.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._waiting and not self._closed:
                    self._changed.wait()
                if not self._waiting:
                    return
                taken = [self._waiting.popleft() for _ in range(min(self.max_group, len(self._waiting)))]
            # A caller that gave up (its request was cancelled) before its command ran is left out: nothing is recorded.
            group = [(command, future) for command, future in taken if future.set_running_or_notify_cancel()]
            if group:
                self._commit(group)

    def _commit(self, group: list[tuple[Callable[[], Receipt], Future[Receipt]]]) -> None:
        """One transaction for the group; if something other than a refusal goes wrong, each runs alone."""
        if len(group) == 1:
            _settle(group[0][1], group[0][0])
            return
        try:
            answers = self.ledger.record_many([command for command, _ in group])
        except Exception:
            log.debug("a group failed as a whole; running its commands one at a time", exc_info=True)
            for command, future in group:
                _settle(future, command)
            return
        for (_, future), answer in zip(group, answers, strict=True):
            if isinstance(answer, LedgerError):
                future.set_exception(answer)
            else:
                future.set_result(answer)


def _settle(future: Future[Receipt], command: Callable[[], Receipt]) -> None:
    """Run one command alone and put its answer, whatever it is, in its future."""
    try:
        future.set_result(command())
    except BaseException as e:  # noqa: BLE001  (handed to the caller, who re-raises it)
        future.set_exception(e)
