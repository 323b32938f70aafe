"""Exact derivatives over theta through the blocked factor (:mod:`mlmtools.lmm.blocked_factor`).

The quantities of :func:`mlmtools.lmm.derivatives.theta_derivatives` (traces with :math:`V_k = ZD_kZ^\\top`
and bilinear forms in :math:`y`) are reduced to the factor :math:`L` of
:math:`A = \\Lambda^\\top Z^\\top WZ\\Lambda + I` without any :math:`q \\times q` matrix.  With
:math:`Q = Z^\\top V^{-1}Z`, :math:`U = Z^\\top V^{-1}X` and :math:`z = Z^\\top P y`,

.. math::
    \\Lambda^\\top Q\\Lambda = I - A^{-1},\\qquad \\Lambda^\\top U = G := L^{-\\top}R_{ZX},\\qquad
    \\Lambda^\\top z = \\tilde u .

When a term's template :math:`T` is invertible, :math:`D_k = \\Lambda F_k\\Lambda^\\top` and
:math:`D_{kl} = \\Lambda F_{kl}\\Lambda^\\top`, with one block per level
:math:`f_k = T^{-1}E_k + (T^{-1}E_k)^\\top` and :math:`f_{kl} = T^{-1}(E_kE_l^\\top + E_lE_k^\\top)T^{-\\top}`
(for :math:`(1 \\mid g)`, :math:`2/\\theta` and :math:`2/\\theta^2`).  Then, with
:math:`B = I - A^{-1} - GCG^\\top` (:math:`C = (R_X^\\top R_X)^{-1}`; REML's :math:`\\Pi = P`) or
:math:`B = I - A^{-1}` (ML's :math:`\\Pi = V^{-1}`), and :math:`B_P = I - A^{-1} - GCG^\\top`,

.. math::
    \\mathrm{tr}(\\Pi V_k) = \\mathrm{tr}(F_kB),\\quad \\mathrm{tr}(\\Pi V_{kl}) = \\mathrm{tr}(F_{kl}B),\\quad
    \\mathrm{tr}(\\Pi V_k\\Pi V_l) = \\mathrm{tr}(F_kBF_lB),

    y^\\top PV_kPy = \\tilde u^\\top F_k\\tilde u,\\quad y^\\top PV_kPV_lPy = \\tilde u^\\top F_kB_PF_l\\tilde u,\\quad
    U^\\top D_kU = G^\\top F_kG .

For terms :math:`t, s` and their components, :math:`\\mathrm{tr}(F_kBF_lB) = \\sum f_k[a,b]\\,f_l[c,e]\\,
\\Phi_{ts}[b,c,a,e]` with :math:`\\Phi_{ts}[b,c,a,e] = \\langle B^{ts}_{bc}, B^{ts}_{ae}\\rangle`, the
Frobenius products of the :math:`\\ell_t \\times \\ell_s` sub-blocks of :math:`B` that join component
:math:`b` of term :math:`t` to component :math:`c` of term :math:`s`.  Writing
:math:`L^{-1} = \\begin{pmatrix} D & 0 \\\\ -L_{22}^{-1}J & L_{22}^{-1}\\end{pmatrix}` (:math:`D` the first term's
:math:`L_{11,j}^{-1}`, :math:`J = L_{21}D` sparse) and :math:`K = (L_{22}L_{22}^\\top)^{-1}`,

.. math::
    A^{-1} = \\begin{pmatrix} D^\\top D + J^\\top KJ & -J^\\top K \\\\ -KJ & K \\end{pmatrix},

and every product needs only :math:`K` (:math:`q_2 \\times q_2`), :math:`KJ` (a batch of first-term levels at a
time), the diagonal blocks of :math:`J^\\top KJ`, and for the first term with itself
:math:`\\langle (J^\\top KJ)_{bc}, (J^\\top KJ)_{ae}\\rangle = \\langle (KJ_a)(KJ_b)^\\top, J_eJ_c^\\top\\rangle`,
whose right factor has the sparse pattern of the Schur complement.  Products with :math:`GCG^\\top` need
:math:`A^{-1}` times thin matrices (triangular solves).  The work is :math:`O(q_2^3 + q_2^2 q_1)` and the
memory :math:`O(q_2^2)`.

A scalar term at :math:`\\theta_t = 0` (a boundary fit) has :math:`D_t = 0`: its gradient, its cross
derivatives and its :math:`\\partial C/\\partial\\theta_t` vanish, and its second derivatives are
:math:`\\mathrm{tr}(\\Pi V_{tt}) = 2\\,\\mathrm{tr}(Q_{\\Pi,tt})` and :math:`y^\\top PV_{tt}Py = 2\\lVert z_t\\rVert^2`,
taken from :math:`Q_{tt} = S_{tt} - Y_t^\\top Y_t`, :math:`Z_t^\\top V^{-1}[X\\ y] = Z_t^\\top W[X\\ y] -
Y_t^\\top R_{ZXy}` with :math:`Y_t = L^{-1}\\Lambda^\\top Z^\\top WZ_t`.  A term with several columns and a
singular template is not covered (:func:`blocked_derivatives_available`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.linalg import solve_triangular
from scipy.linalg.blas import dsyrk
from scipy.linalg.lapack import dpotri

from mlmtools._blas import single_blas_thread
from mlmtools.lmm.blocked_factor import BlockedFactor, column_batches, crossed_of, factor_blockwise, rest_lambda_t
from mlmtools.lmm.crossed_design import CrossedDesign
from mlmtools.lmm.pls import PlsSolution
from mlmtools.lmm.problem import LmmProblem, TermLayout


def blocked_derivatives_available(problem: LmmProblem, theta: np.ndarray) -> bool:
    """Whether :func:`blocked_theta_derivatives` covers ``theta``: every template with several columns
    is invertible (scalar terms may be 0)."""
    return all(t.k == 1 or bool(np.all(np.diag(t.template(theta)) != 0.0)) for t in problem.terms)


def _lower_solve(f: BlockedFactor, V: np.ndarray) -> np.ndarray:
    """:math:`L^{-1}V` for V (q, m): :math:`(D V_1,\\ L_{22}^{-1}(V_2 - L_{21}DV_1))`."""
    l1, k1 = f.L11_inv.shape[:2]
    top = np.einsum("lab,lbm->lam", f.L11_inv, V[:l1 * k1].reshape(l1, k1, -1)).reshape(l1 * k1, -1)
    bottom = solve_triangular(f.L22, V[l1 * k1:] - f.L21 @ top, lower=True, check_finite=False)
    return np.concatenate([top, bottom])


def _upper_solve(f: BlockedFactor, Y: np.ndarray) -> np.ndarray:
    """:math:`L^{-\\top}Y` for Y (q, m)."""
    l1, k1 = f.L11_inv.shape[:2]
    bottom = solve_triangular(f.L22, Y[l1 * k1:], trans="T", lower=True, check_finite=False)
    top = Y[:l1 * k1] - f.L21.T @ bottom
    top = np.einsum("lba,lbm->lam", f.L11_inv, top.reshape(l1, k1, -1)).reshape(l1 * k1, -1)
    return np.concatenate([top, bottom])


def _mirror_lower(M: np.ndarray, band: int = 256) -> None:
    """Copy a square matrix's strict lower triangle onto its upper one, in place, a band of rows at a time
    (so that no second matrix of its size is needed)."""
    n = len(M)
    for start in range(0, n, band):
        stop = min(start + band, n)
        M[start:stop, stop:] = M[stop:, start:stop].T
        diagonal_block = M[start:stop, start:stop]
        upper = np.triu_indices(stop - start, 1)
        diagonal_block[upper] = diagonal_block.T[upper]


def _block_products(block: np.ndarray, k_rows: int, k_columns: int) -> np.ndarray:
    """:math:`\\Phi[b,c,a,e] = \\sum_{ij} M[(i,b),(j,c)]\\,M[(i,a),(j,e)]` for a block M whose rows are
    (level, component) pairs with k_rows components and columns likewise (no copy when both are 1)."""
    if k_rows == 1 and k_columns == 1:
        return np.full((1, 1, 1, 1), np.einsum("ij,ij->", block, block))
    shaped = block.reshape(-1, k_rows, block.shape[1] // k_columns, k_columns)
    products: np.ndarray = np.einsum("ibjc,iaje->bcae", shaped, shaped, optimize=True)
    return products


class _Pieces:
    """The blocks of :math:`B` that the traces need, per term and pair of terms (module docstring)."""

    def __init__(self, problem: LmmProblem, f: BlockedFactor, G: np.ndarray, C: np.ndarray, reml: bool):
        design = crossed_of(problem)
        self.terms, self.rows = problem.terms, [t.b_slice for t in problem.terms]
        self.reml, self.C = reml, C
        K, info = dpotri(f.L22, lower=1)  # the inverse's lower triangle; the upper one is L22's, zero
        if info != 0:
            raise np.linalg.LinAlgError("the Schur complement's inverse could not be formed")
        _mirror_lower(K)
        self._first_term_products(design, f, K)
        K *= -1.0  # from here on, K's memory holds I - A^{-1} on the later terms
        K[np.diag_indices(design.q2)] += 1.0
        self.complement = K
        self.G_blocks = [G[rows].reshape(t.n_levels, t.k, -1) for t, rows in zip(self.terms, self.rows)]
        self.cross = self._cross_with_projection(f, G) if reml else None

    def _first_term_products(self, design: CrossedDesign, f: BlockedFactor, K: np.ndarray) -> None:
        """The first term's pieces: the diagonal blocks :math:`I - L_{11,j}^{-\\top}L_{11,j}^{-1}` and those of
        :math:`J^\\top KJ`, and the products of its sub-blocks of :math:`A^{-1}` with the later terms' and with
        its own (through :math:`(KJ_a)(KJ_b)^\\top` and :math:`J_eJ_c^\\top`); :math:`KJ` is formed a batch of
        first-term levels at a time."""
        q1, q2 = design.q1, design.q2
        l1, k1 = design.first.n_levels, design.first.k
        self.first_complement = np.eye(k1) - np.einsum("lba,lbc->lac", f.L11_inv, f.L11_inv)
        blockdiag = sp.bsr_matrix((f.L11_inv, np.arange(l1), np.arange(l1 + 1)), shape=(q1, q1))
        J = sp.csc_matrix(f.L21 @ blockdiag)
        self.first_diagonal = np.zeros((l1, k1, k1))
        # (KJ_a)(KJ_b)': with one component, accumulated in place (lower triangle) by BLAS's syrk
        outer = np.zeros((q2, q2), order="F")[None, None] if k1 == 1 else np.zeros((k1, k1, q2, q2))
        self.first_rest = [np.zeros((k1, t.k, k1, t.k)) for t in design.rest]
        for batch in column_batches(q1, q2, k1):
            J_batch = J[:, batch].T.tocsr()  # rows: the batch's first-term coefficients
            KJ = np.asarray(J_batch @ K.T)  # (KJ)' for the batch (K is symmetric; K.T is C-ordered, no copy)
            levels = slice(batch.start // k1, batch.stop // k1)
            if k1 == 1:
                self.first_diagonal[levels, 0, 0] = np.asarray(J_batch.multiply(KJ).sum(axis=1)).ravel()
                dsyrk(1.0, KJ.T, beta=1.0, c=outer[0, 0], trans=0, lower=1, overwrite_c=1)
            else:
                by_level = KJ.reshape(-1, k1, q2)
                self.first_diagonal[levels] = np.einsum("lax,lbx->lab", J_batch.toarray().reshape(-1, k1, q2),
                                                        by_level)
                for a in range(k1):
                    for b in range(a, k1):
                        outer[a, b] += by_level[:, a].T @ by_level[:, b]
            for s, t in enumerate(design.rest):
                self.first_rest[s] += _block_products(KJ[:, design.later_rows(t)], k1, t.k)
        if k1 == 1:
            _mirror_lower(outer[0, 0])
        for a in range(k1):
            for b in range(a):
                outer[a, b] = outer[b, a].T
        components = [J[:, c::k1] for c in range(k1)]
        self.first_first = np.empty((k1, k1, k1, k1))
        for e in range(k1):
            for c in range(k1):
                pattern = sp.coo_matrix(components[e] @ components[c].T)
                products = outer[:, :, pattern.row, pattern.col] @ pattern.data  # (a, b)
                self.first_first[:, c, :, e] = products.T  # [b, c, a, e] = <Y_ab, N_ec>

    def _cross_with_projection(self, f: BlockedFactor, G: np.ndarray) -> dict[tuple[int, int], np.ndarray]:
        """:math:`\\langle A^{-1}{}^{ts}_{bc}, (GCG^\\top)^{ts}_{ae}\\rangle` for every pair of terms t <= s."""
        p = G.shape[1]
        columns, labels = [], []
        for index, (term, rows) in enumerate(zip(self.terms, self.rows)):
            for c in range(term.k):
                for e in range(term.k):
                    placed = np.zeros((G.shape[0], p))
                    placed[rows.start + c:rows.stop:term.k] = self.G_blocks[index][:, e, :]
                    columns.append(placed)
                    labels.append((index, c, e))
        solved = _upper_solve(f, _lower_solve(f, np.concatenate(columns, axis=1))) @ np.kron(
            np.eye(len(labels)), self.C)
        cross = {}
        for t_index, (t, rows) in enumerate(zip(self.terms, self.rows)):
            for s_index in range(t_index, len(self.terms)):
                s = self.terms[s_index]
                value = np.empty((t.k, s.k, t.k, s.k))
                for j, (owner, c, e) in enumerate(labels):
                    if owner == s_index:
                        X = solved[rows, j * p:(j + 1) * p].reshape(t.n_levels, t.k, p)
                        value[:, c, :, e] = np.einsum("iap,ibp->ba", self.G_blocks[t_index], X)
                cross[(t_index, s_index)] = value
        return cross

    def inverse_products(self, t: int, s: int) -> np.ndarray:
        """:math:`\\langle M^{ts}_{bc}, M^{ts}_{ae}\\rangle` with :math:`M = I - A^{-1}` (t <= s)."""
        if t == 0 and s == 0:
            E, M = self.first_complement, self.first_diagonal
            first: np.ndarray = (np.einsum("lbc,lae->bcae", E, E) - np.einsum("lbc,lae->bcae", E, M)
                                 - np.einsum("lbc,lae->bcae", M, E) + self.first_first)
            return first
        if t == 0:
            return self.first_rest[s - 1]
        a, b = self.terms[t], self.terms[s]
        offset = self.terms[0].b_slice.stop
        block = self.complement[a.b_slice.start - offset:a.b_slice.stop - offset,
                                b.b_slice.start - offset:b.b_slice.stop - offset]
        return _block_products(block, a.k, b.k)

    def complement_sum(self, t: int) -> np.ndarray:
        """:math:`\\sum_i [B]_{ii}` over the levels of term t (k_t x k_t)."""
        if t == 0:
            total = (self.first_complement - self.first_diagonal).sum(axis=0)
        else:
            term, offset = self.terms[t], self.terms[0].b_slice.stop
            rows = slice(term.b_slice.start - offset, term.b_slice.stop - offset)
            block = self.complement[rows, rows].reshape(term.n_levels, term.k, term.n_levels, term.k)
            total = np.einsum("iaib->ab", block)
        if self.reml:
            total = total - np.einsum("iap,pq,ibq->ab", self.G_blocks[t], self.C, self.G_blocks[t])
        result: np.ndarray = total
        return result

    def products(self, t: int, s: int) -> np.ndarray:
        """:math:`\\Phi_{ts}[b,c,a,e] = \\langle B^{ts}_{bc}, B^{ts}_{ae}\\rangle` (t <= s)."""
        value = self.inverse_products(t, s)
        if not self.reml or self.cross is None:
            return value
        cross = self.cross[(t, s)]
        value = value + cross + cross.transpose(2, 3, 0, 1)
        # C Gamma[x, y] with Gamma[x, y] = G_x'G_y; <Gamma-part_bc, Gamma-part_ae> = tr(C Gamma_t[a,b] C Gamma_s[c,e])
        C_gram = [np.einsum("pq,ixq,iyr->xypr", self.C, self.G_blocks[i], self.G_blocks[i]) for i in (t, s)]
        value = value + np.einsum("abpr,cerp->bcae", C_gram[0], C_gram[1])
        if t == s:
            projected = np.einsum("iap,pq,ibq->ab", self.G_blocks[t], self.C, self.G_blocks[t])
            eye = np.eye(self.terms[t].k)
            value = value - np.einsum("bc,ae->bcae", eye, projected) - np.einsum("ae,bc->bcae", eye, projected)
        result: np.ndarray = value
        return result


def _template_scales(t: TermLayout, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:math:`f_k = T^{-1}E_k + (T^{-1}E_k)^\\top` (n_par, k, k) and
    :math:`f_{kl} = T^{-1}(E_kE_l^\\top + E_lE_k^\\top)T^{-\\top}` (n_par, n_par, k, k)."""
    inverse = np.linalg.inv(t.template(theta))
    E = t.template_basis()
    first = inverse @ E
    EE = np.einsum("mab,ncb->mnac", E, E)
    second = inverse @ (EE + EE.transpose(1, 0, 2, 3)) @ inverse.T
    return first + first.transpose(0, 2, 1), second


