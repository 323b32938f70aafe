"""The symbolic analysis of the penalized system :math:`A = \\Lambda^\\top Z^\\top W Z\\Lambda + I`,
done once per model.

PIRLS factors :math:`A` thousands of times with new weights :math:`W` and a new
:math:`\\Lambda_\\theta`, but its sparsity pattern never changes. :class:`EliminationPlan` works
out that pattern and the order of the factorization once, so that each numerical factorization
(:mod:`mlmtools.glmm.penalized_system`) only moves values.

The columns of :math:`A` are grouped by random-effects term (terms in lme4's order, most levels
first) and, within a term, by level (``k`` columns per level). The plan eliminates the terms one
after the other, as MixedModels.jl's blocked Cholesky factor does:

* a term whose block of the (updated) system is *block diagonal*, one :math:`k\\times k` block per
  level, is eliminated level by level: :math:`L_{jj} = \\mathrm{chol}(A_{jj})`, the entries
  below it :math:`L_{rj} = A_{rj}L_{jj}^{-\\top}` keep the pattern of :math:`A_{rj}`, and the
  later terms receive the update :math:`A_{rs} \\leftarrow A_{rs} - L_{rj}L_{sj}^\\top` for every
  pair of rows :math:`r \\ge s` that share level :math:`j` (the *fill*, added to the pattern);
* the first term whose block is not block diagonal (a crossed design: its levels were linked by
  an earlier elimination) starts the *tail*: it and every later term are factored as one dense
  matrix.

A single term is block diagonal; a nested design (``(1 | school) + (1 | school:class)``, or
grouseticks' observation, brood and location) is eliminated term by term with no dense part at
all; crossed terms keep only the later terms' levels dense.

Positions refer to the sorted lower-triangle keys ``row * q + column`` of the pattern, stored
in :attr:`EliminationPlan.keys`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from mlmtools.lmm.problem import TermLayout


@cache
def lower_pairs(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(i, j)``, ``i >= j``, of a ``size x size`` lower triangle, row by row (read-only)."""
    first, second = np.tril_indices(size)
    first.flags.writeable = second.flags.writeable = False
    return first, second


@dataclass(frozen=True)
class EliminationStep:
    """One term eliminated level by level.

    Attributes
    ----------
    start, stop : int
        The term's columns.
    k, n_levels : int
        Columns per level and number of levels.
    diagonal : numpy.ndarray
        ``(n_levels, k(k+1)/2)`` positions of each level's lower-triangle block (row by row).
    pair_level, pair_row : numpy.ndarray
        For each (row, level) pair with entries below the term: the level and the row.
    pair_row_below : numpy.ndarray
        ``pair_row - stop``: the row counted from the first column after the term.
    pair_columns : numpy.ndarray
        ``(n_pairs * k,)``: the term's columns of the pairs' entries, counted from ``start``.
    pair_positions : numpy.ndarray
        ``(n_pairs, k)`` positions of the pair's entries (one per column of the level).
    update_first, update_second, update_positions : numpy.ndarray
        The fill: pairs ``update_first[t]`` and ``update_second[t]`` share a level, and
        :math:`L_{rj}L_{sj}^\\top` of their rows is subtracted at ``update_positions[t]``.
    """

    start: int
    stop: int
    k: int
    n_levels: int
    diagonal: np.ndarray
    pair_level: np.ndarray
    pair_row: np.ndarray
    pair_row_below: np.ndarray
    pair_columns: np.ndarray
    pair_positions: np.ndarray
    update_first: np.ndarray
    update_second: np.ndarray
    update_positions: np.ndarray


@dataclass(frozen=True)
class EliminationPlan:
    """The pattern of :math:`A`'s factor and the order in which it is computed.

    Attributes
    ----------
    q : int
        Order of :math:`A`.
    keys : numpy.ndarray
        Sorted keys ``row * q + column`` (row >= column) of every entry of the factor.
    columns : numpy.ndarray
        ``(n, K)``: the columns of :math:`A` each observation touches (K = sum of the terms' k).
    flat_columns : numpy.ndarray
        ``columns`` raveled.
    stacked_columns : numpy.ndarray
        ``(n, K)``: every term's columns of the design (the raw random-effects rows), side by side.
    column_theta : numpy.ndarray
        For each of the K columns, the position in theta of its template's first element.
    pair_first, pair_second : numpy.ndarray
        Indices into the K columns of each observation's lower-triangle pairs.
    observation_positions : numpy.ndarray
        ``(n * n_pairs,)`` positions of :math:`(Z\\Lambda)_{ia}(Z\\Lambda)_{ib}` in the pattern,
        observation by observation.
    diagonal_positions : numpy.ndarray
        Positions of the diagonal (where :math:`I` is added).
    steps : tuple of EliminationStep
    tail_start : int
        First column of the dense tail (``q`` when there is none).
    tail_positions, tail_flat : numpy.ndarray
        Entries of the tail and their offsets in its column-major ``m x m`` array.
    """

    q: int
    keys: np.ndarray
    columns: np.ndarray
    flat_columns: np.ndarray
    stacked_columns: np.ndarray
    column_theta: np.ndarray
    pair_first: np.ndarray
    pair_second: np.ndarray
    observation_positions: np.ndarray
    diagonal_positions: np.ndarray
    steps: tuple[EliminationStep, ...]
    tail_start: int
    tail_positions: np.ndarray
    tail_flat: np.ndarray

    @property
    def n_entries(self) -> int:
        return len(self.keys)

    @property
    def tail_size(self) -> int:
        return self.q - self.tail_start


