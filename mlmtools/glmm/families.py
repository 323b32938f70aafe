"""Response distributions of generalized linear models: Gaussian, binomial and Poisson.

Each family bundles what penalized IRLS, the likelihood and GEE need (R's ``family`` objects
and lme4's ``glmFamily``): the canonical link :math:`\\eta = g(\\mu)` and its inverse, the
derivative :math:`d\\mu/d\\eta`, the variance function :math:`V(\\mu)` and its slope
:math:`V'(\\mu)`, the unit deviances, the ``aic`` term :math:`-2\\sum\\log p(y_i\\mid\\mu_i)`,
geepack's quasi-likelihood and checks of the response.

Two models share these objects but not their floating-point details, and each reproduces its
R counterpart bit for bit. ``clamp=True`` (the default, used by glmer) follows lme4's
``glmFamily``: means are kept inside :math:`[\\epsilon, 1-\\epsilon]` (binomial) or above
:math:`\\epsilon` (Poisson), and the logit's :math:`d\\mu/d\\eta` is computed as
:math:`\\mathrm{expit}(\\eta)\\,\\mathrm{expit}(-\\eta)`. ``clamp=False`` (used by geeglm) uses
the plain formulas without bounds.

Notation: ``y`` is the response (a proportion for binomial data), ``wt`` the prior
weights (the number of trials for ``cbind(successes, failures)`` responses), ``trials``
the binomial denominators when the response was given as counts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import expit, gammaln, logit, xlogy

EPS = np.finfo(float).eps
INTEGER_TOL = 1e-3  # R's glm families: "non-integer" when |x - round(x)| > 0.001


class Family:
    """Interface of a response distribution with its canonical link.

    Parameters
    ----------
    clamp : bool
        Keep means away from the edges of their range as lme4 does (see the module docstring);
        ``False`` gives the unbounded formulas geepack's computations match.
    """

    name: str = ""
    link: str = ""

    def __init__(self, clamp: bool = True) -> None:
        self.clamp = clamp

    def linkfun(self, mu: np.ndarray) -> np.ndarray:
        """:math:`\\eta = g(\\mu)`."""
        raise NotImplementedError

    def linkinv(self, eta: np.ndarray) -> np.ndarray:
        """:math:`\\mu = g^{-1}(\\eta)`."""
        raise NotImplementedError

    def mu_eta(self, eta: np.ndarray) -> np.ndarray:
        """:math:`d\\mu / d\\eta`."""
        raise NotImplementedError

    def variance(self, mu: np.ndarray) -> np.ndarray:
        """Variance function :math:`V(\\mu)`."""
        raise NotImplementedError

    def variance_slope(self, mu: np.ndarray) -> np.ndarray:
        """Derivative of the variance function, :math:`V'(\\mu)`."""
        raise NotImplementedError

    def quasi_loglik(self, y: np.ndarray, mu: np.ndarray) -> float:
        """geepack's quasi-likelihood :math:`Q(y;\\mu)` for ``QIC()`` (unscaled, unweighted)."""
        raise NotImplementedError

    def dev_resids(self, y: np.ndarray, mu: np.ndarray, wt: np.ndarray) -> np.ndarray:
        """Unit deviances :math:`d_i`, whose sum is the deviance."""
        raise NotImplementedError

    def aic(self, y: np.ndarray, mu: np.ndarray, wt: np.ndarray,
            trials: np.ndarray | None) -> float:
        """R's ``family$aic``: :math:`-2\\sum_i \\log p(y_i \\mid \\mu_i)` (weighted)."""
        raise NotImplementedError

    def mustart(self, y: np.ndarray, wt: np.ndarray) -> np.ndarray:
        """Starting means for IRLS (R's ``family$initialize``)."""
        raise NotImplementedError

    def check_range(self, y: np.ndarray) -> None:
        """Raise ValueError if a response value lies outside the family's range (GEE's check)."""
        raise NotImplementedError

    def validate(self, y: np.ndarray, wt: np.ndarray, response: str, counts: bool) -> None:
        """Raise ValueError if the response cannot come from this family (glmer's stricter check:
        range, whole counts and the response form)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{self.name}({self.link})"


class Binomial(Family):
    """Binomial family with the logit link.

    .. math::
        \\eta = \\log\\frac{\\mu}{1-\\mu},\\quad \\frac{d\\mu}{d\\eta} = \\mu(1-\\mu),\\quad
        V(\\mu) = \\mu(1-\\mu),

        d_i = 2 w_i\\Big[y_i\\log\\frac{y_i}{\\mu_i} + (1-y_i)\\log\\frac{1-y_i}{1-\\mu_i}\\Big].
    """

    name = "binomial"
    link = "logit"

    def linkfun(self, mu: np.ndarray) -> np.ndarray:
        return np.log(mu / (1.0 - mu)) if self.clamp else logit(mu)

    def linkinv(self, eta: np.ndarray) -> np.ndarray:
        mu = expit(eta)
        return np.clip(mu, EPS, 1.0 - EPS) if self.clamp else mu

    def mu_eta(self, eta: np.ndarray) -> np.ndarray:
        if self.clamp:
            return np.maximum(expit(eta) * expit(-eta), EPS)
        mu = expit(eta)
        return mu * (1.0 - mu)

    def variance(self, mu: np.ndarray) -> np.ndarray:
        return mu * (1.0 - mu)

    def variance_slope(self, mu: np.ndarray) -> np.ndarray:
        """.. math:: V'(\\mu) = 1 - 2\\mu"""
        return 1.0 - 2.0 * mu

    def quasi_loglik(self, y: np.ndarray, mu: np.ndarray) -> float:
        """.. math:: Q = \\sum_i y_i\\log\\frac{\\mu_i}{1-\\mu_i} + \\log(1-\\mu_i)"""
        return float(np.sum(y * np.log(mu / (1.0 - mu)) + np.log(1.0 - mu)))

    def dev_resids(self, y: np.ndarray, mu: np.ndarray, wt: np.ndarray) -> np.ndarray:
        return 2.0 * wt * (xlogy(y, y / mu) + xlogy(1.0 - y, (1.0 - y) / (1.0 - mu)))

    def aic(self, y: np.ndarray, mu: np.ndarray, wt: np.ndarray,
            trials: np.ndarray | None) -> float:
        """.. math:: -2\\sum_i \\frac{w_i}{m_i}\\log\\binom{m_i}{m_i y_i}\\mu_i^{m_i y_i}(1-\\mu_i)^{m_i(1-y_i)}

        with :math:`m_i` the trials when some exceed 1, else the prior weights (R's rule).
        """
        m = trials if trials is not None and np.any(trials > 1) else wt
        m_int = np.round(m)
        k = np.round(m * y)
        log_choose = gammaln(m_int + 1) - gammaln(k + 1) - gammaln(m_int - k + 1)
        log_p = log_choose + xlogy(k, mu) + xlogy(m_int - k, 1.0 - mu)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(m > 0, wt / np.where(m > 0, m, 1.0), 0.0)
        return float(-2.0 * np.sum(scale * log_p))

    def mustart(self, y: np.ndarray, wt: np.ndarray) -> np.ndarray:
        return (wt * y + 0.5) / (wt + 1.0)

    def check_range(self, y: np.ndarray) -> None:
        if np.any(y < 0.0) or np.any(y > 1.0):
            raise ValueError("binomial response must lie in [0, 1] (a 0/1 outcome or a proportion)")

    def validate(self, y: np.ndarray, wt: np.ndarray, response: str, counts: bool) -> None:
        outside = (y < 0) | (y > 1)
        if outside.any():
            bad = y[outside][:3]
            raise ValueError(
                f"binomial response '{response}' must lie in [0, 1] (0/1 outcomes or "
                f"proportions with weights=trials); found {', '.join(map(repr, bad.tolist()))}; "
                "for counts use cbind(successes, failures)")
        successes = wt * y
        if np.any(np.abs(successes - np.round(successes)) > INTEGER_TOL):
            what = ("counts in cbind(successes, failures)" if counts
                    else "number of successes (weights * response)")
            raise ValueError(f"binomial response '{response}': non-integer {what}")


