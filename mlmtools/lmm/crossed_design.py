"""The structure of a model with several random-effects terms, analysed once for the blocked factorization.

With the terms sorted by decreasing number of levels (lme4's order), the relative precision matrix of
the random effects splits into the first term (index 1) and the later terms (index 2):

.. math::
    A = \\Lambda^\\top Z^\\top W Z \\Lambda + I =
    \\begin{pmatrix} A_{11} & A_{21}^\\top \\\\ A_{21} & A_{22} \\end{pmatrix},
    \\qquad A_{21} = \\Lambda_2^\\top S_{21} \\Lambda_1,\\quad S_{21} = Z_2^\\top W Z_1 .

:math:`A_{11}` is block diagonal (each row has one level of the first term).  :math:`S_{21}`
(``coupling``) is sparse: it has a :math:`k_r \\times k_1` block for every pair of levels that meet
in some row, and that pattern does not depend on :math:`\\theta`.  Eliminating the first term leaves
the Schur complement

.. math::
    A_{22} - L_{21}L_{21}^\\top = \\Lambda_2^\\top \\Big(S_{22} - \\sum_j S_{21,j}\\, C_j\\, S_{21,j}^\\top\\Big)
    \\Lambda_2 + I, \\qquad C_j = T_1 A_{11,j}^{-1} T_1^\\top,

where :math:`S_{21,j}` holds the columns of level :math:`j` of the first term.  Its entries lie on
the fixed pattern of :math:`S_{22}` and of the pairs of later-term coefficients that share a
first-term level, and the sum is linear in the :math:`C_j`:
:class:`SchurPattern` holds that pattern and the sparse matrix :math:`P` of the theta-free
products, so that one evaluation needs one sparse matrix-vector product :math:`P\\,\\mathrm{vec}(C)`
(MixedModels.jl keeps the same blocks; lme4 analyses the whole sparse system once with CHOLMOD).
The symbolic work here is done once per model; :mod:`mlmtools.lmm.blocked_factor` only updates values.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np
import scipy.sparse as sp

#: Most stored products :math:`P` may hold (entries, 12 bytes each); beyond it the Schur complement
#: is formed by a sparse product at each evaluation instead.
MAX_SCHUR_PRODUCTS = 8_000_000


class TermShape(Protocol):
    """What the blocked factorization reads of a random-effects term
    (:class:`mlmtools.lmm.problem.TermLayout`)."""

    @property
    def k(self) -> int:
        """Number of columns."""

    @property
    def n_levels(self) -> int:
        """Number of levels."""

    @property
    def theta_slice(self) -> slice:
        """Position of the term's parameters in theta."""

    @property
    def b_slice(self) -> slice:
        """Position of the term's coefficients in b."""

    def template(self, theta: np.ndarray) -> np.ndarray:
        """The term's template :math:`T` at theta."""


@dataclass(frozen=True, eq=False)
class SchurPattern:
    """The lower triangle of the Schur complement's pattern and the theta-free products giving its values.

    Attributes
    ----------
    flat : numpy.ndarray
        Position ``i + j * q2`` (``i >= j``) of each pattern entry in a Fortran-ordered q2 x q2 array.
    rows, cols : numpy.ndarray
        ``i`` and ``j`` of each entry.
    gram : numpy.ndarray
        :math:`S_{22} = Z_2^\\top W Z_2` on the pattern (0 where it has no entry).
    diagonal : numpy.ndarray
        Positions of the diagonal entries in the pattern.
    products : scipy.sparse.csc_matrix or None
        :math:`P` (pattern entries x first-term levels times :math:`k_1(k_1+1)/2`): the values of
        :math:`\\sum_j S_{21,j} C_j S_{21,j}^\\top` on the pattern are :math:`P\\,\\mathrm{vec}(C)`, with
        :math:`\\mathrm{vec}(C)` the upper triangles of the :math:`C_j` row by row, level by level.
        None when it would hold more than :data:`MAX_SCHUR_PRODUCTS` entries.
    """

    flat: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    gram: np.ndarray
    diagonal: np.ndarray
    products: sp.csc_matrix | None


