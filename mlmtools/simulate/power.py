r"""Power of a two-arm cluster-randomized trial: by formula and by simulation.

The design: :math:`J` clusters (even; half control, half treated) of :math:`m`
observations each, outcomes on a standardized scale with total variance 1,

.. math::

    y_{ij} = \delta\, T_j + u_j + e_{ij}, \qquad u_j \sim N(0, \rho), \quad
    e_{ij} \sim N(0, 1 - \rho),

so :math:`\rho` is the intraclass correlation and :math:`\delta` the standardized
mean difference (raw difference / total SD). :func:`power_analytic` gives the power of the
test of :math:`\delta = 0` from the design effect; :func:`power_simulation` estimates
the power of a chosen analysis by Monte Carlo; :func:`power_curve` tabulates either over
a grid of designs.

Simulated replicates are independent streams (the seed policy of
:mod:`mlmtools.simulate.seeding`: ``numpy.random.SeedSequence(seed)`` spawns one child per
replicate), drawn by the one drawing routine of :mod:`mlmtools.simulate.trials`, and
processed in chunks of a fixed size, so the result is the same for any number of workers and
any backend.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import numbers
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from mlmtools.gee import GeeModel
from mlmtools.rstyle import format_number, format_rounded
from mlmtools.simulate.balanced import fit_balanced_random_intercept
from mlmtools.simulate.cluster_means import fit_balanced_ols
from mlmtools.simulate.clustering import design_effect
from mlmtools.simulate.seeding import SeedSequenceLike, replicate_source, seed_sequence
from mlmtools.simulate.trials import (
    MIN_CLUSTER_SIZE,
    MIN_CLUSTERS,
    check_cluster_design,
    check_replicates,
    draw_cluster_components,
    is_count,
)

__all__ = ["PowerResult", "PowerSettings", "power_analytic", "power_simulation", "power_curve", "METHODS", "BACKENDS"]

METHODS = ("mixed", "ols", "gee")
"""Analyses :func:`power_simulation` can simulate."""
BACKENDS = ("loky", "dask")
"""Parallel backends (through joblib)."""

_CHUNK_SIZE = {"mixed": 50, "ols": 200, "gee": 10}  # replicates per task; fixed, so results never depend on n_jobs


@dataclass(frozen=True)
class PowerSettings:
    """The design a power was computed for.

    Attributes
    ----------
    n_clusters, cluster_size : int
        :math:`J` and :math:`m`.
    icc, effect_size, alpha : float
        :math:`\\rho`, :math:`\\delta` and the two-sided level.
    seed_entropy : int or sequence of int
        Entropy of the root ``SeedSequence`` (an int unless a ``SeedSequence`` built from a
        sequence was passed); pass it as ``seed`` to repeat the run.
    """

    n_clusters: int
    cluster_size: int
    icc: float
    effect_size: float
    alpha: float
    seed_entropy: int | Sequence[int] | None


@dataclass(frozen=True, eq=False, repr=False)
class PowerResult:
    """A simulated power and its Monte Carlo uncertainty.

    Attributes
    ----------
    power : float
        Share of replicates whose test rejected at level ``alpha``.
    conf_low, conf_high : float
        95% Wilson score interval for the power (Monte Carlo error only).
    n_rejected, n_sims : int
        Rejections and replicates.
    method : str
        The analysis: ``"mixed"``, ``"ols"`` or ``"gee"``.
    settings : PowerSettings
        The design and the seed (``settings.seed_entropy`` repeats the run).
    p_values : numpy.ndarray
        The ``n_sims`` p-values, in replicate order (read-only).
    n_singular : int
        Mixed method: replicates whose REML fit put the cluster variance at zero.
    """

    power: float
    conf_low: float
    conf_high: float
    n_rejected: int
    n_sims: int
    method: str
    settings: PowerSettings
    p_values: NDArray[np.float64]
    n_singular: int = 0

    def __repr__(self) -> str:
        s = self.settings
        power, low, high = (format_rounded(v, 3, nsmall=True) for v in (self.power, self.conf_low, self.conf_high))
        icc, effect_size, alpha = (format_number(v) for v in (s.icc, s.effect_size, s.alpha))
        return (
            f"PowerResult(power={power}, 95% CI [{low}, {high}] (Wilson), "
            f"n_sims={self.n_sims}, method={self.method!r}; design: {s.n_clusters} clusters x "
            f"{s.cluster_size}, icc={icc}, effect_size={effect_size}, alpha={alpha})"
        )


def _check_design(n_clusters: int, cluster_size: int, icc: float, effect_size: float, alpha: float) -> None:
    """Raise a ValueError that names the first impossible setting."""
    check_cluster_design(n_clusters, cluster_size, min_clusters=MIN_CLUSTERS)
    if not (isinstance(icc, numbers.Real) and 0.0 <= icc < 1.0):
        raise ValueError(f"icc must lie in [0, 1), got {icc!r}")
    if not (isinstance(effect_size, numbers.Real) and math.isfinite(effect_size)):
        raise ValueError(f"effect_size must be a finite number, got {effect_size!r}")
    if not (isinstance(alpha, numbers.Real) and 0.0 < alpha < 1.0):
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")


def power_analytic(n_clusters: int, cluster_size: int, icc: float, effect_size: float, alpha: float = 0.05) -> float:
    r"""Power of the two-sided cluster-level t-test, from the design effect.

    Each arm's mean has variance :math:`\mathrm{DEFF} / (J m / 2)` with
    :math:`\mathrm{DEFF} = 1 + (m - 1)\rho`, so the standardized difference has standard
    error :math:`\sqrt{4\,\mathrm{DEFF} / (J m)}` and, with :math:`\nu = J - 2`,

    .. math::

        \lambda = \frac{\delta}{\sqrt{4\,\mathrm{DEFF}/(J m)}}, \qquad
        \text{power} = P(T'_{\nu,\lambda} > t_{1-\alpha/2,\nu}) + P(T'_{\nu,\lambda} < -t_{1-\alpha/2,\nu}),

    :math:`T'_{\nu,\lambda}` noncentral t. This is exact for the t-test on cluster means,
    which is the mixed model's test whenever its REML fit is away from the boundary.

    Parameters
    ----------
    n_clusters : int
        :math:`J`, even and at least 4.
    cluster_size : int
        :math:`m`, at least 1.
    icc : float
        :math:`\rho` in [0, 1).
    effect_size : float
        :math:`\delta`, the standardized mean difference.
    alpha : float
        Two-sided significance level.

    Returns
    -------
    float

    Examples
    --------
    >>> round(power_analytic(10, 30, 0.25, 0.0), 3)
    0.05
    """
    _check_design(n_clusters, cluster_size, icc, effect_size, alpha)
    df = n_clusters - 2
    standard_error = math.sqrt(4.0 * design_effect(cluster_size, icc) / (n_clusters * cluster_size))
    noncentrality = abs(effect_size) / standard_error
    critical = stats.t.ppf(1.0 - alpha / 2.0, df)
    # P(T < -c) for noncentrality lambda is P(T > c) for -lambda; scipy's far lower tail of nct.cdf can be NaN.
    return float(stats.nct.sf(critical, df, noncentrality) + stats.nct.sf(critical, df, -noncentrality))


# -- one chunk of replicates (module level, so worker processes can unpickle it) ----------------------


def _draw(children: Sequence[np.random.SeedSequence], n_clusters: int, cluster_size: int, icc: float,
          effect_size: float) -> NDArray[np.float64]:
    """Data sets of shape (len(children), J, m): per replicate, from its own stream, J cluster
    effects and then J*m residuals (:func:`~mlmtools.simulate.trials.draw_cluster_components`)."""
    shift = effect_size * np.repeat([0.0, 1.0], n_clusters // 2)
    trials = np.empty((len(children), n_clusters, cluster_size))
    for index, child in enumerate(children):
        cluster_effects, residuals = draw_cluster_components(1, n_clusters, cluster_size, math.sqrt(icc),
                                                             math.sqrt(1.0 - icc), replicate_source(child))
        trials[index] = (shift + cluster_effects[0])[:, None] + residuals[0]
    return trials


def _gee_pvalues(trials: NDArray[np.float64]) -> NDArray[np.float64]:
    """Wald z p-values of the treatment in the exchangeable GEE of each data set: the model is
    built for the first and refitted to the others."""
    n_clusters, cluster_size = trials.shape[1:]
    data = pd.DataFrame({
        "cluster": np.repeat(np.arange(n_clusters), cluster_size),
        "treatment": np.repeat([0.0, 1.0], n_clusters // 2 * cluster_size),
        "y": trials[0].reshape(-1),
    })
    model = GeeModel("y ~ treatment", data, id="cluster", corstr="exchangeable")
    p_values = np.empty(trials.shape[0])
    for index, trial in enumerate(trials):
        fit = model.fit() if index == 0 else model.refit(trial.reshape(-1))
        z_value = fit.coefficients["treatment"] / fit.std_errors["treatment"]
        p_values[index] = 2.0 * stats.norm.sf(abs(z_value))
    return p_values


def _chunk_pvalues(children: Sequence[np.random.SeedSequence], n_clusters: int, cluster_size: int, icc: float,
                   effect_size: float, method: str) -> tuple[NDArray[np.float64], int]:
    """p-values of the treatment test for a chunk of replicates, and how many mixed fits were singular."""
    trials = _draw(children, n_clusters, cluster_size, icc, effect_size)
    treatment = np.repeat([0.0, 1.0], n_clusters // 2)
    if method == "mixed":
        fit = fit_balanced_random_intercept(trials, cluster_size, treatment, warn_boundary=False)
        return fit.p_value[:, 1], int(fit.boundary.sum())
    if method == "ols":
        return fit_balanced_ols(trials, cluster_size, treatment).p_value[:, 1], 0
    return _gee_pvalues(trials), 0


# -- running the chunks -------------------------------------------------------------------------------


def _check_dask() -> None:
    try:
        from distributed import get_client
    except ImportError as error:
        raise ImportError(
            "backend='dask' needs dask.distributed, which is not installed: pip install mlmtools[dask]"
        ) from error
    try:
        get_client()
    except ValueError as error:
        raise ValueError(
            "backend='dask' needs a running dask.distributed Client: create one first, "
            "e.g. client = Client(LocalCluster(n_workers=2))"
        ) from error


@contextlib.contextmanager
def _progress_bar(total: int, description: str, shown: bool) -> Iterator[Callable[[int], object]]:
    """A function that advances a tqdm progress bar (a no-op when not ``shown``)."""
    if not shown:
        yield lambda steps: None
        return
    try:
        from tqdm import tqdm
    except ImportError as error:
        raise ImportError("progress=True needs tqdm, which is not installed: pip install 'mlmtools[parallel]'") \
            from error
    with tqdm(total=total, desc=description, unit="sim") as bar:
        yield bar.update


def _run_chunks(tasks: list[tuple[Any, ...]], n_jobs: int,
                backend: str) -> Iterator[tuple[NDArray[np.float64], int]]:
    """Results of ``_chunk_pvalues`` for each task, in task order."""
    if backend == "loky" and n_jobs == 1:
        return (_chunk_pvalues(*task) for task in tasks)
    try:
        import joblib
    except ImportError as error:
        raise ImportError("running simulations in parallel (n_jobs != 1 or backend='dask') needs joblib, which "
                          "is not installed: pip install 'mlmtools[parallel]'") from error

    if backend == "dask":
        _check_dask()
        with joblib.parallel_config(backend="dask"):
            parallel = joblib.Parallel(n_jobs=n_jobs, return_as="generator")
    else:
        parallel = joblib.Parallel(n_jobs=n_jobs, backend="loky", return_as="generator")
    results: Iterator[tuple[NDArray[np.float64], int]] = parallel(joblib.delayed(_chunk_pvalues)(*task)
                                                                  for task in tasks)
    return results


def _wilson_interval(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    r"""Wilson score interval: :math:`\frac{\hat p + z^2/2n \pm z\sqrt{\hat p(1-\hat p)/n + z^2/4n^2}}{1 + z^2/n}`."""
    z = stats.norm.ppf(0.5 + level / 2.0)
    share = successes / trials
    denominator = 1.0 + z**2 / trials
    centre = (share + z**2 / (2.0 * trials)) / denominator
    half_width = z * math.sqrt(share * (1.0 - share) / trials + z**2 / (4.0 * trials**2)) / denominator
    return max(0.0, centre - half_width), min(1.0, centre + half_width)


def power_simulation(n_clusters: int, cluster_size: int, icc: float, effect_size: float, alpha: float = 0.05,
                     n_sims: int = 1000, seed: SeedSequenceLike = None, method: str = "mixed", n_jobs: int = 1,
                     backend: str = "loky", progress: bool = False) -> PowerResult:
    r"""Estimate power by simulating the trial ``n_sims`` times and analysing each replicate.

    Each replicate draws :math:`u_j \sim N(0, \rho)` and :math:`e_{ij} \sim N(0, 1-\rho)`
    (module documentation), adds :math:`\delta` in the treated half of the clusters and
    tests the treatment with

    * ``"mixed"``: ``y ~ treatment + (1 | cluster)`` by REML with Satterthwaite's t-test
      (:func:`mlmtools.simulate.balanced.fit_balanced_random_intercept`: closed form, with the
      general lmer engine for fits on the boundary);
    * ``"ols"``: ``y ~ treatment`` ignoring the clusters (t-test, :math:`Jm - 2` df);
    * ``"gee"``: :func:`mlmtools.gee.model.geeglm`, exchangeable working correlation, robust
      standard error, Wald z-test (slower: one fit per replicate).

    The estimate is :math:`\hat\pi = k / n` for :math:`k` rejections (:math:`p < \alpha`) in
    :math:`n` replicates, with a 95% Wilson score interval.

    Parameters
    ----------
    n_clusters, cluster_size, icc, effect_size, alpha
        The design and level, as in :func:`power_analytic`.
    n_sims : int
        Number of replicates (at least 1).
    seed : int, None or numpy.random.SeedSequence
        Root of ``SeedSequence(seed).spawn(n_sims)``; ``None`` draws fresh entropy (kept
        in ``result.settings.seed_entropy``).
    method : {"mixed", "ols", "gee"}
        The analysis.
    n_jobs : int
        Workers for joblib (``-1``: all cores). The result does not depend on it.
    backend : {"loky", "dask"}
        ``"loky"``: local processes. ``"dask"``: the workers of the running
        ``dask.distributed.Client``, through joblib's dask backend (needs
        ``pip install mlmtools[dask]``).
    progress : bool
        Show a tqdm progress bar (off by default).

    Returns
    -------
    PowerResult

    Raises
    ------
    ValueError
        For an impossible design, ``n_sims < 1``, an unknown ``method`` or ``backend``,
        ``n_jobs = 0``, ``method="mixed"`` with ``cluster_size < 2``, or a dask backend without a client.
    ImportError
        For ``backend="dask"`` when dask.distributed is not installed.

    Examples
    --------
    >>> result = power_simulation(10, 30, icc=0.25, effect_size=0.5, n_sims=100, seed=1)
    >>> print(result.n_rejected, result.power)
    27 0.27
    >>> print(round(result.conf_low, 3), round(result.conf_high, 3))
    0.193 0.364
    """
    _check_design(n_clusters, cluster_size, icc, effect_size, alpha)
    n_sims = check_replicates(n_sims)
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if not is_count(n_jobs) or n_jobs == 0:
        raise ValueError(f"n_jobs must be a non-zero integer (-1 for all cores), got {n_jobs!r}")
    if method == "mixed" and cluster_size < MIN_CLUSTER_SIZE:
        raise ValueError(f"method='mixed' needs cluster_size >= {MIN_CLUSTER_SIZE}: with one observation per "
                         "cluster the cluster and residual variances cannot be separated")

    root = seed_sequence(seed)
    children = root.spawn(n_sims)
    size = _CHUNK_SIZE[method]
    tasks = [(children[start:start + size], n_clusters, cluster_size, float(icc), float(effect_size), method)
             for start in range(0, len(children), size)]

    p_values, n_singular = [], 0
    with _progress_bar(n_sims, f"power ({method})", progress) as advance:
        for chunk_p, chunk_singular in _run_chunks(tasks, n_jobs, backend):
            p_values.append(chunk_p)
            n_singular += chunk_singular
            advance(len(chunk_p))
    p_all = np.concatenate(p_values)
    p_all.flags.writeable = False
    n_rejected = int(np.sum(p_all < alpha))
    low, high = _wilson_interval(n_rejected, n_sims)
    settings = PowerSettings(int(n_clusters), int(cluster_size), float(icc), float(effect_size), float(alpha),
                             root.entropy)
    return PowerResult(n_rejected / n_sims, low, high, n_rejected, n_sims, method, settings, p_all,
                       n_singular)


def _as_values(value: object, name: str) -> list[Any]:
    """A scalar as a one-element list, a sequence as a list."""
    if isinstance(value, (str, bytes)):
        raise ValueError(f"{name} must be a number or a sequence of numbers, got {value!r}")
    if isinstance(value, Iterable):
        values = list(value.tolist() if isinstance(value, np.ndarray) else value)
        if not values:
            raise ValueError(f"{name} must not be empty")
        return values
    return [value]


def power_curve(n_clusters: int | Sequence[int], cluster_size: int | Sequence[int], icc: float | Sequence[float],
                effect_size: float | Sequence[float], alpha: float = 0.05, method: str = "analytic",
                n_sims: int = 1000, seed: SeedSequenceLike = None, n_jobs: int = 1, backend: str = "loky",
                progress: bool = False) -> pd.DataFrame:
    r"""Power over a grid of designs: every combination of the values given.

    Any of ``n_clusters``, ``cluster_size``, ``icc`` and ``effect_size`` may be a sequence
    (e.g. ``n_clusters=[6, 8, 10, 12]`` at a fixed ``cluster_size`` for "more clusters",
    or the other way round for "bigger clusters").

    Parameters
    ----------
    n_clusters, cluster_size, icc, effect_size
        Values or sequences of values (see :func:`power_analytic`).
    alpha : float
        Two-sided level.
    method : {"analytic", "mixed", "ols", "gee"}
        ``"analytic"`` uses :func:`power_analytic`; the others :func:`power_simulation`.
    n_sims, seed, n_jobs, backend, progress
        For simulation (see :func:`power_simulation`); design point :math:`k` uses the
        :math:`k`-th child of ``SeedSequence(seed)``.

    Returns
    -------
    pandas.DataFrame
        One row per design: ``n_clusters``, ``cluster_size``, ``n_total`` (:math:`Jm`),
        ``icc``, ``effect_size``, ``design_effect``, ``power``, and for simulations
        ``conf_low``, ``conf_high`` and ``n_sims``.

    Examples
    --------
    More clusters of 30 at an ICC of 0.25:

    >>> from mlmtools.rstyle import print_rounded
    >>> curve = power_curve([6, 10, 14], 30, icc=0.25, effect_size=0.5)
    >>> print(print_rounded(curve[["n_clusters", "n_total", "design_effect", "power"]], 3, row_names="none"))
     n_clusters n_total design_effect power
              6     180          8.25 0.149
             10     300          8.25 0.265
             14     420          8.25 0.375
    """
    if method != "analytic" and method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose 'analytic' or one of {', '.join(METHODS)}")
    grid = list(itertools.product(_as_values(n_clusters, "n_clusters"), _as_values(cluster_size, "cluster_size"),
                                  _as_values(icc, "icc"), _as_values(effect_size, "effect_size")))
    seeds = seed_sequence(seed).spawn(len(grid)) if method != "analytic" else [None] * len(grid)
    rows = []
    for (clusters, size, rho, delta), point_seed in zip(grid, seeds):
        row = {"n_clusters": clusters, "cluster_size": size, "n_total": clusters * size, "icc": rho,
               "effect_size": delta}
        if method == "analytic":
            row["power"] = power_analytic(clusters, size, rho, delta, alpha)
        else:
            result = power_simulation(clusters, size, rho, delta, alpha, n_sims=n_sims, seed=point_seed,
                                      method=method, n_jobs=n_jobs, backend=backend, progress=progress)
            row.update(power=result.power, conf_low=result.conf_low, conf_high=result.conf_high, n_sims=n_sims)
        row["design_effect"] = design_effect(size, rho)
        rows.append(row)
    columns = ["n_clusters", "cluster_size", "n_total", "icc", "effect_size", "design_effect", "power"]
    if method != "analytic":
        columns += ["conf_low", "conf_high", "n_sims"]
    return pd.DataFrame(rows)[columns]
