"""One geepack fit on prepared data: the estimation loop, the sandwich and, if asked, a jackknife.

:meth:`mlmtools.gee.model.GeeModel.fit` runs it on the model's data; the Wald tests of
:mod:`mlmtools.gee.wald_anova` and ``QIC`` run it again on the same clusters with another
design or another working correlation, as geepack refits its models.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlmtools.gee.correlation import WorkingCorrelation, make_correlation
from mlmtools.gee.estimation import MAX_ITERATIONS, TOLERANCE, GeeData, GeeEstimates, estimate
from mlmtools.gee.jackknife import jackknife_covariance
from mlmtools.gee.sandwich import GeeCovariance, cluster_blocks, geepack_covariance
from mlmtools.glmm.families import Family


@dataclass(frozen=True, eq=False)
class GeeComputation:
    """What one run of geepack computes.

    Attributes
    ----------
    structure : ~mlmtools.gee.correlation.WorkingCorrelation
        The working correlation, set up for the clusters.
    estimates : ~mlmtools.gee.estimation.GeeEstimates
        :math:`\\hat\\beta`, :math:`\\hat\\phi`, :math:`\\hat\\alpha` and the loop's convergence.
    covariance : ~mlmtools.gee.sandwich.GeeCovariance
        The sandwich (and naive) covariances, always computed.
    jackknife : ~mlmtools.gee.sandwich.GeeCovariance or None
        The jackknife covariances when ``std_err`` asks for one.
    """

    structure: WorkingCorrelation
    estimates: GeeEstimates
    covariance: GeeCovariance
    jackknife: GeeCovariance | None

    @property
    def reported(self) -> GeeCovariance:
        """The covariances ``std_err`` chose: the jackknife's, else the sandwich's."""
        return self.covariance if self.jackknife is None else self.jackknife


def run_geepack(data: GeeData, family: Family, corstr: str, *, std_err: str = "san.se",
                scale_fix: bool = False, scale_value: float | None = None, epsilon: float = TOLERANCE,
                maxit: int = MAX_ITERATIONS) -> GeeComputation:
    """geepack's ``gee_top``: the loop (:func:`~mlmtools.gee.estimation.estimate`), the sandwich
    (:func:`~mlmtools.gee.sandwich.geepack_covariance`) and the jackknife ``std_err`` names
    (:func:`~mlmtools.gee.jackknife.jackknife_covariance`); arguments as :func:`~mlmtools.gee.model.geeglm`'s."""
    structure = make_correlation(corstr)
    structure.setup([data.waves[rows] for rows in data.clusters])
    estimates = estimate(data, family, structure, tol=epsilon, maxit=maxit, scale_fix=scale_fix,
                         scale_value=scale_value)
    blocks = cluster_blocks(data, estimates.beta, family, estimates.scale, estimates.alpha, structure, scale_fix)
    covariance = geepack_covariance(blocks)
    jackknife = None
    if std_err != "san.se":
        jackknife = jackknife_covariance(std_err, data, family, structure, estimates, blocks,
                                         covariance.beta_naive, epsilon, maxit, scale_fix)
    return GeeComputation(structure, estimates, covariance, jackknife)
