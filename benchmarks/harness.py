"""Timing helpers shared by the benchmarks: medians over repeats, ratios against peers, peak memory, R peers,
the machine a run was made on, and the saved results the benchmarks page is generated from.

Every benchmark times mlmtools and its peers in the same process and the same run, so the ratios compare
like with like on the machine at hand. Nothing here asserts a time: the numbers are printed for people.

``BENCH_QUICK=1`` (``make bench BENCH_QUICK=1``) asks every benchmark for a short run: fewer repeats and
sizes, and R's stored figures instead of timing R.
"""

from __future__ import annotations

import datetime
import gc
import json
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
#: A short run (``BENCH_QUICK=1``): fewer repeats and sizes, R's stored figures.
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")


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


    def as_record(self) -> dict[str, Any]:
        """The timing as saved in ``benchmarks/results`` (JSON)."""
        return {"task": self.task, "implementation": self.implementation, "seconds": list(self.seconds),
                "median": self.median, "peak_mib": self.peak_mib}


def quick_or(full: int, quick: int = 1) -> int:
    """``full`` repeats (or sizes), or ``quick`` in a short run."""
    return quick if QUICK else full


def _proc_status() -> dict[str, float]:
    """VmRSS and VmHWM of this process in MiB (Linux), empty elsewhere."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return {}
    return {line.split(":")[0]: int(line.split()[1]) / 1024 for line in lines if line.startswith(("VmRSS", "VmHWM"))}


def resident_peak_mib(call: Callable[[], object]) -> float | None:
    """The peak resident memory ``call()`` adds to the process, in MiB: the high-water mark (VmHWM, reset
    through ``/proc/self/clear_refs`` first) minus the resident size before the call. It covers every
    allocation (numpy, LAPACK, compiled extensions). None where Linux's /proc is not available."""
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return None
    before = _proc_status()
    call()
    after = _proc_status()
    if "VmRSS" not in before or "VmHWM" not in after:
        return None
    return max(after["VmHWM"] - before["VmRSS"], 0.0)


def time_call(task: str, implementation: str, call: Callable[[], object], repeats: int = 7,
              warmup: int = 1, measure_memory: bool = False, memory: str = "tracemalloc") -> Timing:
    """Time ``call()`` ``repeats`` times after ``warmup`` untimed calls; optionally record peak memory.

    Peak memory is measured during one extra call: with ``memory="tracemalloc"`` the high-water mark of
    Python-level allocations (numpy arrays, not memory compiled extensions allocate themselves), with
    ``memory="rss"`` the resident memory the call adds (:func:`resident_peak_mib`). A short run
    (:data:`QUICK`) makes at most two repeats.
    """
    repeats = min(repeats, 2) if QUICK else repeats
    for _ in range(warmup):
        call()
    seconds = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    peak = None
    if measure_memory and memory == "rss":
        peak = resident_peak_mib(call)
    elif measure_memory:
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


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """Where and when a result was measured: date (UTC), CPU, cores, memory, load average, versions."""
    import numpy
    import scipy

    import mlmtools

    memory = None
    try:
        total = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
        memory = round(int(total.split()[1]) / 2**20, 1)
    except (OSError, StopIteration):
        pass
    return {"date_utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M"),
            "cpu": _cpu_model(), "cores": os.cpu_count(), "memory_gib": memory,
            "load_average": [round(v, 2) for v in os.getloadavg()], "system": platform.platform(),
            "python": platform.python_version(), "numpy": numpy.__version__, "scipy": scipy.__version__,
            "mlmtools": mlmtools.__version__, "quick": QUICK}


def save_results(name: str, payload: dict[str, Any]) -> Path:
    """Write ``benchmarks/results/<name>.json``: the payload and :func:`machine` (read by ``make_page.py``).

    Any benchmark may save its tables this way: a payload with ``"title"`` and ``"timings"`` (a list of
    :meth:`Timing.as_record`) becomes a table of the benchmarks page."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **payload}, indent=1) + "\n", encoding="utf-8")
    return path


def run_r(script: str, arguments: list[str], timeout: float) -> tuple[list[dict[str, Any]] | None, str]:
    """Run an R script with ``Rscript`` and read the JSON objects it prints, one per line.

    Returns the records and an empty message, or None and why R was not used (no Rscript, a missing
    package, an error, the time limit)."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None, "Rscript is not installed"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.R"
        path.write_text(script, encoding="utf-8")
        try:
            result = subprocess.run([rscript, str(path), *arguments], capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, f"R took more than {timeout:.0f} s"
    if result.returncode != 0:
        return None, "R failed: " + (result.stderr.strip().splitlines() or ["no message"])[-1][:200]
    records = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return records, ""


#: R helpers for the scripts given to :func:`run_r`: ``timed`` (the seconds of each repeat, the peak resident
#: memory the first call adds, as :func:`resident_peak_mib`, and the last value) and ``emit`` (one JSON line).
R_HELPERS = """
status_mib <- function(field) {
  line <- grep(paste0("^", field, ":"), readLines("/proc/self/status"), value = TRUE)
  as.numeric(strsplit(trimws(sub(".*:", "", line)), " ")[[1]][1]) / 1024
}
timed <- function(call, repeats) {
  gc()
  cat("5", file = "/proc/self/clear_refs")
  before <- status_mib("VmRSS")
  first <- system.time(value <- call())[["elapsed"]]
  peak <- status_mib("VmHWM") - before
  rest <- if (repeats > 1) sapply(seq_len(repeats - 1), function(i) { gc(); system.time(call())[["elapsed"]] }) else c()
  list(seconds = c(first, rest), peak_mib = max(peak, 0), value = value)
}
emit <- function(...) cat(jsonlite::toJSON(list(...), auto_unbox = TRUE, digits = NA), "\n", sep = "")
"""