@dataclass(frozen=True, eq=False)
class CrossedDesign:
    """The theta-free structure of the penalized system of a model with several random-effects terms.

    Attributes
    ----------
    first : TermShape
        The first term (most levels).
    rest : tuple of TermShape
        The later terms (:meth:`later_rows` says where each sits among the later terms' coefficients).
    coupling : scipy.sparse.csr_matrix
        :math:`S_{21} = Z_2^\\top W Z_1` (q2 x q1), every block of two levels that meet stored in full.
    coupling_rows, coupling_cols : numpy.ndarray
        Row and column of each stored entry of ``coupling``.
    block_positions : tuple of numpy.ndarray
        Per later term, where its blocks sit in ``coupling.data``: shape (blocks, k_r, k_1).
    block_levels : tuple of numpy.ndarray
        Per later term, the first-term level of each block.
    gram : scipy.sparse.csr_matrix
        :math:`S_{22} = Z_2^\\top W Z_2` (q2 x q2).
    """

    first: TermShape
    rest: tuple[TermShape, ...]
    coupling: sp.csr_matrix
    coupling_rows: np.ndarray
    coupling_cols: np.ndarray
    block_positions: tuple[np.ndarray, ...]
    block_levels: tuple[np.ndarray, ...]
    gram: sp.csr_matrix

    @property
    def q1(self) -> int:
        """Number of first-term coefficients."""
        return self.first.n_levels * self.first.k

    @property
    def q2(self) -> int:
        """Number of later-term coefficients."""
        return int(self.rest[-1].b_slice.stop) - self.q1

    def later_rows(self, term: TermShape) -> slice:
        """Where a later term's coefficients sit among the later terms' (rows of :math:`S_{21}`)."""
        return slice(term.b_slice.start - self.q1, term.b_slice.stop - self.q1)

    @property
    def all_scalar(self) -> bool:
        """Whether every term has one column (``(1 | g)``-like): then :math:`\\Lambda` is diagonal."""
        return self.first.k == 1 and all(t.k == 1 for t in self.rest)

    @cached_property
    def rest_theta_index(self) -> np.ndarray:
        """The position in theta of each later-term coefficient's parameter (for scalar later terms)."""
        return np.concatenate([np.full(t.n_levels, t.theta_slice.start) for t in self.rest])

    @cached_property
    def coupling_theta_index(self) -> np.ndarray:
        """The position in theta of the parameter of each stored entry's row (for scalar later terms)."""
        index: np.ndarray = self.rest_theta_index[self.coupling_rows]
        return index

    @cached_property
    def schur(self) -> SchurPattern:
        """The Schur complement's pattern and products (computed at the first factorization)."""
        return _schur_pattern(self)


