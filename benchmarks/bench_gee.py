"""Speed of `mlmtools.geeglm` against geepack (R) and statsmodels' GEE, measured in one run.

Tasks (each one ``geeglm`` fit: estimates and the sandwich covariance):

1. binary outcome, exchangeable working correlation, 100,000 rows in 10,000 clusters of random size
   (about 10 rows each), ``y ~ x``;
2. dietox (geepack's pig weights, ``tests/fixtures/data_dietox.csv``), gaussian, AR(1),
   ``Weight ~ Time + Cu``.

geepack is timed by ``Rscript`` in the same run when R and geepack are installed (its fits are timed
inside R, so R's start-up is not counted). Without R the table shows the figures stored below, measured
on the date and machine they name, and says so. statsmodels is a peer for comparison only.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from harness import Timing, report, time_call

import mlmtools

ROOT = Path(__file__).resolve().parents[1]
DIETOX = ROOT / "tests" / "fixtures" / "data_dietox.csv"
BINARY_TASK = "binary exchangeable, 100k rows / 10k clusters"
DIETOX_TASK = "dietox gaussian AR(1), 861 rows / 72 pigs"
REPEATS = {BINARY_TASK: 5, DIETOX_TASK: 21}

#: geepack 1.3.9's medians (seconds) on R 4.2.2, used when R is not installed: measured by this script
#: on 2026-12-04, on the 2-core Intel Xeon machine the project is developed on, while other work ran.
GEEPACK_STORED = {BINARY_TASK: 1.69, DIETOX_TASK: 0.017}

GEEPACK_SCRIPT = """
suppressMessages(library(geepack))
args <- commandArgs(TRUE)
binary <- read.csv(args[1])
dietox <- read.csv(args[2])
times <- function(fit, repeats) {
  fit()
  sapply(seq_len(repeats), function(i) { gc(); system.time(fit())[["elapsed"]] })
}
fit_binary <- function() geeglm(y ~ x, family = binomial, id = id, data = binary, corstr = "exchangeable")
fit_dietox <- function() geeglm(Weight ~ Time + Cu, id = Pig, data = dietox, corstr = "ar1")
cat("binary", times(fit_binary, as.integer(args[3])), "\\n")
cat("dietox", times(fit_dietox, as.integer(args[4])), "\\n")
cat("coef_binary", sprintf("%.17g", coef(fit_binary())), "\\n")
cat("coef_dietox", sprintf("%.17g", coef(fit_dietox())), "\\n")
"""


def binary_clusters(n_rows: int = 100_000, n_clusters: int = 10_000, seed: int = 17) -> pd.DataFrame:
    """A logistic outcome with a cluster effect; rows sorted by cluster, as geepack needs."""
    rng = np.random.default_rng(seed)
    cluster = np.sort(rng.integers(0, n_clusters, n_rows))
    x = rng.normal(size=n_rows)
    eta = -0.2 + 0.5 * x + rng.normal(0.0, 0.8, n_clusters)[cluster]
    y = (rng.uniform(size=n_rows) < 1.0 / (1.0 + np.exp(-eta))).astype(float)
    return pd.DataFrame({"y": y, "x": x, "id": cluster})


def geepack_timings(binary: pd.DataFrame) -> tuple[list[Timing], dict[str, np.ndarray]]:
    """geepack's times (and coefficients) from one Rscript run, or the stored medians without R."""
    rscript = shutil.which("Rscript")
    if rscript is not None:
        with tempfile.TemporaryDirectory() as folder:
            binary_csv, script = Path(folder) / "binary.csv", Path(folder) / "geepack_times.R"
            binary.to_csv(binary_csv, index=False, float_format="%.17g")
            script.write_text(GEEPACK_SCRIPT)
            result = subprocess.run([rscript, str(script), str(binary_csv), str(DIETOX),
                                     str(REPEATS[BINARY_TASK]), str(REPEATS[DIETOX_TASK])],
                                    capture_output=True, text=True)
        if result.returncode == 0:
            lines = {line.split()[0]: np.array(line.split()[1:], dtype=float)
                     for line in result.stdout.splitlines() if line.strip()}
            timings = [Timing(BINARY_TASK, "geepack (R)", tuple(lines["binary"])),
                       Timing(DIETOX_TASK, "geepack (R)", tuple(lines["dietox"]))]
            return timings, {BINARY_TASK: lines["coef_binary"], DIETOX_TASK: lines["coef_dietox"]}
        print(f"Rscript could not fit with geepack ({result.stderr.strip()[:200]}); stored figures shown")
    label = "geepack (stored 2026-12-04)"
    return [Timing(task, label, (seconds,)) for task, seconds in GEEPACK_STORED.items()], {}


def statsmodels_fit(formula: str, data: pd.DataFrame, groups: str, family, cov_struct, time: str | None = None):
    import statsmodels.formula.api as smf

    def call():
        # statsmodels may warn about its own iterations; the benchmark times the peer, it does not judge it
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = smf.gee(formula, groups, data, family=family, cov_struct=cov_struct,
                            time=None if time is None else data[time].to_numpy())
            return model.fit()
    return call


def main() -> None:
    import statsmodels.api as sm

    binary = binary_clusters()
    dietox = pd.read_csv(DIETOX)
    fits = {
        BINARY_TASK: lambda: mlmtools.geeglm("y ~ x", binary, id="id", family="binomial", corstr="exchangeable"),
        DIETOX_TASK: lambda: mlmtools.geeglm("Weight ~ Time + Cu", dietox, id="Pig", corstr="ar1"),
    }
    peers = {
        BINARY_TASK: statsmodels_fit("y ~ x", binary, "id", sm.families.Binomial(), sm.cov_struct.Exchangeable()),
        DIETOX_TASK: statsmodels_fit("Weight ~ Time + Cu", dietox, "Pig", sm.families.Gaussian(),
                                     sm.cov_struct.Autoregressive(grid=True), time="Time"),
    }
    timings: list[Timing] = []
    geepack, geepack_coef = geepack_timings(binary)
    for task, fit in fits.items():
        timings.append(time_call(task, "mlmtools", fit, repeats=REPEATS[task]))
        timings += [t for t in geepack if t.task == task]
        timings.append(time_call(task, "statsmodels GEE", peers[task], repeats=max(3, REPEATS[task] // 3)))
    print(report(timings))
    for task, coef in geepack_coef.items():
        ours = fits[task]().coefficients.to_numpy()
        print(f"{task}: largest relative difference from geepack's coefficients "
              f"{np.max(np.abs(ours / coef - 1)):.1e}")


if __name__ == "__main__":
    main()
