"""The pieces every factorization of the penalized system shares: the first term's factor, level by level,
and the profiled criterion from its parts.

The first random-effects term (the one with most levels) makes the top-left block of
:math:`A = \\Lambda^\\top Z^\\top W Z\\Lambda + I` block diagonal, one :math:`k \\times k` block per level,
whatever the other terms are.  The dense factorization (:mod:`mlmtools.lmm.pls`) and the blocked one
(:mod:`mlmtools.lmm.blocked_factor`) both start by factoring those blocks here, from per-level
cross-products computed once, and both end with :func:`criterion`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular

from mlmtools.lmm.problem import LmmProblem

#: The entries (0,0), (1,0), (1,1) of the 2 x 2 identity, as a column (added to those of :math:`T^\\top S_j T`).
IDENTITY_ENTRIES_2 = np.array([[1.0], [0.0], [1.0]])


def first_term_factor(problem: LmmProblem, T: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Factor the first term's diagonal blocks :math:`A_j = T^\\top Z_j^\\top W Z_j T + I`.

    Returns :math:`L_j^{-1}` (l, k, k), :math:`R_{ZXy,j} = L_j^{-1}T^\\top Z_j^\\top W[X\\ y]`
    (l, k, p+1) and :math:`\\sum_j \\log|A_j|`.  Blocks of size 1 and 2 are factored in
    closed form on whole columns of per-level numbers (no per-level matrix products).
    """
    k = len(T)
    S, N = problem.ztz1_entries, problem.ztxy1_rows  # (k(k+1)/2, l) and (k, l, p+1)
    if k == 1:
        t = T[0, 0]
        a = t * t * S[0] + 1.0
        inv = 1.0 / np.sqrt(a)
        return inv[:, None, None], ((t * inv)[:, None] * N[0])[:, None, :], float(np.sum(np.log(a)))
    if k == 2:
        t1, t2, t3 = T[0, 0], T[1, 0], T[1, 1]
        # (a, b, c) = entries (0,0), (1,0), (1,1) of T'S_jT + I, from S's entries (0,0), (1,0), (1,1)
        a, b, c = np.array([[t1 * t1, 2 * t1 * t2, t2 * t2], [0.0, t3 * t1, t3 * t2],
                            [0.0, 0.0, t3 * t3]]) @ S + IDENTITY_ENTRIES_2
        l11 = np.sqrt(a)
        l21 = b / l11
        schur = c - l21 * l21
        i11, i22 = 1.0 / l11, 1.0 / np.sqrt(schur)
        i21 = -l21 * i11 * i22
        K = np.array([t1 * i11, t2 * i11, t1 * i21, t2 * i21 + t3 * i22]).reshape(2, 2, -1)
        inv = np.array([i11, np.zeros_like(i11), i21, i22]).T.reshape(-1, 2, 2)
        return inv, np.einsum("abl,blc->lac", K, N), float(np.sum(np.log(a * schur)))
    L_inv, log_det = block_cholesky_inverse(T.T @ problem.ztz1 @ T + np.eye(k))
    return L_inv, (L_inv @ T.T) @ problem.ztxy1, log_det


def block_cholesky_inverse(A: np.ndarray) -> tuple[np.ndarray, float]:
    """Inverse Cholesky factors of a stack of positive definite blocks.

    For blocks :math:`A_j = L_j L_j^\\top` (shape ``(m, k, k)``) return :math:`L_j^{-1}`
    and :math:`\\sum_j \\log|A_j|`; blocks of size 1 and 2 use closed forms.
    """
    k = A.shape[-1]
    if k == 1:
        return 1.0 / np.sqrt(A), float(np.sum(np.log(A)))
    if k == 2:
        a, b, c = A[:, 0, 0], A[:, 1, 0], A[:, 1, 1]
        l11 = np.sqrt(a)
        l21 = b / l11
        l22_sq = c - l21 * l21
        l22 = np.sqrt(l22_sq)
        inv = np.zeros_like(A)
        inv[:, 0, 0] = 1.0 / l11
        inv[:, 1, 1] = 1.0 / l22
        inv[:, 1, 0] = -l21 / (l11 * l22)
        return inv, float(np.sum(np.log(a * l22_sq)))
    L = np.linalg.cholesky(A)
    return np.linalg.inv(L), 2.0 * float(np.sum(np.log(np.diagonal(L, axis1=1, axis2=2))))


