"""Response distributions of generalized linear mixed models: binomial and Poisson.

Each family bundles what penalized IRLS and the likelihood need (R's ``family`` objects and
lme4's ``glmFamily``): the canonical link :math:`\\eta = g(\\mu)` and its inverse, the
derivative :math:`d\\mu/d\\eta`, the variance function :math:`V(\\mu)`, the unit deviances,
the ``aic`` term :math:`-2\\sum\\log p(y_i\\mid\\mu_i)` and a check of the response.

Notation: ``y`` is the response (a proportion for binomial data), ``wt`` the prior
weights (the number of trials for ``cbind(successes, failures)`` responses), ``trials``
the binomial denominators when the response was given as counts.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, gammaln, xlogy

EPS = np.finfo(float).eps
INTEGER_TOL = 1e-3  # R's glm families: "non-integer" when |x - round(x)| > 0.001


class Family:
    """Interface of a response distribution with its canonical link."""

    name: str = ""
    link: str = ""

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

    def validate(self, y: np.ndarray, wt: np.ndarray, response: str, counts: bool) -> None:
        """Raise ValueError if the response cannot come from this family."""
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
        return np.log(mu / (1.0 - mu))

    def linkinv(self, eta: np.ndarray) -> np.ndarray:
        return np.clip(expit(eta), EPS, 1.0 - EPS)

    def mu_eta(self, eta: np.ndarray) -> np.ndarray:
        return np.maximum(expit(eta) * expit(-eta), EPS)

    def variance(self, mu: np.ndarray) -> np.ndarray:
        return mu * (1.0 - mu)

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
        return np.maximum(np.exp(eta), EPS)

    def mu_eta(self, eta: np.ndarray) -> np.ndarray:
        return np.maximum(np.exp(eta), EPS)

    def variance(self, mu: np.ndarray) -> np.ndarray:
        return mu

    def dev_resids(self, y: np.ndarray, mu: np.ndarray, wt: np.ndarray) -> np.ndarray:
        return 2.0 * wt * (xlogy(y, y / mu) - (y - mu))

    def aic(self, y: np.ndarray, mu: np.ndarray, wt: np.ndarray,
            trials: np.ndarray | None) -> float:
        """.. math:: -2\\sum_i w_i\\,[y_i\\log\\mu_i - \\mu_i - \\log y_i!]"""
        log_p = xlogy(y, mu) - mu - gammaln(y + 1.0)
        return float(-2.0 * np.sum(wt * log_p))

    def mustart(self, y: np.ndarray, wt: np.ndarray) -> np.ndarray:
        return y + 0.1

    def validate(self, y: np.ndarray, wt: np.ndarray, response: str, counts: bool) -> None:
        if counts:
            raise ValueError("a cbind(successes, failures) response needs family='binomial'")
        if (y < 0).any():
            raise ValueError(f"Poisson response '{response}' has negative values; counts must be >= 0")
        if np.any(np.abs(y - np.round(y)) > INTEGER_TOL):
            raise ValueError(f"Poisson response '{response}' has non-integer values; "
                             "counts must be whole numbers")


FAMILIES: dict[str, type[Family]] = {"binomial": Binomial, "poisson": Poisson}


def get_family(family: str | Family) -> Family:
    """The family object for a name (``"binomial"`` or ``"poisson"``) or a Family instance.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the allowed ones.
    """
    if isinstance(family, Family):
        return family
    if isinstance(family, str) and family.lower() in FAMILIES:
        return FAMILIES[family.lower()]()
    raise ValueError(f"unknown family {family!r}; allowed: {', '.join(repr(f) for f in FAMILIES)}")