def observation_columns(terms: tuple[TermLayout, ...], codes: tuple[np.ndarray, ...]) -> np.ndarray:
    """``(n, K)``: for each observation, the columns of :math:`A` it touches, term by term
    (increasing, since terms and levels are laid out in order)."""
    blocks = [t.b_slice.start + c[:, None] * t.k + np.arange(t.k)[None, :] for t, c in zip(terms, codes)]
    return np.concatenate(blocks, axis=1)


def _level_pairs(rows: np.ndarray, levels: np.ndarray, q: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For entries ``(rows[e], level levels[e])`` (one entry per pair, sorted by level then row),
    every pair ``(e, f)`` of entries of the same level with ``rows[e] >= rows[f]``, and the key
    of ``(rows[e], rows[f])``."""
    order = np.lexsort((rows, levels))
    sorted_levels = levels[order]
    starts = np.flatnonzero(np.r_[True, sorted_levels[1:] != sorted_levels[:-1]])
    counts = np.diff(np.r_[starts, len(sorted_levels)])
    first_parts, second_parts = [np.zeros(0, dtype=np.intp)], [np.zeros(0, dtype=np.intp)]
    for size in np.unique(counts):
        group_starts = starts[counts == size]
        i, j = lower_pairs(int(size))
        members = group_starts[:, None] + np.arange(size)[None, :]
        first_parts.append(order[members[:, i].ravel()])
        second_parts.append(order[members[:, j].ravel()])
    first, second = np.concatenate(first_parts), np.concatenate(second_parts)
    return first, second, rows[first] * q + rows[second]


def _block_diagonal(keys: np.ndarray, q: int, term: TermLayout) -> bool:
    """Whether the pattern restricted to ``term``'s columns links only columns of one level."""
    row, col = keys // q, keys % q
    inside = (col >= term.b_slice.start) & (row < term.b_slice.stop)
    start = term.b_slice.start
    return bool(np.all((row[inside] - start) // term.k == (col[inside] - start) // term.k))


def make_plan(terms: tuple[TermLayout, ...], codes: tuple[np.ndarray, ...],
              term_matrices: tuple[np.ndarray, ...]) -> EliminationPlan:
    """The plan for random-effects terms ``terms`` whose level codes per observation are ``codes``.

    Parameters
    ----------
    terms : tuple of ~mlmtools.lmm.problem.TermLayout
    codes : tuple of numpy.ndarray
        Each observation's level in each term.
    term_matrices : tuple of numpy.ndarray
        Each term's columns of the design, ``(n, k)``.
    """
    q = terms[-1].b_slice.stop
    columns = observation_columns(terms, codes)
    pair_first, pair_second = lower_pairs(columns.shape[1])
    observation_keys = columns[:, pair_first] * q + columns[:, pair_second]
    keys = np.union1d(observation_keys.ravel(), np.arange(q) * (q + 1))
    raw_steps = []
    tail_start = q
    for term in terms:
        if not _block_diagonal(keys, q, term):
            tail_start = term.b_slice.start
            break
        row, col = keys // q, keys % q
        below = (col >= term.b_slice.start) & (col < term.b_slice.stop) & (row >= term.b_slice.stop)
        pair_keys = np.unique(row[below] * term.n_levels + (col[below] - term.b_slice.start) // term.k)
        pair_row, pair_level = pair_keys // term.n_levels, pair_keys % term.n_levels
        first, second, fill = _level_pairs(pair_row, pair_level, q)
        entry_keys = pair_row[:, None] * q + (term.b_slice.start + pair_level[:, None] * term.k
                                                + np.arange(term.k)[None, :])
        keys = np.union1d(keys, np.concatenate([fill, entry_keys.ravel()]))
        raw_steps.append((term, pair_level, pair_row, entry_keys, first, second, fill))
    steps = []
    for term, pair_level, pair_row, entry_keys, first, second, fill in raw_steps:
        i, j = lower_pairs(term.k)
        level_columns = term.b_slice.start + np.arange(term.n_levels)[:, None] * term.k
        diagonal = np.searchsorted(keys, (level_columns + i[None, :]) * q + level_columns + j[None, :])
        steps.append(EliminationStep(
            start=term.b_slice.start, stop=term.b_slice.stop, k=term.k, n_levels=term.n_levels,
            diagonal=diagonal, pair_level=pair_level, pair_row=pair_row,
            pair_row_below=pair_row - term.b_slice.stop,
            pair_columns=(pair_level[:, None] * term.k + np.arange(term.k)[None, :]).ravel(),
            pair_positions=np.searchsorted(keys, entry_keys), update_first=first, update_second=second,
            update_positions=np.searchsorted(keys, fill)))
    row, col = keys // q, keys % q
    tail_positions = np.flatnonzero(col >= tail_start)
    size = q - tail_start
    tail_flat = (col[tail_positions] - tail_start) * size + row[tail_positions] - tail_start
    return EliminationPlan(
        q=q, keys=keys, columns=columns, flat_columns=columns.ravel(),
        stacked_columns=np.concatenate(term_matrices, axis=1),
        column_theta=np.concatenate([np.full(t.k, t.theta_slice.start) for t in terms]), pair_first=pair_first,
        pair_second=pair_second, observation_positions=np.searchsorted(keys, observation_keys.ravel()),
        diagonal_positions=np.searchsorted(keys, np.arange(q) * (q + 1)), steps=tuple(steps),
        tail_start=tail_start, tail_positions=tail_positions, tail_flat=tail_flat)
