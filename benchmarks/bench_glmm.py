"""Speed of `mlmtools.glmer` on every glmer R fixture and against its peers, measured in one run.

1. Every glmer fixture (``tests/fixtures/glmer_cases.json`` and the speed issue's two cases in
   ``glmer_speed_cases.json``): the median fit time with BLAS limited to one thread and with the
   default threads (glmer limits BLAS to one thread inside the fit, so the two should agree),
   lme4's median on this machine stored in ``glmer_timings.json`` (measured by
   ``tests/fixtures/r/make_glmer_timings.R``), the ratio to it, and how far the log-likelihood is
   from lme4's.
2. Peers on the binomial GLMM with 20,000 rows in 1,000 clusters and on cbpp: mixedlm's ``glmer``
   (from requirements-bench.txt) and lme4, timed by ``Rscript`` in the same run when R and lme4
   are installed (inside R, so R's start-up is not counted), else its figure stored below. Every
   tool reports its log-likelihood so that one can see they fit the same model (mixedlm's
   optimizer stops at a slightly different point).
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from harness import Timing, format_duration, report, time_call
from threadpoolctl import threadpool_limits

from mlmtools.glmm import glmer

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
TEXT = {"herd": str, "period": str, "INDEX": str, "BROOD": str, "YEAR": str, "LOCATION": str, "id": str}
CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
FIXTURE_MODELS = {
    "binary_laplace": ("y ~ x + treat + (1 | id)", "data_gee_binary.csv", "binomial", 1),
    "binary_agq10": ("y ~ x + treat + (1 | id)", "data_gee_binary.csv", "binomial", 10),
    "cbpp_laplace": (CBPP, "data_cbpp.csv", "binomial", 1),
    "cbpp_agq10": (CBPP, "data_cbpp.csv", "binomial", 10),
    "counts_laplace": ("count ~ x + offset(log(exposure)) + (1 | id)", "data_gee_counts.csv", "poisson", 1),
    "counts_agq10": ("count ~ x + offset(log(exposure)) + (1 | id)", "data_gee_counts.csv", "poisson", 10),
    "grouse_three_terms": ("TICKS ~ YEAR + scale(HEIGHT) + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)",
                           "data_grouseticks.csv", "poisson", 1),
    "binary_panel_slope": ("y ~ time + trt + (time | id)", "data_binary_panel.csv", "binomial", 1),
}
BINOMIAL_TASK = "binomial (1 | g), 20,000 rows / 1,000 clusters"
CBPP_TASK = "cbpp binomial totals, (1 | herd)"

#: lme4 1.1-31's medians (seconds, R 4.2.2) for the peer tasks, used when R is not installed: measured by
#: this script on 2026-12-05, on the 2-core Intel Xeon machine the project is developed on, while other
#: work ran (load average about 5).
LME4_STORED = {BINOMIAL_TASK: 1.26, CBPP_TASK: 0.076}

LME4_SCRIPT = """
suppressMessages(library(lme4))
args <- commandArgs(TRUE)
big <- read.csv(args[1], colClasses = c(g = "character"))
cbpp <- read.csv(args[2], colClasses = c(herd = "character", period = "character"))
times <- function(fit, repeats) {
  fit()
  sapply(seq_len(repeats), function(i) { gc(); system.time(fit())[["elapsed"]] })
}
fit_big <- function() glmer(y ~ x + (1 | g), data = big, family = binomial)
fit_cbpp <- function() glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp, family = binomial)
cat("big", times(fit_big, 5), "\\n")
cat("cbpp", times(fit_cbpp, 15), "\\n")
cat("loglik", sprintf("%.17g", c(logLik(fit_big()), logLik(fit_cbpp()))), "\\n")
"""


def read(filename: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / filename, dtype=TEXT)


def binomial_clusters(n: int = 20_000, n_clusters: int = 1_000, seed: int = 17) -> pd.DataFrame:
    """A logistic outcome with a random intercept per cluster (clusters of about 20 rows)."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, n_clusters, n)
    x = rng.normal(size=n)
    eta = -0.3 + 0.8 * x + rng.normal(0, 1.0, n_clusters)[g]
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(float)
    return pd.DataFrame({"y": y, "x": x, "g": [f"g{i:04d}" for i in g]})


def quiet(call):
    """The call with the fits' own warnings (singular fits of the peers, say) not printed."""
    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return call()
    return run


