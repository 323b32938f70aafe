"""Working-correlation structures for GEE, as geepack defines them.

Every structure is a small class with one contract (:class:`WorkingCorrelation`):

- :meth:`~WorkingCorrelation.setup` sees the wave codes of every cluster once, before
  fitting, and fixes the number of correlation parameters ``q``;
- :meth:`~WorkingCorrelation.matrix` returns the ``n_i x n_i`` working correlation
  :math:`R_i(\\alpha)` of one cluster from its wave codes;
- :meth:`~WorkingCorrelation.derivative` returns :math:`E_i = \\partial\\rho_i/\\partial\\alpha`,
  one row per within-cluster pair :math:`j < k` (pairs in row-major order: (1,2), (1,3),
  ..., (2,3), ...), one column per parameter.

Wave codes are the integers 1, 2, ... that geepack uses as times: the position within
the cluster by default, or the rank of a supplied ``waves`` value among all distinct
values. geepack estimates every structure with the same moment equation over all
within-cluster pairs (see :mod:`mlmtools.gee.estimation`), so a structure only has to say what
:math:`\\rho_{jk}(\\alpha)` and its derivative are.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import cache

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@cache
def pair_indices(size: int) -> tuple[IntArray, IntArray]:
    """Row and column positions of the pairs ``j < k`` of a cluster of ``size`` rows.

    The pairs come in row-major order, (0, 1), (0, 2), ..., (1, 2), ..., the order in
    which geepack stacks pair-level quantities. The arrays are computed once per size
    and shared, so they are read-only.
    """
    rows, cols = np.triu_indices(size, k=1)
    rows, cols = rows.astype(np.int64), cols.astype(np.int64)
    rows.flags.writeable = cols.flags.writeable = False
    return rows, cols


class WorkingCorrelation(ABC):
    """A working-correlation structure :math:`R_i(\\alpha)` for GEE.

    Every method that takes ``waves`` accepts the wave codes of one cluster, shape
    ``(n_i,)``, or of a stack of clusters of the same size, shape ``(c, n_i)``; the results
    gain the same leading axis. The stacked call gives, cluster by cluster, the same
    numbers as one call per cluster (the estimation loop stacks the clusters of each size),
    in C order: a stack indexed by pair positions would otherwise come out in another memory
    order, and BLAS rounds a strided vector differently (:mod:`mlmtools.gee.layout`).

    Attributes
    ----------
    name : str
        The ``corstr`` name geepack prints (``"exchangeable"``, ...).
    """

    name: str = ""

    def setup(self, cluster_waves: Sequence[IntArray]) -> None:
        """Learn what the structure needs from the wave codes of all clusters.

        The default does nothing; :class:`Unstructured` counts the possible wave pairs.
        """
        return

    @property
    @abstractmethod
    def param_names(self) -> tuple[str, ...]:
        """Names of the correlation parameters as geepack labels them."""

    @property
    def n_params(self) -> int:
        """Number of correlation parameters ``q``."""
        return len(self.param_names)

    def start(self) -> FloatArray:
        """geepack's starting value: :math:`\\alpha = 0`."""
        return np.zeros(self.n_params)

    def matrix(self, alpha: FloatArray, waves: IntArray) -> FloatArray:
        """The working correlation of one cluster (or of each cluster of a stack).

        .. math:: R_{jj} = 1, \\qquad R_{jk} = R_{kj} = \\rho_{jk}(\\alpha)

        Parameters
        ----------
        alpha : numpy.ndarray
            Correlation parameters, shape ``(q,)``.
        waves : numpy.ndarray
            Wave codes of the cluster's rows, shape ``(n_i,)`` (or ``(c, n_i)``).

        Returns
        -------
        numpy.ndarray
            Shape ``(n_i, n_i)`` (or ``(c, n_i, n_i)``).
        """
        size = waves.shape[-1]
        corr = np.broadcast_to(np.eye(size), (*waves.shape[:-1], size, size)).copy()
        if size < 2:
            return corr
        rows, cols = pair_indices(size)
        rho = self.pair_correlations(alpha, waves)
        corr[..., rows, cols] = rho
        corr[..., cols, rows] = rho
        return corr

    @abstractmethod
    def pair_correlations(self, alpha: FloatArray, waves: IntArray) -> FloatArray:
        """:math:`\\rho_{jk}(\\alpha)` for the pairs ``j < k``, shape ``(..., n_i(n_i-1)/2)``."""

    @abstractmethod
    def derivative(self, alpha: FloatArray, waves: IntArray) -> FloatArray:
        """:math:`E = \\partial\\rho_{jk}/\\partial\\alpha`, shape ``(..., n_i(n_i-1)/2, q)``."""


