r"""REML fits of balanced random-intercept models in closed form, many data sets at once.

The design is the course's cluster-randomized trial: :math:`J` clusters of
:math:`m` observations each, every predictor constant within a cluster, and the model

.. math::

    y_{ij} = x_j^\top \beta + u_j + e_{ij}, \qquad u_j \sim N(0, \sigma^2_u), \quad
    e_{ij} \sim N(0, \sigma^2_e),

i.e. ``y ~ x + (1 | cluster)`` in lme4's syntax. With :math:`\bar y_j` the cluster means,
:math:`X_c` the :math:`J \times p` cluster-level design (intercept first) and
:math:`r = \bar y - X_c \hat\beta` the residuals of the regression of the cluster means
on :math:`X_c`, the analysis-of-variance mean squares are

.. math::

    \mathrm{MSB} = \frac{m \, r^\top r}{J - p}, \qquad
    \mathrm{MSW} = \frac{\sum_j \sum_i (y_{ij} - \bar y_j)^2}{J (m - 1)}.

Away from the boundary (:math:`\mathrm{MSB} > \mathrm{MSW}`) the REML estimates and
lmerTest's Satterthwaite inference have closed forms:

.. math::

    \hat\sigma^2_e = \mathrm{MSW}, \qquad
    \hat\sigma^2_u = \frac{\mathrm{MSB} - \mathrm{MSW}}{m}, \qquad
    \hat\beta = (X_c^\top X_c)^{-1} X_c^\top \bar y, \qquad
    \widehat{\mathrm{Var}}(\hat\beta) = \frac{\mathrm{MSB}}{m} (X_c^\top X_c)^{-1},

and the Satterthwaite degrees of freedom of every cluster-level contrast are exactly
:math:`J - p`. The GLS estimate equals ordinary least squares on the cluster means
because every cluster mean has the same variance :math:`\sigma^2_u + \sigma^2_e/m`, and
:math:`\mathrm{MSB}/m` estimates that variance with :math:`J - p` degrees of freedom.

**What R reports is not quite the closed form.** lme4 finds :math:`\hat\theta =
\hat\sigma_u/\hat\sigma_e` with a derivative-free optimizer that stops once the REML
criterion changes by less than 1e-8. Where the criterion is flat the stopping point can
differ from the exact optimum by 1e-3 (relative), which moves a p-value in the fourth
digit; and lmerTest takes the Satterthwaite derivatives numerically. By default
(``optimum="lme4"``) this module therefore runs the same optimizer (NLopt's BOBYQA, lme4's
settings, lme4's start value) on the closed-form criterion of each data set (a scalar
function of :math:`\theta`, cheap to evaluate), and evaluates lmerTest's numerical
derivatives on closed-form expressions, vectorized. ``optimum="exact"`` uses the
closed-form optimum above instead.

Where :math:`\mathrm{MSB} \le \mathrm{MSW}` REML puts :math:`\hat\sigma_u` on its boundary
of zero (a singular fit), and within 1e-5 of it lme4 applies boundary rules of its own.
Those data sets are refitted by the general engine (:mod:`mlmtools.lmm.model`), so the
results agree with the general engine for every data set.

The sums of squares come from :mod:`mlmtools.simulate.cluster_means`. Arrays of data sets
have shape ``(n_sets, n_clusters * m)`` (or ``(n_sets, n_clusters, m)``), observations
ordered cluster by cluster, and the computations are vectorized across them.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from mlmtools._nlopt import nlopt_available
from mlmtools._stacklevel import user_stacklevel
from mlmtools.exceptions import ConvergenceWarning, SingularFitWarning
from mlmtools.inference import numderiv
from mlmtools.lmm import LinearMixedModel
from mlmtools.simulate.cluster_means import as_trials, cluster_design_matrix, decompose, fit_balanced_ols
from mlmtools.simulate.seeding import SeedLike
from mlmtools.simulate.trials import (
    MIN_CLUSTER_SIZE,
    MIN_CLUSTERS,
    check_cluster_design,
    check_replicates,
    draw_balanced_trials,
)

__all__ = [
    "BalancedFit",
    "fit_balanced_random_intercept",
    "balanced_type1_pvalues",
]

FloatArray = NDArray[np.float64]

# lme4's boundary.tol: optima this close to sigma_u = 0 go to the general engine.
_BOUNDARY_TOL = 1e-5


@dataclass(frozen=True)
class BalancedFit:
    """REML fits of the balanced random-intercept model, one row per data set.

    Attributes
    ----------
    names : tuple of str
        Coefficient names, ``"(Intercept)"`` first.
    coef, std_error, df, t_value : numpy.ndarray
        Shape ``(n_sets, p)``: estimates, standard errors, Satterthwaite degrees of
        freedom and t statistics.
    p_value : numpy.ndarray
        Two-sided p-values of the Satterthwaite t-tests (lmerTest's ``summary``).
    p_value_z : numpy.ndarray
        Two-sided p-values of the Wald z-tests (normal reference distribution).
    sigma2_between, sigma2_within : numpy.ndarray
        Shape ``(n_sets,)``: the REML variance components :math:`\\hat\\sigma^2_u`
        and :math:`\\hat\\sigma^2_e`.
    boundary : numpy.ndarray of bool
        Shape ``(n_sets,)``: data sets with :math:`\\mathrm{MSB} \\le \\mathrm{MSW}`
        (a singular fit) or an optimum within 1e-5 of it, which were fitted by the
        general engine.
    """

    names: tuple[str, ...]
    coef: FloatArray
    std_error: FloatArray
    df: FloatArray
    t_value: FloatArray
    p_value: FloatArray
    p_value_z: FloatArray
    sigma2_between: FloatArray
    sigma2_within: FloatArray
    boundary: NDArray[np.bool_]




def _general_engine_fits(y_sets: FloatArray, cluster_size: int, design: FloatArray
                         ) -> Iterator[tuple[FloatArray | float, ...]]:
    """Data sets (one per row of ``y_sets``) through the general lmer engine: the model is
    built for the first and refitted to the others (:meth:`~mlmtools.lmm.model.LinearMixedModel.refit`).
    Yields per data set its estimates, SEs, df, t, p (t and z) and variances."""
    n_clusters = design.shape[0]
    predictors = [f"x{k}" for k in range(1, design.shape[1])]
    formula = "y ~ " + " + ".join(predictors or ["1"]) + " + (1 | cluster)"
    model = None
    for y_flat in y_sets:
        # Silenced on purpose: every boundary data set is counted, and the caller reports them in
        # one SingularFitWarning (_warn_boundary) instead of one warning per refit.  At the
        # boundary lmerTest's Hessian of the variance parameters has an eigenvalue near zero, and
        # the ConvergenceWarning saying so is the same news.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SingularFitWarning)
            warnings.filterwarnings("ignore", "Model may not have converged with .* close to zero",
                                    ConvergenceWarning)
            if model is None:
                data = pd.DataFrame({"y": y_flat, "cluster": np.repeat(np.arange(1, n_clusters + 1), cluster_size)})
                for k, name in enumerate(predictors, start=1):
                    data[name] = np.repeat(design[:, k], cluster_size)
                model = LinearMixedModel(formula, data)
                fit = model.fit(REML=True)
            else:
                fit = model.refit(y_flat, REML=True)
            satterthwaite = fit.coef_table(ddf="satterthwaite").to_numpy(dtype=float)
        wald = fit.coef_table(ddf="none").to_numpy(dtype=float)
        sigma2_within = fit.sigma**2
        sigma2_between = float((fit.theta[0] * fit.sigma) ** 2)
        yield (satterthwaite[:, 0], satterthwaite[:, 1], satterthwaite[:, 2], satterthwaite[:, 3],
               satterthwaite[:, 4], wald[:, -1], sigma2_between, sigma2_within)


@dataclass(frozen=True)
class _Profile:
    """The REML problem of many balanced data sets, reduced to sufficient statistics.

    With :math:`a(\\theta) = 1 + m\\theta^2` (:math:`\\theta = \\sigma_u/\\sigma_e`), lme4's
    penalized weighted residual sum of squares is
    :math:`\\mathrm{pwrss}(\\theta) = \\mathrm{SSW} + \\mathrm{SSB}/a`,
    :math:`\\log|L|^2 = J \\log a` and :math:`\\log|R_X|^2 = p \\log(m/a) + \\log|X_c^\\top X_c|`.
    """

    between_ss: FloatArray
    within_ss: FloatArray
    n_clusters: int
    cluster_size: int
    n_coef: int
    logdet_xtx: float

    @property
    def n_obs(self) -> int:
        return self.n_clusters * self.cluster_size

    def pwrss(self, theta: FloatArray) -> FloatArray:
        return self.within_ss + self.between_ss / (1.0 + self.cluster_size * theta**2)

    def reml_deviance_varpar(self, theta: FloatArray, sigma: FloatArray) -> FloatArray:
        """lmerTest's ``devfun_vp`` for REML at :math:`(\\theta, \\sigma)`."""
        a = 1.0 + self.cluster_size * theta**2
        two_pi_sigma2 = 2.0 * np.pi * sigma**2
        deviance: FloatArray = (self.n_clusters * np.log(a) + self.pwrss(theta) / sigma**2
                                + self.n_obs * np.log(two_pi_sigma2)
                                + self.n_coef * np.log(self.cluster_size / a) + self.logdet_xtx
                                - self.n_coef * np.log(two_pi_sigma2))
        return deviance


def _lme4_theta(profile: _Profile, start: FloatArray) -> FloatArray:
    """Where lme4's default optimizer stops on each profiled REML criterion.

    Runs NLopt's BOBYQA with the settings of :mod:`mlmtools.lmm.optimizer` (lme4's
    ``nloptwrap``: ``xtol_abs = ftol_abs = 1e-8``, ``xtol_rel = 1e-4``) from lme4's start
    value on the closed-form criterion
    :math:`d_R(\\theta) = (J - p)\\log a + \\mathrm{const} + (n - p)[1 + \\log(2\\pi\\,\\mathrm{pwrss}/(n-p))]`.
    Its stopping point differs from the exact optimum by up to about 1e-3 (relative) where
    the criterion is flat, and R's p-values are those of the stopping point.
    """
    import nlopt

    m, residual_df = profile.cluster_size, profile.n_obs - profile.n_coef
    slope = profile.n_clusters - profile.n_coef
    scale = 2.0 * math.pi / residual_df
    theta = np.empty(start.shape)
    for index, (within, between) in enumerate(zip(profile.within_ss.tolist(), profile.between_ss.tolist())):

        def criterion(x: NDArray[np.float64], grad: NDArray[np.float64]) -> float:
            a = 1.0 + m * x[0] * x[0]
            # called only within this iteration, so the loop's current values are the right ones
            return slope * math.log(a) + residual_df * (1.0 + math.log(scale * (within + between / a)))  # noqa: B023

        optimizer = nlopt.opt(nlopt.LN_BOBYQA, 1)
        optimizer.set_lower_bounds([0.0])
        optimizer.set_upper_bounds([math.inf])
        optimizer.set_min_objective(criterion)
        optimizer.set_xtol_abs(1e-8)
        optimizer.set_ftol_abs(1e-8)
        optimizer.set_xtol_rel(1e-4)
        optimizer.set_maxeval(100_000)
        theta[index] = optimizer.optimize([float(start[index])])[0]
    return theta


def fit_balanced_random_intercept(y: ArrayLike, cluster_size: int, x_cluster: ArrayLike,
                                  optimum: str | None = None, *, warn_boundary: bool = True) -> BalancedFit:
    r"""REML fit of ``y ~ x + (1 | cluster)`` with lmerTest's inference, many data sets at once.

    With the mean squares of the module documentation and :math:`a = 1 + m\theta^2`,
    :math:`\theta = \sigma_u / \sigma_e`:

    .. math::

        \hat\beta = (X_c^\top X_c)^{-1} X_c^\top \bar y \ \text{(for every } \theta), \qquad
        \hat\sigma^2(\theta) = \frac{\mathrm{SSW} + \mathrm{SSB}/a}{n - p}, \qquad
        C(\theta, \sigma) = \frac{\sigma^2 a}{m} (X_c^\top X_c)^{-1},

    :math:`t_k = \hat\beta_k / \sqrt{C_{kk}}` and Satterthwaite's
    :math:`\nu_k = 2 C_{kk}^2 / (g_k^\top A g_k)` with
    :math:`g_k = \partial C_{kk} / \partial(\theta, \sigma)` and :math:`A = 2 H^{-1}`,
    :math:`H` the Hessian of lmerTest's ``devfun_vp``, both by numDeriv's Richardson
    scheme (as lmerTest takes them). At the exact optimum
    :math:`\hat\theta^2 = (\mathrm{MSB} - \mathrm{MSW}) / (m\,\mathrm{MSW})`, so
    :math:`\hat\sigma^2_e = \mathrm{MSW}`, :math:`\hat\sigma^2_u = (\mathrm{MSB} - \mathrm{MSW})/m`,
    :math:`C = (\mathrm{MSB}/m)(X_c^\top X_c)^{-1}` and :math:`\nu_k = J - p`.

    Data sets with :math:`\mathrm{MSB} \le \mathrm{MSW}` (and any whose optimum lies within
    1e-5 of the boundary, where lme4 applies its boundary rules) are fitted by
    the general lmer engine instead (:class:`~mlmtools.lmm.model.LinearMixedModel`, built once
    and refitted to each of them).

    Parameters
    ----------
    y : array_like
        Shape ``(n_sets, J * m)``, ``(n_sets, J, m)`` or ``(J * m,)``; observations
        ordered cluster by cluster.
    cluster_size : int
        Observations per cluster :math:`m` (at least 2).
    x_cluster : array_like, pandas.Series, pandas.DataFrame or int
        Shape ``(J,)`` or ``(J, k)``: predictors constant within clusters, one row per
        cluster; an intercept is added. Column names (from pandas) name the coefficients.
        An ``int`` :math:`J` fits the intercept-only model ``y ~ 1 + (1 | cluster)``.
    optimum : {"lme4", "exact"}, optional
        ``"lme4"``: :math:`\hat\theta` is where lme4's default optimizer (NLopt BOBYQA)
        stops, which is what R and the general engine report (needs the ``nlopt``
        package). ``"exact"``: the closed-form optimum. Default: ``"lme4"`` when
        ``nlopt`` is installed, else ``"exact"`` (the general engine's fallback
        optimizer then converges tightly too).
    warn_boundary : bool
        Warn once about the data sets on the boundary (a caller that reports them itself,
        as :func:`mlmtools.simulate.power.power_simulation` counts them, passes False).

    Returns
    -------
    BalancedFit
        Arrays with one row per data set.

    Warns
    -----
    SingularFitWarning
        Once, if any data set is on the boundary (and ``warn_boundary``), with the number of
        such data sets.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> y = np.repeat(rng.normal(size=6), 4) + rng.normal(size=24)
    >>> fit = fit_balanced_random_intercept(y, 4, [0, 0, 0, 1, 1, 1], optimum="exact")
    >>> np.round(fit.df, 6).tolist()
    [[4.0, 4.0]]
    """
    optimum = _resolve_optimum(optimum)
    design, names = cluster_design_matrix(x_cluster)
    trials = as_trials(y, cluster_size, design.shape[0], least_size=2)
    fit = _reml_fits(trials, design, names, optimum)
    if warn_boundary:
        _warn_boundary(fit.boundary)
    return fit


def _warn_boundary(boundary: NDArray[np.bool_]) -> None:
    """One warning for all data sets fitted on the boundary, pointing at the user's call."""
    if boundary.any():
        warnings.warn(
            f"{int(boundary.sum())} of {boundary.size} data sets have a boundary (singular) fit, "
            "sigma_u = 0; they were fitted by the general lmer engine",
            SingularFitWarning,
            stacklevel=user_stacklevel(),
        )


def _resolve_optimum(optimum: str | None) -> str:
    if optimum is None:
        return "lme4" if nlopt_available() else "exact"
    if optimum not in ("lme4", "exact"):
        raise ValueError(f"optimum must be 'lme4' or 'exact', got {optimum!r}")
    return optimum


def _start_theta(trials: FloatArray) -> FloatArray:
    """lme4's start value :math:`\\sqrt{v_u / v_e}` (see :func:`mlmtools.lmm.problem.start_theta`)."""
    n_sets = trials.shape[0]
    flat = trials.reshape(n_sets, -1)
    cluster_means = np.repeat(trials.mean(axis=2), trials.shape[2], axis=1)
    between = np.var(cluster_means, axis=1, ddof=1)
    theta: FloatArray = np.sqrt(between / (np.var(flat, axis=1, ddof=1) - between))
    return theta


def _reml_fits(trials: FloatArray, design: FloatArray, names: tuple[str, ...], optimum: str) -> BalancedFit:
    """The fits of :func:`fit_balanced_random_intercept` for checked arguments."""
    cluster_size = trials.shape[2]
    n_clusters, n_coef = design.shape
    parts = decompose(trials, design)
    between_ms = parts.between_ss / (n_clusters - n_coef)
    within_ms = parts.within_ss / (n_clusters * (cluster_size - 1))
    boundary = between_ms <= within_ms
    interior = ~boundary
    profile = _Profile(parts.between_ss[interior], parts.within_ss[interior], n_clusters, cluster_size, n_coef,
                       float(np.linalg.slogdet(design.T @ design)[1]))

    if optimum == "lme4":
        theta = _lme4_theta(profile, _start_theta(trials[interior]))
    else:
        theta = np.sqrt((between_ms[interior] - within_ms[interior]) / (cluster_size * within_ms[interior]))
    sigma = np.sqrt(profile.pwrss(theta) / (profile.n_obs - n_coef))
    unscaled_diag = np.diag(parts.unscaled)

    def variance_factor(theta_: FloatArray, sigma_: FloatArray) -> FloatArray:
        """:math:`C_{kk} / [(X_c^\\top X_c)^{-1}]_{kk} = \\sigma^2 a / m`."""
        factor: FloatArray = sigma_**2 * (1.0 + cluster_size * theta_**2) / cluster_size
        return factor

    varpar = np.stack([theta, sigma])  # one column per data set, as numDeriv's x
    hess = numderiv.hessian(lambda v: profile.reml_deviance_varpar(v[0], v[1]), varpar)
    h_tt, h_ts, h_ss = hess[0, 0], hess[1, 0], hess[1, 1]
    determinant = h_tt * h_ss - h_ts**2
    g_theta, g_sigma = numderiv.jacobian(lambda v: variance_factor(v[0], v[1]), varpar)
    # g'Ag with A = 2 H^{-1}, in units of [(X_c'X_c)^{-1}]_kk squared (it cancels in the df)
    quadratic = 2.0 * (g_theta**2 * h_ss - 2.0 * g_theta * g_sigma * h_ts + g_sigma**2 * h_tt) / determinant
    factor = variance_factor(theta, sigma)
    variance = factor[:, None] * unscaled_diag[None, :]

    n_sets = trials.shape[0]
    coef = parts.coef.copy()
    std_error = np.full((n_sets, n_coef), np.nan)
    df = np.full((n_sets, n_coef), np.nan)
    sigma2_between = np.empty(n_sets)
    sigma2_within = np.empty(n_sets)
    std_error[interior] = np.sqrt(variance)
    df[interior] = np.repeat((2.0 * factor**2 / quadratic)[:, None], n_coef, axis=1)
    sigma2_within[interior] = sigma**2
    sigma2_between[interior] = (theta * sigma) ** 2
    near_edge = np.flatnonzero(interior)[(theta < _BOUNDARY_TOL) | (h_tt <= 0) | (determinant <= 0)]
    boundary[near_edge] = True

    t_value = coef / std_error  # NaN on the boundary rows until the general engine fills them
    p_value = 2.0 * np.asarray(stats.t.sf(np.abs(t_value), df), dtype=np.float64)
    p_value_z = 2.0 * np.asarray(stats.norm.sf(np.abs(t_value)), dtype=np.float64)
    boundary_rows = np.flatnonzero(boundary)
    general = _general_engine_fits(trials[boundary_rows].reshape(len(boundary_rows), n_clusters * cluster_size),
                                   cluster_size, design)
    for index, values in zip(boundary_rows, general):
        (coef[index], std_error[index], df[index], t_value[index], p_value[index], p_value_z[index],
         sigma2_between[index], sigma2_within[index]) = values
    return BalancedFit(names, coef, std_error, df, t_value, p_value, p_value_z,
                       sigma2_between, sigma2_within, boundary)


def balanced_type1_pvalues(n_sims: int = 1000, n_clusters: int = 10, cluster_size: int = 30,
                           sigma_u: float = 0.5, sigma_e: float = math.sqrt(0.75), seed: SeedLike = 2026,
                           intercept: float = 50.0) -> pd.DataFrame:
    r"""The type I error study of :func:`mlmtools.simulate.type1.simulate_type1`, vectorized.

    Draws the same data sets as ``simulate_type1`` (:func:`~mlmtools.simulate.trials.draw_balanced_trials`, the
    first half of the clusters control, the second half treated, no treatment effect)
    and tests the treatment with OLS (:func:`~mlmtools.simulate.cluster_means.fit_balanced_ols`) and with the mixed
    model (:func:`fit_balanced_random_intercept`).

    Parameters
    ----------
    n_sims : int
        Number of replicates.
    n_clusters, cluster_size : int
        :math:`J` (even, at least 4) and :math:`m` (at least 2).
    sigma_u, sigma_e : float
        Standard deviations of the cluster effects and residuals.
    seed : int, ~mlmtools.simulate.rng.RRandom, numpy Generator or None
        Source of the draws; an ``int`` gives R's ``set.seed(seed)`` stream and an
        ``RRandom`` is continued.
    intercept : float
        The common mean.

    Returns
    -------
    pandas.DataFrame
        Columns ``p_ols``, ``p_mixed`` (Satterthwaite t-test) and ``p_mixed_z`` (Wald z-test).
    """
    n_sims = check_replicates(n_sims)
    check_cluster_design(n_clusters, cluster_size, sigma_u, sigma_e,
                         min_clusters=MIN_CLUSTERS, min_cluster_size=MIN_CLUSTER_SIZE)
    trials = draw_balanced_trials(n_sims, n_clusters, cluster_size, sigma_u, sigma_e, seed, intercept)
    treatment = pd.Series(np.repeat([0.0, 1.0], n_clusters // 2), name="treatment")
    ols = fit_balanced_ols(trials, cluster_size, treatment)
    mixed = fit_balanced_random_intercept(trials, cluster_size, treatment)
    return pd.DataFrame({"p_ols": ols.p_value[:, 1], "p_mixed": mixed.p_value[:, 1],
                         "p_mixed_z": mixed.p_value_z[:, 1]})