def criterion(n: int, p: int, ldL2: float, ldRX2: float, log_det_w: float,
              pwrss: float, reml: bool) -> float:
    """The profiled deviance from its pieces (lme4's ``lmerResp::Laplace``).

    .. math::
        d = \\log|L|^2 - \\log|W| + [\\log|R_X|^2] + m\\,[1 + \\log(2\\pi\\,\\mathrm{pwrss}/m)],

    with :math:`m = n - p` and the bracketed term for REML, :math:`m = n` for ML.
    """
    m = n - p if reml else n
    value = ldL2 - log_det_w + m * (1.0 + np.log(2.0 * np.pi * pwrss / m))
    return float(value + ldRX2) if reml else float(value)


@dataclass(frozen=True)
class PenalizedFactor:
    """The Cholesky factorization of the penalized system at one theta, as every factorization ends it.

    :math:`L` is split into the first term (index 1) and the later terms (index 2):
    ``L11_inv`` (l1, k1, k1) holds the inverses of the first term's diagonal blocks of :math:`L`,
    ``L22`` (q2, q2) the later terms' lower-triangular block; ``RZXY1`` (l1, k1, p+1) and ``RZXY2``
    (q2, p+1) are :math:`R_{ZXy}`; ``R`` is the upper Cholesky factor of
    :math:`[X\\ y]^\\top W[X\\ y] - R_{ZXy}^\\top R_{ZXy} =
    \\begin{pmatrix} R_X & c_\\beta \\\\ 0 & \\sqrt{\\mathrm{pwrss}} \\end{pmatrix}^\\top (\\cdot)`;
    ``ldL2`` is :math:`\\log|L|^2`.  Subclasses hold :math:`L_{21}` in their own form.
    """

    L11_inv: np.ndarray
    L22: np.ndarray
    RZXY1: np.ndarray
    RZXY2: np.ndarray
    R: np.ndarray
    ldL2: float

    @property
    def pwrss(self) -> float:
        return float(self.R[-1, -1] ** 2)

    @property
    def RX(self) -> np.ndarray:
        return self.R[:-1, :-1]

    @property
    def ldRX2(self) -> float:
        return 2.0 * float(np.sum(np.log(np.abs(np.diag(self.R)[:-1]))))

    def coupling_transpose_times(self, u2: np.ndarray) -> np.ndarray:
        """:math:`L_{21}^\\top u_2`, shaped (l1, k1)."""
        raise NotImplementedError

    def modes(self, coefficients: np.ndarray) -> np.ndarray:
        """The spherical modes :math:`u` by back substitution,
        :math:`L^\\top u = R_{ZXy}\\,(-\\hat\\beta, 1)` (``coefficients`` is :math:`(-\\hat\\beta, 1)`):
        :math:`u_2 = L_{22}^{-\\top} R_{ZXy,2}\\,c`, then level by level
        :math:`u_{1,j} = L_{11,j}^{-\\top}(R_{ZXy,1,j}\\,c - [L_{21}^\\top u_2]_j)`."""
        v2 = self.RZXY2 @ coefficients
        u2 = solve_triangular(self.L22, v2, trans="T", lower=True, check_finite=False) if len(v2) else v2
        v1 = self.RZXY1 @ coefficients - self.coupling_transpose_times(u2)
        u1 = np.einsum("lba,lb->la", self.L11_inv, v1)
        return np.concatenate([u1.ravel(), u2])
