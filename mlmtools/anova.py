"""Analysis-of-variance tables for linear mixed models.

* ``anova(m1, m2, ...)``: lme4's likelihood-ratio table (``anovaLmer``).  REML fits are
  first refitted by maximum likelihood (lme4's ``refitML``, which lme4 announces with the
  message "refitting model(s) with ML (instead of REML)"; here the table records
  ``refitted=True`` and its printed header says so).  For consecutive models, ordered by
  their number of parameters,

  .. math::
      \\chi^2 = 2\\max(0, \\ell_k - \\ell_{k-1}),\\qquad
      \\mathrm{Df} = \\mathrm{npar}_k - \\mathrm{npar}_{k-1},\\qquad
      p = P(\\chi^2_{\\mathrm{Df}} > \\chi^2).

* ``anova(fit)``: lmerTest's type III table: for each fixed-effects term the F test of all
  its coefficients (:func:`mlmtools.satterthwaite.contest_md`) with Satterthwaite's
  denominator df.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from mlmtools import rformat

if TYPE_CHECKING:
    from mlmtools.lmer import LmerResult

LRT_COLUMNS = ["npar", "AIC", "BIC", "logLik", "-2*log(L)", "Chisq", "Df", "Pr(>Chisq)"]
F_COLUMNS = ["Sum Sq", "Mean Sq", "NumDF", "DenDF", "F value", "Pr(>F)"]


@dataclass
class AnovaTable:
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
        return rformat.print_anova(self.table, digits=5, heading=self.heading)

    def __str__(self) -> str:
        return self.format()

    def __repr__(self) -> str:
        return self.format()

    def _repr_html_(self) -> str:
        import html

        return "<pre>" + html.escape(self.format()) + "</pre>"


def _same_data(fits: list[LmerResult]) -> None:
    first = fits[0]._frame
    for fit in fits[1:]:
        frame = fit._frame
        if frame.y.shape != first.y.shape:
            raise ValueError(
                "models were not all fitted to the same size of dataset "
                f"({', '.join(str(f.nobs) for f in fits)} observations)")
        if not (np.array_equal(frame.y, first.y) and frame.row_index.equals(first.row_index)):
            raise ValueError("models were not all fitted to the same data (responses or rows "
                             "differ); a likelihood-ratio test needs the same observations")


def compare_models(*fits: LmerResult, names: list[str] | None = None, refit: bool = True) -> AnovaTable:
    """Likelihood-ratio table of nested linear mixed models (lme4's ``anova(m1, m2, ...)``).

    Parameters
    ----------
    *fits : LmerResult
        Two or more models fitted to the same data.
    names : list of str, optional
        Row labels (default ``model1``, ``model2``, ...).
    refit : bool
        Refit REML fits by ML first (lme4's default).

    Returns
    -------
    AnovaTable
        Rows ordered by number of parameters; columns npar, AIC, BIC, logLik,
        -2*log(L), Chisq, Df, Pr(>Chisq).

    Raises
    ------
    ValueError
        Fewer than two models, or models fitted to different data.
    """
    from mlmtools.lmer import LmerResult

    fits = list(fits)
    if len(fits) < 2:
        raise ValueError("compare at least two models")
    for fit in fits:
        if not isinstance(fit, LmerResult):
            raise TypeError(f"anova compares lmer fits, got {type(fit).__name__}")
    names = [f"model{i + 1}" for i in range(len(fits))] if names is None else list(names)
    if len(names) != len(fits):
        raise ValueError(f"{len(names)} names for {len(fits)} models")
    _same_data(fits)
    refitted = refit and any(f.REML for f in fits)
    used = [f.refit_ml() for f in fits] if refit else fits
    order = sorted(range(len(fits)), key=lambda i: used[i].npar)
    npar = np.array([used[i].npar for i in order], dtype=int)
    loglik = np.array([used[i].loglik for i in order])
    nobs = used[0].nobs
    chisq = np.r_[np.nan, 2 * np.maximum(0, np.diff(loglik))]
    df = np.r_[np.nan, np.diff(npar)]
    with np.errstate(invalid="ignore"):
        p_value = np.where(df == 0, np.nan, stats.chi2.sf(chisq, np.abs(df)))
    table = pd.DataFrame({
        "npar": npar,
        "AIC": -2 * loglik + 2 * npar,
        "BIC": -2 * loglik + np.log(nobs) * npar,
        "logLik": loglik,
        "-2*log(L)": -2 * loglik,
        "Chisq": chisq,
        "Df": pd.array([None if np.isnan(d) else int(d) for d in df], dtype="Int64"),
        "Pr(>Chisq)": p_value,
    }, index=[names[i] for i in order])
    heading = [f"Data: {fits[0].data_name}"]
    if refitted:
        heading.append("Models refitted with ML (instead of REML)")
    heading.append("Models:")
    heading += [f"{names[i]}: {fits[i].formula}" for i in order]
    return AnovaTable(table=table, heading=heading, refitted=refitted)


def term_columns(fit: LmerResult) -> dict[str, list[int]]:
    """Which columns of X belong to each fixed-effects term (R's ``assign``).

    A column ``a:b`` belongs to the term whose variables, in order, are prefixes of its
    ``:``-separated parts (``grpb`` comes from ``grp``); the longest labels win. Terms whose
    columns were all dropped for rank deficiency map to an empty list.
    """
    frame = fit._frame
    spec = frame._parsed().fixed
    labels = list(spec.labels)
    result: dict[str, list[int]] = {label: [] for label in labels}
    for j, name in enumerate(frame.fixed_names):
        if name == "(Intercept)":
            continue
        parts = name.split(":")
        best, best_length = None, -1
        for term, label in zip(spec.terms, labels):
            if len(term) != len(parts):
                continue
            if all(part.startswith(var) for part, var in zip(parts, term)):
                length = sum(len(v) for v in term)
                if length > best_length:
                    best, best_length = label, length
        if best is None:
            raise ValueError(f"cannot tell which term column {name!r} belongs to")
        result[best].append(j)
    return result


def _contained(spec_terms: list[tuple[str, ...]]) -> dict[int, list[int]]:
    out = {}
    for i, term in enumerate(spec_terms):
        out[i] = [j for j, other in enumerate(spec_terms) if j != i and set(term) < set(other)]
    return out


def type3_table(fit: LmerResult, ddf: str = "satterthwaite") -> AnovaTable:
    """lmerTest's type III ANOVA table (``anova(fit)``).

    For each term, :math:`L` selects the term's coefficients and the F test of
    :math:`L\\beta = 0` is :func:`mlmtools.satterthwaite.contest_md`:
    Sum Sq = F q :math:`\\hat\\sigma^2`, Mean Sq = F :math:`\\hat\\sigma^2`.
    Terms contained in other terms (main effects under an interaction) need lmerTest's
    orthogonalised contrasts, which are not implemented; they raise NotImplementedError.
    """
    from mlmtools.satterthwaite import contest_md

    columns = term_columns(fit)
    spec_terms = list(fit._frame._parsed().fixed.terms)
    containment = _contained(spec_terms)
    p = len(fit.fixef)
    rows = []
    for i, (label, cols) in enumerate(columns.items()):
        if not cols:
            rows.append(pd.DataFrame({c: [np.nan] for c in F_COLUMNS}))
            continue
        if any(columns[list(columns)[j]] for j in containment[i]):
            raise NotImplementedError(
                f"type III test of {label!r}, which is contained in a higher-order term, "
                "needs lmerTest's orthogonalised contrasts (not implemented); test the "
                "interaction, or use contest() with your own contrast")
        L = np.zeros((len(cols), p))
        L[np.arange(len(cols)), cols] = 1.0
        rows.append(contest_md(fit, L, ddf=ddf))
    table = pd.concat(rows, ignore_index=True)
    table.index = list(columns)
    table["NumDF"] = table["NumDF"].astype("Int64")
    title = {"satterthwaite": "Satterthwaite's method", "residual": "residual degrees of freedom",
             "none": "normal approximation"}[ddf]
    heading = [f"Type III Analysis of Variance Table with {title}"]
    return AnovaTable(table=table, heading=heading)


def anova(*fits: LmerResult, names: list[str] | None = None, refit: bool = True,
          ddf: str = "satterthwaite", **named: LmerResult) -> AnovaTable:
    """ANOVA for linear mixed models.

    ``anova(fit)`` gives lmerTest's type III F table (:func:`type3_table`);
    ``anova(m1, m2, ...)`` or ``anova(m1=m1, m2=m2)`` gives lme4's likelihood-ratio table
    (:func:`compare_models`); keyword names become row labels.
    """
    from mlmtools.lmer import check_ddf

    ddf = check_ddf(ddf)
    models = list(fits) + list(named.values())
    if named:
        names = [f"model{i + 1}" for i in range(len(fits))] + list(named)
    if not models:
        raise ValueError("anova needs at least one fitted model")
    if len(models) == 1:
        return type3_table(models[0], ddf)
    return compare_models(*models, names=names, refit=refit)