class Poisson(Family):
    """Poisson family with the log link.

    .. math::
        \\eta = \\log\\mu,\\quad \\frac{d\\mu}{d\\eta} = \\mu,\\quad V(\\mu) = \\mu,\\quad
        d_i = 2 w_i\\Big[y_i\\log\\frac{y_i}{\\mu_i} - (y_i - \\mu_i)\\Big].
    """

    name = "poisson"
    link = "log"

    def linkfun(self, mu: np.ndarray) -> np.ndarray:
        return np.log(mu)

    def linkinv(self, eta: np.ndarray) -> np.ndarray:
        mu = np.exp(eta)
        return np.maximum(mu, EPS) if self.clamp else mu

    def mu_eta(self, eta: np.ndarray) -> np.ndarray:
        return self.linkinv(eta)

    def variance(self, mu: np.ndarray) -> np.ndarray:
        return mu

    def variance_slope(self, mu: np.ndarray) -> np.ndarray:
        """.. math:: V'(\\mu) = 1"""
        return np.ones_like(mu)

    def quasi_loglik(self, y: np.ndarray, mu: np.ndarray) -> float:
        """.. math:: Q = \\sum_i y_i\\log\\mu_i - \\mu_i"""
        return float(np.sum(y * np.log(mu) - mu))

    def dev_resids(self, y: np.ndarray, mu: np.ndarray, wt: np.ndarray) -> np.ndarray:
        return 2.0 * wt * (xlogy(y, y / mu) - (y - mu))

    def aic(self, y: np.ndarray, mu: np.ndarray, wt: np.ndarray,
            trials: np.ndarray | None) -> float:
        """.. math:: -2\\sum_i w_i\\,[y_i\\log\\mu_i - \\mu_i - \\log y_i!]"""
        log_p = xlogy(y, mu) - mu - gammaln(y + 1.0)
        return float(-2.0 * np.sum(wt * log_p))

    def mustart(self, y: np.ndarray, wt: np.ndarray) -> np.ndarray:
        return y + 0.1

    def check_range(self, y: np.ndarray) -> None:
        if np.any(y < 0.0):
            raise ValueError("poisson response must be a non-negative count; found negative values")

    def validate(self, y: np.ndarray, wt: np.ndarray, response: str, counts: bool) -> None:
        if counts:
            raise ValueError("a cbind(successes, failures) response needs family='binomial'")
        if (y < 0).any():
            raise ValueError(f"Poisson response '{response}' has negative values; counts must be >= 0")
        if np.any(np.abs(y - np.round(y)) > INTEGER_TOL):
            raise ValueError(f"Poisson response '{response}' has non-integer values; "
                             "counts must be whole numbers")


