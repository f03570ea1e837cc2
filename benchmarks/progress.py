"""Progress on stderr for every long step, so a person watching knows what runs, how far and how long is left.

Standard output stays for the table; everything here goes to standard error.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

_EVERY = 0.5
"""Seconds between two redraws of a progress line: often enough to see movement, rarely enough to cost nothing."""


def say(message: str) -> None:
    """One line on stderr."""
    print(message, file=sys.stderr, flush=True)


@contextmanager
def step(label: str) -> Iterator[None]:
    """Announce a step, then say how long it took (or that it failed)."""
    say(f"· {label} ...")
    started = time.monotonic()
    try:
        yield
    except BaseException:
        say(f"  {label}: failed after {time.monotonic() - started:.1f} s")
        raise
    say(f"  {label}: {time.monotonic() - started:.1f} s")


def counter(label: str, total: int, start: int = 0) -> Callable[[int], None]:
    """A redrawn line `label: done/total  rate/s  eta`; call it with the count done so far."""
    started = time.monotonic()
    shown = 0.0

    def show(done: int) -> None:
        nonlocal shown
        now = time.monotonic()
        if now - shown < _EVERY and done < total:
            return
        shown = now
        rate = (done - start) / max(now - started, 1e-9)
        eta = max(total - done, 0) / rate if rate > 0 else 0.0
        end = "\n" if done >= total else ""
        print(
            f"\r    {label}: {done:>11,}/{total:,}  {rate:9,.0f}/s  eta {eta:5.0f} s",
            end=end,
            file=sys.stderr,
            flush=True,
        )

    return show
