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

* ``anova(fit, type=3)``: lmerTest's table of the fixed effects: for each term the F test of
  its contrast of type III (:func:`type3_contrasts`; the term's own coefficients unless the
  term is contained in a higher-order term), II or I
  (:mod:`mlmtools.inference.anova_contrasts`) with Satterthwaite's or Kenward and Roger's
  denominator df (:func:`mlmtools.inference.contrasts.contest_md`).
"""

from __future__ import annotations

import dataclasses
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd
from scipy import stats

from mlmtools.formula import FixedSpec
from mlmtools.frame import ModelFrame
from mlmtools.inference.anova_contrasts import type1_contrasts, type2_contrasts
from mlmtools.inference.contrasts import ContrastFit, FixedEffectsState, check_ddf, contest_md
from mlmtools.rstyle.lmertest_tables import DDF_TITLES, FixedEffectsAnova
from mlmtools.rstyle.numbers import zapsmall
from mlmtools.rstyle.summaries import AnovaTable

LRT_COLUMNS = ["npar", "AIC", "BIC", "logLik", "-2*log(L)", "Chisq", "Df", "Pr(>Chisq)"]
F_COLUMNS = ["Sum Sq", "Mean Sq", "NumDF", "DenDF", "F value", "Pr(>F)"]


class ModelState(FixedEffectsState, Protocol):
    """The estimates and the model frame of a fit (an lmer fit's ``state``)."""

    @property
    def frame(self) -> ModelFrame:
        """The model frame the fit was computed from."""


class FittedData(Protocol):
    """The model a fit came from: its data (for type III contrasts of contained terms)."""

    @property
    def data(self) -> pd.DataFrame | None:
        """The data the model was built from (None for a model built from a model frame)."""


@runtime_checkable
class LikelihoodFit(Protocol):
    """What a likelihood-ratio table reads from a fit (lmer and glmer fits are ones)."""

    @property
    def formula(self) -> str:
        """The model formula."""

    @property
    def data_name(self) -> str:
        """The data's name, for the table's heading."""

    @property
    def state(self) -> ModelState:
        """Estimates and model frame."""

    @property
    def REML(self) -> bool:
        """Whether the fit is by REML."""

    @property
    def npar(self) -> int:
        """Number of parameters."""

    @property
    def nobs(self) -> int:
        """Number of observations."""

    @property
    def loglik(self) -> float:
        """Maximised log-likelihood."""

    def refit_ml(self) -> LikelihoodFit:
        """The same model fitted by maximum likelihood."""


@runtime_checkable
class AnovaFit(ContrastFit, LikelihoodFit, Protocol):
    """What the ANOVA tables read from a fit; :class:`~mlmtools.lmm.result.LmerResult` is one."""

    @property
    def state(self) -> ModelState:
        """Estimates and model frame."""

    @property
    def model(self) -> FittedData:
        """The unfitted model, with its data."""

    def refit_ml(self) -> AnovaFit:
        """The same model fitted by maximum likelihood."""


def _same_data(fits: list[LikelihoodFit]) -> None:
    first = fits[0].state.frame
    for fit in fits[1:]:
        frame = fit.state.frame
        if frame.y.shape != first.y.shape:
            raise ValueError(
                "models were not all fitted to the same size of dataset "
                f"({', '.join(str(f.nobs) for f in fits)} observations)")
        if not (np.array_equal(frame.y, first.y) and frame.row_index.equals(first.row_index)):
            raise ValueError("models were not all fitted to the same data (responses or rows "
                             "differ); a likelihood-ratio test needs the same observations")


def compare_models(*fits: LikelihoodFit, names: list[str] | None = None, refit: bool = True) -> AnovaTable:
    """Likelihood-ratio table of nested mixed models (lme4's ``anova(m1, m2, ...)``).

    Parameters
    ----------
    *fits : ~mlmtools.lmm.result.LmerResult or ~mlmtools.glmm.result.GlmerResult
        Two or more models fitted to the same data.
    names : list of str, optional
        Row labels (default ``model1``, ``model2``, ...).
    refit : bool
        Refit REML fits by ML first (lme4's default).

    Returns
    -------
    ~mlmtools.rstyle.summaries.AnovaTable
        Rows ordered by number of parameters; columns npar, AIC, BIC, logLik,
        -2*log(L), Chisq, Df, Pr(>Chisq).

    Raises
    ------
    ValueError
        Fewer than two models, or models fitted to different data.
    """
    if len(fits) < 2:
        raise ValueError("compare at least two models")
    for fit in fits:
        if not isinstance(fit, LikelihoodFit):
            raise TypeError(f"anova compares lmer or glmer fits, got {type(fit).__name__}")
    names = [f"model{i + 1}" for i in range(len(fits))] if names is None else list(names)
    if len(names) != len(fits):
        raise ValueError(f"{len(names)} names for {len(fits)} models")
    _same_data(list(fits))
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


def term_columns(fit: AnovaFit) -> dict[str, list[int]]:
    """Which columns of X belong to each fixed-effects term (R's ``assign``).

    A column ``a:b`` belongs to the term whose variables, in order, are prefixes of its
    ``:``-separated parts (``grpb`` comes from ``grp``); the longest labels win. Terms whose
    columns were all dropped for rank deficiency map to an empty list.
    """
    frame = fit.state.frame
    spec = frame.parsed.fixed
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


def _is_categorical(fit: AnovaFit, variable: str) -> bool:
    return f"levels:{variable}" in fit.state.frame.encodings


def containment(fit: AnovaFit) -> dict[str, list[str]]:
    """For each fixed-effects term, the terms that contain it (lmerTest's ``containment``).

    Term :math:`F_2` contains :math:`F_1` when every variable of :math:`F_1` is in
    :math:`F_2`, :math:`F_2` has more variables, and both involve the same numeric
    (non-factor) variables; so ``x`` is contained in ``x:grp`` but ``grp`` is not.
    """
    spec = fit.state.frame.parsed.fixed
    numeric = {term: {v for v in term if not _is_categorical(fit, v)} for term in spec.terms}
    return {":".join(small): [":".join(big) for big in spec.terms
                              if set(small) < set(big) and numeric[small] == numeric[big]]
            for small in spec.terms}


def fitted_data_rows(fit: AnovaFit, purpose: str = "type III contrasts for terms contained in other terms"
                     ) -> pd.DataFrame:
    """The rows of the fitting data that the model used (``purpose`` names what needs them in
    the error raised when they are not available)."""
    data = fit.model.data
    if data is None:
        raise ValueError(f"{purpose} need the data the model was fitted to; fit the model with "
                         "lmer(formula, data)")
    rows = fit.state.frame.row_index
    if len(data) == len(rows):
        return data
    if not data.index.is_unique:
        raise ValueError(f"{purpose} need a data frame with a unique index when rows were dropped "
                         "for missing values")
    return data.iloc[data.index.get_indexer(rows)]


def _overparameterized_design(fit: AnovaFit, frame: ModelFrame) -> tuple[np.ndarray, dict[str, slice]]:
    """lmerTest's ``get_rdX``: the intercept and, for each term, R's ``model.matrix(~ 0 + term)``
    (all levels of every factor); returns the matrix and each term's columns."""
    parsed = frame.parsed
    spec = parsed.fixed
    data = fitted_data_rows(fit)
    blocks = [np.ones((frame.n, 1))] if spec.intercept else []
    positions, start = {}, len(blocks)
    for term in spec.terms:
        alone = FixedSpec(intercept=False, terms=(term,), variables=spec.variables)
        term_frame = dataclasses.replace(frame, parsed=dataclasses.replace(parsed, fixed=alone),
                                         dropped_columns=())
        block = term_frame.fixed_matrix(data)
        blocks.append(block)
        positions[":".join(term)] = slice(start, start + block.shape[1])
        start += block.shape[1]
    return np.column_stack(blocks), positions


def _treatment_coded(frame: ModelFrame) -> ModelFrame:
    """The frame with every factor coded by ``contr.treatment`` (lmerTest's ``get_model_matrix(type =
    "remake", contrasts = "contr.treatment")``); the frame itself when that is its coding already."""
    if all(isinstance(spec, str) and spec == "contr.treatment" for spec in frame.contrasts.values()):
        return frame
    if frame.dropped_columns:
        raise ValueError("type III tests of a rank-deficient model need treatment contrasts for every factor; "
                         "refit without contrasts= (the tests do not depend on the coding)")
    return dataclasses.replace(frame, contrasts=dict.fromkeys(frame.contrasts, "contr.treatment"))


def type3_contrasts(fit: AnovaFit) -> dict[str, np.ndarray]:
    """lmerTest's type III contrast matrices (``get_contrasts_type3``), one per term.

    With :math:`X` the model's design in treatment coding (remade so when a factor has other
    contrasts) and :math:`\\tilde X` the
    over-parameterised design of ``_overparameterized_design``, the basic contrasts are
    :math:`L = (X^{+}\\tilde X)^\\top`, rounded as R's ``zapsmall``.  Going from higher- to
    lower-order terms, the columns of :math:`L` of a term contained in other terms are
    replaced by their least-squares residuals on the columns of the containing terms.  The
    rows of :math:`L` for the model's own coefficients are kept; a term's contrast is the
    transpose of its columns, without zero rows.  Terms contained in no other term get the
    plain selection of their coefficients. When the model's design :math:`X_c` has other
    contrasts, each contrast is mapped to its coding, :math:`L\\,\\mathrm{zapsmall}(X^{+}X_c)`.
    """
    columns = term_columns(fit)
    contained_in = containment(fit)
    p = len(fit.state.frame.fixed_names)
    selection = {label: np.eye(p)[cols] for label, cols in columns.items()}
    if not any(columns[big] for label, bigs in contained_in.items() if columns[label] for big in bigs):
        return selection
    treatment = _treatment_coded(fit.state.frame)
    X = fit.state.frame.X if treatment is fit.state.frame else treatment.fixed_matrix(fitted_data_rows(fit))
    design, positions = _overparameterized_design(fit, treatment)
    L = zapsmall((np.linalg.pinv(X) @ design).T)
    order = sorted(columns, key=lambda label: label.count(":"), reverse=True)
    for label in order:
        bigs = [c for big in contained_in[label] for c in columns[big]]
        if bigs and columns[label]:
            basis, target = L[:, bigs], L[:, columns[label]]
            residual = target - basis @ np.linalg.lstsq(basis, target, rcond=None)[0]
            L[:, columns[label]] = zapsmall(residual)
    L = L[_coefficient_rows(X, design, columns, positions)]
    contrasts = {}
    for label, cols in columns.items():
        Lt = L[:, cols].T
        contrasts[label] = Lt[np.sum(np.abs(Lt), axis=1) > 1e-8]
    if treatment is not fit.state.frame:
        coding_map = zapsmall(np.linalg.pinv(X) @ fit.state.frame.X)
        contrasts = {label: L @ coding_map for label, L in contrasts.items()}
    return contrasts


def _coefficient_rows(X: np.ndarray, design: np.ndarray, columns: dict[str, list[int]],
                      positions: dict[str, slice]) -> list[int]:
    """For each column of X, the column of the over-parameterised design equal to it (R
    matches them by name: treatment coding keeps a subset of the level columns)."""
    rows = []
    term_of = {j: label for label, cols in columns.items() for j in cols}
    for j in range(X.shape[1]):
        block = positions.get(term_of.get(j, ""), slice(0, 1))
        candidates = range(block.start, block.stop)
        match = next((c for c in candidates if np.allclose(design[:, c], X[:, j], rtol=0, atol=1e-12)),
                     None)
        if match is None:
            raise ValueError(f"cannot match coefficient column {j} to the over-parameterised design")
        rows.append(match)
    return rows


ANOVA_TYPES = (1, 2, 3)


def check_anova_type(type: int | str) -> int:
    """An ANOVA type as 1, 2 or 3 (also ``"1"``, ``"I"``, ``"II"``, ``"III"``), or ValueError."""
    names = {"1": 1, "2": 2, "3": 3, "I": 1, "II": 2, "III": 3}
    value = names.get(type.upper()) if isinstance(type, str) else type
    if isinstance(value, bool) or value not in ANOVA_TYPES:
        raise ValueError(f"type must be 1, 2 or 3 (or 'I', 'II', 'III'), got {type!r}")
    return int(value)


def term_contrasts(fit: AnovaFit, type: int) -> dict[str, np.ndarray]:
    """Each fixed-effects term's contrast matrix for the ANOVA table of the given type
    (:mod:`mlmtools.inference.anova_contrasts`, :func:`type3_contrasts`)."""
    X = np.asarray(fit.state.frame.X, dtype=float)
    if type == 1:
        return type1_contrasts(X, term_columns(fit))
    if type == 2:
        return type2_contrasts(X, term_columns(fit), containment(fit))
    return type3_contrasts(fit)


def f_table(fit: AnovaFit, contrasts: dict[str, np.ndarray], ddf: str, derivatives: str | None) -> pd.DataFrame:
    """One F test per contrast (:func:`~mlmtools.inference.contrasts.contest_md`), rows named by the
    contrasts' keys; NaN for an empty contrast or one with missing entries, as lmerTest."""
    if not contrasts:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in F_COLUMNS}).astype({"NumDF": "Int64"})
    rows = [pd.DataFrame({c: [np.nan] for c in F_COLUMNS}) if not len(L) or np.isnan(L).any()
            else contest_md(fit, L, ddf=ddf, derivatives=derivatives) for L in contrasts.values()]
    table = pd.concat(rows, ignore_index=True)
    table.index = list(contrasts)
    table["NumDF"] = table["NumDF"].astype("Int64")
    return table


