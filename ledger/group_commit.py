"""Group commit: concurrent commands of one process saved together, each still judged and answered alone.

A transaction's commit (a disk flush, a round trip) costs far more than deciding one fact, so
a server that commits each request on its own is bound by commits. `GroupCommitter` runs one
thread that takes every command waiting (up to `max_group`) and hands them to
`ConsentLedger.record_many`: one commit for the lot, and each caller gets exactly the receipt
or the refusal it would have got alone. Nothing waits on a timer: a lone command is run as
soon as it arrives, and commands queue up only while the previous group is being committed.

Commands from an event loop (`run`) also cross between the loop and the thread in groups: the
commands a loop's requests submit in one turn of the loop are handed over together, and a
group's answers return to the loop in one call. Crossing one by one cost each request a lock, a
wake-up of the thread and a write to the loop's wake-up pipe, which under load was more CPU
than deciding the fact.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections import deque
from concurrent.futures import Future
from typing import TYPE_CHECKING, TypeAlias

from ledger.storage import Storage, translated

if TYPE_CHECKING:
    from collections.abc import Callable

    from ledger.application import ConsentLedger, Receipt

MAX_GROUP = 200
"""Commands per transaction at most: enough to amortise a commit, few enough to keep one group's latency short."""

log = logging.getLogger(__name__)

Answer: TypeAlias = "Future[Receipt] | asyncio.Future[Receipt]"
"""Where a command's receipt or error goes: a thread's future (`submit`) or a loop's (`run`)."""
Outcome: TypeAlias = "Receipt | BaseException"
"""What running a command gave: its receipt, or what it raised."""


class GroupCommitter:
    """Runs the commands submitted from many threads and loops in groups, one group at a time, on its own thread."""

    def __init__(self, ledger: ConsentLedger, max_group: int = MAX_GROUP) -> None:
        """Commit `ledger`'s commands in groups of at most `max_group`; the thread starts on first use."""
        self.ledger = ledger
        self.max_group = max_group
        self.timeout = Storage.of(ledger.recorder).timeout
        """Seconds a command waits on the ledger's database at most (its `Database.timeout`)."""
        self._waiting: deque[tuple[Callable[[], Receipt], Answer]] = deque()
        self._arriving: dict[asyncio.AbstractEventLoop, list[tuple[Callable[[], Receipt], Answer]]] = {}
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def __call__(self, command: Callable[[], Receipt]) -> Receipt:
        """Run `command` in the next group and answer as it would alone: its receipt, or raise its error."""
        return self.submit(command).result()

    async def run(self, command: Callable[[], Receipt]) -> Receipt:
        """`__call__` for a coroutine: wait for the group without holding a thread."""
        if self._closed:  # nobody will take it from the queue: run it alone, off the loop
            return await asyncio.to_thread(command)
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Receipt] = loop.create_future()
        arriving = self._arriving.get(loop)
        if arriving is None:  # the first this turn: the turn's commands are handed over together once it ends
            arriving = self._arriving[loop] = []
            loop.call_soon(self._hand_over, loop)
        arriving.append((command, answer))
        return await answer

    def submit(self, command: Callable[[], Receipt]) -> Future[Receipt]:
        """Queue `command` for the next group; the future holds its receipt or its error."""
        future: Future[Receipt] = Future()
        if not self._enqueue([(command, future)]):
            future.set_running_or_notify_cancel()
            _deliver(future, _outcome(command))  # closed: nobody will take it from the queue, so run it here, alone
        return future

    @property
    def queued(self) -> int:
        """How many commands wait for the next group."""
        with self._changed:
            arriving = tuple(self._arriving.values())  # a loop may add one meanwhile: copy first (atomic)
            return len(self._waiting) + sum(len(commands) for commands in arriving)

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

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        """Queue what this loop's requests submitted during its last turn, all at once."""
        arriving = self._arriving.pop(loop, [])
        if arriving and not self._enqueue(arriving):
            for command, answer in arriving:  # closed meanwhile: each runs alone, off the loop
                alone = loop.run_in_executor(None, _outcome, command)
                alone.add_done_callback(functools.partial(_deliver_done, answer))

    def _enqueue(self, items: list[tuple[Callable[[], Receipt], Answer]]) -> bool:
        """Put `items` in the queue and wake the thread; False if closed (nothing was queued)."""
        with self._changed:
            if self._closed:
                return False
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
                self._thread.start()
            self._waiting.extend(items)
            self._changed.notify()
            return True

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._waiting and not self._closed:
                    self._changed.wait()
                if not self._waiting:
                    return
                taken = [self._waiting.popleft() for _ in range(min(self.max_group, len(self._waiting)))]
            # A caller that gave up (its request was cancelled) before its command ran is left out: nothing is recorded.
            group = [(command, answer) for command, answer in taken if _still_wanted(answer)]
            if group:
                _answer_all(group, self._commit([command for command, _ in group]))

    def _commit(self, commands: list[Callable[[], Receipt]]) -> list[Outcome]:
        """One transaction for the group; if something other than a refusal goes wrong, each runs alone.

        Unless the database itself failed (unreachable, full): run alone, each command would wait
        for it again, one after the other, and the last caller would wait that many times over.
        """
        if len(commands) == 1:
            return [_outcome(commands[0])]
        try:
            return list(self.ledger.record_many(commands))
        except Exception as e:
            unavailable = translated(e)
            if unavailable is not None:
                return [unavailable] * len(commands)
            log.debug("a group failed as a whole; running its commands one at a time", exc_info=True)
            return [_outcome(command) for command in commands]


def _still_wanted(answer: Answer) -> bool:
    """Whether anyone still waits for this answer (a loop's future is only marked cancelled, in its loop)."""
    if isinstance(answer, Future):
        return answer.set_running_or_notify_cancel()
    return not answer.cancelled()


def _outcome(command: Callable[[], Receipt]) -> Outcome:
    """Run one command alone: its receipt, or whatever it raised (handed to its caller, who re-raises it)."""
    try:
        return command()
    except BaseException as e:  # noqa: BLE001  (handed to the caller, who re-raises it)
        return e


def _answer_all(group: list[tuple[Callable[[], Receipt], Answer]], outcomes: list[Outcome]) -> None:
    """Hand each caller its outcome: a thread's future at once, each loop's futures in one call on that loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Answer, Outcome]]] = {}
    for (_, answer), outcome in zip(group, outcomes, strict=True):
        if isinstance(answer, Future):
            _deliver(answer, outcome)
        else:
            by_loop.setdefault(answer.get_loop(), []).append((answer, outcome))
    for loop, answers in by_loop.items():
        try:
            loop.call_soon_threadsafe(_deliver_all, answers)
        except RuntimeError:  # the loop was closed: nobody waits on it any more
            log.debug("an event loop closed before %d answers could reach it", len(answers))


def _deliver_all(answers: list[tuple[Answer, Outcome]]) -> None:
    for answer, outcome in answers:
        _deliver(answer, outcome)


def _deliver_done(answer: Answer, done: asyncio.Future[Outcome]) -> None:
    _deliver(answer, done.result())


def _deliver(answer: Answer, outcome: Outcome) -> None:
    """Put `outcome` in `answer`, unless its caller has gone (a loop's future cancelled meanwhile)."""
    if answer.done():
        return
    if isinstance(outcome, BaseException):
        answer.set_exception(outcome)
    else:
        answer.set_result(outcome)
