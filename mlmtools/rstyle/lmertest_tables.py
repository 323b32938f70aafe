"""lmerTest's tables as it prints them: ANOVA of fixed effects by type, single term deletions
(``drop1``), likelihood-ratio tests of random effects (``ranova``) and least-squares means.

The numbers are computed in ``mlmtools.inference`` (:mod:`~mlmtools.inference.anova_tables`,
:mod:`~mlmtools.inference.random_effects_tests`, :mod:`~mlmtools.inference.least_squares_means`);
the classes here hold them, as DataFrames, and lay them out:

============================  =============================  =============================
class                         lmerTest                       printed by
============================  =============================  =============================
:class:`FixedEffectsAnova`    ``anova(fit, type, ddf)``      ``print.anova``
:class:`SingleTermDeletions`  ``drop1(fit, ddf)``            ``print.anova``
:class:`RandomEffectsAnova`   ``ranova(fit)``                ``print.anova``
:class:`LeastSquaresMeans`    ``ls_means``, ``difflsmeans``  lmerTest's ``print.ls_means``
============================  =============================  =============================

The first three are :class:`~mlmtools.rstyle.summaries.AnovaTable` subclasses (the first two
through :class:`FTestTable`); each class names the table it holds, so code that handles tables
(``tidy``) can tell them apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mlmtools.rstyle.numbers import format_vector, round_r
from mlmtools.rstyle.report import TextReport
from mlmtools.rstyle.summaries import AnovaTable
from mlmtools.rstyle.tables import print_anova, print_coefmat

DDF_TITLES = {"satterthwaite": "Satterthwaite's method", "kenward-roger": "Kenward-Roger's method",
              "residual": "residual degrees of freedom", "none": "normal approximation"}
"""How each ``ddf`` choice is named in the headings."""
_DDF_LABELS = {"satterthwaite": "Satterthwaite", "kenward-roger": "Kenward-Roger"}
_EMPTY_ROW_NAMES = "    "  # R prints the header of a table without rows after four blanks


def print_empty(columns: list[str]) -> str:
    """The header line R prints for a table without rows."""
    return _EMPTY_ROW_NAMES + "".join(f" {name}" for name in columns)


def _print_anova_table(table: pd.DataFrame, heading: list[str]) -> str:
    if table.empty:
        return "\n".join([*heading, print_empty([str(c) for c in table.columns])])
    return print_anova(table, digits=5, heading=heading)


@dataclass(repr=False)
class FTestTable(AnovaTable):
    """F tests of fixed-effects terms, one row each, as lmerTest prints them (R's ``print.anova``).

    Attributes
    ----------
    table : pandas.DataFrame
        Columns ``Sum Sq``, ``Mean Sq``, ``NumDF``, ``DenDF``, ``F value``, ``Pr(>F)``.
    ddf : str
        ``"satterthwaite"``, ``"kenward-roger"``, ``"residual"`` or ``"none"``.
    contrasts : dict
        The contrast matrix of each term's test (lmerTest's ``hypotheses``).
    """

    ddf: str = "satterthwaite"
    contrasts: dict[str, np.ndarray] = field(default_factory=dict)

    def format(self) -> str:
        """The table as lmerTest prints it."""
        return _print_anova_table(self.table, self.heading)


@dataclass(repr=False)
class FixedEffectsAnova(FTestTable):
    """lmerTest's ``anova(fit, type, ddf)``: one F test per fixed-effects term
    (:class:`FTestTable`), of the contrasts of the given ``type`` (1, 2 or 3)."""

    type: int = 3


@dataclass(repr=False)
class SingleTermDeletions(FTestTable):
    """lmerTest's ``drop1(fit, ddf)``: the F test (:class:`FTestTable`) of each term that can be
    dropped."""


@dataclass(repr=False)
class RandomEffectsAnova(AnovaTable):
    """lmerTest's ``ranova(fit)``: likelihood-ratio tests of the reduced random-effects structures.

    Attributes
    ----------
    table : pandas.DataFrame
        Columns ``npar``, ``logLik``, ``AIC``, ``LRT``, ``Df``, ``Pr(>Chisq)``; the first row
        (``<none>``) is the model, the others the models with one term reduced or removed.
    formulas : dict
        The formula of each reduced model, by row name.
    """

    formulas: dict[str, str] = field(default_factory=dict)

    def format(self) -> str:
        """The table as lmerTest prints it."""
        return _print_anova_table(self.table, self.heading)


@dataclass(repr=False)
class LeastSquaresMeans(TextReport):
    """lmerTest's ``ls_means`` and ``difflsmeans``: t tests of least-squares means (or of their
    pairwise differences) with confidence limits.

    Attributes
    ----------
    table : pandas.DataFrame
        Columns ``Estimate``, ``Std. Error``, ``df``, ``t value``, ``lower``, ``upper``,
        ``Pr(>|t|)``; rows named as lmerTest names them (``SexMale``, ``SexFemale - SexMale``).
    level : float
        Confidence level of ``lower`` and ``upper``.
    ddf : str
        ``"satterthwaite"`` or ``"kenward-roger"``.
    contrasts : dict
        Per factor term, the contrast matrix behind its rows (lmerTest's ``hypotheses``).
    """

    table: pd.DataFrame
    level: float = 0.95
    ddf: str = "satterthwaite"
    contrasts: dict[str, pd.DataFrame] = field(default_factory=dict)

    def format(self) -> str:
        """The table as lmerTest's ``print.ls_means``: df rounded to one decimal, the estimates,
        standard errors and limits formatted together, then the level and the df method."""
        lines = ["Least Squares Means table:", ""]
        if self.table.empty:
            lines.append(print_empty([str(c) for c in self.table.columns]))
        else:
            shown = self.table.copy()
            shown["df"] = round_r(shown["df"].to_numpy(dtype=float), 1)
            lines.append(print_coefmat(shown, digits=5, has_pvalue=True, cs_ind=(0, 1, 4, 5), tst_ind=(3,)))
        level = format_vector(np.array([100 * self.level]), 2)[0].strip()
        lines += ["", f"  Confidence level: {level}%",
                  f"  Degrees of freedom method: {_DDF_LABELS.get(self.ddf, self.ddf)} "]
        return "\n".join(lines)