def _coupling_entries(first: TermShape, rest: tuple[TermShape, ...], codes: tuple[np.ndarray, ...],
                      raws: tuple[np.ndarray, ...], weights: np.ndarray
                      ) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Per later term: the blocks of :math:`S_{21}` (summed in row order), their first-term levels and the
    row (among the later terms' coefficients) and column of each block entry."""
    l1, k1 = first.n_levels, first.k
    q1 = l1 * k1
    weighted_first = raws[0] * weights[:, None]
    values, levels, rows, cols = [], [], [], []
    for t, level_codes, raw in zip(rest, codes[1:], raws[1:]):
        keys, inverse = np.unique(level_codes.astype(np.int64) * l1 + codes[0], return_inverse=True)
        blocks = np.empty((len(keys), t.k, k1))
        for a in range(t.k):
            for c in range(k1):
                blocks[:, a, c] = np.bincount(inverse, weights=raw[:, a] * weighted_first[:, c], minlength=len(keys))
        level = keys % l1
        row = t.b_slice.start - q1 + (keys // l1)[:, None] * t.k + np.arange(t.k)[None, :]
        col = level[:, None] * k1 + np.arange(k1)[None, :]
        values.append(blocks)
        levels.append(level)
        rows.append(np.broadcast_to(row[:, :, None], blocks.shape))
        cols.append(np.broadcast_to(col[:, None, :], blocks.shape))
    return values, levels, rows, cols


def make_crossed_design(terms: tuple[TermShape, ...], codes: tuple[np.ndarray, ...], raws: tuple[np.ndarray, ...],
                        weights: np.ndarray, rest_design: sp.csr_matrix) -> CrossedDesign:
    """The structure of :class:`CrossedDesign` from the terms' level codes and raw matrices.

    Parameters
    ----------
    terms : tuple of TermShape
        At least two terms (:class:`mlmtools.lmm.problem.TermLayout`), the first with most levels.
    codes, raws : tuple of numpy.ndarray
        Per term, the level of each row and the raw term matrix (n, k).
    weights : numpy.ndarray
        Prior weights :math:`w`.
    rest_design : scipy.sparse.csr_matrix
        :math:`Z_2`, the design of the later terms.
    """
    first, rest = terms[0], terms[1:]
    q2 = rest[-1].b_slice.stop - first.b_slice.stop
    values, levels, rows, cols = _coupling_entries(first, rest, codes, raws, weights)
    all_rows = np.concatenate([r.ravel() for r in rows])
    all_cols = np.concatenate([c.ravel() for c in cols])
    order = np.lexsort((all_cols, all_rows))
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(all_rows, minlength=q2))])
    coupling = sp.csr_matrix((np.concatenate([v.ravel() for v in values])[order], all_cols[order], indptr),
                             shape=(q2, first.n_levels * first.k))
    block_positions, start = [], 0
    for blocks in values:
        block_positions.append(position[start:start + blocks.size].reshape(blocks.shape))
        start += blocks.size
    gram = sp.csr_matrix((rest_design.T @ sp.diags(weights) @ rest_design).tocsr())
    gram.sum_duplicates()
    return CrossedDesign(first=first, rest=rest, coupling=coupling, coupling_rows=all_rows[order],
                         coupling_cols=all_cols[order], block_positions=tuple(block_positions),
                         block_levels=tuple(levels), gram=gram)


