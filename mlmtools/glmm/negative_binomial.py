"""Negative binomial GLMMs with an estimated shape: :func:`glmer_nb`, lme4's ``glmer.nb``.

The negative binomial family with a known shape :math:`\\theta` (``size``) is an ordinary family
(:class:`~mlmtools.glmm.families.NegativeBinomial`); lme4 estimates :math:`\\theta` around
glmer fits, and so does :func:`glmer_nb`, step for step:

1. fit the Poisson GLMM and take :math:`\\theta_0`, MASS's ``theta.ml`` on its conditional means
   (:func:`theta_ml`, Newton's method on the score of :math:`\\theta` with the means fixed);
2. fit the negative binomial GLMM with :math:`\\theta_0`;
3. minimise :math:`-2\\ell(\\theta)` over :math:`\\log\\theta \\in \\log\\theta_0 \\pm 3` with R's
   ``optimize`` (Brent's golden-section and parabolic search, :func:`brent_minimize`,
   tolerance :math:`5\\cdot 10^{-5}`), each evaluation refitting the previous fit with the new
   :math:`\\theta` (lme4's ``refit``, :func:`mlmtools.glmm.stages.refit_from`); as ``optimize``
   does, the search ends with one more evaluation at the minimum, and that fit is the result.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import digamma, polygamma

from mlmtools._blas import single_blas_thread
from mlmtools._stacklevel import user_stacklevel
from mlmtools.exceptions import ConvergenceWarning
from mlmtools.glmm.families import NegativeBinomial
from mlmtools.glmm.model import GeneralizedLinearMixedModel
from mlmtools.glmm.result import GlmerResult
from mlmtools.glmm.stages import StageOutcome, refit_from, run_stages

THETA_TOL = 5e-5  # glmer.nb(tol = 5e-5)
THETA_ML_LIMIT = 20  # glmer.nb's initCtrl$limit


def theta_ml(y: np.ndarray, mu: np.ndarray, weights: np.ndarray, limit: int = THETA_ML_LIMIT,
             eps: float = 2 * THETA_TOL) -> float:
    """MASS's ``theta.ml``: the maximum-likelihood negative binomial shape for fixed means.

    Newton's method from :math:`\\theta_0 = n / \\sum_i w_i (y_i/\\mu_i - 1)^2`
    (:math:`n = \\sum_i w_i`) on the score

    .. math:: s(\\theta) = \\sum_i w_i\\Big[\\psi(\\theta + y_i) - \\psi(\\theta) + \\log\\theta + 1
        - \\log(\\theta + \\mu_i) - \\frac{y_i + \\theta}{\\mu_i + \\theta}\\Big],

    stopping when the step is below ``eps`` or after ``limit - 1`` steps (with a warning, as
    MASS), a negative estimate truncated at 0 (with a warning).

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0.0, 2.0, 5.0, 1.0, 9.0, 3.0])
    >>> round(theta_ml(y, np.full(6, y.mean()), np.ones(6)), 4)
    1.6851
    """
    n = float(np.sum(weights))
    theta = n / float(np.sum(weights * (y / mu - 1.0) ** 2))
    iteration, step = 0, 1.0
    while True:
        iteration += 1
        if not (iteration < limit and abs(step) > eps):
            break
        theta = abs(theta)
        score = np.sum(weights * (digamma(theta + y) - digamma(theta) + math.log(theta) + 1.0
                                  - np.log(theta + mu) - (y + theta) / (mu + theta)))
        information = np.sum(weights * (-polygamma(1, theta + y) + polygamma(1, theta) - 1.0 / theta
                                        + 2.0 / (mu + theta) - (y + theta) / (mu + theta) ** 2))
        step = float(score / information)
        theta += step
    if theta < 0:
        warnings.warn("theta.ml: estimate truncated at zero", ConvergenceWarning, stacklevel=user_stacklevel())
        theta = 0.0
    if iteration == limit:
        warnings.warn("theta.ml: iteration limit reached", ConvergenceWarning, stacklevel=user_stacklevel())
    return float(theta)


def brent_minimize(f: Callable[[float], float], lower: float, upper: float, tol: float) -> float:
    """R's ``optimize`` (Brent's ``fmin``): the minimum of ``f`` on ``[lower, upper]``.

    Golden-section steps (ratio :math:`(3-\\sqrt5)/2`) alternate with parabolic interpolation
    through the three best points; no evaluation is closer than
    :math:`\\mathrm{tol}_1 = \\sqrt{\\epsilon}|x| + \\mathrm{tol}/3` to an evaluated point or to the
    ends; it stops when the bracket around the best point :math:`x` satisfies
    :math:`|x - (a+b)/2| \\le 2\\,\\mathrm{tol}_1 - (b-a)/2`.

    Examples
    --------
    >>> round(brent_minimize(lambda x: (x - 1.0) ** 2, -2.0, 3.0, 1e-8), 6)
    1.0
    """
    golden = (3.0 - math.sqrt(5.0)) * 0.5
    sqrt_eps = math.sqrt(np.finfo(float).eps)
    a, b = lower, upper
    x = w = v = a + golden * (b - a)
    fx = fw = fv = f(x)
    d = e = 0.0
    third = tol / 3.0
    while True:
        middle = (a + b) * 0.5
        tol1 = sqrt_eps * abs(x) + third
        tol2 = tol1 * 2.0
        if abs(x - middle) <= tol2 - (b - a) * 0.5:
            return x
        p = q = r = 0.0
        if abs(e) > tol1:  # a parabola through x, w, v
            r = (x - w) * (fx - fv)
            q = (x - v) * (fx - fw)
            p = (x - v) * q - (x - w) * r
            q = (q - r) * 2.0
            if q > 0.0:
                p = -p
            else:
                q = -q
            r, e = e, d
        if abs(p) >= abs(q * 0.5 * r) or p <= q * (a - x) or p >= q * (b - x):
            e = (b - x) if x < middle else (a - x)
            d = golden * e
        else:
            d = p / q
            u = x + d
            if u - a < tol2 or b - u < tol2:
                d = tol1 if x < middle else -tol1
        if abs(d) >= tol1:
            u = x + d
        else:
            u = x + tol1 if d > 0.0 else x - tol1
        fu = f(u)
        if fu <= fx:
            if u < x:
                b = x
            else:
                a = x
            v, fv, w, fw, x, fx = w, fw, x, fx, u, fu
        else:
            if u < x:
                a = u
            else:
                b = u
            if fu <= fw or w == x:
                v, fv, w, fw = w, fw, u, fu
            elif fu <= fv or v in (x, w):
                v, fv = u, fu


def glmer_nb(formula: str, data: pd.DataFrame, weights: Any = None, offset: Any = None, *,
             data_name: str = "data", tol: float = THETA_TOL) -> GlmerResult:
    """Fit a negative binomial GLMM, estimating its shape theta as lme4's ``glmer.nb`` does
    (the steps of the module docstring; Laplace approximation).

    Parameters
    ----------
    formula : str
        lme4 formula with a count response, e.g. ``"TICKS ~ YEAR + (1 | LOCATION)"``.
    data : pandas.DataFrame
    weights, offset : str or array_like, optional
        Prior weights and offset (a column name or one value per row).
    data_name : str
        Name shown after ``Data:`` in printed output.
    tol : float
        Brent's tolerance on :math:`\\log\\theta`.

    Returns
    -------
    ~mlmtools.glmm.result.GlmerResult
        The fit at the estimated theta; its ``family`` is the
        :class:`~mlmtools.glmm.families.NegativeBinomial` with that theta (``fit.family.theta``,
        lme4's ``getME(fit, "glmer.nb.theta")``), and ``npar`` counts theta.

    Raises
    ------
    ValueError
        A response that is not a non-negative count, or ``tol`` not positive.

    Warns
    -----
    ConvergenceWarning, SingularFitWarning
        From the Poisson fit, ``theta.ml`` and the final fit, as lme4 reports them.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> g = np.repeat(np.arange(20), 10)
    >>> mu = np.exp(1.0 + rng.normal(0, 0.5, 20)[g])
    >>> counts = rng.negative_binomial(3.0, 3.0 / (3.0 + mu))
    >>> fit = glmer_nb("y ~ 1 + (1 | g)", pd.DataFrame({"y": counts, "g": g}))
    >>> fit.family.name
    'Negative Binomial(2.3753)'
    """
    if not isinstance(tol, (int, float)) or not tol > 0:
        raise ValueError(f"tol must be a positive number, got {tol!r}")
    poisson_model = GeneralizedLinearMixedModel(formula, data, "poisson", weights, offset, data_name=data_name)
    with single_blas_thread():
        poisson_fit = poisson_model.result_of(run_stages(poisson_model.glmm_data, poisson_model.problem, 1))
        start = theta_ml(poisson_model.glmm_data.y, poisson_fit.state.mode.mu, poisson_model.glmm_data.weights,
                         eps=2 * tol)
        model = poisson_model.with_family(NegativeBinomial(start))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            last: list[tuple[GeneralizedLinearMixedModel, StageOutcome]] = [
                (model, run_stages(model.glmm_data, model.problem, 1))]

            def deviance(log_theta: float) -> float:
                previous = last[-1][1]
                nb_model = model.with_family(NegativeBinomial(math.exp(log_theta)))
                outcome = refit_from(nb_model.glmm_data, nb_model.problem, previous)
                last.append((nb_model, outcome))
                return outcome.optinfo.fmin

            log_start = math.log(start)
            minimum = brent_minimize(deviance, log_start - 3.0, log_start + 3.0, tol)
            deviance(minimum)  # R's optimize ends by evaluating the minimum; that fit is the result
        final_model, final_outcome = last[-1]
        return final_model.result_of(final_outcome)
