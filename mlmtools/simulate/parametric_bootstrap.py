"""The parametric bootstrap of a fitted mixed model: lme4's ``bootMer`` and ``confint(method = "boot")``.

:func:`bootstrap` draws ``nsim`` responses from the fitted model
(:func:`mlmtools.simulate.mixed_responses.simulate`, all of them first, from one stream), refits
the model to each through the model object (lme4's ``refit``: the same design, started from the
fitted :math:`\\hat\\theta`) and evaluates a statistic :math:`t(\\cdot)` on every refit. The draws
are made before any refit, so the refits can run in parallel (:mod:`mlmtools.simulate.parallel`)
and the result does not depend on the number of workers; with an integer ``seed`` the draws
are R's ``bootMer(fit, FUN, nsim, seed)`` draws.

:func:`bootstrap_intervals` turns the replicates :math:`t^*_1, \\dots, t^*_R` into intervals
as the boot package's ``boot.ci`` (which lme4's ``confint`` calls):

* ``"perc"``: the :math:`\\alpha` and :math:`1-\\alpha` quantiles of :math:`t^*`, interpolated on
  the normal scale between order statistics (boot's ``norm.inter``): with
  :math:`k = \\lfloor (R+1)a \\rfloor`, :math:`t^*_{(k)} + \\frac{\\Phi^{-1}(a) - \\Phi^{-1}(k/(R+1))}
  {\\Phi^{-1}((k+1)/(R+1)) - \\Phi^{-1}(k/(R+1))}(t^*_{(k+1)} - t^*_{(k)})`;
* ``"basic"``: :math:`2t_0 - q_{1-a}` and :math:`2t_0 - q_a` with the same quantiles;
* ``"norm"``: :math:`t_0 - b \\mp z_{1-a}\\,s` with the bias :math:`b = \\bar t^* - t_0` and
  :math:`s` the standard deviation of :math:`t^*`.

``confint(fit, method="boot")`` bootstraps lme4's default statistic
(:func:`interval_statistic`: the standard deviations and correlations of the random effects,
sigma and the fixed effects) and returns these intervals.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from mlmtools._stacklevel import user_stacklevel
from mlmtools.exceptions import ConvergenceWarning, MlmtoolsWarning, SingularFitWarning
from mlmtools.inference.wald import interval_columns
from mlmtools.lmm.intervals import parameter_names, register_interval_method, sd_cor_values
from mlmtools.lmm.result import LmerResult
from mlmtools.simulate._qnorm import qnorm
from mlmtools.simulate.mixed_responses import MixedFit, simulate_array
from mlmtools.simulate.parallel import check_parallel, run_tasks
from mlmtools.simulate.rng import RRandom, check_count
from mlmtools.simulate.seeding import SeedLike, as_generator

__all__ = ["BootstrapResult", "bootstrap", "boot_mer", "bootstrap_intervals", "bootstrap_confint",
           "interval_statistic", "INTERVAL_TYPES"]

INTERVAL_TYPES = ("perc", "basic", "norm")
"""Bootstrap interval types (boot's ``boot.ci`` types that lme4 offers)."""
_CHUNK_SIZE = 10  # refits per parallel task; fixed, so results never depend on n_jobs
_WARNING_CLASSES: dict[str, type[Warning]] = {"SingularFitWarning": SingularFitWarning,
                                              "ConvergenceWarning": ConvergenceWarning}

Statistic = Callable[[Any], "pd.Series | Mapping[str, float] | ArrayLike | float"]


def interval_statistic(fit: MixedFit) -> pd.Series:
    """lme4's statistic for ``confint(method = "boot")``: per random-effects term the standard
    deviations and correlations (:func:`~mlmtools.lmm.intervals.sd_cor_values`), then
    ``sigma`` (linear models and glmer families with a dispersion), then the fixed effects,
    named as lme4 names them with ``oldNames = FALSE``.

    For a linear model the covariances are :math:`\\hat\\sigma^2 T T^\\top`; for glmer
    :math:`T T^\\top` (lme4 scales by sigma only for linear models).

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmm import lmer
    >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
    >>> interval_statistic(fit).round(3).to_dict()  # doctest: +NORMALIZE_WHITESPACE
    {'sd_(Intercept)|Subject': 24.741, 'cor_Days.(Intercept)|Subject': 0.066, 'sd_Days|Subject': 5.922,
     'sigma': 25.592, '(Intercept)': 251.405, 'Days': 10.467}
    """
    names = parameter_names(fit.state)
    if isinstance(fit, LmerResult):
        values = sd_cor_values(fit.state, fit.theta, fit.sigma)
    else:
        values = sd_cor_values(fit.state, fit.theta, 1.0)
        if fit.family.has_dispersion:
            values[-1] = fit.sigma
        else:
            names, values = names[:-1], values[:-1]
    return pd.Series(np.concatenate([values, fit.state.beta]), index=names + list(fit.state.fixed_names))


def _statistic_values(value: Any) -> pd.Series:
    """A statistic's value as a named Series (unnamed values are called ``t1``, ``t2``, ...)."""
    if isinstance(value, pd.Series):
        return value.astype(float)
    if isinstance(value, Mapping):
        return pd.Series({str(k): float(v) for k, v in value.items()})
    array = np.atleast_1d(np.asarray(value, dtype=float))
    if array.ndim != 1:
        raise ValueError(f"the statistic must return numbers (a Series, dict or 1-d array), got shape "
                         f"{array.shape}")
    return pd.Series(array, index=[f"t{i + 1}" for i in range(len(array))])


def _refit(fit: MixedFit, response: NDArray[np.float64]) -> MixedFit:
    """The same model fitted to a new response (the result's ``refit``: the fit ``lmer`` or
    ``glmer`` would give on data holding that response)."""
    if response.ndim == 2:  # successes and failures -> proportions
        trials = response.sum(axis=1)
        response = np.divide(response[:, 0], trials, out=np.zeros_like(trials), where=trials > 0)
    return fit.refit(response)


def _refit_chunk(fit: MixedFit, responses: NDArray[np.float64], statistic: Statistic,
                 names: list[str]) -> list[tuple[NDArray[np.float64], list[tuple[str, str]]]]:
    """Refit the model to each response of ``responses`` (simulations on axis 1) and evaluate the
    statistic: per refit its values (NaN when the refit failed) and the warnings and error it
    raised, as (class name, message) pairs."""
    out = []
    for j in range(responses.shape[1]):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                values = _statistic_values(statistic(_refit(fit, responses[:, j]))).reindex(names).to_numpy()
                failure: list[tuple[str, str]] = []
            except Exception as error:  # counted and reported, as lme4's bootMer does
                values = np.full(len(names), np.nan)
                failure = [("error", f"{type(error).__name__}: {error}")]
        out.append((values, [(w.category.__name__, str(w.message)) for w in caught] + failure))
    return out


@dataclass(frozen=True, repr=False)
class BootstrapResult:
    """A parametric bootstrap (lme4's ``bootMer`` object).

    Attributes
    ----------
    t0 : pandas.Series
        The statistic on the fitted model.
    t : pandas.DataFrame
        One row per replicate, one column per component of the statistic (NaN rows for
        failed refits).
    seed : int or None
        The R seed the draws came from (``set.seed(seed)``), whether given or drawn; None when
        the draws came from another source.
    use_u : bool
        Whether the draws were conditional on the fitted random effects.
    failures : int
        Number of refits that raised an error.
    messages : dict
        Each warning or error message of the refits with the number of refits that gave it.
    """

    t0: pd.Series
    t: pd.DataFrame
    seed: int | None
    use_u: bool
    failures: int
    messages: dict[str, int]

    @property
    def nsim(self) -> int:
        """Number of replicates."""
        return len(self.t)

    def confint(self, level: float = 0.95, type: str = "perc") -> pd.DataFrame:
        """Bootstrap intervals of every component (:func:`bootstrap_intervals`)."""
        return bootstrap_intervals(self.t0, self.t, level, type)

    def __repr__(self) -> str:
        return (f"<BootstrapResult: {self.nsim} parametric bootstrap replicates of "
                f"{len(self.t0)} statistics, seed {self.seed}, {self.failures} failed refits>")


def _report(messages: Counter[tuple[str, str]], nsim: int) -> None:
    """One warning per kind of problem the refits had, with counts (never one per refit)."""
    by_class: dict[str, list[tuple[str, int]]] = {}
    for (category, message), count in messages.items():
        by_class.setdefault(category, []).append((message, count))
    for category, found in by_class.items():
        total = sum(count for _, count in found)
        texts = "; ".join(f"{message} ({count})" for message, count in found)
        if category == "error":
            warnings.warn(f"some bootstrap runs failed ({total}/{nsim}): {texts}", MlmtoolsWarning,
                          stacklevel=user_stacklevel())
        else:
            warnings.warn(f"{total} of {nsim} bootstrap refits warned: {texts}",
                          _WARNING_CLASSES.get(category, MlmtoolsWarning), stacklevel=user_stacklevel())


def bootstrap(fit: MixedFit, statistic: Statistic | None = None, nsim: int = 1, seed: SeedLike = None,
              use_u: bool = False, n_jobs: int = 1, backend: str = "loky") -> BootstrapResult:
    """Parametric bootstrap of a fitted lmer or glmer model, as lme4's ``bootMer(fit, FUN, nsim,
    seed, use.u)`` (see the module docstring).

    Parameters
    ----------
    fit : ~mlmtools.lmm.result.LmerResult or ~mlmtools.glmm.result.GlmerResult
        The fitted model.
    statistic : callable, optional
        A function of a fitted model returning numbers (a Series, a dict or an array);
        :func:`interval_statistic` by default. Evaluated on ``fit`` (``t0``) and on every refit.
    nsim : int
        Number of replicates.
    seed : int, None, ~mlmtools.simulate.rng.RRandom or numpy.random.Generator
        An int is R's ``set.seed(seed)`` (the draws are R's); None draws a fresh seed, recorded
        in the result.
    use_u : bool
        Draw conditionally on the fitted random effects (lme4's ``use.u = TRUE``).
    n_jobs : int
        Parallel workers for the refits (``-1``: all cores); the result is the same for any
        number.
    backend : {"loky", "dask"}
        joblib's process pool or a running ``dask.distributed`` client.

    Returns
    -------
    BootstrapResult

    Warns
    -----
    SingularFitWarning, ConvergenceWarning, MlmtoolsWarning
        Once per kind, counting the refits that warned (or failed).

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmm import lmer
    >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
    >>> boot = bootstrap(fit, lambda f: f.fixef, nsim=20, seed=2026)
    >>> boot.t.round(2).head(2)
       (Intercept)   Days
    0       249.68  10.49
    1       237.52  10.47
    """
    nsim = check_count(nsim, "nsim")
    if nsim < 1:
        raise ValueError("nsim must be at least 1")
    check_parallel(n_jobs, backend)
    statistic = interval_statistic if statistic is None else statistic
    source = as_generator(seed)
    t0 = _statistic_values(statistic(fit))
    names = list(t0.index)
    draws = simulate_array(fit, nsim, source, bool(use_u))
    tasks = [(fit, draws[:, start:start + _CHUNK_SIZE], statistic, names)
             for start in range(0, nsim, _CHUNK_SIZE)]
    rows: list[NDArray[np.float64]] = []
    messages: Counter[tuple[str, str]] = Counter()
    for chunk in run_tasks(_refit_chunk, tasks, n_jobs, backend):
        for values, problems in chunk:
            rows.append(values)
            messages.update(set(problems))
    failures = sum(count for (category, _), count in messages.items() if category == "error")
    if messages:
        _report(messages, nsim)
    return BootstrapResult(t0=t0, t=pd.DataFrame(np.vstack(rows), columns=names), use_u=bool(use_u),
                           seed=source.seed if isinstance(source, RRandom) else None, failures=failures,
                           messages={message: count for (_, message), count in messages.items()})


boot_mer = bootstrap
"""lme4's name of :func:`bootstrap` (``bootMer``)."""


def _order_statistics(values: NDArray[np.float64], alpha: NDArray[np.float64]) -> NDArray[np.float64]:
    """boot's ``norm.inter``: the ``alpha`` quantiles of ``values`` interpolated on the normal
    scale between order statistics (extremes at the ends)."""
    ordered = np.sort(values)
    R = len(ordered)
    rank = (R + 1) * alpha
    if not np.all((rank > 1) & (rank < R)):
        warnings.warn("extreme order statistics used as endpoints", MlmtoolsWarning, stacklevel=user_stacklevel())
    k = np.trunc(rank).astype(int)
    out = np.empty(len(alpha))
    for i, (a, ki, rk) in enumerate(zip(alpha, k, rank)):
        if ki == 0:
            out[i] = ordered[0]
        elif ki == R:
            out[i] = ordered[R - 1]
        elif ki == rk:
            out[i] = ordered[ki - 1]
        else:
            low, high = qnorm(ki / (R + 1)), qnorm((ki + 1) / (R + 1))
            out[i] = ordered[ki - 1] + (qnorm(a) - low) / (high - low) * (ordered[ki] - ordered[ki - 1])
    return out


def bootstrap_intervals(t0: pd.Series, t: pd.DataFrame, level: float = 0.95, type: str = "perc") -> pd.DataFrame:
    """Intervals from bootstrap replicates, as lme4's ``confint(<bootMer>)`` (boot's ``boot.ci``;
    formulas in the module docstring). Non-finite replicates are left out, as boot does.

    Parameters
    ----------
    t0 : pandas.Series
        The statistic on the fitted model.
    t : pandas.DataFrame
        The replicates, one column per component of ``t0``.
    level : float
        Confidence level.
    type : {"perc", "basic", "norm"}
        Interval type (lme4's ``boot.type``).

    Returns
    -------
    pandas.DataFrame
        One row per component, columns ``"2.5 %"`` and ``"97.5 %"`` (for level 0.95); NaN for
        a component whose replicates are all equal (boot gives no interval there).

    Examples
    --------
    With 79 replicates the 2.5 % and 97.5 % quantiles are the 2nd and 78th order statistics:

    >>> import numpy as np
    >>> import pandas as pd
    >>> replicates = pd.DataFrame({"a": np.arange(1.0, 80.0)})
    >>> print(bootstrap_intervals(pd.Series({"a": 40.0}), replicates))
       2.5 %  97.5 %
    a    2.0    78.0
    """
    if type not in INTERVAL_TYPES:
        raise ValueError(f"type must be one of {', '.join(map(repr, INTERVAL_TYPES))}, got {type!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    rows: list[NDArray[np.float64]] = []
    for name in t0.index:
        column = t[name].to_numpy(dtype=float)
        column = column[np.isfinite(column)]
        if len(column) < 2 or np.all(column == column[0]):
            warnings.warn(f"no bootstrap interval for {name}: its finite replicates are all equal",
                          MlmtoolsWarning, stacklevel=user_stacklevel())
            rows.append(np.full(2, np.nan))
        elif type == "perc":
            rows.append(_order_statistics(column, np.array([(1 - level) / 2, (1 + level) / 2])))
        elif type == "basic":
            upper, lower = _order_statistics(column, np.array([(1 + level) / 2, (1 - level) / 2]))
            rows.append(np.array([2 * t0[name] - upper, 2 * t0[name] - lower]))
        else:
            bias = column.mean() - t0[name]
            margin = np.sqrt(column.var(ddof=1)) * float(qnorm((1 + level) / 2))
            rows.append(np.array([t0[name] - bias - margin, t0[name] - bias + margin]))
    return pd.DataFrame(rows, index=t0.index, columns=interval_columns(level))


def bootstrap_confint(fit: MixedFit, level: float = 0.95, nsim: int = 500, seed: SeedLike = None,
                      type: str = "perc", use_u: bool = False, n_jobs: int = 1,
                      backend: str = "loky") -> pd.DataFrame:
    """``confint(fit, method="boot")``, as lme4's: :func:`bootstrap` of
    :func:`interval_statistic` (``nsim`` replicates, 500 by default as in lme4), then
    :func:`bootstrap_intervals` of the given ``type``.

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmm import lmer
    >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
    >>> print(fit.confint(method="boot", nsim=40, seed=7).round(2))
                                   2.5 %  97.5 %
    sd_(Intercept)|Subject         13.03   36.37
    cor_Days.(Intercept)|Subject   -0.58    0.99
    sd_Days|Subject                 3.98    8.60
    sigma                          22.70   28.74
    (Intercept)                   235.12  262.01
    Days                            7.51   14.09
    """
    if type not in INTERVAL_TYPES:
        raise ValueError(f"type must be one of {', '.join(map(repr, INTERVAL_TYPES))}, got {type!r}")
    result = bootstrap(fit, None, nsim, seed, use_u, n_jobs, backend)
    if result.t.isna().all().all():
        raise ValueError("all bootstrap refits failed")
    return result.confint(level, type)


register_interval_method("boot", bootstrap_confint)
