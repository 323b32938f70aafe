"""One measurement in a fresh process: the time and peak memory of one tool fitting one design.

``python benchmarks/measure.py TOOL DESIGN TASK REPEATS`` prints one JSON line with the wall-clock seconds
of each repeat, the peak resident memory the first fit added to the process (``harness.resident_peak_mib``)
and the tool's REML criterion. A fresh process per measurement keeps one fit's memory from hiding the next
one's (allocators keep what they freed). Before measuring, the tool fits a small design of the same kind, so
that modules loaded on first use are not timed. :func:`measure` runs it from another benchmark, and
:func:`r_measure` does the same for lme4 and lmerTest with ``Rscript``.

TOOL is ``mlmtools``, ``mixedlm`` or ``statsmodels``; TASK is ``fit`` or ``summary`` (fit + summary, with
Satterthwaite's df where the tool has them); DESIGN is one of

* ``insteval`` (``insteval:N``: its first N rows): InstEval, ``y ~ service + (1 | s) + (1 | d) + (1 | dept)``;
* ``crossed:A:B:N``: N rows on random pairs of an A-level and a B-level factor, ``y ~ x + (1 | a) + (1 | b)``;
* ``nested:G``: G groups of 5 rows, ``y ~ x + (1 | g)``.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from harness import HERE, R_HELPERS, resident_peak_mib, run_r

INSTEVAL = HERE.parent / "tests" / "fixtures" / "data_insteval.csv.gz"
ROWS_PER_GROUP = 5
CHILD_TIMEOUT = 900


def crossed_data(n_a: int, n_b: int, n: int, seed: int = 17) -> pd.DataFrame:
    """Rows on random pairs of two crossed factors, with a covariate."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, n_a, n), rng.integers(0, n_b, n)
    x = rng.normal(size=n)
    y = 1 + 0.5 * x + rng.normal(0, 1, n_a)[a] + rng.normal(0, 0.7, n_b)[b] + rng.normal(0, 1, n)
    return pd.DataFrame({"y": y, "x": x, "a": [f"a{i:05d}" for i in a], "b": [f"b{i:05d}" for i in b]})


def nested_data(groups: int, seed: int = 3) -> pd.DataFrame:
    """Groups of ROWS_PER_GROUP rows with a random intercept and a covariate."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(groups), ROWS_PER_GROUP)
    x = rng.normal(size=g.size)
    y = 1 + 0.5 * x + rng.normal(0, 1, groups)[g] + rng.normal(0, 1, g.size)
    return pd.DataFrame({"y": y, "x": x, "g": [f"g{i:06d}" for i in g]})


def design(spec: str) -> tuple[str, pd.DataFrame]:
    """The formula and data of a DESIGN (module docstring)."""
    kind, *sizes = spec.split(":")
    if kind == "insteval":
        data = pd.read_csv(INSTEVAL, nrows=int(sizes[0]) if sizes else None)
        for column in ("s", "d", "dept"):
            data[column] = data[column].astype(str)
        return "y ~ service + (1 | s) + (1 | d) + (1 | dept)", data
    if kind == "crossed":
        return "y ~ x + (1 | a) + (1 | b)", crossed_data(*(int(v) for v in sizes))
    if kind == "nested":
        return "y ~ x + (1 | g)", nested_data(int(sizes[0]))
    raise ValueError(f"unknown design {spec!r}")


def small_design(spec: str) -> str:
    """A small design of the same kind, for the warm-up fit."""
    kind = spec.split(":")[0]
    return {"insteval": "insteval:1000", "crossed": "crossed:60:40:600", "nested": "nested:50"}[kind]


def statsmodels_call(formula: str, data: pd.DataFrame) -> Callable[[], Any]:
    """statsmodels' MixedLM: one group per level for a single term; crossed factors as variance components
    of one group holding every row."""
    import statsmodels.formula.api as smf

    fixed, random = formula.split(" + (", 1)
    groups = [part.split("|")[1].strip(" )") for part in ("(" + random).split(" + ")]
    if len(groups) == 1:
        return lambda: smf.mixedlm(fixed, data, groups=data[groups[0]]).fit(reml=True)
    whole = data.assign(one=1)
    components = {g: f"0 + C({g})" for g in groups}
    return lambda: smf.mixedlm(fixed, whole, groups=whole["one"], vc_formula=components).fit(reml=True)


def fit_call(tool: str, task: str, formula: str, data: pd.DataFrame) -> Callable[[], Any]:
    """A call that fits (and, for ``summary``, summarises) the design with the tool."""
    if tool == "mlmtools":
        from mlmtools.lmm import LinearMixedModel

        fit = lambda: LinearMixedModel(formula, data).fit()  # noqa: E731
        return fit if task == "fit" else lambda: str(fit().summary())
    if tool == "mixedlm":
        import mixedlm

        fit = lambda: mixedlm.lmer(formula, data)  # noqa: E731
        return fit if task == "fit" else lambda: str(fit().summary())
    if tool == "statsmodels":
        fit = statsmodels_call(formula, data)
        return fit if task == "fit" else lambda: str(fit().summary())
    raise ValueError(f"unknown tool {tool!r}")


def criterion(tool: str, fitted: Any) -> float | None:
    """The REML criterion (-2 REML log-likelihood) of a fit, where the tool gives it."""
    if tool == "mlmtools":
        return float(fitted.devcrit(True))
    if tool == "mixedlm":
        return float(fitted.REMLcrit())
    if tool == "statsmodels":
        return float(-2 * fitted.llf)
    return None


def quietly(call: Callable[[], Any]) -> Callable[[], Any]:
    """The call with the fits' own warnings not printed (the benchmark times tools; it does not judge them)."""
    def run() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return call()
    return run


