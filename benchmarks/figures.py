"""The table's rows: every figure beside its baseline from the same run, their ratio, the goal and the verdict.

A throughput's ratio is figure / baseline; a latency's is baseline p50 / figure p50 (how many
times faster than the naive answer). A goal holds when the ratio reaches it. The answer-time
goal applies from 1M events on, as issue 7 states it; smaller sizes show the ratio only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from benchmarks.stats import Latency

LATENCY_GOAL_FROM = 1_000_000


@dataclass(frozen=True)
class Figure:
    """One row of the table."""

    backend: str
    size: int
    name: str
    value: float | None
    unit: str
    baseline: str | None = None
    baseline_value: float | None = None
    ratio: float | None = None
    goal: str = ""
    met: bool | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        """The row as the results file keeps it."""
        return asdict(self)


def _ratio(value: float | None, base: float | None, *, faster_is_smaller: bool = False) -> float | None:
    if value is None or base is None or value <= 0 or base <= 0:
        return None
    return round(base / value if faster_is_smaller else value / base, 3)


def _verdict(ratio: float | None, goal: float | None) -> bool | None:
    return None if ratio is None or goal is None else ratio >= goal


@dataclass(frozen=True)
class _Of:
    """The measurements of one (backend, size), turned into rows."""

    backend: str
    size: int
    m: dict[str, Any]

    def rate(self, name: str, key: str, baseline: str | None = None, goal: float | None = None) -> Figure:
        """A throughput figure (events/s), against another throughput of the same run."""
        measured = self.m.get(key)
        if measured is None or measured["events_per_s"] is None:
            note = "not yet available" if measured is None else "nothing to do"
            return Figure(self.backend, self.size, name, None, "events/s", baseline, note=note, detail=measured or {})
        value = float(measured["events_per_s"])
        base = None if baseline is None else float(self.m[baseline]["events_per_s"])
        ratio = _ratio(value, base)
        return Figure(
            self.backend,
            self.size,
            name,
            round(value),
            "events/s",
            baseline,
            None if base is None else round(base),
            ratio,
            f">= {goal}" if goal is not None else "",
            _verdict(ratio, goal),
            _plain({k: v for k, v in measured.items() if k != "events_per_s"}),
        )

    def latency(self, name: str, key: str, baseline: str | None = None) -> Figure:
        """An answer-time figure (p50 µs, with p95/p99), against the naive answer's p50."""
        measured: Latency = self.m[key]
        base: Latency | None = None if baseline is None else self.m[baseline]
        ratio = _ratio(measured.p50_us, None if base is None else base.p50_us, faster_is_smaller=True)
        goal = 10.0 if baseline is not None and self.size >= LATENCY_GOAL_FROM else None
        return Figure(
            self.backend,
            self.size,
            name,
            measured.p50_us,
            "µs p50",
            baseline,
            None if base is None else base.p50_us,
            ratio,
            ">= 10 (naive p50 / p50)" if goal else ("(goal at 1M)" if baseline else ""),
            _verdict(ratio, goal),
            asdict(measured),
        )

    def peak_rss(self, name: str, key: str) -> Figure:
        """A child process's peak memory (the goal is across sizes: see `across_sizes`)."""
        measured = self.m[key]
        rss = measured["peak_rss_mb"]
        return Figure(self.backend, self.size, name, rss, "MB", detail={"events": measured["events"]})


def rows(backend: str, size: int, m: dict[str, Any]) -> list[Figure]:
    """Every figure of one (backend, size), in the order of issue 7's table."""
    of = _Of(backend, size, m)
    naive_version, naive_disclose = "naive_accepted_version_at", "naive_may_disclose"
    return [
        of.rate("raw_single (baseline)", "raw_single"),
        of.rate("raw_batch100 (baseline)", "raw_batch100"),
        of.rate("raw_read (baseline)", "raw_read"),
        of.latency("naive accepted_version_at (baseline)", naive_version),
        of.latency("naive may_disclose (baseline)", naive_disclose),
        of.rate("record_disclosure, in process", "ledger_disclosure", "raw_single", 0.8),
        of.rate("grant_consent (new subject), in process", "ledger_consent", "raw_single", 0.8),
        of.rate("HTTP writes, concurrent clients", "http_writes", "raw_single", 1.0),
        of.rate("bulk import (consent-ledger import)", "bulk_import", "raw_batch100", 0.8),
        of.latency("accepted_version_at, in process", "accepted_version_at", naive_version),
        of.latency("may_disclose, in process", "may_disclose", naive_disclose),
        of.latency("accepted_version_at, HTTP", "http_accepted_version_at", naive_version),
        of.latency("may_disclose, HTTP", "http_may_disclose", naive_disclose),
        of.rate("checkpoint (grow the tree by the new events, sign)", "checkpoint", "raw_read"),
        of.rate("export", "export", "raw_read"),
        of.rate("offline verify of the export", "verify", "raw_read", 0.5),
        of.rate("full replay, all projections", "replay", "raw_read", 0.25),
        of.peak_rss("peak RSS, replay", "replay"),
        of.peak_rss("peak RSS, export", "export"),
    ]


def across_sizes(figures: list[Figure]) -> list[Figure]:
    """The goals that compare sizes: p50 at 10M within 1.3x of 100k; peak RSS at 10M within 1.2x of 1M."""
    by = {(f.backend, f.size, f.name): f for f in figures}
    out: list[Figure] = []
    for backend in sorted({f.backend for f in figures}):
        for name, small, large, goal in (
            ("accepted_version_at, in process", 100_000, 10_000_000, 1.3),
            ("may_disclose, in process", 100_000, 10_000_000, 1.3),
            ("accepted_version_at, HTTP", 100_000, 10_000_000, 1.3),
            ("may_disclose, HTTP", 100_000, 10_000_000, 1.3),
            ("peak RSS, replay", 1_000_000, 10_000_000, 1.2),
            ("peak RSS, export", 1_000_000, 10_000_000, 1.2),
        ):
            a, b = by.get((backend, small, name)), by.get((backend, large, name))
            if a is None or b is None or a.value is None or b.value is None:
                continue
            growth = round(b.value / a.value, 3)
            out.append(
                Figure(
                    backend,
                    large,
                    f"{name}: {large:,} over {small:,}",
                    growth,
                    "x",
                    f"{name} at {small:,}",
                    a.value,
                    growth,
                    f"<= {goal}",
                    growth <= goal,
                )
            )
    return out


def _plain(value: Any) -> Any:
    """Latencies and other dataclasses as plain JSON values."""
    if isinstance(value, Latency):
        return asdict(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
