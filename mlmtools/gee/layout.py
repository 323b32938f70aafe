"""Clusters grouped by size, the layout on which the GEE loop and its sandwich compute.

geepack visits the clusters one by one. Here the clusters of each size are stacked (one
``(c, n_i, n_i)`` working correlation, one batched solve, one batched product per size), and
the per-cluster results are put back in cluster order and added up in that order, starting
from zero, as a loop over the clusters adds them. Stacked linear algebra calls the same
LAPACK and BLAS routines item by item as the loop calls them once per cluster, so the results
are the loop's to the last bit, provided each stacked operand is laid out in memory as the
loop's operand is (:func:`contiguous`): BLAS takes another kernel for a strided vector, and
that kernel rounds differently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class SizeGroup:
    """The clusters of one size.

    Attributes
    ----------
    size : int
        Number of rows of each cluster.
    members : numpy.ndarray
        Positions of the clusters in cluster order, shape ``(c,)``.
    rows : numpy.ndarray
        Row positions of each cluster's rows (in cluster order), shape ``(c, size)``.
    waves : numpy.ndarray
        Wave codes of those rows, shape ``(c, size)``.
    """

    size: int
    members: IntArray
    rows: IntArray
    waves: IntArray


@dataclass(frozen=True, eq=False)
class ClusterLayout:
    """Contiguous clusters grouped by size.

    Attributes
    ----------
    groups : tuple of SizeGroup
        One group per distinct cluster size, smallest first.
    sizes : numpy.ndarray
        Number of rows of each cluster, in cluster order.
    """

    groups: tuple[SizeGroup, ...]
    sizes: IntArray

    @classmethod
    def from_clusters(cls, clusters: tuple[slice, ...], waves: IntArray) -> ClusterLayout:
        """The layout of contiguous clusters (``clusters[i]`` holds the rows of cluster ``i``)."""
        starts = np.array([rows.start for rows in clusters], dtype=np.int64)
        sizes = np.array([rows.stop - rows.start for rows in clusters], dtype=np.int64)
        groups = []
        for size in np.unique(sizes):
            members = np.flatnonzero(sizes == size)
            rows = starts[members][:, None] + np.arange(size, dtype=np.int64)[None, :]
            groups.append(SizeGroup(int(size), members, rows, waves[rows]))
        return cls(tuple(groups), sizes)

    @property
    def n_clusters(self) -> int:
        """Number of clusters."""
        return len(self.sizes)

    def row_mask(self, cluster: int) -> NDArray[np.bool_]:
        """True for every row outside cluster ``cluster`` (geepack's jackknife leaves one out)."""
        stops = np.cumsum(self.sizes)
        mask = np.ones(int(stops[-1]), dtype=bool)
        mask[stops[cluster] - self.sizes[cluster]:stops[cluster]] = False
        return mask


def contiguous(values: FloatArray) -> FloatArray:
    """``values`` in C order. Elementwise results of fancy-indexed stacks can come out in
    another memory order, and a strided vector goes to a BLAS kernel that rounds differently
    from the unit-stride kernel the per-cluster vectors get."""
    return np.ascontiguousarray(values)


def ordered_sum(parts: FloatArray, leave_out: int | None = None) -> FloatArray:
    """:math:`((0 + a_1) + a_2) + \\dots`: per-cluster contributions ``parts[i]`` added in cluster
    order, as a loop over the clusters adds them, without cluster ``leave_out`` if given.

    A running (sequential) sum, unlike ``numpy.sum``, which adds pairwise along a contiguous axis
    and so rounds differently; the final ``+ 0.0`` turns a ``-0.0`` into the loop's ``+0.0``.
    """
    if leave_out is not None:
        parts = np.delete(parts, leave_out, axis=0)
    if len(parts) == 0:
        return np.zeros(parts.shape[1:])
    total: FloatArray = np.add.accumulate(parts, axis=0)[-1] + 0.0
    return total
