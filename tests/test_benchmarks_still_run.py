"""The benchmark harness's own promises (the whole harness runs once, tiny, in .ci/run, not here)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchmarks.databases import Target, fill
from benchmarks.over_http import Tally, exactly_once

if TYPE_CHECKING:
    from pathlib import Path


def target(tmp_path: Path, size: int = 300) -> Target:
    return Target("sqlite", size, tmp_path, "postgresql://unused")


def test_a_history_is_filled_once_and_then_reused_as_it_is(tmp_path: Path) -> None:
    first = fill(target(tmp_path))
    ledger = target(tmp_path).open()
    stored = ledger.max_position()
    ledger.close()

    again = fill(target(tmp_path))

    assert first.events >= 300
    assert again == first
    ledger = target(tmp_path).open()
    assert ledger.max_position() == stored
    ledger.close()


def test_an_interrupted_fill_continues_where_it_stopped(tmp_path: Path) -> None:
    fill(target(tmp_path / "interrupted", size=100))  # as if a fill of 300 had stopped a third of the way

    resumed = fill(target(tmp_path / "interrupted", size=300))

    assert resumed == fill(target(tmp_path / "in-one-go", size=300))  # nothing written twice, nothing left out


def test_an_acknowledged_write_the_log_does_not_hold_fails_the_exactly_once_check(tmp_path: Path) -> None:
    fill(target(tmp_path))
    ledger = target(tmp_path).open()
    end = ledger.max_position()
    ledger.close()
    tally = Tally()
    nowhere = "00000000-0000-0000-0000-000000000000"
    tally.acknowledged["run-1"] = {"position": end + 1, "aggregate_id": nowhere, "version": 1}

    check = exactly_once(target(tmp_path), end, tally, "run-")

    assert not check["ok"]
    assert check["keys_not_exactly_once"] == 1
