"""Link functions of generalized linear models: :math:`\\eta = g(\\mu)`, its inverse and :math:`d\\mu/d\\eta`.

Each link is an object with ``linkfun``, ``linkinv`` and ``mu_eta`` (R's ``make.link``). Two sets of
floating-point rules exist, chosen by ``clamp`` when the link is made, so that each model reproduces
its R counterpart:

* ``clamp=True`` (glmer) follows lme4's ``glmFamily``: probabilities stay in
  :math:`[\\epsilon, 1-\\epsilon]`, means of the log link above :math:`\\epsilon`, and
  :math:`d\\mu/d\\eta` of the logit and complementary log-log links above :math:`\\epsilon`
  (:math:`\\epsilon` is the machine epsilon);
* ``clamp=False`` (geeglm) uses the plain formulas, as geepack does.

Penalized IRLS needs :math:`\\mu` at every iterate but :math:`d\\mu/d\\eta` only at those it continues
from, so :meth:`Link.mean` returns :math:`\\mu` together with what :meth:`Link.slope` can reuse (the
logistic function for the logit link, the mean itself for the log link); the pair gives the same
numbers as ``linkinv`` and ``mu_eta`` called separately.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit, logit, ndtr, ndtri

EPS = float(np.finfo(float).eps)
_NORMAL_DENSITY = 1.0 / np.sqrt(2.0 * np.pi)


class Link:
    """A link function :math:`g` with its inverse and derivative (R's ``link-glm`` object).

    Parameters
    ----------
    clamp : bool
        lme4's bounds (True) or the plain formulas (False); see the module docstring.
    """

    name: str = ""

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

    def mean(self, eta: np.ndarray) -> tuple[np.ndarray, Any]:
        """:math:`\\mu = g^{-1}(\\eta)` and what :meth:`slope` can reuse."""
        return self.linkinv(eta), None

    def slope(self, eta: np.ndarray, mu: np.ndarray, reuse: Any) -> np.ndarray:
        """:math:`d\\mu/d\\eta` at ``eta``, given ``(mu, reuse) = mean(eta)``."""
        return self.mu_eta(eta)

    def valid_eta(self, eta: np.ndarray) -> bool:
        """Whether every linear predictor lies in the link's domain (R's ``valideta``)."""
        return bool(np.all(np.isfinite(eta)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class LogitLink(Link):
    """:math:`\\eta = \\log\\frac{\\mu}{1-\\mu}`, :math:`\\mu = 1/(1+e^{-\\eta})`,
    :math:`d\\mu/d\\eta = \\mu(1-\\mu)`; with ``clamp``, :math:`d\\mu/d\\eta` is computed as
    :math:`\\mathrm{expit}(\\eta)\\,\\mathrm{expit}(-\\eta)`.

    The logistic function is SciPy's ``expit`` (C's ``exp``). numpy's vectorized exponential is
    several times faster but differs from it in the last bit for some values, and that roughness
    is enough to stop the first stage's BOBYQA short on flat criteria (singular fits)."""

    name = "logit"

    def linkfun(self, mu: np.ndarray) -> np.ndarray:
        return np.log(mu / (1.0 - mu)) if self.clamp else logit(mu)

    def linkinv(self, eta: np.ndarray) -> np.ndarray:
        mu: np.ndarray = expit(eta)
        return np.clip(mu, EPS, 1.0 - EPS) if self.clamp else mu

    def mu_eta(self, eta: np.ndarray) -> np.ndarray:
        if self.clamp:
            bounded: np.ndarray = np.maximum(expit(eta) * expit(-eta), EPS)
            return bounded
        mu: np.ndarray = expit(eta)
        return mu * (1.0 - mu)

    def mean(self, eta: np.ndarray) -> tuple[np.ndarray, Any]:
        if not self.clamp:
            return self.linkinv(eta), None
        logistic = expit(eta)
        return np.clip(logistic, EPS, 1.0 - EPS), logistic

    def slope(self, eta: np.ndarray, mu: np.ndarray, reuse: Any) -> np.ndarray:
        if reuse is None:
            return self.mu_eta(eta)
        slope: np.ndarray = np.maximum(reuse * expit(-eta), EPS)
        return slope


class ProbitLink(Link):
    """:math:`\\eta = \\Phi^{-1}(\\mu)`, :math:`\\mu = \\Phi(\\eta)` (at most :math:`1-\\epsilon`
    with ``clamp``, as lme4), :math:`d\\mu/d\\eta = \\phi(\\eta)`."""

    name = "probit"

    def linkfun(self, mu: np.ndarray) -> np.ndarray:
        return ndtri(mu)

    def linkinv(self, eta: np.ndarray) -> np.ndarray:
        if self.clamp:
            return np.minimum(ndtr(eta), 1.0 - EPS)
        threshold = -ndtri(EPS)  # R's make.link("probit"): eta kept inside +-qnorm(eps)
        mu: np.ndarray = ndtr(np.clip(eta, -threshold, threshold))
        return mu

    def mu_eta(self, eta: np.ndarray) -> np.ndarray:
        density: np.ndarray = _NORMAL_DENSITY * np.exp(-0.5 * eta * eta)
        return density if self.clamp else np.maximum(density, EPS)


