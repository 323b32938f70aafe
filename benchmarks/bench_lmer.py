"""Speed of `mlmtools.lmer` against statsmodels' MixedLM and mixedlm, measured in one run.

Tasks (each a fit followed by the inference a reader asks for: Satterthwaite t-tests where the package has
them, its default otherwise):

1. sleepstudy, ``Reaction ~ Days + (1 + Days | Subject)``: fit + summary;
2. a random-intercept model on 300 rows in 10 clusters (the lecture's demo design);
3. 50,000 rows in 1,000 groups with a correlated random slope: fit + summary, with peak memory;
4. a crossed design: 2,000 rows, 40 x 50 levels, ``(1 | a) + (1 | b)``.

statsmodels and mixedlm are peers for comparison only (installed from requirements-bench.txt).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from harness import Timing, report, save_results, time_call

import mlmtools
from mlmtools.datasets import sleepstudy


def random_slope_data(n_groups: int, per_group: int, seed: int) -> pd.DataFrame:
    """Groups with a correlated random intercept and slope on x."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), per_group)
    x = rng.uniform(0, 10, g.size)
    u = rng.multivariate_normal([0, 0], [[25.0, 1.5], [1.5, 1.0]], n_groups)
    y = 10 + 2 * x + u[g, 0] + u[g, 1] * x + rng.normal(0, 3, g.size)
    return pd.DataFrame({"y": y, "x": x, "g": [f"g{i:04d}" for i in g]})


def random_intercept_data(n_clusters: int, size: int, seed: int) -> pd.DataFrame:
    """The lecture's cluster-randomized design: treatment constant within clusters."""
    rng = np.random.default_rng(seed)
    school = np.repeat(np.arange(n_clusters), size)
    y = 50 + rng.normal(0, 0.5, n_clusters)[school] + rng.normal(0, np.sqrt(0.75), school.size)
    return pd.DataFrame({"y": y, "treatment": (school >= n_clusters // 2).astype(float),
                         "school": [f"s{i:02d}" for i in school]})


def crossed_data(n_a: int, n_b: int, n: int, seed: int) -> pd.DataFrame:
    """Observations on random pairs of two crossed factors."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n_a, n)
    b = rng.integers(0, n_b, n)
    x = rng.normal(size=n)
    y = 1 + 0.5 * x + rng.normal(0, 1, n_a)[a] + rng.normal(0, 0.7, n_b)[b] + rng.normal(0, 1, n)
    return pd.DataFrame({"y": y, "x": x, "a": [f"a{i:02d}" for i in a], "b": [f"b{i:02d}" for i in b]})


def mlmtools_fit(formula: str, data: pd.DataFrame):
    def call():
        fit = mlmtools.lmer(formula, data)
        return str(fit.summary())
    return call


def statsmodels_fit(formula: str, data: pd.DataFrame, groups: str, re_formula: str | None = None,
                    vc_formula: dict | None = None):
    import statsmodels.formula.api as smf

    def call():
        # statsmodels warns about its own convergence on some of these data; the benchmark times the peer,
        # it does not judge its fit, so those warnings are not printed here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = smf.mixedlm(formula, data, groups=data[groups], re_formula=re_formula, vc_formula=vc_formula)
            return str(model.fit(reml=True).summary())
    return call


def mixedlm_fit(formula: str, data: pd.DataFrame):
    import mixedlm

    def call():
        return str(mixedlm.lmer(formula, data).summary())
    return call


def main() -> None:
    timings: list[Timing] = []
    sleep = sleepstudy()
    task = "sleepstudy (1 + Days | Subject), fit + summary"
    timings += [
        time_call(task, "mlmtools", mlmtools_fit("Reaction ~ Days + (1 + Days | Subject)", sleep), repeats=30),
        time_call(task, "statsmodels MixedLM", statsmodels_fit("Reaction ~ Days", sleep, "Subject", "~Days"),
                  repeats=10),
        time_call(task, "mixedlm", mixedlm_fit("Reaction ~ Days + (Days | Subject)", sleep), repeats=30),
    ]
    demo = random_intercept_data(10, 30, seed=1)
    task = "random intercept, 300 rows / 10 clusters"
    timings += [
        time_call(task, "mlmtools", mlmtools_fit("y ~ treatment + (1 | school)", demo), repeats=30),
        time_call(task, "statsmodels MixedLM", statsmodels_fit("y ~ treatment", demo, "school"), repeats=10),
        time_call(task, "mixedlm", mixedlm_fit("y ~ treatment + (1 | school)", demo), repeats=30),
    ]
    big = random_slope_data(1000, 50, seed=2)
    task = "50,000 rows / 1,000 groups, (1 + x | g)"
    timings += [
        time_call(task, "mlmtools", mlmtools_fit("y ~ x + (1 + x | g)", big), repeats=5, measure_memory=True),
        time_call(task, "statsmodels MixedLM", statsmodels_fit("y ~ x", big, "g", "~x"), repeats=2,
                  measure_memory=True),
        time_call(task, "mixedlm", mixedlm_fit("y ~ x + (1 + x | g)", big), repeats=5, measure_memory=True),
    ]
    crossed = crossed_data(40, 50, 2000, seed=3)
    crossed["one"] = 1
    task = "crossed, 2,000 rows, (1 | a) + (1 | b)"
    timings += [
        time_call(task, "mlmtools", mlmtools_fit("y ~ x + (1 | a) + (1 | b)", crossed), repeats=10),
        time_call(task, "statsmodels MixedLM",
                  statsmodels_fit("y ~ x", crossed, "one", None, {"a": "0 + C(a)", "b": "0 + C(b)"}),
                  repeats=1, warmup=0),
        time_call(task, "mixedlm", mixedlm_fit("y ~ x + (1 | a) + (1 | b)", crossed), repeats=10),
    ]
    print(report(timings))
    save_results("lmer", {"title": "Linear mixed models: the lecture's designs and a large nested one",
                          "timings": [t.as_record() for t in timings]})


if __name__ == "__main__":
    main()
