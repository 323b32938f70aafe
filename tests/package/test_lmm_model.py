"""Model objects you can fit and refit, and the read-only fit state their results expose.

A refit reuses the model frame and every cross-product that does not involve the response,
so it must give the numbers of a model built afresh from data holding the new response, bit
for bit (``np.array_equal``, not a tolerance); results must keep pickling.
"""

from __future__ import annotations

import dataclasses
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

from mlmtools.gee import GeeModel, geeglm
from mlmtools.glmm import GeneralizedLinearMixedModel, glmer
from mlmtools.lmm import LinearMixedModel, LmerResult, LmmFitState, lmer
from mlmtools.simulate.rng import RRandom
from mlmtools.simulate.trials import simulate_cluster_trial
from mlmtools.simulate.type1 import mixed_treatment_pvalues, ols_treatment_pvalue, simulate_type1


def assert_same_lmer_fit(a: LmerResult, b: LmerResult) -> None:
    assert np.array_equal(a.theta, b.theta)
    assert np.array_equal(a.fixef.to_numpy(), b.fixef.to_numpy())
    assert a.reml_criterion == b.reml_criterion and a.loglik == b.loglik
    pd.testing.assert_frame_equal(a.coef_table(), b.coef_table(), check_exact=True)
    pd.testing.assert_frame_equal(a.varcorr(), b.varcorr(), check_exact=True)
    assert str(a.summary()) == str(b.summary())


