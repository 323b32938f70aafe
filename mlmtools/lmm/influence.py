"""Leverage of a fitted mixed model: the diagonal of its hat matrix and Cook's distances,
as lme4's ``hatvalues.merMod`` and ``cooks.distance.merMod`` compute them.

With :math:`A = [Z\\Lambda_\\theta\\;\\; X]`, the weights :math:`W` of the penalized system (the
prior weights of a linear model, PIRLS's final working weights of a GLMM) and

.. math:: M = A^\\top W A + \\begin{pmatrix} I_q & 0 \\\\ 0 & 0 \\end{pmatrix}
          = R^\\top R,\\qquad
          R = \\begin{pmatrix} L^\\top & R_{ZX} \\\\ 0 & R_X \\end{pmatrix},

lme4's right factors :math:`C_L = L^{-1}\\Lambda^\\top Z^\\top W_p^{1/2}` and
:math:`C_R = R_X^{-\\top}(X^\\top W_p^{1/2} - R_{ZX}^\\top C_L)` stack to
:math:`R^{-\\top}A^\\top W_p^{1/2}`, so the hat matrix is

.. math:: H = C_L^\\top C_L + C_R^\\top C_R = W_p^{1/2} A M^{-1} A^\\top W_p^{1/2},

with :math:`W_p` the prior weights (lme4 uses them even for a GLMM, where it warns that the
hat matrix may not make sense). Cook's distance of observation :math:`i` is

.. math:: D_i = \\Big(\\frac{r_i}{1 - h_{ii}}\\Big)^2 \\frac{h_{ii}}{\\hat\\sigma^2\\, p}

with :math:`r_i` the Pearson residual and :math:`p` the number of fixed effects.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from mlmtools.lmm.problem import LmmProblem

#: Columns of :math:`A^\\top W_p^{1/2}` solved for at a time (bounds the dense block's memory).
SOLVE_BLOCK = 2048


def relative_covariance_factor(problem: LmmProblem, theta: np.ndarray) -> sp.csc_matrix:
    """:math:`\\Lambda_\\theta`: per term, one copy of its template :math:`T` per level
    (:math:`I_{\\ell} \\otimes T`), in the order of :math:`b`."""
    blocks = [sp.kron(sp.identity(t.n_levels, format="csc"), sp.csc_matrix(t.template(theta)), format="csc")
              for t in problem.terms]
    return sp.csc_matrix(sp.block_diag(blocks, format="csc"))


def hat_diagonal(problem: LmmProblem, theta: np.ndarray, X: np.ndarray, system_weights: np.ndarray,
                 prior_weights: np.ndarray) -> np.ndarray:
    """:math:`\\mathrm{diag}(H)` of the module docstring, one value per observation.

    Parameters
    ----------
    problem
        The model's cross-products (its ``Z`` and term layouts).
    theta
        :math:`\\hat\\theta`.
    X
        The fixed-effects design.
    system_weights
        :math:`W` of the penalized system.
    prior_weights
        :math:`W_p`.
    """
    A = sp.csr_matrix(sp.hstack([problem.Z @ relative_covariance_factor(problem, theta), sp.csr_matrix(X)]))
    q = problem.q
    penalty = sp.diags(np.r_[np.ones(q), np.zeros(A.shape[1] - q)])
    M = sp.csc_matrix(A.T @ sp.diags(system_weights) @ A + penalty)
    factor = splu(M)
    weighted = sp.csc_matrix(A.T @ sp.diags(np.sqrt(prior_weights)))  # A' W_p^{1/2}, one column per row
    diagonal = np.empty(A.shape[0])
    for start in range(0, A.shape[0], SOLVE_BLOCK):
        block = weighted[:, start:start + SOLVE_BLOCK].toarray()
        diagonal[start:start + block.shape[1]] = np.einsum("ij,ij->j", block, factor.solve(block))
    return diagonal


def cooks_distance(pearson_residuals: np.ndarray, hat: np.ndarray, sigma: float, n_fixed: int) -> np.ndarray:
    """lme4's ``cooks.distance.merMod`` (module docstring); NaN where :math:`h_{ii} = 1`."""
    with np.errstate(divide="ignore", invalid="ignore"):
        distance: np.ndarray = (pearson_residuals / (1.0 - hat)) ** 2 * hat / (sigma**2 * n_fixed)
    distance[np.isinf(distance)] = np.nan
    return distance