class Gaussian(Family):
    """Gaussian family with the identity link (for GEE; glmer does not take it).

    .. math::
        \\eta = \\mu,\\quad \\frac{d\\mu}{d\\eta} = 1,\\quad V(\\mu) = 1,\\quad V'(\\mu) = 0,\\quad
        Q = -\\tfrac12\\sum_i (y_i - \\mu_i)^2.
    """

    name = "gaussian"
    link = "identity"

    def linkfun(self, mu: np.ndarray) -> np.ndarray:
        return mu

    def linkinv(self, eta: np.ndarray) -> np.ndarray:
        return eta

    def mu_eta(self, eta: np.ndarray) -> np.ndarray:
        return np.ones_like(eta)

    def variance(self, mu: np.ndarray) -> np.ndarray:
        return np.ones_like(mu)

    def variance_slope(self, mu: np.ndarray) -> np.ndarray:
        return np.zeros_like(mu)

    def quasi_loglik(self, y: np.ndarray, mu: np.ndarray) -> float:
        return float(np.sum((y - mu) ** 2 / -2.0))

    def mustart(self, y: np.ndarray, wt: np.ndarray) -> np.ndarray:
        return y

    def check_range(self, y: np.ndarray) -> None:
        """Every real response is allowed."""


FAMILIES: dict[str, type[Family]] = {"gaussian": Gaussian, "binomial": Binomial, "poisson": Poisson}
GLMM_FAMILIES = ("binomial", "poisson")
"""The families glmer fits."""


def get_family(family: str | Family, allowed: Sequence[str] = GLMM_FAMILIES, *,
               clamp: bool = True) -> Family:
    """The family object for a name (case-insensitive) or a Family instance.

    Parameters
    ----------
    family : str or Family
        A name from ``allowed`` or an instance of one of those families.
    allowed : sequence of str
        The family names the calling model fits; glmer's by default.
    clamp : bool
        The numerics the calling model reproduces (see the module docstring). An instance
        whose ``clamp`` differs is replaced by a fresh one of the same family.

    Raises
    ------
    ValueError
        For a name or instance outside ``allowed``; the message lists the allowed ones.
    """
    name = family.name if isinstance(family, Family) else family
    if isinstance(name, str) and name.lower() in allowed:
        if isinstance(family, Family) and family.clamp == clamp:
            return family
        return FAMILIES[name.lower()](clamp=clamp)
    raise ValueError(f"unknown family {family!r}; allowed: {', '.join(repr(f) for f in allowed)}")
