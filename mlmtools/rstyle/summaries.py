"""The printed results of the models: tables computed elsewhere, laid out as R prints them.

As lme4's ``summary.merMod`` computes and ``print.summary.merMod`` only formats, every class
here holds numbers that the model computed (each model's ``summary()``) and a ``format()``
that lays them out through the blocks of :mod:`mlmtools.rstyle.summary_blocks`:

* :class:`MixedModelSummary`, the one summary of a mixed model, with
  :class:`LmerSummary` (lmerTest's layout) and :class:`GlmerSummary` (lme4's for glmer);
* :class:`AnovaTable` (``print.anova``) and :class:`GeeSummary` (geepack's
  ``summary.geeglm``).

Nothing here fits or tests a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

import numpy as np
import pandas as pd

from mlmtools.rstyle.report import TextReport
from mlmtools.rstyle.summary_blocks import (
    CORRELATION_MAX,
    DIGITS,
    format_call,
    format_coefficients,
    format_convergence,
    format_correlation_matrix,
    format_criterion,
    format_groups,
    format_title,
    format_variance_components,
)
from mlmtools.rstyle.tables import print_anova, print_coefmat, print_dataframe, print_quantiles

LMER_CLASS = "lmerModLmerTest"
GLMER_CLASS = "glmerMod"


class VarcorrColumns(NamedTuple):
    """The columns of a variance-component table (R's ``as.data.frame(VarCorr(m))``):
    group, first and second term column (None where R has NA), variance or covariance, and
    standard deviation or correlation."""

    grp: tuple[str, ...]
    var1: tuple[str | None, ...]
    var2: tuple[str | None, ...]
    vcov: np.ndarray
    sdcor: np.ndarray


def varcorr_frame(columns: VarcorrColumns) -> pd.DataFrame:
    """The variance-component table as a DataFrame (text columns of dtype object)."""
    return pd.DataFrame({"grp": pd.Series(columns.grp, dtype=object),
                         "var1": pd.Series(columns.var1, dtype=object),
                         "var2": pd.Series(columns.var2, dtype=object),
                         "vcov": columns.vcov, "sdcor": columns.sdcor})


@dataclass(repr=False, kw_only=True)
class MixedModelSummary(TextReport):
    """Everything ``summary()`` of a mixed model shows, as data (lme4's ``summary.merMod``).

    The tables that printing does not need as pandas objects (``likelihood``, ``varcorr``,
    ``correlation``) are kept as arrays and built on first access.

    Attributes
    ----------
    formula, data_name : str
    call_extras : list of tuple of str
        ``("Weights:", name)`` / ``(" Offset:", name)`` lines of the call.
    likelihood_values : dict
        AIC, BIC, logLik, -2*log(L), df.resid; :attr:`likelihood` as a Series.
    residual_quantiles : numpy.ndarray
        Min, 1Q, median, 3Q, max of the scaled Pearson residuals.
    varcorr_columns : VarcorrColumns
        The variance components as arrays; :attr:`varcorr` as a data frame.
    term_columns : list of tuple
        Pairs ``(label, columns)``: each random term's printed group label and its
        column names.
    ngroups : dict
    nobs : int
    coefficients : pandas.DataFrame
        Fixed-effects table (Estimate, Std. Error, [df], t/z value, p-value).
    correlation_values : numpy.ndarray
        Correlation of the fixed effects; :attr:`correlation` labels it by coefficient.
    messages : list of str
        Notes printed at the end: singular fit, the optimizer's convergence messages and
        (lmer) lmerTest's warnings about the Hessian of the variance parameters.
    optimizer : str
        Name of the optimizer (of the last stage), printed with the notes.
    code : int
        The optimizer's convergence code (0 when it reported success).
    """

    formula: str
    data_name: str
    call_extras: list[tuple[str, str]]
    likelihood_values: dict[str, float]
    residual_quantiles: np.ndarray
    varcorr_columns: VarcorrColumns
    term_columns: list[tuple[str, tuple[str, ...]]]
    ngroups: dict[str, int]
    nobs: int
    coefficients: pd.DataFrame
    correlation_values: np.ndarray
    messages: list[str] = field(default_factory=list)
    optimizer: str
    code: int = 0

    @cached_property
    def likelihood(self) -> pd.Series:
        """AIC, BIC, logLik, -2*log(L) and df.resid, as a Series."""
        return pd.Series(self.likelihood_values)

    @cached_property
    def varcorr(self) -> pd.DataFrame:
        """The variance components (as the fit's ``varcorr()``)."""
        return varcorr_frame(self.varcorr_columns)

    @cached_property
    def correlation(self) -> pd.DataFrame:
        """Correlation of the fixed effects, labelled by coefficient."""
        names = list(self.coefficients.index)
        return pd.DataFrame(self.correlation_values, index=names, columns=names)

    def heading(self) -> list[str]:
        """The lines above the call: the title and, for GLMMs, the family (each subclass)."""
        raise NotImplementedError

    def criterion(self) -> str:
        """The REML criterion or the information criteria (each subclass)."""
        raise NotImplementedError

    def format(self) -> str:
        """The printed summary, as ``print(summary(m))``."""
        blocks = [
            *self.heading(),
            format_call(self.formula, self.data_name, self.call_extras) + "\n",
            self.criterion() + "\n",
            "Scaled residuals: \n" + print_quantiles(self.residual_quantiles, DIGITS) + "\n",
            "Random effects:\n" + format_variance_components(self.varcorr_columns.sdcor,
                                                              self.term_columns, DIGITS),
            format_groups(self.nobs, self.ngroups),
        ]
        if len(self.coefficients):
            blocks.append("\nFixed effects:\n" + format_coefficients(self.coefficients))
            if 1 < len(self.coefficients) <= CORRELATION_MAX:
                blocks.append("\nCorrelation of Fixed Effects:\n"
                              + format_correlation_matrix(self.correlation_values,
                                                          list(self.coefficients.index)))
        if self.messages or self.code != 0:
            blocks.append(format_convergence(self.optimizer, self.code, self.messages))
        return "\n".join(blocks)


@dataclass(repr=False, kw_only=True)
class LmerSummary(MixedModelSummary):
    """lmerTest's ``summary()`` of a linear mixed model, as data; ``str()`` gives its layout.

    The fields of :class:`MixedModelSummary`, plus:

    Attributes
    ----------
    REML : bool
    ddf : str
        ``"satterthwaite"``, ``"residual"`` or ``"none"``.
    reml_criterion : float
    """

    REML: bool
    ddf: str
    reml_criterion: float

    def heading(self) -> list[str]:
        """lme4's title with lmerTest's note on the tests."""
        return [format_title(method_title(self.REML, self.ddf), LMER_CLASS)]

    def criterion(self) -> str:
        """The REML criterion (REML fits) or the information criteria (ML fits)."""
        return format_criterion(self.REML, self.reml_criterion, self.likelihood_values)


@dataclass(repr=False, kw_only=True)
class GlmerSummary(MixedModelSummary):
    """lme4's ``summary()`` of a generalized linear mixed model, as data; ``str()`` gives its
    layout.

    The fields of :class:`MixedModelSummary`, plus:

    Attributes
    ----------
    method : str
        ``"Laplace Approximation"`` or the adaptive quadrature with its number of nodes.
    family, link : str
    """

    method: str
    family: str
    link: str

    def heading(self) -> list[str]:
        """lme4's title and the family line."""
        return [format_title(f"Generalized linear mixed model fit by maximum likelihood ({self.method})",
                             GLMER_CLASS),
                f" Family: {self.family}  ( {self.link} )"]

    def criterion(self) -> str:
        """The information criteria (a GLMM is fitted by maximum likelihood)."""
        return format_criterion(False, np.nan, self.likelihood_values)


def method_title(REML: bool, ddf: str) -> str:
    """lme4's ``methTitle`` (with its trailing blank for ML fits) plus lmerTest's test note."""
    title = "Linear mixed model fit by " + ("REML" if REML else "maximum likelihood ")
    if ddf == "satterthwaite":
        title += ". t-tests use Satterthwaite's method"
    elif ddf == "kenward-roger":
        title += ". t-tests use Kenward-Roger's method"
    elif ddf == "residual":
        title += ". t-tests use residual degrees of freedom"
    return title


@dataclass(repr=False)
class AnovaTable(TextReport):
    """An ANOVA table with its R-like printed layout.

    Attributes
    ----------
    table : pandas.DataFrame
        The numbers, with R's column names.
    heading : list of str
        Lines printed above the table.
    refitted : bool
        Whether REML fits were refitted by ML before comparing them.
    """

    table: pd.DataFrame
    heading: list[str] = field(default_factory=list)
    refitted: bool = False

    def format(self) -> str:
        """The table as R's ``print.anova`` shows it (5 significant digits)."""
        return print_anova(self.table, digits=5, heading=self.heading)


@dataclass(frozen=True, repr=False)
class GeeSummary(TextReport):
    """geepack's ``summary.geeglm``: the tables, and their print layout as ``str()``.

    Attributes
    ----------
    call : str
        The call as R prints it.
    coefficients : pandas.DataFrame
        Columns ``Estimate``, ``Std.err``, ``Wald``, ``Pr(>|W|)``.
    scale : pandas.DataFrame
        The scale :math:`\\hat\\phi` with its ``Std.err``, row ``(Intercept)``.
    correlation : pandas.DataFrame
        The correlation parameters with their ``Std.err`` (no rows for independence).
    corstr, link : str
        The working-correlation name and the correlation link (always ``identity``).
    n_clusters, max_cluster_size : int
    scale_fixed : bool
        Whether the scale was held fixed (then geepack prints "Scale is fixed." instead of the
        scale table).
    """

    call: str
    coefficients: pd.DataFrame
    scale: pd.DataFrame
    correlation: pd.DataFrame
    corstr: str
    link: str
    n_clusters: int
    max_cluster_size: int
    scale_fixed: bool = False

    def format(self) -> str:
        """The printed summary, as geepack's ``print(summary(fit))``."""
        digits = 4
        parts = ["", "Call:", self.call, "", " Coefficients:"]
        parts.append(print_coefmat(self.coefficients, digits=digits).rstrip("\n"))
        parts.append("")
        parts.append(f"Correlation structure = {self.corstr} ")
        if self.scale_fixed:
            parts += ["Scale is fixed.", ""]
        else:
            parts += ["Estimated Scale Parameters:", ""]
            parts.append(print_dataframe(self.scale, digits=digits).rstrip("\n"))
        if self.corstr != "independence":
            parts.append(f"  Link = {self.link} ")
            parts.append("")
            parts.append("Estimated Correlation Parameters:")
            parts.append(print_dataframe(self.correlation, digits=digits).rstrip("\n"))
        parts.append(
            f"Number of clusters:   {self.n_clusters}  Maximum cluster size: {self.max_cluster_size} "
        )
        return "\n".join(parts) + "\n"