class CloglogLink(Link):
    """:math:`\\eta = \\log(-\\log(1-\\mu))`, :math:`\\mu = 1 - e^{-e^{\\eta}}`,
    :math:`d\\mu/d\\eta = e^{\\eta - e^{\\eta}}` (both kept inside :math:`[\\epsilon, 1-\\epsilon]`)."""

    name = "cloglog"

    def linkfun(self, mu: np.ndarray) -> np.ndarray:
        eta: np.ndarray = np.log(-np.log1p(-mu))
        return eta

    def linkinv(self, eta: np.ndarray) -> np.ndarray:
        mu: np.ndarray = np.clip(-np.expm1(-np.exp(eta)), EPS, 1.0 - EPS)
        return mu

    def mu_eta(self, eta: np.ndarray) -> np.ndarray:
        eta = np.minimum(eta, 700.0)
        slope: np.ndarray = np.maximum(np.exp(eta - np.exp(eta)), EPS)
        return slope


class LogLink(Link):
    """:math:`\\eta = \\log\\mu`, :math:`\\mu = d\\mu/d\\eta = e^{\\eta}` (at least :math:`\\epsilon`
    with ``clamp``)."""

    name = "log"

    def linkfun(self, mu: np.ndarray) -> np.ndarray:
        eta: np.ndarray = np.log(mu)
        return eta

    def linkinv(self, eta: np.ndarray) -> np.ndarray:
        mu: np.ndarray = np.exp(eta)
        return np.maximum(mu, EPS) if self.clamp else mu

    def mu_eta(self, eta: np.ndarray) -> np.ndarray:
        return self.linkinv(eta)

    def slope(self, eta: np.ndarray, mu: np.ndarray, reuse: Any) -> np.ndarray:
        return mu


class SqrtLink(Link):
    """:math:`\\eta = \\sqrt\\mu`, :math:`\\mu = \\eta^2`, :math:`d\\mu/d\\eta = 2\\eta`
    (R's ``make.link("sqrt")``; valid for :math:`\\eta > 0`)."""

    name = "sqrt"

    def linkfun(self, mu: np.ndarray) -> np.ndarray:
        eta: np.ndarray = np.sqrt(mu)
        return eta

    def linkinv(self, eta: np.ndarray) -> np.ndarray:
        mu: np.ndarray = eta * eta
        return mu

    def mu_eta(self, eta: np.ndarray) -> np.ndarray:
        return 2.0 * eta

    def valid_eta(self, eta: np.ndarray) -> bool:
        return bool(np.all(np.isfinite(eta)) and np.all(eta > 0))


class IdentityLink(Link):
    """:math:`\\eta = \\mu`, :math:`d\\mu/d\\eta = 1`."""

    name = "identity"

    def linkfun(self, mu: np.ndarray) -> np.ndarray:
        return mu

    def linkinv(self, eta: np.ndarray) -> np.ndarray:
        return eta

    def mu_eta(self, eta: np.ndarray) -> np.ndarray:
        return np.ones_like(eta)


class InverseLink(Link):
    """:math:`\\eta = 1/\\mu`, :math:`\\mu = 1/\\eta`, :math:`d\\mu/d\\eta = -1/\\eta^2`."""

    name = "inverse"

    def linkfun(self, mu: np.ndarray) -> np.ndarray:
        return 1.0 / mu

    def linkinv(self, eta: np.ndarray) -> np.ndarray:
        return 1.0 / eta

    def mu_eta(self, eta: np.ndarray) -> np.ndarray:
        slope: np.ndarray = -1.0 / (eta * eta)
        return slope

    def valid_eta(self, eta: np.ndarray) -> bool:
        return bool(np.all(np.isfinite(eta)) and np.all(eta != 0))


LINKS: dict[str, type[Link]] = {link.name: link for link in (
    LogitLink, ProbitLink, CloglogLink, LogLink, SqrtLink, IdentityLink, InverseLink)}
"""Every link by its R name."""


def make_link(name: str, clamp: bool = True) -> Link:
    """The link called ``name`` (R's ``make.link``): one of :data:`LINKS`.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the known ones.
    """
    if not isinstance(name, str) or name not in LINKS:
        raise ValueError(f"unknown link {name!r}; available: {', '.join(map(repr, LINKS))}")
    return LINKS[name](clamp=clamp)
