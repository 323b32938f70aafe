"""lmerTest's contrast matrices for the type I and type II ANOVA tables and for ``drop1``.

Each function returns, for every fixed-effects term, the matrix :math:`L` whose F test of
:math:`L\\beta = 0` is the term's row of the table (the tests themselves are
:func:`mlmtools.inference.contrasts.contest_md`):

* **type I** (sequential, :func:`type1_contrasts`): with the Doolittle factorization
  :math:`X^\\top X = \\mathcal{L}\\mathcal{U}` (:func:`doolittle`), the rows of
  :math:`\\mathcal{L}^\\top` that belong to the term's columns: each term adjusted for the terms
  before it;
* **type II** (:func:`type2_contrasts`): a term contained in no other term (lmerTest's
  ``containment``) is tested by its own coefficients (:func:`marginal_contrasts`); any other
  term by the type I rows of a design whose columns are reordered so that the term and the terms
  containing it come last, i.e. adjusted for every term that does not contain it;
* **marginal** (:func:`marginal_contrasts`): the rows of the identity for the term's columns.

The functions take the fixed-effects design :math:`X`, the columns of each term (R's
``assign``: :func:`mlmtools.inference.anova_tables.term_columns`, on the columns the model kept)
and, for type II, the terms containing each term
(:func:`mlmtools.inference.anova_tables.containment`).
"""

from __future__ import annotations

import numpy as np

DOOLITTLE_EPS = 1e-6  # lmerTest's doolittle(): entries below it are set to 0


def doolittle(x: np.ndarray, eps: float = DOOLITTLE_EPS) -> tuple[np.ndarray, np.ndarray]:
    """The Doolittle factorization :math:`x = \\mathcal{L}\\mathcal{U}` of a square matrix, exactly as
    lmerTest's ``doolittle`` (unit lower :math:`\\mathcal{L}`; a multiplier is 0 where the pivot
    :math:`|\\mathcal{U}_{ii}| < \\varepsilon`, and entries below :math:`\\varepsilon` in absolute
    value are set to 0 at the end).

    .. math::
        \\mathcal{U}_{ij} = x_{ij} - \\sum_{k<i}\\mathcal{L}_{ik}\\mathcal{U}_{kj},\\qquad
        \\mathcal{L}_{ji} = \\Big(x_{ji} - \\sum_{k<i}\\mathcal{L}_{jk}\\mathcal{U}_{ki}\\Big)/\\mathcal{U}_{ii}

    Examples
    --------
    >>> import numpy as np
    >>> L, U = doolittle(np.array([[4.0, 2.0], [2.0, 3.0]]))
    >>> L.tolist(), U.tolist()
    ([[1.0, 0.0], [0.5, 1.0]], [[4.0, 2.0], [0.0, 2.0]])
    """
    n = x.shape[0]
    L = np.eye(n)
    U = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            U[i, j] = x[i, j] - L[i, :i] @ U[:i, j]
        for j in range(i + 1, n):
            value = x[j, i] - L[j, :i] @ U[:i, i]
            L[j, i] = 0.0 if abs(U[i, i]) < eps else value / U[i, i]
    L[np.abs(L) < eps] = 0.0
    U[np.abs(U) < eps] = 0.0
    return L, U


def type1_contrasts(X: np.ndarray, columns: dict[str, list[int]]) -> dict[str, np.ndarray]:
    """lmerTest's type I contrasts (``get_contrasts_type1``; module docstring). An intercept-only
    model has no terms (an empty dict)."""
    p = X.shape[1]
    if p == 1:
        return {label: np.eye(1)[cols] for label, cols in columns.items()}
    Lt = doolittle(X.T @ X)[0].T
    return {label: Lt[cols] for label, cols in columns.items()}


def marginal_contrasts(X: np.ndarray, columns: dict[str, list[int]]) -> dict[str, np.ndarray]:
    """The rows of the identity for each term's columns (lmerTest's ``get_contrasts_marginal``)."""
    return {label: np.eye(X.shape[1])[cols] for label, cols in columns.items()}


def type2_contrasts(X: np.ndarray, columns: dict[str, list[int]],
                    contained_in: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """lmerTest's type II contrasts (``get_contrasts_type2_unfolded``; module docstring)."""
    if X.shape[1] <= 1 or len(columns) <= 1:
        return type1_contrasts(X, columns)
    marginal = marginal_contrasts(X, columns)
    out = {}
    for label, cols in columns.items():
        if not contained_in[label]:
            out[label] = marginal[label]
            continue
        last = cols + [c for big in contained_in[label] for c in columns[big]]
        order = [j for j in range(X.shape[1]) if j not in last] + last
        reordered = X[:, order]
        Lt = doolittle(reordered.T @ reordered)[0].T
        rows = Lt[[order.index(j) for j in cols]]
        out[label] = rows[:, np.argsort(order)]
    return out
