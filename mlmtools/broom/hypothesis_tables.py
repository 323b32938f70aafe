"""broom's ``tidy()`` of hypothesis-test tables: ANOVA tables (lme4's likelihood-ratio tests,
lmerTest's ``anova``, ``drop1`` and ``ranova``, geepack's Wald tests), ``contest`` tables and
least-squares means.

The tables keep their rows (the row names become ``term``); columns are renamed as broom's
``tidy.anova`` renames them, in snake_case (:data:`TEST_COLUMNS`); a column broom does not
know keeps its name in snake_case (``NumDF`` -> ``num_df``, where broom leaves ``NumDF`` and
warns that it did not recognise it).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from mlmtools.broom.verbs import snake_case_label, tidy
from mlmtools.rstyle.lmertest_tables import LeastSquaresMeans
from mlmtools.rstyle.summaries import AnovaTable

#: R's column names of test tables -> broom's (snake_case).
TEST_COLUMNS = {
    "Estimate": "estimate", "Std. Error": "std_error", "df": "df", "Df": "df",
    "t value": "statistic", "z value": "statistic", "F value": "statistic", "Chisq": "statistic",
    "X2": "statistic", "LRT": "statistic", "Pr(>|t|)": "p_value", "Pr(>|z|)": "p_value", "Pr(>F)": "p_value",
    "Pr(>Chisq)": "p_value", "P(>|Chi|)": "p_value", "Sum Sq": "sumsq", "Mean Sq": "meansq",
    "npar": "npar", "AIC": "AIC", "BIC": "BIC", "logLik": "logLik", "-2*log(L)": "deviance",
    "deviance": "deviance", "lower": "conf_low", "upper": "conf_high",
}

#: The columns of ``contest()``'s tables (t tests, z tests, F tests): a data frame with other
#: columns is not a test table.
CONTEST_SIGNATURES = (
    ("Estimate", "Std. Error", "df", "t value", "Pr(>|t|)"),
    ("Estimate", "Std. Error", "z value", "Pr(>|z|)"),
    ("Sum Sq", "Mean Sq", "NumDF", "DenDF", "F value", "Pr(>F)"),
)


def tidy_test_table(table: pd.DataFrame) -> pd.DataFrame:
    """A test table with ``term`` from its row names and broom's column names (module docstring).

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.inference import anova
    >>> from mlmtools.lmm import lmer
    >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
    >>> print(tidy(anova(fit)).round(2).to_string(index=False))
    term    sumsq   meansq  num_df  den_df  statistic  p_value
    Days 30030.94 30030.94       1    17.0      45.85      0.0
    """
    out = table.rename(columns=lambda name: TEST_COLUMNS.get(str(name), snake_case_label(str(name))))
    out.insert(0, "term", [str(name) for name in table.index])
    return out.reset_index(drop=True)


@tidy.register
def _tidy_anova_table(obj: AnovaTable, **kwargs: Any) -> pd.DataFrame:
    return tidy_test_table(obj.table)


@tidy.register
def _tidy_least_squares_means(obj: LeastSquaresMeans, **kwargs: Any) -> pd.DataFrame:
    return tidy_test_table(obj.table)


@tidy.register
def _tidy_contest_table(obj: pd.DataFrame, **kwargs: Any) -> pd.DataFrame:
    if tuple(obj.columns) not in CONTEST_SIGNATURES:
        raise TypeError("tidy() of a DataFrame expects a contest() table with the columns "
                        f"{' or '.join(map(str, map(list, CONTEST_SIGNATURES)))}; got {list(obj.columns)}")
    return tidy_test_table(obj)
