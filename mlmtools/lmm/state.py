"""The state of a fitted mixed model: one read-only record that inference and printing read.

MixedModels.jl keeps a fit's state in the model object and its ``OptSummary``; lme4 in the
slots of a ``merMod``. Here a fit holds one frozen record, built once when the fit is made:

* :class:`MixedFitState`: what every mixed model has (model frame, cross-products,
  optimizer summary, estimates, covariance of the fixed effects);
* :class:`LmmFitState`: a linear mixed model's, with its penalized least squares solution.

Satterthwaite's tests (:mod:`mlmtools.inference.contrasts`), the ANOVA tables
(:mod:`mlmtools.inference.anova_tables`), the confidence intervals (:mod:`mlmtools.lmm.intervals`)
and the summaries read these public attributes; a result object adds methods on top, never
hidden state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlmtools.frame import ModelFrame
from mlmtools.lmm.optimizer import OptSummary
from mlmtools.lmm.pls import PlsSolution, criterion, solve
from mlmtools.lmm.problem import LmmProblem


@dataclass(frozen=True, kw_only=True, eq=False)
class MixedFitState:
    """What every fitted mixed model holds.

    Attributes
    ----------
    frame : ~mlmtools.frame.model_frame.ModelFrame
        The model frame (response, designs, kept rows, encodings).
    problem : ~mlmtools.lmm.problem.LmmProblem
        The cross-products of the model (:mod:`mlmtools.lmm.problem`).
    optinfo : ~mlmtools.lmm.optimizer.OptSummary
        Where the optimizer started and stopped, and how.
    beta : numpy.ndarray
        :math:`\\hat\\beta`.
    b : numpy.ndarray
        Conditional modes :math:`\\hat b = \\Lambda_{\\hat\\theta}\\tilde u`, in the order of
        :mod:`mlmtools.lmm.problem`.
    vcov : numpy.ndarray
        Covariance of :math:`\\hat\\beta`.
    """

    frame: ModelFrame
    problem: LmmProblem
    optinfo: OptSummary
    beta: np.ndarray
    b: np.ndarray
    vcov: np.ndarray

    @property
    def fixed_names(self) -> tuple[str, ...]:
        """Names of the fixed effects, in the order of ``beta``."""
        return self.frame.fixed_names

    @property
    def theta(self) -> np.ndarray:
        """:math:`\\hat\\theta` (the optimizer's final point)."""
        return self.optinfo.final

    @property
    def residual_df(self) -> int:
        """:math:`n - p`."""
        return self.problem.n - self.problem.p


@dataclass(frozen=True, kw_only=True, eq=False)
class LmmFitState(MixedFitState):
    """The state of a fitted linear mixed model: :class:`MixedFitState` plus the solution.

    Attributes
    ----------
    solution : ~mlmtools.lmm.pls.PlsSolution
        The penalized least squares solution at :math:`\\hat\\theta` (:math:`\\hat\\beta`,
        :math:`\\tilde u`, ``pwrss``, :math:`R_X`, :math:`\\hat\\sigma`, ...).

    ``vcov`` is :math:`\\hat\\sigma^2 (R_X^\\top R_X)^{-1}`.
    """

    solution: PlsSolution

    @property
    def sigma(self) -> float:
        """:math:`\\hat\\sigma`."""
        return self.solution.sigma

    def devcrit(self, REML: bool) -> float:
        """lme4's ``devCrit``: the REML criterion or the ML deviance at :math:`\\hat\\theta`
        (no refit), whichever ``REML`` asks for."""
        s = self.solution
        return criterion(self.problem.n, self.problem.p, s.ldL2, s.ldRX2, self.problem.log_det_w,
                         s.pwrss, REML)


def lmm_fit_state(frame: ModelFrame, problem: LmmProblem, optinfo: OptSummary) -> LmmFitState:
    """The state at the optimizer's final theta: the PLS solution there and
    :math:`\\mathrm{vcov}(\\hat\\beta) = \\hat\\sigma^2 (R_X^\\top R_X)^{-1}`."""
    solution = solve(problem, optinfo.final, optinfo.REML)
    RX_inv = np.linalg.inv(solution.RX)
    vcov = solution.sigma**2 * RX_inv @ RX_inv.T
    return LmmFitState(frame=frame, problem=problem, optinfo=optinfo, beta=solution.beta, b=solution.b,
                       vcov=vcov, solution=solution)
