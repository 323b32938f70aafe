"""What refitting a built model saves over building it again for every data set, measured in one run.

A simulation study fits one model to many responses with the same design. Before the model objects,
each replicate called ``lmer(formula, data)`` (or ``geeglm``), which parses the formula, builds the model
frame and computes every cross-product again; now the model is built once and ``refit(y)`` computes only
what involves the response (the numbers are the same, bit for bit: tests/package/test_lmm_model.py).

Tasks (``mlmtools`` is the refit, ``rebuilt`` the way it was done before):

1. one sleepstudy fit, ``Reaction ~ Days + (1 + Days | Subject)``, to a new response;
2. the general engine of the type I study (``simulate_type1(method="general")``), 200 replicates of 10
   schools x 30 pupils, OLS and both mixed-model p-values per replicate;
3. the GEE path of ``power_simulation``: an exchangeable GEE fitted to 50 data sets.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from harness import Timing, report, time_call

from mlmtools.datasets import sleepstudy
from mlmtools.gee import GeeModel, geeglm
from mlmtools.lmm import LinearMixedModel, lmer
from mlmtools.simulate.rng import RRandom
from mlmtools.simulate.trials import draw_balanced_trials, simulate_cluster_trial
from mlmtools.simulate.type1 import mixed_treatment_pvalues, ols_treatment_pvalue, simulate_type1

SIGMA_U, SIGMA_E = 0.5, math.sqrt(0.75)
TYPE1_REPLICATES = 200
GEE_DATA_SETS = 50


def single_fit_timings() -> list[Timing]:
    task = "sleepstudy slope model, one fit to a new response"
    data = sleepstudy()
    formula = "Reaction ~ Days + (1 + Days | Subject)"
    y = data["Reaction"].to_numpy() + RRandom(1).rnorm(len(data), 0.0, 5.0)
    model = LinearMixedModel(formula, data)
    new_data = data.assign(Reaction=y)
    return [time_call(task, "mlmtools", lambda: model.refit(y), repeats=31),
            time_call(task, "rebuilt (lmer)", lambda: lmer(formula, new_data), repeats=31)]


def rebuilt_type1() -> None:
    """The general engine as it was: a model built from each replicate's data frame."""
    stream = RRandom(2026)
    for _ in range(TYPE1_REPLICATES):
        data = simulate_cluster_trial(10, 30, SIGMA_U, SIGMA_E, seed=stream)
        ols_treatment_pvalue(data)
        mixed_treatment_pvalues(data)


def type1_timings() -> list[Timing]:
    task = f"type I study, general engine, {TYPE1_REPLICATES} reps"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the replicates' singular fits warn the same way on both paths
        return [time_call(task, "mlmtools",
                          lambda: simulate_type1(TYPE1_REPLICATES, seed=2026, method="general"), repeats=3),
                time_call(task, "rebuilt (lmer)", rebuilt_type1, repeats=3)]


def gee_timings() -> list[Timing]:
    task = f"exchangeable GEE, {GEE_DATA_SETS} data sets (power, gee)"
    trials = draw_balanced_trials(GEE_DATA_SETS, 10, 30, SIGMA_U, SIGMA_E, seed=1)
    data = pd.DataFrame({"cluster": np.repeat(np.arange(10), 30), "treatment": np.repeat([0.0, 1.0], 150),
                         "y": trials[0].reshape(-1)})

    def refitted() -> None:
        model = GeeModel("y ~ treatment", data, id="cluster", corstr="exchangeable")
        for trial in trials:
            model.refit(trial.reshape(-1))

    def rebuilt() -> None:
        for trial in trials:
            geeglm("y ~ treatment", data.assign(y=trial.reshape(-1)), id="cluster", corstr="exchangeable")

    return [time_call(task, "mlmtools", refitted, repeats=5),
            time_call(task, "rebuilt (geeglm)", rebuilt, repeats=5)]


def main() -> None:
    print(report(single_fit_timings() + type1_timings() + gee_timings()))
    print("(ratios are to the refit, the mlmtools row of each task; the machine may be shared, so the times "
          "are noisy)")


if __name__ == "__main__":
    main()
