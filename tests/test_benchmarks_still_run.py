"""The benchmarks still work: each runs once at a tiny size (their figures are not checked here)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchmarks.history import write_history
from benchmarks.latency import measure

if TYPE_CHECKING:
    from pathlib import Path


def test_the_latency_benchmark_builds_a_history_projects_it_and_times_every_question(tmp_path: Path) -> None:
    result = measure(f"sqlite:///{tmp_path}/history.db", size=300, queries=20)

    assert result["events"] >= 300
    assert result["events"] == write_history(tmp_path / "same.jsonl", 300).events  # as many as the file said
    for question in ("accepted_version_at", "may_disclose", "naive_accepted_version_at"):
        for label in ("cold", "warm"):
            assert result[f"{question} ({label})"]["p50_us"] > 0  # type: ignore[index]


def test_the_latency_benchmark_resumes_a_history_instead_of_writing_it_twice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/history.db"
    first = measure(url, size=200, queries=5)
    again = measure(url, size=200, queries=5)
    assert again["events"] == first["events"]
