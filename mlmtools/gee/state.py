"""What a fitted GEE holds: :class:`GeeFitState`, read by :class:`~mlmtools.gee.result.GeeFit`,
its intervals, its Wald tests and ``QIC``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mlmtools.frame import ModelFrame
from mlmtools.gee.correlation import WorkingCorrelation
from mlmtools.gee.estimation import GeeData, GeeEstimates
from mlmtools.gee.fitting import GeeComputation
from mlmtools.gee.sandwich import GeeCovariance


@dataclass(frozen=True, eq=False)
class GeeFitState:
    """The read-only state of a fitted GEE.

    Attributes
    ----------
    data : ~mlmtools.gee.estimation.GeeData
        Response, design, weights and offset in cluster order.
    computation : ~mlmtools.gee.fitting.GeeComputation
        The working correlation, the estimates, the sandwich and the jackknife covariances.
    names : tuple of str
        Coefficient names, as R names the columns of the model matrix.
    row_index : pandas.Index
        Index labels of the caller's rows that were used.
    caller_rows : numpy.ndarray
        For each used row in the caller's order, its position in cluster order.
    frame : ~mlmtools.frame.model_frame.ModelFrame
        The model frame (formula, encodings for new data, term structure).
    std_err : str
        geepack's ``std.err``: which covariance the standard errors report.
    scale_fix : bool
        Whether the scale was held fixed.
    scale_value : float or None
        The fixed scale's value when one was given.
    epsilon, maxit : float, int
        The loop's stopping rule (refits use it too).
    """

    data: GeeData
    computation: GeeComputation
    names: tuple[str, ...]
    row_index: pd.Index
    caller_rows: NDArray[np.int64]
    frame: ModelFrame
    std_err: str
    scale_fix: bool
    scale_value: float | None
    epsilon: float
    maxit: int

    @property
    def structure(self) -> WorkingCorrelation:
        """The working correlation, set up for these clusters."""
        return self.computation.structure

    @property
    def estimates(self) -> GeeEstimates:
        """:math:`\\hat\\beta`, :math:`\\hat\\phi`, :math:`\\hat\\alpha` and the loop's convergence."""
        return self.computation.estimates

    @property
    def covariance(self) -> GeeCovariance:
        """geepack's sandwich (and naive) covariances, whatever ``std_err`` is."""
        return self.computation.covariance

    @property
    def reported(self) -> GeeCovariance:
        """The covariances ``std_err`` chose (geepack's ``vcov`` and ``summary`` report these)."""
        return self.computation.reported