def recording(call):
    """The result of ``call()`` and the messages of the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    return result, [(w.category, str(w.message)) for w in caught]


def new_response(data: pd.DataFrame, column: str, seed: int) -> np.ndarray:
    rng = RRandom(seed)
    return data[column].to_numpy() + rng.rnorm(len(data), 0.0, 5.0)


@pytest.mark.parametrize("formula, weights, offset", [
    ("Reaction ~ Days + (1 + Days | Subject)", None, None),
    ("Reaction ~ Days + (1 | Subject)", None, None),
    ("Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", None, None),
    ("Reaction ~ Days + (1 | Subject)", "w", "off"),
])
@pytest.mark.parametrize("REML", [True, False])
def test_refit_equals_a_model_built_with_the_new_response(sleepstudy, formula, weights, offset, REML):
    data = sleepstudy.assign(w=1.0 + (sleepstudy["Days"] % 3) / 4, off=sleepstudy["Days"] / 10)
    model = LinearMixedModel(formula, data, weights=weights, offset=offset)
    y = new_response(data, "Reaction", 7)
    refit, refit_warnings = recording(lambda: model.refit(y, REML=REML))
    fresh, fresh_warnings = recording(
        lambda: lmer(formula, data.assign(Reaction=y), REML=REML, weights=weights, offset=offset))
    assert_same_lmer_fit(refit, fresh)
    assert refit_warnings == fresh_warnings
    assert refit.model.design is model.design
    assert refit.state.problem.ztz1 is model.problem.ztz1


def test_refit_on_a_fitted_model_keeps_its_criterion_and_optimizer(sleepstudy):
    fit = lmer("Reaction ~ Days + (1 | Subject)", sleepstudy, REML=False, optimizer="cobyqa")
    again = fit.refit(new_response(sleepstudy, "Reaction", 3))
    assert not again.REML and again.optinfo.optimizer == "cobyqa"


def test_refit_of_the_same_response_is_the_same_fit(sleepstudy):
    fit = lmer("Reaction ~ Days + (1 + Days | Subject)", sleepstudy)
    assert_same_lmer_fit(fit.refit(sleepstudy["Reaction"]), fit)


@pytest.mark.parametrize("y, message", [
    (np.ones(5), "has 5 values; the model has 180 rows"),
    (np.r_[np.nan, np.ones(179)], "infinite or undefined"),
    (np.full(180, 3.0), "constant"),
])
def test_a_bad_new_response_is_refused(sleepstudy, y, message):
    model = LinearMixedModel("Reaction ~ Days + (1 | Subject)", sleepstudy)
    with pytest.raises(ValueError, match=message):
        model.refit(y)


def test_the_fit_state_is_one_read_only_record(sleep_models):
    fit = sleep_models["m2"]
    state = fit.state
    assert isinstance(state, LmmFitState)
    assert state.frame is fit.model.frame and state.problem is fit.model.problem
    assert np.array_equal(state.beta, fit.fixef.to_numpy())
    assert np.array_equal(state.vcov, fit.vcov().to_numpy())
    assert state.sigma == fit.sigma and np.array_equal(state.theta, fit.theta)
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.beta = np.zeros(2)
    assert not any(name.startswith("_") and name.lstrip("_") in ("data", "frame", "problem", "solution")
                   for name in vars(fit))


def test_everything_the_model_holds_is_set_when_it_is_built(sleepstudy):
    model = LinearMixedModel("Reaction ~ Days + (1 | Subject)", sleepstudy, weights=None, offset=None,
                             data_name="sleepstudy")
    fit = model.fit()
    assert fit.model is model and fit.model.data is sleepstudy
    assert (fit.data_name, fit.weights_label, fit.offset_label) == ("sleepstudy", None, None)


def test_results_pickle(sleep_models, sleepstudy):
    fits = [sleep_models["m2"],
            glmer("slow ~ Days + (1 | Subject)", sleepstudy.assign(slow=(sleepstudy["Reaction"] > 300).astype(int))),
            geeglm("Reaction ~ Days", sleepstudy, id="Subject", corstr="exchangeable")]
    for fit in fits:
        restored = pickle.loads(pickle.dumps(fit))
        assert str(restored.summary()) == str(fit.summary())


def test_glmm_refit_equals_a_model_built_with_the_new_response(sleepstudy):
    data = sleepstudy.assign(slow=(sleepstudy["Reaction"] > 300).astype(int))
    model = GeneralizedLinearMixedModel("slow ~ Days + (1 | Subject)", data, family="binomial")
    y = (new_response(data, "Reaction", 11) > 290).astype(float)
    refit = model.refit(y)
    fresh = glmer("slow ~ Days + (1 | Subject)", data.assign(slow=y), family="binomial")
    assert np.array_equal(refit.theta, fresh.theta)
    assert np.array_equal(refit.fixef.to_numpy(), fresh.fixef.to_numpy())
    assert np.array_equal(refit.vcov().to_numpy(), fresh.vcov().to_numpy())
    assert str(refit.summary()) == str(fresh.summary())
    with pytest.raises(ValueError, match="binomial"):
        model.refit(np.full(len(data), 2.0))


def test_gee_refit_equals_a_model_built_with_the_new_response(sleepstudy):
    model = GeeModel("Reaction ~ Days", sleepstudy, id="Subject", corstr="ar1")
    y = new_response(sleepstudy, "Reaction", 5)
    refit = model.refit(y)
    fresh = geeglm("Reaction ~ Days", sleepstudy.assign(Reaction=y), id="Subject", corstr="ar1")
    pd.testing.assert_frame_equal(refit.coef_table(), fresh.coef_table(), check_exact=True)
    assert np.array_equal(refit.alpha, fresh.alpha) and refit.scale == fresh.scale
    pd.testing.assert_series_equal(refit.fitted(), fresh.fitted(), check_exact=True)


def test_the_general_type1_engine_refits_to_the_same_numbers():
    """simulate_type1's general path refits one model; it equals fitting each replicate afresh."""
    def afresh() -> pd.DataFrame:
        rng = RRandom(99)
        rows = []
        for _ in range(6):
            data = simulate_cluster_trial(6, 5, seed=rng)
            mixed = mixed_treatment_pvalues(data)
            rows.append((ols_treatment_pvalue(data), mixed.satterthwaite, mixed.z))
        return pd.DataFrame(rows, columns=["p_ols", "p_mixed", "p_mixed_z"])

    study, study_warnings = recording(
        lambda: simulate_type1(n_sims=6, n_clusters=6, cluster_size=5, seed=99, method="general"))
    expected, expected_warnings = recording(afresh)
    pd.testing.assert_frame_equal(study, expected, check_exact=True)
    assert study_warnings == expected_warnings
