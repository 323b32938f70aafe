"""Design matrices as R's ``model.matrix`` builds them, and lme4's rank check.

Each factor is coded by its contrasts (:mod:`mlmtools.frame.contrasts`): those given in
``contrasts=``, else the one ``C()`` set, else R's default (treatment contrasts with the first
level as reference, polynomial contrasts for an ordered factor); within a term the first
variable varies fastest; a factor is coded by all its levels when R's rule says so
(:func:`_full_dummy_flags`). Columns that make the design rank deficient are found as
lme4's ``chkRank.drop.cols`` finds them (:func:`rank_deficient_columns`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mlmtools.formula import FixedSpec
from mlmtools.frame.contrasts import Coding, ContrastSpec, coding_of, default_contrast
from mlmtools.frame.evaluation import Evaluator, FactorVariable, NumericVariable

#: Relative tolerance of the rank check, as lme4's ``chkRank.drop.cols(tol = 1e-7)``.
RANK_TOLERANCE = 1e-7
# Smallest squared pivot of the correlation Cholesky factor that proves full rank cheaply.
_FULL_RANK_PIVOT = 1e-4


def _full_dummy_flags(spec: FixedSpec, categorical: set[str]) -> list[list[bool]]:
    """For each term and each of its variables: code a factor by all its levels?

    R's rule (``TermCode`` in ``model.c``): a factor in a term is coded by contrasts when the
    term without it is empty or is contained in an earlier term; otherwise it gets one column
    per level. Without an intercept, the first factor of the first term holding a factor is
    coded by all its levels.
    """
    flags: list[list[bool]] = []
    for j, term in enumerate(spec.terms):
        row = []
        for variable in term:
            rest = set(term) - {variable}
            contrast = (not rest) or any(rest <= set(earlier) for earlier in spec.terms[:j])
            row.append(variable in categorical and not contrast)
        flags.append(row)
    if not spec.intercept:
        for j, term in enumerate(spec.terms):
            first = next((i for i, v in enumerate(term) if v in categorical), None)
            if first is not None:
                flags[j][first] = True
                break
    return flags


def _variable_block(label: str, value: NumericVariable | FactorVariable, full: bool,
                    coding: Coding | None) -> tuple[np.ndarray, list[str]]:
    if isinstance(value, NumericVariable):
        return value.values, [label + suffix for suffix in value.suffixes]
    if len(value.levels) < 2 and not full:
        raise ValueError(f"factor '{label}' has only one level ({', '.join(value.levels)}); "
                         "contrasts need at least two")
    if full or coding is None:
        matrix, suffixes = np.eye(len(value.levels)), list(value.levels)
    else:
        matrix, suffixes = coding.matrix, list(coding.suffixes)
    block = np.vstack([matrix, np.full(matrix.shape[1], np.nan)])[value.codes]  # code -1: missing
    return block, [label + suffix for suffix in suffixes]


def design_matrix(spec: FixedSpec, evaluator: Evaluator,
                  contrasts: Mapping[str, ContrastSpec] | None = None
                  ) -> tuple[np.ndarray, list[str], dict[str, ContrastSpec]]:
    """R's ``model.matrix`` for a one-sided formula spec.

    Parameters
    ----------
    spec : FixedSpec
        The terms.
    evaluator : Evaluator
        Evaluates the variables on the data.
    contrasts : mapping, optional
        Contrast of a factor by its label (R's ``contrasts.arg``): the name of one of R's
        contrast functions or a matrix; other factors get R's default.

    Returns
    -------
    tuple
        The matrix, its column names, and the contrast of every factor (R's
        ``attr(X, "contrasts")``).
    """
    n = len(evaluator.data)
    values = {label: evaluator.variable(node) for label, node in spec.variables.items()
              if any(label in term for term in spec.terms)}
    given = dict(contrasts or {})
    for label in given:
        if isinstance(values.get(label), NumericVariable):
            raise ValueError(f"contrasts= gives a contrast for '{label}', which is numeric; contrasts "
                             "apply to factors")
    used: dict[str, ContrastSpec] = {}
    codings: dict[str, Coding] = {}
    for label, value in values.items():
        if isinstance(value, FactorVariable):
            used[label] = given.get(label, value.contrast or default_contrast(value.ordered))
            if len(value.levels) >= 2:
                codings[label] = coding_of(used[label], value.levels, label)
    categorical = set(used)
    flags = _full_dummy_flags(spec, categorical)
    blocks, names = [], []
    if spec.intercept:
        blocks.append(np.ones((n, 1)))
        names.append("(Intercept)")
    for term, term_flags in zip(spec.terms, flags):
        matrix, term_names = None, [""]
        for variable, full in zip(term, term_flags):
            block, block_names = _variable_block(variable, values[variable], full, codings.get(variable))
            # earlier variables vary fastest, as in R's model.matrix
            matrix = block if matrix is None else np.column_stack(
                [matrix[:, i] * block[:, k] for k in range(block.shape[1])
                 for i in range(matrix.shape[1])])
            term_names = [f"{old}:{new}" if old else new
                          for new in block_names for old in term_names]
        blocks.append(np.ones((n, 1)) if matrix is None else matrix)
        names.extend(term_names)
    matrix = np.column_stack(blocks) if blocks else np.empty((n, 0))
    return matrix, names, used


def rank_deficient_columns(X: np.ndarray, tol: float = RANK_TOLERANCE) -> list[int]:
    r"""Columns lme4 drops: those LINPACK's pivoted QR (``dqrdc2``) moves past the rank.

    Columns are taken left to right; column :math:`j` is negligible when the norm of its
    part orthogonal to the columns kept so far is below ``tol`` times its own norm,

    .. math:: \lVert (I - Q Q^\top) x_j \rVert < \mathrm{tol}\,\lVert x_j \rVert,

    and negligible columns are moved to the end, i.e. dropped. A cheap test on
    :math:`X^\top X` settles the common full-rank case (:func:`clearly_full_rank`).
    """
    return [] if clearly_full_rank(X) else negligible_columns(X, tol)


def negligible_columns(X: np.ndarray, tol: float) -> list[int]:
    """The exact check of :func:`rank_deficient_columns`, by Gram-Schmidt with
    reorthogonalization."""
    basis = np.empty((X.shape[0], 0))
    dropped = []
    for j in range(X.shape[1]):
        column = X[:, j]
        norm = np.linalg.norm(column)
        residual = column - basis @ (basis.T @ column)
        residual = residual - basis @ (basis.T @ residual)
        residual_norm = np.linalg.norm(residual)
        if norm == 0 or residual_norm < tol * norm:
            dropped.append(j)
        else:
            basis = np.column_stack([basis, residual / residual_norm])
    return dropped


def clearly_full_rank(X: np.ndarray) -> bool:
    r"""A cheap sufficient test that no column of a finite ``X`` is negligible.

    The squared ratio :math:`\lVert (I - QQ^\top) x_j\rVert^2 / \lVert x_j\rVert^2` is the
    :math:`j`-th pivot of the Cholesky factor of the correlation matrix of the columns
    (from :math:`X^\top X` in one pass over the data). When every pivot exceeds
    :data:`_FULL_RANK_PIVOT` (ratios above 1e-2, five orders of magnitude above the rank
    tolerance, far beyond the rounding error of :math:`X^\top X`), every column is kept by
    the exact check too; otherwise that check decides.
    """
    gram = X.T @ X
    scale = np.sqrt(np.diag(gram))
    if not (scale > 0).all():
        return False
    try:
        factor = np.linalg.cholesky(gram / np.outer(scale, scale))
    except np.linalg.LinAlgError:
        return False
    return bool((np.diag(factor) ** 2 > _FULL_RANK_PIVOT).all())

