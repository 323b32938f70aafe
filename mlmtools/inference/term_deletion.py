"""lmerTest's ``drop1``: an F test for each fixed-effects term that can be dropped from the model.

The terms that can be dropped are R's ``drop.scope``: those whose variables are not all among
the variables of another term (``x`` and ``z`` cannot be dropped from ``x * z``, ``x:z`` can).
Dropping term :math:`t` is tested by :math:`L_t\\beta = 0` with :math:`L_t` the rows of the
identity for the term's coefficients (the marginal contrast), by
:func:`mlmtools.inference.contrasts.contest_md` with Satterthwaite's or Kenward and Roger's
denominator df. When the fixed-effects design lost columns for rank deficiency the contrast is
lmerTest's ``get_Ldiffmat2`` instead: with :math:`X_0` the full design without the term,
:math:`R = X - X_0(X_0^\\top X_0)^{+}X_0^\\top X` (columns with :math:`\\sum_i|R_{ij}| \\le 10^{-8}`
left out) and :math:`L_t^\\top` the orthonormal :math:`Q` of the QR decomposition of
:math:`X^\\top R`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mlmtools.formula import FixedSpec
from mlmtools.inference.anova_tables import AnovaFit, f_table, fitted_data_rows, term_columns
from mlmtools.inference.contrasts import check_ddf
from mlmtools.rstyle.lmertest_tables import DDF_TITLES, SingleTermDeletions
from mlmtools.rstyle.numbers import zapsmall


def drop_scope(terms: tuple[tuple[str, ...], ...]) -> list[str]:
    """R's ``drop.scope``: the labels of the terms whose variables are not all in another term.

    Examples
    --------
    >>> drop_scope((("x",), ("z",), ("x", "z"), ("w",)))
    ['x:z', 'w']
    """
    return [":".join(term) for term in terms
            if not any(set(term) <= set(other) for other in terms if other != term)]


def _rank_deficient_contrast(fit: AnovaFit, term: tuple[str, ...]) -> np.ndarray:
    """lmerTest's ``get_Ldiffmat2`` (module docstring); NaN when nothing is left to test."""
    frame = fit.state.frame
    spec = frame.parsed.fixed
    reduced = FixedSpec(intercept=spec.intercept, terms=tuple(t for t in spec.terms if t != term),
                        variables=spec.variables)
    reduced_frame = dataclasses.replace(frame, parsed=dataclasses.replace(frame.parsed, fixed=reduced),
                                        dropped_columns=())
    X0 = reduced_frame.fixed_matrix(fitted_data_rows(fit, "drop1 of a rank-deficient model"))
    X = np.asarray(frame.X, dtype=float)
    residual = X - X0 @ np.linalg.lstsq(X0, X, rcond=None)[0]
    residual = residual[:, np.sum(np.abs(residual), axis=0) > 1e-8]
    if not residual.shape[1]:
        return np.full((1, X.shape[1]), np.nan)
    Q = np.linalg.qr(X.T @ residual)[0]
    return np.asarray(zapsmall(Q)).T


def drop1(fit: AnovaFit, ddf: str = "satterthwaite", derivatives: str | None = None) -> SingleTermDeletions:
    """lmerTest's ``drop1(fit, ddf)``: the F test of dropping each droppable fixed-effects term
    (module docstring).

    Parameters
    ----------
    fit : ~mlmtools.lmm.result.LmerResult
    ddf : {"satterthwaite", "kenward-roger"}
        Denominator df (``"residual"`` and ``"none"`` also work).
    derivatives : {"analytic", "numerical"}, optional
        How Satterthwaite's derivatives are taken.

    Returns
    -------
    ~mlmtools.rstyle.lmertest_tables.SingleTermDeletions
        One row per droppable term (``Sum Sq``, ``Mean Sq``, ``NumDF``, ``DenDF``, ``F value``,
        ``Pr(>F)``); print it for lmerTest's layout.

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmm import lmer
    >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
    >>> print(drop1(fit))
    Single term deletions using Satterthwaite's method:
    <BLANKLINE>
    Model:
    Reaction ~ Days + (Days | Subject)
         Sum Sq Mean Sq NumDF DenDF F value    Pr(>F)
    Days  30031   30031     1    17  45.853 3.264e-06 ***
    ---
    Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1
    """
    ddf = check_ddf(ddf)
    frame = fit.state.frame
    terms = frame.parsed.fixed.terms
    scope = drop_scope(terms)
    p = frame.X.shape[1]
    if frame.dropped_columns:
        by_label = {":".join(term): term for term in terms}
        contrasts = {label: _rank_deficient_contrast(fit, by_label[label]) for label in scope}
    else:
        columns = term_columns(fit)
        contrasts = {label: np.eye(p)[columns[label]] for label in scope}
    table = f_table(fit, contrasts, ddf, derivatives)
    heading = [f"Single term deletions using {DDF_TITLES[ddf]}:", "", "Model:", frame.formula]
    return SingleTermDeletions(table=table, heading=heading, ddf=ddf, contrasts=contrasts)
