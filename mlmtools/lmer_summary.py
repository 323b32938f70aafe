"""The summary of a linear mixed model: tables computed once, laid out as lmerTest prints.

:meth:`LmerSummary.from_fit` computes every number (lme4's ``summary.merMod`` with
lmerTest's coefficient table); the block formatters of ``mlmtools.merformat`` (lme4's
``.prt.*`` helpers, shared with glmer) only turn those tables into text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mlmtools import rformat
from mlmtools.merformat import (
    CORRELATION_MAX,
    DIGITS,
    TextReport,
    format_call,
    format_coefficients,
    format_convergence,
    format_correlation_matrix,
    format_criterion,
    format_groups,
    format_title,
    format_variance_components,
)
from mlmtools.lmer import VarcorrColumns, varcorr_frame

if TYPE_CHECKING:
    from mlmtools.lmer import LmerResult

CLASS_NAME = "lmerModLmerTest"


@dataclass(repr=False)
class LmerSummary(TextReport):
    """Everything ``summary(fit)`` shows, as data.

    The tables that printing does not need as pandas objects (``likelihood``,
    ``varcorr``, ``correlation``) are kept as arrays and built on first access.

    Attributes
    ----------
    REML : bool
    ddf : str
        ``"satterthwaite"``, ``"residual"`` or ``"none"``.
    formula, data_name : str
    call_extras : list of tuple of str
        ``("Weights:", name)`` / ``(" Offset:", name)`` lines of the call.
    reml_criterion : float
    likelihood_values : dict
        AIC, BIC, logLik, -2*log(L), df.resid (shown for ML fits); :attr:`likelihood` as a Series.
    residual_quantiles : numpy.ndarray
        Min, 1Q, median, 3Q, max of the scaled Pearson residuals.
    varcorr_columns : mlmtools.lmer.VarcorrColumns
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
        lmerTest's warnings about the Hessian of the variance parameters.
    optimizer : str
        Name of the optimizer, printed with the notes.
    code : int
        The optimizer's convergence code (0 when it reported success).
    """

    REML: bool
    ddf: str
    formula: str
    data_name: str
    call_extras: list[tuple[str, str]]
    reml_criterion: float
    likelihood_values: dict[str, float]
    residual_quantiles: np.ndarray
    varcorr_columns: VarcorrColumns
    term_columns: list[tuple[str, tuple[str, ...]]]
    ngroups: dict[str, int]
    nobs: int
    coefficients: pd.DataFrame
    correlation_values: np.ndarray
    messages: list[str] = field(default_factory=list)
    optimizer: str = "nloptwrap"
    code: int = 0

    @cached_property
    def likelihood(self) -> pd.Series:
        """AIC, BIC, logLik, -2*log(L) and df.resid, as a Series."""
        return pd.Series(self.likelihood_values)

    @cached_property
    def varcorr(self) -> pd.DataFrame:
        """The variance components (as :meth:`~mlmtools.lmer.LmerResult.varcorr`)."""
        return varcorr_frame(self.varcorr_columns)

    @cached_property
    def correlation(self) -> pd.DataFrame:
        """Correlation of the fixed effects, labelled by coefficient."""
        names = list(self.coefficients.index)
        return pd.DataFrame(self.correlation_values, index=names, columns=names)

    @classmethod
    def from_fit(cls, fit: LmerResult, ddf: str = "satterthwaite",
                 derivatives: str | None = None) -> LmerSummary:
        """Compute the summary tables of a fit (``derivatives``: how Satterthwaite's
        derivatives are taken, see :mod:`mlmtools.satterthwaite`)."""
        from mlmtools.lmer import check_ddf

        ddf = check_ddf(ddf)
        vcov = fit._vcov_array()
        sd = np.sqrt(np.diag(vcov))
        loglik = fit.loglik
        likelihood = {"AIC": fit.aic, "BIC": fit.bic, "logLik": loglik, "-2*log(L)": -2 * loglik,
                      "df.resid": float(fit.df_resid)}
        messages = []
        if fit.is_singular:
            messages.append("boundary (singular) fit: see help('isSingular')")
        if not fit.converged:
            messages.extend(m for m in fit.optinfo.messages if m.startswith("Model failed"))
        coefficients = fit.coef_table(ddf, derivatives)
        if ddf == "satterthwaite":
            messages.extend(fit.satterthwaite(derivatives).messages)
        extras = []
        if getattr(fit, "weights_label", None):
            extras.append(("Weights:", fit.weights_label))
        if getattr(fit, "offset_label", None):
            extras.append((" Offset:", fit.offset_label))
        return cls(
            REML=fit.REML,
            ddf=ddf,
            formula=fit.formula,
            data_name=fit.data_name,
            call_extras=extras,
            reml_criterion=fit.reml_criterion,
            likelihood_values=likelihood,
            residual_quantiles=np.quantile(fit._residual_values("pearson", scaled=True),
                                           [0, 0.25, 0.5, 0.75, 1]),
            varcorr_columns=fit._varcorr_columns(),
            term_columns=[(label, t.columns) for label, t in zip(fit._group_labels, fit._problem.terms)],
            ngroups=fit.ngroups,
            nobs=fit.nobs,
            coefficients=coefficients,
            correlation_values=vcov / np.outer(sd, sd),
            messages=messages,
            optimizer=fit.optinfo.optimizer,
            code=fit.optinfo.code,
        )

    # -- text ---------------------------------------------------------------------------
    def format(self) -> str:
        """The printed summary, as lmerTest's ``print(summary(m))``."""
        blocks = [
            format_title(method_title(self.REML, self.ddf), CLASS_NAME),
            format_call(self.formula, self.data_name, self.call_extras) + "\n",
            format_criterion(self.REML, self.reml_criterion, self.likelihood_values) + "\n",
            "Scaled residuals: \n" + rformat.print_quantiles(self.residual_quantiles, DIGITS) + "\n",
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


def method_title(REML: bool, ddf: str) -> str:
    """lme4's ``methTitle`` (with its trailing blank for ML fits) plus lmerTest's test note."""
    title = "Linear mixed model fit by " + ("REML" if REML else "maximum likelihood ")
    if ddf == "satterthwaite":
        title += ". t-tests use Satterthwaite's method"
    elif ddf == "residual":
        title += ". t-tests use residual degrees of freedom"
    return title