def fixed_effects_table(fit: AnovaFit, type: int | str = 3, ddf: str = "satterthwaite",
                        derivatives: str | None = None) -> FixedEffectsAnova:
    """lmerTest's ANOVA table of the fixed effects (``anova(fit, type, ddf)``).

    For each term, the F test of :math:`L\\beta = 0` with the term's contrast :math:`L` of the
    given type (:func:`term_contrasts`), computed by
    :func:`mlmtools.inference.contrasts.contest_md`: Sum Sq = F q :math:`\\hat\\sigma^2`,
    Mean Sq = F :math:`\\hat\\sigma^2` (for Kenward-Roger with the unscaled F).
    """
    type = check_anova_type(type)
    ddf = check_ddf(ddf)
    contrasts = term_contrasts(fit, type)
    heading = [f"Type {'I' * type} Analysis of Variance Table with {DDF_TITLES[ddf]}"]
    return FixedEffectsAnova(table=f_table(fit, contrasts, ddf, derivatives), heading=heading, type=type,
                             ddf=ddf, contrasts=contrasts)


def anova(*fits: AnovaFit, names: list[str] | None = None, refit: bool = True,
          ddf: str = "satterthwaite", derivatives: str | None = None, type: int | str = 3,
          **named: AnovaFit) -> AnovaTable:
    """ANOVA for linear mixed models.

    ``anova(m1, m2, ...)`` or ``anova(m1=m1, m2=m2)`` gives lme4's likelihood-ratio table
    (:func:`compare_models`); keyword names become row labels. REML fits are refitted by ML
    first (unless ``refit=False``), the models are sorted by their number of parameters, and
    each model is compared with the one before it:

    .. math::
        \\chi^2 = 2\\max(0,\\ \\ell_1 - \\ell_0),\\qquad
        \\mathrm{Df} = \\mathrm{npar}_1 - \\mathrm{npar}_0,\\qquad
        p = P(\\chi^2_{\\mathrm{Df}} > \\chi^2),

    with :math:`\\ell_0, \\ell_1` the maximised log-likelihoods of the smaller and the
    larger model.

    A first argument that is not an lmer fit but has an ``anova`` method (a GEE fit) gets that
    method's tables: ``anova(gee1, gee2)`` is ``gee1.anova(gee2)``.

    ``anova(fit)`` gives lmerTest's F table of the fixed effects (:func:`fixed_effects_table`),
    type III unless ``type`` says otherwise: for each term, the F test of :math:`L\\beta = 0`
    with the term's contrast :math:`L` of that type (q rows; type I sequential, type II
    adjusted for the terms that do not contain it, type III the lmerTest default),

    .. math::
        F = \\frac{1}{q}\\,\\hat\\beta^\\top L^\\top (L C L^\\top)^{-1} L\\hat\\beta
        \\sim F_{q,\\nu},

    :math:`C = \\mathrm{vcov}(\\hat\\beta)`, with Satterthwaite's denominator df :math:`\\nu`
    (:func:`mlmtools.inference.contrasts.contest_md`), or Kenward and Roger's adjusted covariance,
    df and scaled F (:mod:`mlmtools.inference.kenward_roger`); ``derivatives`` chooses how
    Satterthwaite's derivatives are taken (:mod:`mlmtools.inference.satterthwaite`).

    Parameters
    ----------
    *fits : ~mlmtools.lmm.result.LmerResult
        One fit (type III table) or several fits of the same data (likelihood-ratio table).
    names : list of str, optional
        Row labels of the likelihood-ratio table (default ``model1``, ``model2``, ...).
    refit : bool
        Refit REML fits by ML before comparing them (lme4's default).
    ddf : {"satterthwaite", "kenward-roger", "residual", "none"}
        Denominator df of the F tests of one fit (``"none"``: chi-square tests).
    derivatives : {"analytic", "numerical"}, optional
        How Satterthwaite's derivatives are taken.
    type : {1, 2, 3}
        The type of the F table of one fit (also ``"I"``, ``"II"``, ``"III"``).
    **named : ~mlmtools.lmm.result.LmerResult
        Fits passed by keyword; the keywords become row labels.

    Returns
    -------
    ~mlmtools.rstyle.summaries.AnovaTable
        Its ``table`` holds the numbers; ``print()`` shows R's layout. For one fit a
        :class:`~mlmtools.rstyle.lmertest_tables.FixedEffectsAnova`.

    Raises
    ------
    TypeError
        An argument that is not an lmer fit (:class:`~mlmtools.lmm.result.LmerResult`).
    ValueError
        No model, or models fitted to different data.

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmm import lmer
    >>> from mlmtools.rstyle import format_number, format_pval
    >>> data = sleepstudy()
    >>> m1 = lmer("Reaction ~ Days + (1 | Subject)", data)
    >>> m2 = lmer("Reaction ~ Days + (1 + Days | Subject)", data)
    >>> lrt = anova(m1, m2).table
    >>> p_value = format_pval(lrt["Pr(>Chisq)"], 4)[1]
    >>> print(format_number(lrt["Chisq"]["model2"], 5), lrt["Df"]["model2"], p_value)
    42.139 2 7.072e-10
    >>> print(anova(m2))
    Type III Analysis of Variance Table with Satterthwaite's method
         Sum Sq Mean Sq NumDF DenDF F value    Pr(>F)
    Days  30031   30031     1    17  45.853 3.264e-06 ***
    ---
    Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1
    >>> print(anova(m2, type=1, ddf="kenward-roger"))
    Type I Analysis of Variance Table with Kenward-Roger's method
         Sum Sq Mean Sq NumDF DenDF F value    Pr(>F)
    Days  30031   30031     1    17  45.853 3.264e-06 ***
    ---
    Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1
    """
    ddf = check_ddf(ddf)
    models = list(fits) + list(named.values())
    if named:
        names = [f"model{i + 1}" for i in range(len(fits))] + list(named)
    if not models:
        raise ValueError("anova needs at least one fitted model")
    own_tests = None if isinstance(models[0], AnovaFit) else getattr(models[0], "anova", None)
    if callable(own_tests):
        # another model's own tests, e.g. geepack's Wald tests of a GEE fit (GeeFit.anova)
        table: AnovaTable = own_tests(*models[1:])
        return table
    for model in models:
        if not isinstance(model, AnovaFit):
            raise TypeError(f"anova compares lmer fits, got {model.__class__.__name__}")
    if len(models) == 1:
        return fixed_effects_table(models[0], type, ddf, derivatives)
    return compare_models(*models, names=names, refit=refit)