def _level_pairs(indptr: np.ndarray, k1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every pair (alpha >= beta) of stored entries in the first column of each first-term level (CSC
    positions, 32-bit), level after level, with each level's number of pairs and of rows.  The pairs are
    made a whole group of levels with the same number of rows at a time and put in place, with no loop over
    levels and no sort."""
    starts = indptr[:-1:k1].astype(np.int32)
    counts = (indptr[1::k1] - indptr[:-1:k1]).astype(np.int32)
    pairs_per_level = counts.astype(np.int64) * (counts + 1) // 2
    offsets = np.concatenate([[0], np.cumsum(pairs_per_level)])
    alpha = np.empty(offsets[-1], dtype=np.int32)
    beta = np.empty(offsets[-1], dtype=np.int32)
    for size in np.unique(counts[counts > 0]):
        members = np.flatnonzero(counts == size)
        upper, lower = (index.astype(np.int32) for index in np.tril_indices(size))
        places = (offsets[members][:, None] + np.arange(len(upper))[None, :]).ravel()
        alpha[places] = (starts[members][:, None] + upper[None, :]).ravel()
        beta[places] = (starts[members][:, None] + lower[None, :]).ravel()
    return alpha, beta, pairs_per_level, counts


def _schur_pattern(design: CrossedDesign) -> SchurPattern:
    """The lower-triangular pattern (the structure of :math:`S_{21}S_{21}^\\top + S_{22} + I`, found by
    a sparse product of ones) and :math:`P`, assembled column by column (one column per first-term level
    and pair of components) with each pair's pattern entry found by binary search: no sort of the pairs,
    and 32-bit positions (InstEval's :math:`P` has 1.8 million entries)."""
    q2, k1, l1 = design.q2, design.first.k, design.first.n_levels
    coupling = design.coupling.tocsc()
    coupling.sort_indices()
    ones = sp.csr_matrix((np.ones(coupling.nnz), coupling.indices, coupling.indptr), shape=coupling.shape[::-1])
    structure = ones.T @ ones + abs(design.gram) + sp.identity(q2, format="csr")
    pattern = sp.csr_matrix(sp.tril(structure))
    pattern.sum_duplicates()
    pattern.sort_indices()
    rows = np.repeat(np.arange(q2), np.diff(pattern.indptr))
    row_major = rows * np.int64(q2) + pattern.indices

    def entries(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        found: np.ndarray = np.searchsorted(row_major, x * np.int64(q2) + y).astype(np.int32)
        return found

    gram_lower = sp.tril(design.gram).tocoo()
    gram = np.zeros(len(row_major))
    gram[entries(gram_lower.row, gram_lower.col)] = gram_lower.data
    alpha, beta, pairs_per_level, counts = _level_pairs(coupling.indptr, k1)
    n_cd = k1 * (k1 + 1) // 2
    products = None
    if len(alpha) * n_cd <= MAX_SCHUR_PRODUCTS:
        products = _products(coupling, alpha, beta, pairs_per_level, counts,
                             entries(coupling.indices[alpha], coupling.indices[beta]), len(row_major), l1)
    flat = rows + pattern.indices * np.int64(q2)
    return SchurPattern(flat=flat, rows=rows.astype(np.intp), cols=pattern.indices.astype(np.intp), gram=gram,
                        diagonal=entries(np.arange(q2), np.arange(q2)).astype(np.intp), products=products)


def _products(coupling: sp.csc_matrix, alpha: np.ndarray, beta: np.ndarray, pairs_per_level: np.ndarray,
              counts: np.ndarray, entry: np.ndarray, n_entries: int, n_levels: int) -> sp.csc_matrix:
    """:math:`P` (CSC): column (j, cd), row e holds :math:`S[x,(j,c)]\\,S[y,(j,d)] +
    S[x,(j,d)]\\,S[y,(j,c)]` (one product when c = d) for each pair (x, y) of level j, e its pattern
    entry; the pairs come level after level, so each column is one level's run of pairs."""
    data, k1 = coupling.data, coupling.shape[1] // n_levels
    indptr = np.concatenate([[0], np.cumsum(np.repeat(pairs_per_level, k1 * (k1 + 1) // 2))])
    if k1 == 1:
        return sp.csc_matrix((data[alpha] * data[beta], entry, indptr), shape=(n_entries, n_levels))
    shift = np.repeat(counts, pairs_per_level)
    upper_c, upper_d = np.triu_indices(k1)
    n_cd = len(upper_c)
    # level j takes n_cd consecutive columns, each holding the level's pairs in order
    first_of_level = np.repeat(np.concatenate([[0], np.cumsum(pairs_per_level)[:-1]]), pairs_per_level)
    within = np.arange(len(alpha)) - first_of_level
    values = np.empty(len(alpha) * n_cd)
    rows = np.empty(len(alpha) * n_cd, dtype=np.int32)
    for index, (c, d) in enumerate(zip(upper_c, upper_d)):
        value = data[alpha + c * shift] * data[beta + d * shift]
        if c != d:
            value += data[alpha + d * shift] * data[beta + c * shift]
        places = first_of_level * n_cd + index * np.repeat(pairs_per_level, pairs_per_level) + within
        values[places] = value
        rows[places] = entry
    return sp.csc_matrix((values, rows, indptr), shape=(n_entries, n_levels * n_cd))
