"""lmerTest's ``ranova``: likelihood-ratio tests of the random-effects terms.

Each random-effects term ``(lhs | g)`` of the model (after ``||`` and ``/`` expansion, in
formula order) is reduced as lmerTest reduces it:

* a term whose left-hand side has no terms (``(1 | g)``) or nothing that can be dropped is
  removed (row ``(1 | g)``);
* otherwise each term of the left-hand side that R's ``drop.scope`` allows is dropped in turn
  (row ``x in (x | g)``): ``(x | g)`` becomes ``(1 | g)``, ``(x + z | g)`` becomes ``(z | g)``
  and ``(x | g)``. A left-hand side with a single term becomes ``1`` (so ``(0 + x | g)``
  becomes ``(1 | g)``, as in lmerTest); a replacing term the model already has is not added
  twice (R's ``update`` keeps one of each term).

Every reduced model is fitted by the same criterion (REML or ML) to the same rows, through the
fit's :meth:`~mlmtools.lmm.result.LmerResult.update`; when no random-effects term is left it is
the linear model, whose REML log-likelihood is R's ``logLik.lm(REML = TRUE)``,

.. math::
    \\ell_R = \\tfrac12\\Big(\\sum\\log w_i - N\\big(\\log 2\\pi + 1 - \\log N
    + \\log\\textstyle\\sum w_i r_i^2\\big)\\Big) - \\sum_{j=1}^{p}\\log|R_{jj}|,\\qquad N = n - p

(:math:`N = n` and no last sum for ML; :math:`R` from the QR decomposition of :math:`W^{1/2}X`).
The table (lmerTest's ``mk_LRtab``) has for the model (``<none>``) and each reduction
:math:`\\mathrm{npar}`, :math:`\\ell`, AIC :math:`= -2\\ell + 2\\,\\mathrm{npar}`, and for the
reductions :math:`\\mathrm{LRT} = 2(\\ell_0 - \\ell)`, :math:`\\mathrm{Df} = \\mathrm{npar}_0 -
\\mathrm{npar}` and :math:`P(\\chi^2_{\\mathrm{Df}} > \\mathrm{LRT})` (none when Df is 0).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd
from scipy import stats

from mlmtools.formula import FixedSpec, ParsedFormula, RandomSpec, deparse
from mlmtools.inference.anova_tables import AnovaFit
from mlmtools.inference.term_deletion import drop_scope
from mlmtools.rstyle.lmertest_tables import RandomEffectsAnova

RANOVA_COLUMNS = ["npar", "logLik", "AIC", "LRT", "Df", "Pr(>Chisq)"]


class RanovaFit(AnovaFit, Protocol):
    """A fit whose random-effects structure can be reduced: an ``AnovaFit`` that can be
    refitted with another formula (:class:`~mlmtools.lmm.result.LmerResult` is one)."""

    def update(self, formula: str) -> RanovaFit:
        """The model with ``formula`` fitted to the same data by the same criterion."""


def _lhs_text(effects: FixedSpec) -> str:
    """A left-hand side as R deparses it after ``update``: its terms, ``- 1`` without intercept."""
    labels = list(effects.labels)
    if not labels:
        return "1" if effects.intercept else "0"
    return " + ".join(labels) + ("" if effects.intercept else " - 1")


def _reductions(spec: RandomSpec) -> dict[str, str | None]:
    """lmerTest's reductions of one term (module docstring): row name -> the replacing term's
    text, or None when the term is removed."""
    effects = spec.effects
    scope = drop_scope(effects.terms)
    if not effects.terms or not scope:
        return {f"({spec.text})": None}
    out: dict[str, str | None] = {}
    for label in scope:
        if list(effects.labels) == [label]:
            lhs = "1"
        else:
            kept = tuple(term for term in effects.terms if ":".join(term) != label)
            lhs = _lhs_text(FixedSpec(intercept=effects.intercept, terms=kept, variables=effects.variables))
        out[f"{label} in ({spec.text})"] = f"{lhs} | {spec.group_label}"
    return out


def formula_text(parsed: ParsedFormula, random_terms: list[str]) -> str:
    """A model formula as R's ``update`` writes it: terms by order (main effects, then the
    random-effects terms, then interactions), offsets, ``- 1`` without intercept.

    Examples
    --------
    >>> from mlmtools.formula import parse_formula
    >>> formula_text(parse_formula("y ~ x * z + (x | g)"), ["1 | g"])
    'y ~ x + z + (1 | g) + x:z'
    """
    fixed = parsed.fixed
    first = [label for term, label in zip(fixed.terms, fixed.labels) if len(term) == 1]
    higher = [label for term, label in zip(fixed.terms, fixed.labels) if len(term) > 1]
    offsets = [f"offset({deparse(node)})" for node in parsed.offsets]
    parts = first + [f"({text})" for text in random_terms] + higher + offsets
    rhs = " + ".join(parts) if parts else ("1" if fixed.intercept else "0")
    if parts and not fixed.intercept:
        rhs += " - 1"
    return f"{parsed.response_label} ~ {rhs}"


def linear_model_loglik(X: np.ndarray, y: np.ndarray, weights: np.ndarray | None, offset: np.ndarray | None,
                        REML: bool) -> float:
    """R's ``logLik.lm`` of the weighted least-squares fit of ``y - offset`` on ``X`` (module
    docstring)."""
    w = np.ones_like(y) if weights is None else weights
    target = y if offset is None else y - offset
    root = np.sqrt(w)
    Q, R = np.linalg.qr(root[:, None] * X)
    coef = np.linalg.solve(R, Q.T @ (root * target))
    residual = target - X @ coef
    n, p = X.shape
    N = n - p if REML else n
    value = 0.5 * (np.sum(np.log(w)) - N * (np.log(2 * np.pi) + 1 - np.log(N) + np.log(np.sum(w * residual**2))))
    if REML:
        value -= np.sum(np.log(np.abs(np.diag(R))))
    return float(value)


def ranova(fit: RanovaFit, reduce_terms: bool = True) -> RandomEffectsAnova:
    """lmerTest's ``ranova(fit, reduce.terms)``: likelihood-ratio tests of the random-effects
    terms (module docstring).

    Parameters
    ----------
    fit : ~mlmtools.lmm.result.LmerResult
    reduce_terms : bool
        Reduce each term as lmerTest does (True), or remove whole terms (``reduce.terms = FALSE``).

    Returns
    -------
    ~mlmtools.rstyle.lmertest_tables.RandomEffectsAnova

    Raises
    ------
    ValueError
        If a reduced model is fitted to a different number of rows (missing values in a
        column the reduced model no longer uses: remove them first, as lmerTest says).

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmm import lmer
    >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
    >>> print(ranova(fit))
    ANOVA-like table for random-effects: Single term deletions
    <BLANKLINE>
    Model:
    Reaction ~ Days + (Days | Subject)
                             npar  logLik    AIC    LRT Df Pr(>Chisq)
    <none>                      6 -871.81 1755.6
    Days in (Days | Subject)    4 -893.23 1794.5 42.837  2   4.99e-10 ***
    ---
    Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1
    """
    frame = fit.state.frame
    parsed = frame.parsed
    if not parsed.random:
        raise ValueError("ranova needs a model with at least one random-effects term")
    texts = [spec.text for spec in parsed.random]
    formulas: dict[str, str] = {}
    npar = [fit.npar]
    loglik = [fit.loglik]
    for i, spec in enumerate(parsed.random):
        others = texts[:i] + texts[i + 1:]
        reductions = _reductions(spec) if reduce_terms else {f"({spec.text})": None}
        for name, replacement in reductions.items():
            remaining = list(dict.fromkeys(others + ([] if replacement is None else [replacement])))
            formulas[name] = formula_text(parsed, remaining)
            npar_i, loglik_i = _reduced_fit(fit, formulas[name] if remaining else None)
            npar.append(npar_i)
            loglik.append(loglik_i)
    npar_array, ll = np.array(npar), np.array(loglik)
    lrt = np.r_[np.nan, 2 * (ll[0] - ll[1:])]
    df = np.r_[np.nan, npar_array[0] - npar_array[1:]].astype(float)
    with np.errstate(invalid="ignore"):
        p_value = np.where(df > 0, stats.chi2.sf(lrt, np.where(df > 0, df, 1)), np.nan)
    table = pd.DataFrame({"npar": npar_array, "logLik": ll, "AIC": -2 * ll + 2 * npar_array, "LRT": lrt,
                          "Df": df, "Pr(>Chisq)": p_value}, index=["<none>", *formulas])
    heading = ["ANOVA-like table for random-effects: Single term deletions", "", "Model:",
               formula_text(parsed, texts)]
    return RandomEffectsAnova(table=table, heading=heading, formulas=formulas)


def _reduced_fit(fit: RanovaFit, formula: str | None) -> tuple[int, float]:
    """Number of parameters and log-likelihood of the reduced model ``formula`` (None: the linear
    model of the fixed effects), by the fit's criterion."""
    frame = fit.state.frame
    if formula is None:
        loglik = linear_model_loglik(np.asarray(frame.X, dtype=float), frame.y, frame.weights, frame.offset,
                                     fit.REML)
        return frame.X.shape[1] + 1, loglik
    reduced = fit.update(formula)
    if reduced.nobs != fit.nobs:
        raise ValueError("number of rows in use has changed: remove missing values?")
    return reduced.npar, reduced.loglik