def _pair_shape(waves: IntArray) -> tuple[int, ...]:
    """Shape ``(..., n_i(n_i-1)/2)`` of pair-level values for ``waves`` of shape ``(..., n_i)``."""
    size = waves.shape[-1]
    return (*waves.shape[:-1], size * (size - 1) // 2)


class Independence(WorkingCorrelation):
    """No correlation: :math:`R_i = I`, no parameters."""

    name = "independence"

    @property
    def param_names(self) -> tuple[str, ...]:
        return ()

    def pair_correlations(self, alpha: FloatArray, waves: IntArray) -> FloatArray:
        return np.zeros(_pair_shape(waves))

    def derivative(self, alpha: FloatArray, waves: IntArray) -> FloatArray:
        return np.zeros((*_pair_shape(waves), 0))


class Exchangeable(WorkingCorrelation):
    """One common correlation: :math:`\\rho_{jk} = \\alpha`, so :math:`E_{jk} = 1`."""

    name = "exchangeable"

    @property
    def param_names(self) -> tuple[str, ...]:
        return ("alpha",)

    def pair_correlations(self, alpha: FloatArray, waves: IntArray) -> FloatArray:
        return np.full(_pair_shape(waves), float(alpha[0]))

    def derivative(self, alpha: FloatArray, waves: IntArray) -> FloatArray:
        return np.ones((*_pair_shape(waves), 1))


class AR1(WorkingCorrelation):
    """First-order autoregressive in the wave codes.

    .. math::
        \\rho_{jk} = \\alpha^{|t_k - t_j|}, \\qquad
        E_{jk} = |t_k - t_j|\\, \\alpha^{|t_k - t_j| - 1}

    with :math:`t` the wave codes, over all pairs (not only neighbours).
    """

    name = "ar1"

    @property
    def param_names(self) -> tuple[str, ...]:
        return ("alpha",)

    @staticmethod
    def _lags(waves: IntArray) -> FloatArray:
        rows, cols = pair_indices(waves.shape[-1])
        return np.ascontiguousarray(np.abs(waves[..., cols] - waves[..., rows]), dtype=float)

    def pair_correlations(self, alpha: FloatArray, waves: IntArray) -> FloatArray:
        return float(alpha[0]) ** self._lags(waves)

    def derivative(self, alpha: FloatArray, waves: IntArray) -> FloatArray:
        lags = self._lags(waves)
        slope = np.where(lags == 1.0, 1.0, lags * float(alpha[0]) ** (lags - 1.0))
        return slope[..., None]


class Unstructured(WorkingCorrelation):
    """A free correlation for every pair of waves.

    .. math:: \\rho_{jk} = \\alpha_{(t_j, t_k)}, \\qquad E = \\text{indicator of the pair}

    With ``m`` the largest wave code there are :math:`m(m-1)/2` parameters, ordered
    (1,2), (1,3), ..., (1,m), (2,3), ... and named ``alpha.1:2``, ``alpha.1:3``, ...
    as geepack names them. Wave codes within a cluster must increase.

    A cluster with missing waves uses the parameters of the waves it has. (geepack 1.3.9
    crashes on such data, so that case has no R reference.)
    """

    name = "unstructured"

    def __init__(self) -> None:
        self._n_waves = 0

    def setup(self, cluster_waves: Sequence[IntArray]) -> None:
        self._n_waves = max((int(np.max(w)) for w in cluster_waves if len(w)), default=0)

    @property
    def param_names(self) -> tuple[str, ...]:
        first, second = pair_indices(self._n_waves)
        return tuple(f"alpha.{a + 1}:{b + 1}" for a, b in zip(first, second))

    def _param_index(self, waves: IntArray) -> IntArray:
        rows, cols = pair_indices(waves.shape[-1])
        first, second = waves[..., rows], waves[..., cols]
        if np.any(second <= first):
            raise ValueError("unstructured correlation needs increasing wave codes within a cluster")
        m = self._n_waves
        # position of pair (a, b), 1 <= a < b <= m, in the order (1,2), ..., (1,m), (2,3), ...
        index = (first - 1) * m - (first - 1) * first // 2 + (second - first - 1)
        return np.ascontiguousarray(index, dtype=np.int64)

    def pair_correlations(self, alpha: FloatArray, waves: IntArray) -> FloatArray:
        rho: FloatArray = np.asarray(alpha, dtype=float)[self._param_index(waves)]
        return rho

    def derivative(self, alpha: FloatArray, waves: IntArray) -> FloatArray:
        index = self._param_index(waves)
        return np.equal(index[..., None], np.arange(self.n_params)).astype(np.float64)


#: geepack's ``corstr`` names and the working-correlation classes they select.
CORRELATION_STRUCTURES: dict[str, type[WorkingCorrelation]] = {
    "independence": Independence,
    "exchangeable": Exchangeable,
    "ar1": AR1,
    "unstructured": Unstructured,
}


def make_correlation(corstr: str) -> WorkingCorrelation:
    """A fresh working-correlation object for a ``corstr`` name.

    Raises
    ------
    ValueError
        If ``corstr`` is not one of the keys of ``CORRELATION_STRUCTURES``.
    """
    try:
        return CORRELATION_STRUCTURES[corstr]()
    except KeyError:
        allowed = ", ".join(repr(name) for name in CORRELATION_STRUCTURES)
        raise ValueError(f"unknown corstr {corstr!r}; use one of {allowed}") from None