def run_here(tool: str, spec: str, task: str, repeats: int) -> dict[str, Any]:
    """The measurement of the module docstring, in this process."""
    formula, data = design(small_design(spec))
    quietly(fit_call(tool, task, formula, data))()
    formula, data = design(spec)
    call = quietly(fit_call(tool, task, formula, data))
    results: list[Any] = []
    start = time.perf_counter()
    peak = resident_peak_mib(lambda: results.append(call()))
    seconds = [time.perf_counter() - start]
    for _ in range(repeats - 1):
        start = time.perf_counter()
        results[0] = call()
        seconds.append(time.perf_counter() - start)
    return {"seconds": seconds, "median": statistics.median(seconds), "peak_mib": peak,
            "criterion": criterion(tool, results[0]) if task == "fit" else None, "rows": len(data)}


def measure(tool: str, spec: str, task: str, repeats: int) -> dict[str, Any] | str:
    """:func:`run_here` in a fresh process: the record, or why there is none (an error, the time limit)."""
    try:
        result = subprocess.run([sys.executable, str(Path(__file__).resolve()), tool, spec, task, str(repeats)],
                                capture_output=True, text=True, timeout=CHILD_TIMEOUT, cwd=HERE)
    except subprocess.TimeoutExpired:
        return f"more than {CHILD_TIMEOUT} s"
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        return "failed: " + (result.stderr.strip().splitlines() or ["no message"])[-1][:160]
    record: dict[str, Any] = json.loads(lines[-1])
    return record


R_MEASURE = R_HELPERS + """
suppressMessages({library(lme4); library(lmerTest)})
args <- commandArgs(TRUE)
read_design <- function(path) {
  data <- read.csv(path, colClasses = "character")
  for (column in intersect(c("y", "x", "service"), names(data))) data[[column]] <- as.numeric(data[[column]])
  data
}
formula <- as.formula(args[3])
warm <- read_design(args[1])
data <- read_design(args[2])
task <- args[4]
fit <- if (task == "fit") function(d) lme4::lmer(formula, data = d) else
  function(d) summary(lmerTest::lmer(formula, data = d))
invisible(suppressMessages(fit(warm)))
result <- timed(function() suppressMessages(fit(data)), as.integer(args[5]))
emit(seconds = result$seconds, median = median(result$seconds), peak_mib = result$peak_mib,
     criterion = if (task == "fit") REMLcrit(result$value) else NULL, rows = nrow(data))
"""


def r_measure(spec: str, task: str, repeats: int, timeout: float = CHILD_TIMEOUT) -> dict[str, Any] | str:
    """lme4 (``task="fit"``) or lmerTest (``"summary"``: fit + summary) on a DESIGN, timed inside a fresh R
    process after a warm-up fit: the record, or why there is none (no R, an error, the time limit)."""
    formula, data = design(spec)
    _, warm = design(small_design(spec))
    with tempfile.TemporaryDirectory() as folder:
        paths = [Path(folder) / "warm.csv", Path(folder) / "data.csv"]
        for frame, path in zip((warm, data), paths):
            frame.to_csv(path, index=False, float_format="%.17g")
        records, why = run_r(R_MEASURE, [str(paths[0]), str(paths[1]), formula, task, str(repeats)], timeout)
    return records[-1] if records else why


if __name__ == "__main__":
    print(json.dumps(run_here(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))))
