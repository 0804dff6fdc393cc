"""Helpers shared by the benchmarks: repeated timing with medians, and one result line per figure.

These machines are noisy: every figure is the median (and p90/p99 where it matters) over several runs, and a
target is checked against the median, never against a single run.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Figure:
    """One benchmark figure: ``name``, the measured ``value`` in ``unit``, and the target it must meet."""

    name: str
    value: float
    unit: str
    target: float | None = None
    lower_is_better: bool = True
    runs: int = 1

    @property
    def passed(self) -> bool | None:
        if self.target is None:
            return None
        return self.value <= self.target if self.lower_is_better else self.value >= self.target

    def line(self) -> str:
        verdict = {None: "", True: "  PASS", False: "  FAIL"}[self.passed]
        cmp = "<=" if self.lower_is_better else ">="
        target = f" (target {cmp} {self.target:g} {self.unit})" if self.target is not None else ""
        return f"{self.name}: {self.value:.4g} {self.unit} median of {self.runs}{target}{verdict}"


def median_seconds(fn: Callable[[], object], runs: int = 7, warmup: int = 1) -> tuple[float, list[float]]:
    """Run ``fn`` ``warmup`` times untimed, then ``runs`` times; return (median seconds, all timings)."""
    for _ in range(warmup):
        fn()
    timings: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings), timings


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``, nearest-rank method."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def report(benchmark: str, figures: list[Figure]) -> bool:
    """Print every figure, write ``benchmarks/results/<benchmark>.json``; True when every target is met."""
    for figure in figures:
        print(figure.line())
    RESULTS_DIR.mkdir(exist_ok=True)
    payload = [asdict(f) | {"passed": f.passed} for f in figures]
    (RESULTS_DIR / f"{benchmark}.json").write_text(json.dumps(payload, indent=2) + "\n")
    return all(f.passed is not False for f in figures)
