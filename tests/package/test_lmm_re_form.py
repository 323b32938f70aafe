"""predict(re_form=...) with some of the random-effects terms, against lme4's
``predict(m, newdata, re.form)`` (``lme4_tools.json``'s ``re_form_predictions``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_simulate_mixed_responses import TOOLS, fit_model, tools_data

from mlmtools.lmm import lmer

PREDICTIONS = TOOLS["re_form_predictions"]


@pytest.mark.parametrize("name", list(PREDICTIONS))
def test_predictions_with_some_terms_match_lme4(name):
    """Measured: at most 6e-11 from R's, on the data and on new data with unseen levels."""
    case = PREDICTIONS[name]
    fit = fit_model(case["model"], case["data"])
    newdata = tools_data(case["newdata"])
    for key, form in zip(case["on_data"], case["re_forms"]):
        re_form = None if form == "NULL" else form
        np.testing.assert_allclose(fit.predict(re_form=re_form).to_numpy(), case["on_data"][key], rtol=1e-10)
        np.testing.assert_allclose(fit.predict(newdata, re_form=re_form, allow_new_levels=True).to_numpy(),
                                   case["on_newdata"][key], rtol=1e-10)


def test_a_term_of_re_form_can_keep_some_of_a_terms_columns(sleep_models, sleepstudy):
    """(1 | Subject) in a model with (1 + Days | Subject): the intercepts, not the slopes."""
    fit = sleep_models["m2"]
    modes = fit.ranef()["Subject"]
    expected = fit.predict(re_form="NA").to_numpy() + modes.loc[sleepstudy["Subject"], "(Intercept)"].to_numpy()
    np.testing.assert_allclose(fit.predict(re_form="~(1 | Subject)").to_numpy(), expected)
    both = fit.predict(re_form="~(1 + Days | Subject)")
    pd.testing.assert_series_equal(both, fit.predict())


@pytest.mark.parametrize(("re_form", "message"), [
    ("~(1 | school)", "grouping factor 'school', which the model does not have"),
    ("~(x | Subject)", "does not have for 'Subject': x"),
    ("~Days + (1 | Subject)", "one-sided formula of random-effects terms"),
])
def test_re_form_refuses_what_the_model_does_not_have(sleep_models, re_form, message):
    with pytest.raises(ValueError, match=message):
        sleep_models["m2"].predict(re_form=re_form)


def test_uncorrelated_terms_are_matched_by_group_and_column(sleepstudy):
    fit = lmer("Reaction ~ Days + (Days || Subject)", sleepstudy)
    slopes_only = fit.predict(re_form="~(0 + Days | Subject)").to_numpy()
    modes = fit.ranef()["Subject"]
    expected = fit.predict(re_form="NA").to_numpy() + sleepstudy["Days"].to_numpy() * modes.loc[
        sleepstudy["Subject"], "Days"].to_numpy()
    np.testing.assert_allclose(slopes_only, expected)
