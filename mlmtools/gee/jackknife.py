"""geepack's jackknife variances of GEE estimates: ``std.err = "jack"``, ``"j1s"`` and ``"fij"``.

Each leaves one cluster out at a time. With :math:`K` clusters, :math:`p` coefficients,
:math:`q` correlation parameters and one scale parameter, the estimate of each block
(``vbeta``, ``vgamma``, ``valpha`` in geepack) is

.. math:: V = \\frac{K - p - q - 1}{K} \\sum_{i=1}^K d_i d_i^\\top

with :math:`d_i` the change of the estimate when cluster :math:`i` is left out:

- ``"jack"`` (geepack's approximate jackknife, ``vbeta.ajs``): one Newton step from the
  estimates, :math:`d_i = (H - H_i)^{-1} U_i` with the blocks of :math:`H` and :math:`U_i` of
  :mod:`mlmtools.gee.sandwich` (the inverse taken blockwise as there);
- ``"j1s"`` (one-step jackknife): :math:`d_i = \\hat\\theta_{(i)} - \\hat\\theta` after one
  iteration of the estimation loop without cluster :math:`i`, started at the estimates;
- ``"fij"`` (fully iterated jackknife): the same with the loop run to convergence (geepack's
  ``epsilon`` and ``maxit``); this refits the model once per cluster.

These are geepack's ``getJackVar`` and ``jack_ajs`` (``src/gee2.cc``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from mlmtools.gee.correlation import WorkingCorrelation
from mlmtools.gee.estimation import GeeData, GeeEstimates, iterate
from mlmtools.gee.layout import ordered_sum
from mlmtools.gee.sandwich import ClusterBlocks, GeeCovariance, HessianBlocks, InverseBlocks
from mlmtools.glmm.families import Family

FloatArray = NDArray[np.float64]

#: geepack's ``std.err`` choices: the sandwich and the three jackknife variances.
STD_ERR_METHODS = ("san.se", "jack", "j1s", "fij")


def check_std_err(std_err: str) -> str:
    """``std_err`` if it is one of :data:`STD_ERR_METHODS`, else a ValueError naming them."""
    if std_err not in STD_ERR_METHODS:
        allowed = ", ".join(repr(m) for m in STD_ERR_METHODS)
        raise ValueError(f"unknown std_err {std_err!r}; use one of {allowed}")
    return std_err


def _outer_sum(changes: FloatArray, factor: float) -> FloatArray:
    """:math:`f\\sum_i d_i d_i^\\top` for the rows :math:`d_i` of ``changes``."""
    return factor * (changes.T @ changes)


def _approximate_changes(blocks: ClusterBlocks) -> tuple[FloatArray, FloatArray, FloatArray]:
    """geepack's ``jack_ajs``: :math:`d_i = (H - H_i)^{-1}U_i` for every cluster at once."""
    without = HessianBlocks(*(ordered_sum(block)[None] - block for block in blocks.blocks))
    inverse = InverseBlocks.of(without, blocks.scale_fix)
    beta = (inverse.A @ blocks.U1[:, :, None])[:, :, 0]
    scale = (inverse.B @ blocks.U1[:, :, None] + inverse.C @ blocks.U2[:, :, None])[:, :, 0]
    if blocks.F.shape[-1]:
        alpha = (inverse.D @ blocks.U1[:, :, None] + inverse.E @ blocks.U2[:, :, None]
                 + inverse.F @ blocks.U3[:, :, None])[:, :, 0]
    else:
        alpha = blocks.U3
    return beta, scale, alpha


def _refit_changes(data: GeeData, family: Family, structure: WorkingCorrelation, estimates: GeeEstimates,
                   tol: float, maxit: int, scale_fix: bool) -> tuple[FloatArray, FloatArray, FloatArray]:
    """:math:`\\hat\\theta_{(i)} - \\hat\\theta` from the loop without cluster ``i``, started at the estimates."""
    changes = []
    for cluster in range(data.layout.n_clusters):
        refit = iterate(data, family, structure, estimates, tol, maxit, scale_fix, leave_out=cluster)
        changes.append((refit.beta - estimates.beta, refit.scale - estimates.scale, refit.alpha - estimates.alpha))
    beta, scale, alpha = zip(*changes)
    return np.array(beta), np.array(scale)[:, None], np.array(alpha).reshape(len(alpha), -1)


def jackknife_covariance(method: str, data: GeeData, family: Family, structure: WorkingCorrelation,
                         estimates: GeeEstimates, blocks: ClusterBlocks, naive: FloatArray,
                         tol: float, maxit: int, scale_fix: bool) -> GeeCovariance:
    """The jackknife covariances of :math:`\\hat\\beta`, :math:`\\hat\\phi`, :math:`\\hat\\alpha` (module docstring).

    Parameters
    ----------
    method : {"jack", "j1s", "fij"}
        Approximate, one-step or fully iterated jackknife.
    data, family, structure, estimates
        The fitted model and its estimates.
    blocks : ~mlmtools.gee.sandwich.ClusterBlocks
        Every cluster's blocks at the estimates (used by ``"jack"``).
    naive : numpy.ndarray
        The model-based covariance, passed through as ``beta_naive``.
    tol, maxit : float, int
        The loop's stopping rule (``"fij"``; ``"j1s"`` runs one iteration).
    scale_fix : bool
        Whether the scale is held fixed.
    """
    if method == "jack":
        beta, scale, alpha = _approximate_changes(blocks)
    else:
        steps = 1 if method == "j1s" else maxit
        beta, scale, alpha = _refit_changes(data, family, structure, estimates, tol, steps, scale_fix)
    n_clusters = data.layout.n_clusters
    factor = (n_clusters - beta.shape[1] - alpha.shape[1] - 1) / n_clusters
    return GeeCovariance(beta=_outer_sum(beta, factor), beta_naive=naive,
                         scale=_outer_sum(scale, factor), alpha=_outer_sum(alpha, factor))
