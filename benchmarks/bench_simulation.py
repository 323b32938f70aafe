"""Speed of the simulation studies and of the book, measured in one run.

1. The lecture's type I error study (1,000 replicates of 10 schools x 30 pupils, OLS and mixed-model
   p-values per replicate) by the balanced fast path, by the general ``lmer`` engine, by statsmodels'
   MixedLM and by mixedlm. The two peers run fewer replicates; their times are scaled to 1,000
   replicates (the label says by how much).
2. ``power_simulation`` with 1 and 2 loky workers: 1,000 replicates of the mixed model (vectorized, so
   cheap) and 200 of GEE (one fit per replicate, where extra workers pay off).
3. The book: the time to execute each notebook in ``notebooks/`` from a fresh kernel, and the total (not in
   a short run, ``BENCH_QUICK=1``).

statsmodels comes with the course's requirements; mixedlm is a peer for comparison only (installed from
requirements-bench.txt) and is skipped when missing.
"""

from __future__ import annotations

import math
import tempfile
import time
import warnings
from pathlib import Path

import statsmodels.formula.api as smf
from harness import QUICK, Timing, format_duration, report, time_call

from mlmtools.simulate.power import power_simulation
from mlmtools.simulate.rng import RRandom
from mlmtools.simulate.trials import simulate_cluster_trial
from mlmtools.simulate.type1 import ols_treatment_pvalue, simulate_type1

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
FULL_STUDY = 1000
SIGMA_U, SIGMA_E = 0.5, math.sqrt(0.75)


def scaled(timing: Timing, factor: float, label: str) -> Timing:
    """A timing of a shortened study, scaled to the full study."""
    return Timing(timing.task, label, tuple(seconds * factor for seconds in timing.seconds), timing.peak_mib)


def fast_study() -> None:
    simulate_type1(FULL_STUDY, seed=2026, method="fast")


def general_study(n_sims: int):
    def run() -> None:
        simulate_type1(n_sims, seed=2026, method="general")
    return run


def peer_study(n_sims: int, fit_mixed):
    """The same study with OLS by formula and the mixed model fitted by ``fit_mixed(data)``."""
    def run() -> None:
        stream = RRandom(2026)
        for _ in range(n_sims):
            data = simulate_cluster_trial(10, 30, SIGMA_U, SIGMA_E, seed=stream)
            ols_treatment_pvalue(data)
            fit_mixed(data)
    return run


def statsmodels_mixed(data) -> float:
    # Nelder-Mead: statsmodels' default gradient optimizers fail to converge on some of these data sets.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = smf.mixedlm("y ~ treatment", data, groups=data["school"]).fit(reml=True, method="nm")
    return float(fit.pvalues["treatment"])


def mixedlm_mixed(data) -> str:
    import mixedlm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return str(mixedlm.lmer("y ~ treatment + (1 | school)", data).summary())


def type1_timings() -> list[Timing]:
    task = f"type I error study, {FULL_STUDY} replicates"
    timings = [time_call(task, "mlmtools", fast_study, repeats=7)]
    peer_n = 20
    timings.append(time_call(task, "lmer engine", general_study(FULL_STUDY), repeats=3, warmup=0))
    peer = time_call(task, "statsmodels", peer_study(peer_n, statsmodels_mixed), repeats=3)
    timings.append(scaled(peer, FULL_STUDY / peer_n, f"statsmodels ({peer_n} x{FULL_STUDY // peer_n})"))
    try:
        import mixedlm  # noqa: F401
    except ImportError:
        print("mixedlm is not installed: skipped (pip install -r requirements-bench.txt)")
    else:
        peer = time_call(task, "mixedlm", peer_study(peer_n, mixedlm_mixed), repeats=3)
        timings.append(scaled(peer, FULL_STUDY / peer_n, f"mixedlm ({peer_n} x{FULL_STUDY // peer_n})"))
    return timings


def power_timings() -> list[Timing]:
    task = "power_simulation, 1000 replicates (mixed)"

    def with_workers(n_jobs: int):
        return lambda: power_simulation(10, 30, 0.25, 0.5, n_sims=1000, seed=1, n_jobs=n_jobs)

    def gee_with_workers(n_jobs: int):
        return lambda: power_simulation(10, 30, 0.25, 0.5, n_sims=200, seed=1, method="gee", n_jobs=n_jobs)

    gee_task = "power_simulation, 200 replicates (gee)"
    return [time_call(task, "mlmtools", with_workers(1), repeats=5),
            time_call(task, "mlmtools, 2 workers", with_workers(2), repeats=5),
            time_call(gee_task, "mlmtools", gee_with_workers(1), repeats=3),
            time_call(gee_task, "mlmtools, 2 workers", gee_with_workers(2), repeats=3)]


def book_times() -> list[tuple[str, float]]:
    """Seconds to execute each notebook from a fresh kernel (one run each, in a scratch folder)."""
    import nbformat
    from nbclient import NotebookClient

    times = []
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        with tempfile.TemporaryDirectory() as scratch:
            client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                                    resources={"metadata": {"path": scratch}})
            start = time.perf_counter()
            client.execute()
            times.append((path.name, time.perf_counter() - start))
    return times


def main() -> None:
    print(report(type1_timings() + power_timings()))
    print("(ratios are to the mlmtools row of each task; scaled rows ran the study shortened, as labelled)")
    if QUICK:
        print("\nbook execution: not timed in a short run (BENCH_QUICK=1)")
        return
    print("\nbook execution (fresh kernel per notebook, kernel start included)")
    times = book_times()
    for name, seconds in times:
        print(f"  {name:<44} {format_duration(seconds):>10}")
    print(f"  {'total':<44} {format_duration(sum(s for _, s in times)):>10}")


if __name__ == "__main__":
    main()
