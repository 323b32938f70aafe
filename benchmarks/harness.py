"""Timing helpers shared by the benchmarks: medians over repeats, ratios against peers, peak memory.

Every benchmark times mlmtools and its peers in the same process and the same run, so the ratios compare
like with like on the machine at hand. Nothing here asserts a time: the numbers are printed for people.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Timing:
    """Wall-clock times of repeated calls of one task by one implementation."""

    task: str
    implementation: str
    seconds: tuple[float, ...]
    peak_mib: float | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def time_call(task: str, implementation: str, call: Callable[[], object], repeats: int = 7,
              warmup: int = 1, measure_memory: bool = False) -> Timing:
    """Time ``call()`` ``repeats`` times after ``warmup`` untimed calls; optionally record peak memory.

    Peak memory is the high-water mark of Python-level allocations (``tracemalloc``) during one extra call,
    so it covers numpy arrays but not memory allocated by compiled extensions outside Python's allocator.
    """
    for _ in range(warmup):
        call()
    seconds = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    peak = None
    if measure_memory:
        gc.collect()
        tracemalloc.start()
        call()
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return Timing(task, implementation, tuple(seconds), peak)


def format_duration(seconds: float) -> str:
    """Seconds in the unit that reads best (us, ms or s), three significant digits."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} us"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def report(timings: list[Timing], reference: str = "mlmtools") -> str:
    """A table of medians per task, with each implementation's ratio to ``reference`` in the same task."""
    lines = [f"{'task':<48} {'implementation':<26} {'median':>10} {'ratio':>8} {'peak MiB':>9}"]
    for task in dict.fromkeys(t.task for t in timings):
        rows = [t for t in timings if t.task == task]
        base = next((t.median for t in rows if t.implementation == reference), None)
        for row in rows:
            ratio = f"{row.median / base:.2f}x" if base else "-"
            peak = f"{row.peak_mib:.1f}" if row.peak_mib is not None else "-"
            lines.append(f"{task:<48} {row.implementation:<26} {format_duration(row.median):>10} {ratio:>8} {peak:>9}")
    return "\n".join(lines)
