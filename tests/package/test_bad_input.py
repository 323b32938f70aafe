"""A catalogue of bad input across the public API.

Every case must end in an exception of the right type whose message names the problem,
raised by mlmtools itself (never a bare numpy, scipy or pandas traceback), or, for input
that R accepts with a note (rows with missing values), in the documented warning.
Where lme4 refuses the same input, the case says what lme4 says.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from mlmtools import design
from mlmtools.broom import augment, glance, tidy
from mlmtools.datasets import sleepstudy
from mlmtools.exceptions import FormulaError, MissingRowsWarning
from mlmtools.frame import ColumnNotFoundError
from mlmtools.gee import geeglm
from mlmtools.glmm import glmer
from mlmtools.glmm.families import NegativeBinomial
from mlmtools.glmm.negative_binomial import glmer_nb
from mlmtools.inference import anova
from mlmtools.inference.contrasts import contest
from mlmtools.lmm import lmer
from mlmtools.simulate.balanced import balanced_type1_pvalues
from mlmtools.simulate.power import power_analytic, power_curve, power_simulation
from mlmtools.simulate.rng import RRandom
from mlmtools.simulate.type1 import simulate_type1

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SLEEP = "Reaction ~ Days + (1 | Subject)"
PACKAGE_DIR = str(Path(__file__).resolve().parents[2] / "mlmtools")


@pytest.fixture(scope="module")
def ctx() -> SimpleNamespace:
    """Data sets and fits shared by the cases (each fitted once)."""
    data = sleepstudy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = lmer(SLEEP, data)
        gee_fit = geeglm("Reaction ~ Days", data, id="Subject")
    return SimpleNamespace(
        sleep=data,
        fit=fit,
        gee_fit=gee_fit,
        binary=pd.read_csv(FIXTURES / "data_gee_binary.csv"),
        counts=pd.read_csv(FIXTURES / "data_gee_counts.csv"),
        waves=pd.read_csv(FIXTURES / "data_gee_waves.csv"),
    )


def with_column(data: pd.DataFrame, name: str, values) -> pd.DataFrame:
    out = data.copy()
    out[name] = values
    return out


def with_value(data: pd.DataFrame, column: str, row: int, value) -> pd.DataFrame:
    out = data.copy()
    out[column] = out[column].astype(float)
    out.loc[row, column] = value
    return out


def refit_on_fewer_rows(c):
    smaller = lmer(SLEEP, c.sleep.iloc[:-10])
    return anova(c.fit, smaller)


def refit_on_other_response(c):
    shifted = lmer(SLEEP, with_column(c.sleep, "Reaction", c.sleep["Reaction"] + 1.0))
    return anova(c.fit, shifted)


def new_subject(c):
    newdata = c.sleep.head(3).copy()
    newdata["Subject"] = "999"
    return c.fit.predict(newdata)


Case = tuple[Callable[[SimpleNamespace], object], type[BaseException], str]

CASES: dict[str, Case] = {
    # -- columns ------------------------------------------------------------------------------
    "misspelt predictor": (
        lambda c: lmer("Reaction ~ Dayz + (1 | Subject)", c.sleep),
        ColumnNotFoundError, r"column 'Dayz' \(used in the fixed part\) not found in data; "
                             r"did you mean 'Days'\?"),
    "misspelt grouping factor": (
        lambda c: lmer("Reaction ~ Days + (1 | subject)", c.sleep),
        ColumnNotFoundError, r"column 'subject' .*grouping factor.* did you mean 'Subject'\?"),
    "misspelt response": (
        lambda c: lmer("Reacton ~ Days + (1 | Subject)", c.sleep),
        ColumnNotFoundError, r"column 'Reacton' \(used in the response Reacton\).*'Reaction'"),
    "misspelt weights column": (
        lambda c: lmer(SLEEP, c.sleep, weights="wt"),
        ColumnNotFoundError, r"column 'wt' \(used in weights\) not found"),
    "duplicated column name": (
        lambda c: lmer(SLEEP, pd.concat([c.sleep, c.sleep[["Days"]]], axis=1)),
        ValueError, r"column 'Days' appears 2 times in data"),
    # -- the response ---------------------------------------------------------------------------
    "text response": (
        lambda c: lmer("Subject ~ Days + (1 | Subject)", c.sleep),
        TypeError, r"response 'Subject' must be numeric"),
    "response read as text because of 'NA' strings": (
        lambda c: lmer(SLEEP, with_column(c.sleep, "Reaction",
                                          c.sleep["Reaction"].astype(object).where(
                                              c.sleep["Days"] != 2, "NA"))),
        TypeError, r"response 'Reaction' must be numeric.*such as 'NA'.*to_numeric"),
    "constant response": (
        lambda c: lmer(SLEEP, with_column(c.sleep, "Reaction", 250.0)),
        ValueError, r"response 'Reaction' is constant \(every value is 250\)"),
    "all-NaN response": (
        lambda c: lmer(SLEEP, with_column(c.sleep, "Reaction", np.nan)),
        ValueError, r"no rows left after dropping rows with missing values in: Reaction"),
    "all-NaN predictor": (
        lambda c: lmer("Reaction ~ x + (1 | Subject)", with_column(c.sleep, "x", np.nan)),
        ValueError, r"no rows left .* missing values in: x"),
    "infinite response": (
        lambda c: lmer(SLEEP, with_value(c.sleep, "Reaction", 3, np.inf)),
        ValueError, r"column 'Reaction' contains infinite values"),
    "infinite predictor": (
        lambda c: lmer(SLEEP, with_value(c.sleep, "Days", 5, -np.inf)),
        ValueError, r"column 'Days' contains infinite values"),
    "log of a negative predictor": (
        lambda c: lmer("Reaction ~ log(x) + (1 | Subject)",
                       with_column(c.sleep, "x", c.sleep["Days"] - 1.0)),
        ValueError, r"column 'log\(x\)' of the fixed-effects design has an infinite or undefined"),
    # -- grouping factors and design -----------------------------------------------------------
    "grouping factor with one level (lme4: must have > 1 sampled level)": (
        lambda c: lmer("Reaction ~ Days + (1 | school)", with_column(c.sleep, "school", "A")),
        ValueError, r"grouping factor 'school' has only one level \(A\)"),
    "a level per observation (lme4 refuses the same)": (
        lambda c: lmer("Reaction ~ Days + (1 | obs)",
                       with_column(c.sleep, "obs", [f"o{i}" for i in range(len(c.sleep))])),
        ValueError, r"number of levels of each grouping factor must be < number of observations "
                    r"\(problems: obs has 180 levels for 180 observations\)"),
    "fixed factor with one level": (
        lambda c: lmer("Reaction ~ arm + (1 | Subject)", with_column(c.sleep, "arm", "a")),
        ValueError, r"factor 'arm' has only one level \(a\); contrasts need at least two"),
    "scale() of a constant": (
        lambda c: lmer("Reaction ~ scale(k) + (1 | Subject)", with_column(c.sleep, "k", 2.0)),
        ValueError, r"scale\(k\): the variable is constant"),
    "poly() degree too high": (
        lambda c: lmer("Reaction ~ poly(Days, 10) + (1 | Subject)", c.sleep),
        ValueError, r"poly\(Days, 10\): the degree must be less than the number of unique points"),
    "ns() with more columns than distinct values": (
        lambda c: lmer("Reaction ~ ns(k, df = 3) + (1 | Subject)", with_column(c.sleep, "k", c.sleep["Days"] % 3)),
        ValueError, r"ns\(k, df = 3\): the variable has 3 distinct values; a basis of 3 columns and the "
                    r"intercept needs at least 4"),
    "bs() with df below its degree": (
        lambda c: lmer("Reaction ~ bs(Days, df = 2) + (1 | Subject)", c.sleep),
        ValueError, r"bs\(Days, df = 2\): df must be at least 3"),
    "ns() with a knot outside the boundary knots": (
        lambda c: lmer("Reaction ~ ns(Days, knots = 12) + (1 | Subject)", c.sleep),
        ValueError, r"the knots must lie within the boundary knots \(0, 9\)"),
    "spline of a constant": (
        lambda c: lmer("Reaction ~ bs(k) + (1 | Subject)", with_column(c.sleep, "k", 1.0)),
        ValueError, r"bs\(k\): the variable needs at least two distinct values"),
    "relevel() to a level that does not exist": (
        lambda c: lmer('Reaction ~ Days + relevel(factor(k), ref = "z") + (1 | Subject)',
                       with_column(c.sleep, "k", np.tile(["a", "b"], 90))),
        ValueError, r"ref = \"z\" is not a level of factor\(k\); its levels are a, b"),
    "relevel() of a numeric column (lme4: 'relevel' only for (unordered) factors)": (
        lambda c: lmer("Reaction ~ relevel(Days, ref = 1) + (1 | Subject)", c.sleep),
        ValueError, r"relevel\(\) needs an unordered factor; write relevel\(factor\(Days\), ref = \.\.\.\)"),
    "a number compared with a string": (
        lambda c: lmer('Reaction ~ I(Days == "1") + (1 | Subject)', c.sleep),
        TypeError, r"a string can only be compared with a text or factor column"),
    "time differences as a predictor": (
        lambda c: lmer("Reaction ~ wait + (1 | Subject)",
                       with_column(c.sleep, "wait", pd.to_timedelta(c.sleep["Days"], unit="D"))),
        TypeError, r"column 'wait' holds time differences; convert it to numbers first"),
    # -- contrasts -------------------------------------------------------------------------------
    "unknown contrast name": (
        lambda c: lmer("Reaction ~ Days + k + (1 | Subject)", with_column(c.sleep, "k", np.tile(["a", "b"], 90)),
                       contrasts={"k": "contr.foo"}),
        ValueError, r"unknown contrast 'contr.foo' for 'k'; use one of contr.treatment, contr.sum"),
    "contrast for a variable not in the formula (lme4: variable 'k' is absent, its contrast will be ignored)": (
        lambda c: lmer(SLEEP, c.sleep, contrasts={"k": "contr.sum"}),
        ValueError, r"contrasts= names 'k', which is not a variable of the fixed part \(its variables: Days\)"),
    "contrast for a numeric variable": (
        lambda c: lmer(SLEEP, c.sleep, contrasts={"Days": "contr.sum"}),
        ValueError, r"contrasts= gives a contrast for 'Days', which is numeric"),
    "contrasts not a dict": (
        lambda c: lmer(SLEEP, c.sleep, contrasts=["contr.sum"]),
        TypeError, r"contrasts must be a dict such as \{'f': 'contr.sum'\}, got list"),
    "contrast matrix with the wrong number of rows": (
        lambda c: lmer("Reaction ~ Days + k + (1 | Subject)", with_column(c.sleep, "k", np.tile(["a", "b"], 90)),
                       contrasts={"k": np.eye(3)}),
        ValueError, r"the contrast matrix for 'k' has 3 rows; the factor has 2 levels \(a, b\)"),
    # -- formulas --------------------------------------------------------------------------------
    "unclosed parenthesis": (
        lambda c: lmer("Reaction ~ Days + (1 | Subject", c.sleep),
        FormulaError, r"unbalanced parentheses: '\(' at column 19 is never closed"),
    "no tilde": (
        lambda c: lmer("Reaction", c.sleep),
        FormulaError, r"formula has no '~'"),
    "bar outside parentheses": (
        lambda c: lmer("Reaction ~ Days + 1 | Subject", c.sleep),
        FormulaError, r"'\|' at column 21 is outside parentheses"),
    "function outside the allowed transforms": (
        lambda c: lmer("Reaction ~ sin(Days) + (1 | Subject)", c.sleep),
        FormulaError, r"unknown function 'sin' at column 12; allowed: C, factor, log"),
    "attribute access in a formula": (
        lambda c: lmer("Reaction ~ os.system(Days) + (1 | Subject)", c.sleep),
        FormulaError, r"unknown function 'os.system'"),
    "no random-effects term": (
        lambda c: lmer("Reaction ~ Days", c.sleep),
        FormulaError, r"no random effects terms specified in formula"),
    "formula not a string": (
        lambda c: lmer(None, c.sleep),
        TypeError, r"formula must be a string, got NoneType"),
    # -- data and arguments ----------------------------------------------------------------------
    "empty data frame (lme4: 0 (non-NA) cases)": (
        lambda c: lmer(SLEEP, c.sleep.iloc[:0]),
        ValueError, r"data has no rows"),
    "data not a data frame": (
        lambda c: lmer(SLEEP, c.sleep.to_dict()),
        TypeError, r"data must be a data frame \(pandas, polars, pyarrow, or any frame narwhals "
                   r"reads\), got dict"),
    "REML not a bool": (
        lambda c: lmer(SLEEP, c.sleep, REML="yes"),
        TypeError, r"REML must be True or False, got 'yes'"),
    "REML given as 1": (
        lambda c: lmer(SLEEP, c.sleep, REML=1),
        TypeError, r"REML must be True or False, got 1"),
    "negative weights": (
        lambda c: lmer(SLEEP, c.sleep, weights=-np.ones(len(c.sleep))),
        ValueError, r"weights must be finite and non-negative"),
    "weights of the wrong length": (
        lambda c: lmer(SLEEP, c.sleep, weights=np.ones(3)),
        ValueError, r"weights has length 3 but data has 180 rows"),
    "text offset column": (
        lambda c: lmer(SLEEP, c.sleep, offset="Subject"),
        TypeError, r"offset column 'Subject' must be numeric"),
    # -- inference on a fit ------------------------------------------------------------------------
    "unknown ddf in summary": (
        lambda c: c.fit.summary(ddf="containment"),
        ValueError, r"ddf must be one of \('satterthwaite', 'kenward-roger', 'residual', 'none'\), got "
                    r"'containment'"),
    "Kenward-Roger of an ML fit": (
        lambda c: c.fit.refit_ml().coef_table("kenward-roger"),
        ValueError, r"Kenward-Roger's method is only available for REML model fits"),
    "unknown ddf in anova": (
        lambda c: anova(c.fit, ddf="KR"),
        ValueError, r"ddf must be one of .* got 'KR'"),
    "contrast of the wrong width": (
        lambda c: contest(c.fit, [1.0, 0.0, 0.0]),
        ValueError, r"the contrast has 3 columns; the model has 2 fixed effects "
                    r"\(\(Intercept\), Days\)"),
    "unknown confint method": (
        lambda c: c.fit.confint(method="sandwich"),
        ValueError, r"method must be one of 'profile', 'wald', 'boot', got 'sandwich'"),
    "unknown bootstrap interval type": (
        lambda c: c.fit.confint(method="boot", nsim=2, type="bca"),
        ValueError, r"type must be one of 'perc', 'basic', 'norm', got 'bca'"),
    "confidence level given in percent": (
        lambda c: c.fit.confint(level=95),
        ValueError, r"level must be between 0 and 1, got 95"),
    "anova of models fitted to different numbers of rows": (
        refit_on_fewer_rows,
        ValueError, r"models were not all fitted to the same size of dataset \(180, 170"),
    "anova of models fitted to different responses": (
        refit_on_other_response,
        ValueError, r"models were not all fitted to the same data"),
    "anova of an lmer fit and a GEE fit": (
        lambda c: anova(c.fit, c.gee_fit),
        TypeError, r"anova compares lmer fits, got GeeFit"),
    "anova of nothing": (
        lambda c: anova(),
        ValueError, r"anova needs at least one fitted model"),
    "anova with too few names": (
        lambda c: anova(c.fit, c.fit, names=["a"]),
        ValueError, r"1 names for 2 models"),
    # -- tidy -----------------------------------------------------------------------------------------
    "tidy of a number": (
        lambda c: tidy(42),
        TypeError, r"tidy\(\) does not know how to tidy a int"),
    "tidy of a data frame": (
        lambda c: tidy(c.sleep),
        TypeError, r"tidy\(\) of a DataFrame expects a contest\(\) table .* got \['Reaction', 'Days', 'Subject'\]"),
    "tidy with unknown effects": (
        lambda c: tidy(c.fit, effects="random"),
        ValueError, r"effects must be 'fixed' and/or 'ran_pars' and/or 'ran_vals' and/or 'ran_coefs', got 'random'"),
    "tidy with an unknown conf_method": (
        lambda c: tidy(c.fit, conf_int=True, conf_method="boot"),
        ValueError, r"conf_method must be 'wald' or 'profile', got 'boot'"),
    "glance of a number": (
        lambda c: glance(42),
        TypeError, r"glance\(\) does not know how to glance at a int"),
    "augment with data lacking fitted rows": (
        lambda c: augment(c.fit, data=c.sleep.iloc[5:]),
        ValueError, r"data lacks 5 of the rows the model was fitted to \(e.g. row 0\)"),
    "augment of a GEE fit without its data": (
        lambda c: augment(c.gee_fit),
        ValueError, r"a GEE fit keeps no copy of the data: pass the data it was fitted to as data="),
    "log-likelihood of a GEE fit": (
        lambda c: c.gee_fit.llf,
        AttributeError, r"a GEE fit has no likelihood, so no llf; compare GEE fits with qic\(\)"),
    "conf_int with alpha 0": (
        lambda c: c.fit.conf_int(alpha=0),
        ValueError, r"alpha must be a number between 0 and 1, got 0"),
    "confint of an unknown parameter of lmer": (
        lambda c: c.fit.confint("Dayz", method="wald"),
        ValueError, r"unknown parameter 'Dayz'; the parameters are 'sd_\(Intercept\)\|Subject'"),
    "tidy with conf_level above 1": (
        lambda c: tidy(c.fit, conf_int=True, conf_level=1.5),
        ValueError, r"conf_level must be between 0 and 1, got 1.5"),
    # -- predict --------------------------------------------------------------------------------------
    "predict with a missing column in newdata": (
        lambda c: c.fit.predict(c.sleep[["Reaction", "Subject"]]),
        ColumnNotFoundError, r"column 'Days' \(used in the fixed part\) not found in newdata"),
    "predict with an unseen level": (
        new_subject,
        ValueError, r"newdata has levels of 'Subject' not seen when fitting .*"
                    r"allow_new_levels=True"),
    "predict with newdata as a dict": (
        lambda c: c.fit.predict({"Days": [1.0], "Subject": ["308"]}),
        TypeError, r"newdata must be a data frame \(pandas, polars, pyarrow, or any frame narwhals reads\), "
                   r"got dict"),
    "lmer predict with a prediction interval": (
        lambda c: c.fit.predict(c.sleep, interval="prediction"),
        ValueError, r"^interval must be None or 'confidence', got 'prediction'$"),
    "lmer predict with a level of 95": (
        lambda c: c.fit.predict(c.sleep, se_fit=True, level=95),
        ValueError, r"^level must be a number between 0 and 1, got 95$"),
    "predict with a re_form term the model does not have": (
        lambda c: c.fit.predict(c.sleep, re_form="~(Days | Subject)"),
        ValueError, r"re_form asks for random effects the model does not have for 'Subject': Days"),
    # -- GEE ------------------------------------------------------------------------------------------
    "GEE id column that does not exist": (
        lambda c: geeglm("Reaction ~ Days", c.sleep, id="subject"),
        ColumnNotFoundError, r"id column 'subject' not found in data; did you mean 'Subject'\?"),
    "GEE waves column that does not exist": (
        lambda c: geeglm("y ~ time", c.waves, id="id", waves="tme", corstr="ar1"),
        ColumnNotFoundError, r"waves column 'tme' not found in data; did you mean 'time'\?"),
    "GEE id given as values, not a column name": (
        lambda c: geeglm("Reaction ~ Days", c.sleep, id=c.sleep["Subject"]),
        TypeError, r"id must be the name of a column of data"),
    "GEE binomial response outside [0, 1]": (
        lambda c: geeglm("y ~ x + treat", with_value(c.binary, "y", 0, 2.0), id="id",
                         family="binomial"),
        ValueError, r"binomial response must lie in \[0, 1\]"),
    "GEE Poisson with negative counts": (
        lambda c: geeglm("count ~ x", with_value(c.counts, "count", 0, -1.0), id="id",
                         family="poisson"),
        ValueError, r"poisson response must be a non-negative count"),
    "GEE misspelt corstr": (
        lambda c: geeglm("Reaction ~ Days", c.sleep, id="Subject", corstr="exchangable"),
        ValueError, r"unknown corstr 'exchangable'; use one of .*'exchangeable'"),
    "GEE unknown family": (
        lambda c: geeglm("Reaction ~ Days", c.sleep, id="Subject", family="inverse.gaussian"),
        ValueError, r"unknown family 'inverse.gaussian'"),
    "GEE formula with a random-effects term": (
        lambda c: geeglm("Reaction ~ Days + (1 | Subject)", c.sleep, id="Subject"),
        FormulaError, r"has a random-effects term .* GEE models have none"),
    "GEE with a single cluster": (
        lambda c: geeglm("Reaction ~ Days", with_column(c.sleep, "one", 1), id="one"),
        ValueError, r"GEE needs at least two clusters; column 'one' has a single value"),
    "GEE unknown std_err": (
        lambda c: geeglm("Reaction ~ Days", c.sleep, id="Subject", std_err="jackknife"),
        ValueError, r"unknown std_err 'jackknife'; use one of 'san.se', 'jack', 'j1s', 'fij'"),
    "GEE scale_value without scale_fix": (
        lambda c: geeglm("Reaction ~ Days", c.sleep, id="Subject", scale_value=2.0),
        ValueError, r"scale_value is the value of a fixed scale: pass scale_fix=True"),
    "GEE scale_value that is not positive": (
        lambda c: geeglm("Reaction ~ Days", c.sleep, id="Subject", scale_fix=True, scale_value=-1.0),
        ValueError, r"scale_value must be a positive number, got -1.0"),
    "GEE link the family does not have": (
        lambda c: geeglm("count ~ x", c.counts, id="id", family="poisson", link="probit"),
        ValueError, r"link 'probit' is not available for the poisson family"),
    "GEE link geepack does not have": (
        lambda c: geeglm("count ~ x", c.counts, id="id", family="poisson", link="sqrt"),
        ValueError, r"geepack has no 'sqrt' link; use one of 'identity', 'logit'"),
    "GEE negative binomial family": (
        lambda c: geeglm("count ~ x", c.counts, id="id", family=NegativeBinomial(2.0)),
        ValueError, r"geepack has no negative binomial family"),
    "GEE predict on an unknown scale": (
        lambda c: c.gee_fit.predict(c.sleep, type="probability"),
        ValueError, r"type must be 'link' or 'response', got 'probability'"),
    "GEE predict with a prediction interval": (
        lambda c: c.gee_fit.predict(c.sleep, interval="prediction"),
        ValueError, r"interval must be None or 'confidence', got 'prediction'"),
    "GEE predict with a level of 95": (
        lambda c: c.gee_fit.predict(c.sleep, se_fit=True, level=95),
        ValueError, r"level must be a number between 0 and 1, got 95"),
    "GEE predict with newdata lacking a column": (
        lambda c: c.gee_fit.predict(c.sleep[["Reaction"]]),
        ColumnNotFoundError, r"^column 'Days' \(used in the fixed part\) not found in newdata$"),
    "GEE predict with newdata as a dict": (
        lambda c: c.gee_fit.predict({"Days": [1.0]}),
        TypeError, r"^newdata must be a data frame \(pandas, polars, pyarrow, or any frame narwhals reads\), "
                   r"got dict$"),
    "GEE confint by profile": (
        lambda c: c.gee_fit.confint(method="profile"),
        ValueError, r"GEE fits have Wald intervals only: method must be 'wald', got 'profile'"),
    "GEE confint of an unknown coefficient": (
        lambda c: c.gee_fit.confint(parm="Dayz"),
        KeyError, r"no coefficient named 'Dayz'; the coefficients are '\(Intercept\)', 'Days'"),
    "GEE anova with an lmer fit": (
        lambda c: anova(c.gee_fit, c.fit),
        TypeError, r"anova compares GEE fits, got LmerResult"),
    "GEE anova of models that are not nested": (
        lambda c: anova(c.gee_fit, geeglm("Reaction ~ I(Days^2)", c.sleep, id="Subject")),
        ValueError, r"the models are not nested: neither design spans the other"),
    "GEE anova of a model with itself": (
        lambda c: anova(c.gee_fit, c.gee_fit),
        ValueError, r"the two models are the same model"),
    "GEE anova of fits to different data": (
        lambda c: anova(c.gee_fit, geeglm("Reaction ~ 1", c.sleep.iloc[:170], id="Subject")),
        ValueError, r"models were not all fitted to the same size of dataset \(180 and 170 observations\)"),
    "GEE anova of three fits": (
        lambda c: anova(c.gee_fit, c.gee_fit, c.gee_fit),
        ValueError, r"geepack's anova compares two nested fits; give one other fit"),
    "GEE sequential anova of an intercept-only model": (
        lambda c: anova(geeglm("Reaction ~ 1", c.sleep, id="Subject")),
        ValueError, r"the model has no terms to test \(only an intercept\)"),
    # -- glmer ----------------------------------------------------------------------------------------
    "glmer binomial response outside [0, 1]": (
        lambda c: glmer("y ~ x + treat + (1 | id)", with_value(c.binary, "y", 0, 2.0)),
        ValueError, r"binomial response 'y' must lie in \[0, 1\].*found 2.0"),
    "glmer Poisson with negative counts": (
        lambda c: glmer("count ~ x + (1 | id)", with_value(c.counts, "count", 0, -1.0),
                        family="poisson"),
        ValueError, r"Poisson response 'count' has negative values"),
    "glmer Poisson with non-integer counts": (
        lambda c: glmer("count ~ x + (1 | id)", with_column(c.counts, "count",
                                                            c.counts["count"] + 0.5),
                        family="poisson"),
        ValueError, r"Poisson response 'count' has non-integer values"),
    "glmer cbind with negative counts": (
        lambda c: glmer("cbind(s, f) ~ 1 + (1 | g)",
                        pd.DataFrame({"s": [1, -1, 2, 3] * 5, "f": [2] * 20, "g": list("ab") * 10})),
        ValueError, r"cbind\(s, f\): counts of successes and failures must be non-negative"),
    "glmer unknown family": (
        lambda c: glmer("count ~ x + (1 | id)", c.counts, family="tweedie"),
        ValueError, r"unknown family 'tweedie'; allowed: 'binomial', 'poisson', 'gamma', 'gaussian'"),
    "glmer link the family does not have": (
        lambda c: glmer("count ~ x + (1 | id)", c.counts, family="poisson", link="logit"),
        ValueError, r"link 'logit' is not available for the poisson family"),
    "glmer gaussian with the identity link": (
        lambda c: glmer("count ~ x + (1 | id)", c.counts, family="gaussian"),
        ValueError, r"identity link is a linear mixed model: fit it with lmer"),
    "glmer profile of a Gamma fit": (
        lambda c: glmer("exposure ~ x + (1 | id)", c.counts, family="gamma", link="log").confint(),
        ValueError, r"can't \(yet\) profile GLMMs with non-fixed scale parameters"),
    "glmer confint with an unknown parameter": (
        lambda c: glmer("count ~ x + (1 | id)", c.counts, family="poisson").confint(parm="sd_x|id"),
        ValueError, r"unknown parameter 'sd_x\|id'"),
    "glmer prediction interval": (
        lambda c: glmer("count ~ x + (1 | id)", c.counts, family="poisson").predict(interval="prediction"),
        ValueError, r"interval must be None or 'confidence'"),
    "glmer.nb with a tolerance that is not positive": (
        lambda c: glmer_nb("count ~ x + (1 | id)", c.counts, tol=0.0),
        ValueError, r"tol must be a positive number, got 0.0"),
    "glmer negative nAGQ": (
        lambda c: glmer("y ~ x + (1 | id)", c.binary, nAGQ=-1),
        ValueError, r"nAGQ must be an integer between 0 and 100, got -1"),
    "glmer quadrature with a random slope": (
        lambda c: glmer("y ~ x + (1 + x | id)", c.binary, nAGQ=5),
        ValueError, r"nAGQ > 1 is only available for models with a single, scalar"),
    # -- design helpers -------------------------------------------------------------------------------
    "ICC above 1": (
        lambda c: design.design_effect(30, 1.5),
        ValueError, r"icc must lie in \[0, 1\], got 1.5"),
    "ICC below 0": (
        lambda c: design.effective_n(300, 30, -0.1),
        ValueError, r"icc must lie in \[0, 1\], got -0.1"),
    "ICC not a number": (
        lambda c: design.se_inflation(30, "high"),
        TypeError, r"icc must be numeric"),
    "cluster size 0": (
        lambda c: design.design_effect(0, 0.1),
        ValueError, r"cluster_size must be at least 1, got 0"),
    "standard deviations given as negative variances": (
        lambda c: design.icc(-1.0, 2.0),
        ValueError, r"variances must be non-negative"),
    # -- RRandom --------------------------------------------------------------------------------------
    "seed with a fraction": (
        lambda c: RRandom(1.5),
        TypeError, r"seed must be an integer, as in R's set.seed\(\), got float"),
    "seed outside R's integer range": (
        lambda c: RRandom(2**40),
        ValueError, r"seed must be in R's integer range"),
    "negative number of draws": (
        lambda c: RRandom(1).rnorm(-1),
        ValueError, r"n must be non-negative, got -1"),
    "negative standard deviation": (
        lambda c: RRandom(1).rnorm(3, 0.0, -1.0),
        ValueError, r"rnorm needs sd >= 0"),
    "sample larger than the population": (
        lambda c: RRandom(1).sample(3, 5),
        ValueError, r"cannot take a sample of size 5 from a population of 3 without replacement"),
    # -- simulation and power -------------------------------------------------------------------------
    "simulate_type1 with n_sims 0": (
        lambda c: simulate_type1(0),
        ValueError, r"n_sims must be at least 1, got 0"),
    "simulate_type1 with a fractional n_sims": (
        lambda c: simulate_type1(2.5),
        TypeError, r"n_sims must be an integer, got float"),
    "simulate_type1 with an odd number of clusters": (
        lambda c: simulate_type1(1, n_clusters=3),
        ValueError, r"n_clusters must be an even number"),
    "balanced study with a negative n_sims": (
        lambda c: balanced_type1_pvalues(n_sims=-3),
        ValueError, r"n_sims must be at least 1, got -3"),
    "power with ICC above 1": (
        lambda c: power_analytic(10, 5, icc=1.5, effect_size=0.3),
        ValueError, r"icc must lie in \[0, 1\), got 1.5"),
    "power with a negative ICC": (
        lambda c: power_simulation(10, 5, icc=-0.1, effect_size=0.3, n_sims=10),
        ValueError, r"icc must lie in \[0, 1\), got -0.1"),
    "power simulation with n_sims as text": (
        lambda c: power_simulation(10, 5, icc=0.1, effect_size=0.3, n_sims="100"),
        TypeError, r"n_sims must be an integer, got str"),
    "power simulation with an unknown method": (
        lambda c: power_simulation(10, 5, icc=0.1, effect_size=0.3, n_sims=10, method="glm"),
        ValueError, r"unknown method 'glm'"),
    "power curve over no cluster counts": (
        lambda c: power_curve([], 5, 0.1, 0.3),
        ValueError, r"n_clusters must not be empty"),
}


def raised_inside_mlmtools(excinfo: pytest.ExceptionInfo) -> bool:
    """The exception was raised by a ``raise`` in mlmtools, not by numpy/scipy/pandas."""
    return str(Path(str(excinfo.traceback[-1].path)).resolve()).startswith(PACKAGE_DIR)


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_refused_with_a_clear_message(ctx, case):
    call, exception, pattern = CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingRowsWarning)
        with pytest.raises(exception, match=pattern) as excinfo:
            call(ctx)
    assert raised_inside_mlmtools(excinfo), f"{case}: raised from {excinfo.traceback[-1].path}"


def test_catalogue_is_large_enough():
    assert len(CASES) >= 30


def test_missing_column_error_is_also_a_key_error(ctx):
    """ColumnNotFoundError is both a KeyError (pandas' habit) and a ValueError."""
    with pytest.raises(KeyError):
        lmer("Reaction ~ Dayz + (1 | Subject)", ctx.sleep)


# -- input R accepts with a note: rows with missing values ------------------------------------------

@pytest.mark.parametrize("column, rows", [("Reaction", [3, 4, 7]), ("Days", [0]),
                                          ("Subject", [10, 11, 12, 13, 14])])
def test_rows_with_missing_values_are_dropped_and_counted(ctx, column, rows):
    data = ctx.sleep.copy()
    if column == "Days":
        data["Days"] = data["Days"].astype(float)
    data.loc[rows, column] = np.nan
    with pytest.warns(MissingRowsWarning) as record:
        fit = lmer(SLEEP, data)
    (warning,) = [w for w in record if w.category is MissingRowsWarning]
    noun = "row" if len(rows) == 1 else "rows"
    assert str(warning.message) == f"dropped {len(rows)} {noun} with missing values in: {column}"
    assert warning.filename == __file__
    assert fit.nobs == len(data) - len(rows)
    assert not set(rows) & set(fit.fitted().index)


def test_missing_values_in_several_columns_are_counted_once_per_row(ctx):
    data = ctx.sleep.copy()
    data["Days"] = data["Days"].astype(float)
    data.loc[[1, 2], "Reaction"] = np.nan
    data.loc[[2, 5], "Days"] = np.nan
    with pytest.warns(MissingRowsWarning, match=r"^dropped 3 rows with missing values in: "
                                                r"Reaction, Days$"):
        fit = lmer(SLEEP, data)
    assert fit.nobs == 177


def test_missing_values_in_unused_columns_are_ignored(ctx):
    data = with_column(ctx.sleep, "notes", np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MissingRowsWarning)
        fit = lmer(SLEEP, data)
    assert fit.nobs == 180


def test_gee_drops_missing_rows_with_the_same_warning(ctx):
    data = ctx.sleep.copy()
    data.loc[[0, 50], "Reaction"] = np.nan
    with pytest.warns(MissingRowsWarning, match=r"dropped 2 rows with missing values in: Reaction"):
        fit = geeglm("Reaction ~ Days", data, id="Subject")
    assert len(fit.fitted()) == 178


# -- bugs found in modules owned by others (routed; see the report) ----------------------------------

def test_contest_rhs_of_the_wrong_length(ctx):
    with pytest.raises(ValueError, match=r"rhs"):
        contest(ctx.fit, np.eye(2), rhs=[1.0, 2.0, 3.0])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_contest_with_an_unknown_coefficient_name(ctx):
    with pytest.raises(ValueError, match=r"Dayz"):
        contest(ctx.fit, pd.Series({"Dayz": 1.0}))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_contest_with_nan_in_the_contrast(ctx):
    with pytest.raises(ValueError, match=r"finite"):
        contest(ctx.fit, [np.nan, 1.0])


def test_anova_of_something_that_is_not_a_fit():
    with pytest.raises(TypeError, match=r"str"):
        anova("m1")


def test_every_message_names_its_problem_distinctly():
    """No two cases share a pattern: each checks its own message."""
    patterns = [pattern for _, _, pattern in CASES.values()]
    assert len(set(patterns)) == len(patterns)
    assert all(re.compile(p) for p in patterns)
