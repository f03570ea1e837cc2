"""Latency summaries: the percentiles a reader of the table compares."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Latency:
    """p50/p95/p99 of one question's answer times, in microseconds, over `count` samples."""

    p50_us: float
    p95_us: float
    p99_us: float
    count: int

    @classmethod
    def of(cls, seconds: list[float]) -> Latency:
        """Nearest-rank percentiles of samples given in seconds."""
        ordered = sorted(seconds)

        def pick(q: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e6, 1)

        return cls(pick(0.50), pick(0.95), pick(0.99), len(ordered))