def _zero_term_diagonals(problem: LmmProblem, f: BlockedFactor, theta: np.ndarray, index: int, C: np.ndarray,
                         coefficients: np.ndarray, reml: bool) -> tuple[float, float]:
    """For a scalar term at :math:`\\theta_t = 0`: :math:`\\mathrm{tr}(Q_{\\Pi,tt})` and
    :math:`\\lVert z_t\\rVert^2` (module docstring), with :math:`Y_t` taken a batch of columns at a time."""
    design = crossed_of(problem)
    q1, p = design.q1, problem.p
    RZXY = np.concatenate([f.RZXY1.reshape(q1, -1), f.RZXY2])
    if index == 0:
        columns = design.first.n_levels
        trace = float(np.sum(problem.ztz1_entries[0]))
        crossed_rows = problem.ztxy1[:, 0, :]
    else:
        term = design.rest[index - 1]
        columns, own_rows = term.n_levels, design.later_rows(term)
        trace = float(np.sum(design.gram.diagonal()[own_rows]))
        crossed_rows = problem.ztxy_rest[own_rows]
    squares = 0.0
    projections = np.empty((columns, p + 1))
    T1 = design.first.template(theta)
    for batch in column_batches(columns, q1 + design.q2):
        if index == 0:
            top = np.zeros((q1, batch.stop - batch.start))
            bottom = design.coupling[:, batch].toarray()
        else:
            rows = slice(own_rows.start + batch.start, own_rows.start + batch.stop)
            top = design.coupling[rows].T.toarray().reshape(design.first.n_levels, design.first.k, -1)
            top = (T1.T @ top).reshape(q1, -1)
            bottom = design.gram[:, rows].toarray()
        Y = _lower_solve(f, np.concatenate([top, rest_lambda_t(design, theta, bottom)]))
        squares += float(np.sum(Y * Y))
        projections[batch] = Y.T @ RZXY
    projected = crossed_rows - projections
    U, z = projected[:, :p], projected @ coefficients
    if reml:
        trace -= float(np.einsum("ip,pq,iq->", U, C, U))
    return trace - squares, float(z @ z)