def median_times(call, repeats: int) -> tuple[float, float]:
    """Median wall-clock and CPU seconds of ``call()`` over ``repeats`` runs after one warm-up.

    On a shared machine the CPU time (of this process, all threads) is the steadier figure; R's
    stored timings have both (``elapsed`` and ``user``)."""
    call()
    wall, cpu = [], []
    for _ in range(repeats):
        gc.collect()
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        call()
        wall.append(time.perf_counter() - start_wall)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def fixture_table() -> str:
    """Table 1: every glmer fixture, one and default BLAS threads, lme4's stored time."""
    stored = json.loads((FIXTURES / "glmer_timings.json").read_text(encoding="utf-8"))
    cases = json.loads((FIXTURES / "glmer_cases.json").read_text(encoding="utf-8"))["cases"]
    cases |= json.loads((FIXTURES / "glmer_speed_cases.json").read_text(encoding="utf-8"))["cases"]
    lines = ["wall-clock medians (CPU medians in parentheses; lme4: elapsed (user) as stored)",
             f"{'glmer fixture':<20} {'rows':>5} {'1 BLAS thread':>20} {'default threads':>20} "
             f"{'lme4 (stored)':>20} {'ratio':>13} {'|logLik - lme4|':>16}"]
    for name, (formula, filename, family, nagq) in FIXTURE_MODELS.items():
        data = read(filename)
        fit = quiet(lambda formula=formula, data=data, family=family, nagq=nagq:
                    glmer(formula, data, family=family, nAGQ=nagq))
        repeats = 5 if name == "grouse_three_terms" else 15
        with threadpool_limits(1, user_api="blas"):
            one = median_times(fit, repeats)
        default = median_times(fit, repeats)
        r_wall = stored["timings"][name]["median_elapsed_seconds"]
        r_cpu = stored["timings"][name]["median_user_seconds"]
        difference = abs(fit().loglik - cases[name]["logLik"])
        lines.append(f"{name:<20} {len(data):>5} {_pair(*one):>20} {_pair(*default):>20} {_pair(r_wall, r_cpu):>20} "
                     f"{default[0] / r_wall:>5.2f}x ({default[1] / r_cpu:.2f}x) {difference:>16.1e}")
    meta = stored["meta"]
    lines.append(f"(lme4 1.1-31 timed on {meta['measured_at_utc']} UTC, load average before/after "
                 f"{meta['machine']['loadavg_before'].split()[0]}/{meta['machine']['loadavg_after'].split()[0]}; "
                 f"load average now {os.getloadavg()[0]:.2f})")
    return "\n".join(lines)


def _pair(wall: float, cpu: float) -> str:
    return f"{format_duration(wall)} ({format_duration(cpu)})"


def lme4_timings(big: pd.DataFrame) -> tuple[list[Timing], dict[str, float]]:
    """lme4's times and log-likelihoods from one Rscript run, or the stored medians without R."""
    rscript = shutil.which("Rscript")
    if rscript is not None:
        with tempfile.TemporaryDirectory() as folder:
            big_csv, script = Path(folder) / "big.csv", Path(folder) / "lme4_times.R"
            big.to_csv(big_csv, index=False, float_format="%.17g")
            script.write_text(LME4_SCRIPT)
            result = subprocess.run([rscript, str(script), str(big_csv), str(FIXTURES / "data_cbpp.csv")],
                                    capture_output=True, text=True)
        if result.returncode == 0:
            lines = {line.split()[0]: [float(v) for v in line.split()[1:]]
                     for line in result.stdout.splitlines() if line.strip()}
            timings = [Timing(BINOMIAL_TASK, "lme4 (R, this run)", tuple(lines["big"])),
                       Timing(CBPP_TASK, "lme4 (R, this run)", tuple(lines["cbpp"]))]
            return timings, {BINOMIAL_TASK: lines["loglik"][0], CBPP_TASK: lines["loglik"][1]}
    return [Timing(task, "lme4 (stored, no R here)", (seconds,)) for task, seconds in LME4_STORED.items()], {}


def peer_table() -> str:
    """Table 2: the binomial GLMM at scale and cbpp against mixedlm and lme4."""
    import mixedlm

    big = binomial_clusters()
    cbpp = read("data_cbpp.csv")
    proportions = cbpp.assign(prop=cbpp["incidence"] / cbpp["size"])
    trials = cbpp["size"].to_numpy(dtype=float)
    ours = {BINOMIAL_TASK: quiet(lambda: glmer("y ~ x + (1 | g)", big)),
            CBPP_TASK: quiet(lambda: glmer(CBPP, cbpp))}
    theirs = {BINOMIAL_TASK: quiet(lambda: mixedlm.glmer("y ~ x + (1 | g)", big, family=mixedlm.families.Binomial())),
              CBPP_TASK: quiet(lambda: mixedlm.glmer("prop ~ period + (1 | herd)", proportions,
                                                     family=mixedlm.families.Binomial(), weights=trials))}
    timings: list[Timing] = []
    logliks = {}
    for task in (BINOMIAL_TASK, CBPP_TASK):
        repeats = 7 if task == BINOMIAL_TASK else 21
        timings.append(time_call(task, "mlmtools", ours[task], repeats=repeats))
        timings.append(time_call(task, "mixedlm", theirs[task], repeats=repeats))
        logliks[(task, "mlmtools")] = ours[task]().loglik
        logliks[(task, "mixedlm")] = float(theirs[task]().logLik().value)
    r_timings, r_logliks = lme4_timings(big)
    timings += r_timings
    order = [t for task in (BINOMIAL_TASK, CBPP_TASK) for t in timings if t.task == task]
    notes = [f"logLik {task}: " + ", ".join(f"{who} {value:.10g}" for (t, who), value in logliks.items() if t == task)
             + (f", lme4 {r_logliks[task]:.10g}" if task in r_logliks else "") for task in (BINOMIAL_TASK, CBPP_TASK)]
    return report(order) + "\n" + "\n".join(notes)


def main() -> None:
    print(fixture_table())
    print()
    print(peer_table())


if __name__ == "__main__":
    main()
