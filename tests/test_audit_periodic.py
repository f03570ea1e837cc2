"""Checkpoints are signed on a timer while the log grows, and not while it stands still; the sweep runs on one too."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from given import consented, published
from serving import eventually
from tampering import Insider, tally

from audit.alarms import AlarmKind
from audit.log import AuditLog
from audit.notes import SigningKey
from audit.periodic import IntegritySweeps, PeriodicCheckpoints

if TYPE_CHECKING:
    from ledger.application import ConsentLedger


def test_a_growing_log_gets_a_checkpoint_each_interval_and_an_idle_one_gets_none(ledger: ConsentLedger) -> None:
    published(ledger)
    log = AuditLog(ledger, SigningKey.from_seed("consent-ledger", bytes(32)))
    timer = PeriodicCheckpoints(log, ledger.clock, interval=0.05)
    timer.start()
    try:
        deadline = time.monotonic() + 10
        while log.latest_checkpoint() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        first = log.latest_checkpoint()
        assert first is not None
        assert first.size == ledger.max_position()
        consented(ledger, "u-1")
        while log.latest_checkpoint().size == first.size and time.monotonic() < deadline:  # type: ignore[union-attr]
            time.sleep(0.02)
        grown = log.latest_checkpoint()
        time.sleep(0.3)  # several idle intervals
        idle = log.latest_checkpoint()
    finally:
        timer.stop()
    assert grown is not None
    assert grown.size == ledger.max_position()
    assert idle == grown


def test_the_sweep_on_a_timer_finds_a_row_changed_behind_the_ledgers_back(ledger: ConsentLedger) -> None:
    published(ledger)
    position = consented(ledger, "u-1").position
    log = AuditLog(ledger, SigningKey.from_seed("consent-ledger", bytes(32)))
    log.issue_checkpoint(ledger.clock())
    Insider(ledger, log).flip_byte(position, b'"channel":"', 0)
    timer = IntegritySweeps(log, ledger.clock, interval=0.05)
    timer.start()
    try:
        alarm = eventually(lambda: log.alarms.of(AlarmKind.DAMAGE), 10, "the sweep raised the damage alarm")
    finally:
        timer.stop()
    tally("one byte of a plain field, found by the sweep on its timer", "the integrity sweep")
    assert alarm.positions == (position,)