def blocked_theta_derivatives(problem: LmmProblem, solution: PlsSolution) -> tuple[np.ndarray, ...]:
    """The fields of :class:`mlmtools.lmm.derivatives.ThetaDerivatives`, in their order, through the blocked
    factor at ``solution.theta`` (module docstring).

    Raises
    ------
    ValueError
        If a template with several columns is singular (:func:`blocked_derivatives_available`).
    """
    theta, reml = solution.theta, solution.REML
    if not blocked_derivatives_available(problem, theta):
        raise ValueError("exact blocked derivatives need invertible templates for terms with several columns")
    terms, p, m = problem.terms, problem.p, problem.n_theta
    f = factor_blockwise(problem, theta)
    zero = [t.k == 1 and theta[t.theta_slice.start] == 0.0 for t in terms]
    with single_blas_thread():
        RX_inv = np.linalg.inv(f.RX)
        C = RX_inv @ RX_inv.T
        q1 = terms[0].b_slice.stop
        G = _upper_solve(f, np.concatenate([f.RZXY1.reshape(q1, -1), f.RZXY2])[:, :p])
        pieces = _Pieces(problem, f, G, C, reml)
        scales = [None if is_zero else _template_scales(t, theta) for t, is_zero in zip(terms, zero)]
        W = np.zeros((len(solution.u), m))
        log_det_gradient, log_det_hessian = np.zeros(m), np.zeros((m, m))
        vcov_gradient = np.zeros((m, p, p))
        curvature = np.zeros((m, m))  # u'F_kl u
        for t, (term, scale) in enumerate(zip(terms, scales)):
            if scale is None:
                continue
            first, second = scale
            params = term.theta_slice
            u_t = solution.u[term.b_slice].reshape(term.n_levels, term.k)
            W[term.b_slice, params] = np.einsum("ia,kab->ibk", u_t, first).reshape(-1, len(first))
            complement = pieces.complement_sum(t)
            log_det_gradient[params] = np.einsum("kab,ab->k", first, complement)
            log_det_hessian[params, params] = np.einsum("klab,ab->kl", second, complement)
            curvature[params, params] = np.einsum("ia,klab,ib->kl", u_t, second, u_t)
            G_t = pieces.G_blocks[t]
            vcov_gradient[params] = C @ np.einsum("iap,kab,ibq->kpq", G_t, first, G_t) @ C
            for s in range(t, len(terms)):
                other = scales[s]
                if other is None:
                    continue
                block = np.einsum("xab,yce,bcae->xy", first, other[0], pieces.products(t, s))
                log_det_hessian[params, terms[s].theta_slice] -= block
                if s != t:
                    log_det_hessian[terms[s].theta_slice, params] -= block.T
        Y = _lower_solve(f, W)
        projected = G.T @ W
        pwrss_hessian = 2.0 * (W.T @ W - Y.T @ Y - projected.T @ C @ projected) - curvature
        pwrss_gradient = -(solution.u @ W)
        coefficients = np.append(problem.beta_shift - solution.beta, 1.0)
        for t, (term, is_zero) in enumerate(zip(terms, zero)):
            if is_zero:
                k = term.theta_slice.start
                trace, squares = _zero_term_diagonals(problem, f, theta, t, C, coefficients, reml)
                log_det_hessian[k, k] = 2.0 * trace
                pwrss_hessian[k, k] = -2.0 * squares
    return log_det_gradient, log_det_hessian, pwrss_gradient, pwrss_hessian, vcov_gradient, C
