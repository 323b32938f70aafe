"""Response distributions of generalized linear models, each with a link: R's ``family`` objects.

Each family bundles what penalized IRLS, the likelihood and GEE need (R's ``family`` objects and
lme4's ``glmFamily``): a link :math:`\\eta = g(\\mu)` (:mod:`mlmtools.glmm.links`; any link R
allows for the family, the canonical one by default), the variance function :math:`V(\\mu)` and
its slope :math:`V'(\\mu)`, the unit deviances, the ``aic`` term
:math:`-2\\sum\\log p(y_i\\mid\\mu_i)`, geepack's quasi-likelihood and checks of the response.

R's ``binomial(link = "probit")`` is written ``Binomial(link="probit")`` (likewise
``Poisson(link="sqrt")``, ``Gamma(link="log")``, ``Gaussian(link="log")``, and MASS's
``negative.binomial(theta)`` is ``NegativeBinomial(theta)``), or, in a model function, as the
family's name with a ``link=`` argument: ``glmer(..., family="binomial", link="probit")``.

Two models share these objects but not their floating-point details, and each reproduces its
R counterpart. ``clamp=True`` (the default, used by glmer) follows lme4's ``glmFamily``
(bounded means, see :mod:`mlmtools.glmm.links`); ``clamp=False`` (used by geeglm) uses the
plain formulas without bounds.

Penalized IRLS evaluates the deviance thousands of times for one response, so
:meth:`Family.deviance_function` and :meth:`Family.aic_function` bind the response once and
return functions of :math:`\\mu` alone, with the parts that do not involve :math:`\\mu` computed
once; they give the same numbers as :meth:`Family.dev_resids` and :meth:`Family.aic`.

Notation: ``y`` is the response (a proportion for binomial data), ``wt`` the prior
weights (the number of trials for ``cbind(successes, failures)`` responses), ``trials``
the binomial denominators when the response was given as counts.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import gammaln, xlogy

from mlmtools.glmm.links import EPS, LINKS, Link, make_link
from mlmtools.rstyle.numbers import format_number, round_r

INTEGER_TOL = 1e-3  # R's glm families: "non-integer" when |x - round(x)| > 0.001

DevianceFunction = Callable[[np.ndarray], np.ndarray]
AicFunction = Callable[[np.ndarray], float]


class Family:
    """A response distribution with a link.

    Parameters
    ----------
    link : str
        The link's R name; one of the family's ``links``, the canonical one by default.
    clamp : bool
        Keep means away from the edges of their range as lme4 does (see the module docstring);
        ``False`` gives the unbounded formulas geepack's computations match.

    Attributes
    ----------
    name : str
        R's ``family$family`` (e.g. ``"binomial"``, ``"Negative Binomial(2.052)"``).
    link : str
        R's ``family$link``.
    link_function : ~mlmtools.glmm.links.Link
        The link's functions.
    """

    family_name: str = ""
    links: tuple[str, ...] = ()
    has_dispersion = False
    """Whether the family has a scale parameter that is estimated (lme4's ``useSc``)."""

    def __init__(self, link: str | None = None, clamp: bool = True) -> None:
        link = self.links[0] if link is None else link
        if link not in self.links:
            raise ValueError(f"link {link!r} is not available for the {self.family_name} family; "
                             f"available: {', '.join(map(repr, self.links))}")
        self.link = link
        self.link_function: Link = make_link(link, clamp)
        self.clamp = clamp

    @property
    def name(self) -> str:
        return self.family_name

    def with_clamp(self, clamp: bool) -> Family:
        """The same family and link with the other floating-point rules (``self`` if unchanged)."""
        if clamp == self.clamp:
            return self
        return type(self)(link=self.link, clamp=clamp)

    # -- the link --------------------------------------------------------------------
    def linkfun(self, mu: np.ndarray) -> np.ndarray:
        """:math:`\\eta = g(\\mu)`."""
        return self.link_function.linkfun(mu)

    def linkinv(self, eta: np.ndarray) -> np.ndarray:
        """:math:`\\mu = g^{-1}(\\eta)`."""
        return self.link_function.linkinv(eta)

    def mu_eta(self, eta: np.ndarray) -> np.ndarray:
        """:math:`d\\mu / d\\eta`."""
        return self.link_function.mu_eta(eta)

    # -- the distribution ------------------------------------------------------------
    def variance(self, mu: np.ndarray) -> np.ndarray:
        """Variance function :math:`V(\\mu)`."""
        raise NotImplementedError

    def variance_slope(self, mu: np.ndarray) -> np.ndarray:
        """Derivative of the variance function, :math:`V'(\\mu)`."""
        raise NotImplementedError

    def quasi_loglik(self, y: np.ndarray, mu: np.ndarray) -> float:
        """geepack's quasi-likelihood :math:`Q(y;\\mu)` for ``QIC()`` (unscaled, unweighted)."""
        raise NotImplementedError

    def deviance_function(self, y: np.ndarray, wt: np.ndarray) -> DevianceFunction:
        """The unit deviances :math:`d_i(\\mu)` for this response, as a function of :math:`\\mu`."""
        raise NotImplementedError

    def dev_resids(self, y: np.ndarray, mu: np.ndarray, wt: np.ndarray) -> np.ndarray:
        """Unit deviances :math:`d_i`, whose sum is the deviance."""
        return self.deviance_function(y, wt)(mu)

    def aic_function(self, y: np.ndarray, wt: np.ndarray, trials: np.ndarray | None) -> AicFunction:
        """R's ``family$aic`` for this response, as a function of :math:`\\mu`."""
        raise NotImplementedError

    def aic(self, y: np.ndarray, mu: np.ndarray, wt: np.ndarray,
            trials: np.ndarray | None) -> float:
        """R's ``family$aic``: :math:`-2\\sum_i \\log p(y_i \\mid \\mu_i)` (weighted)."""
        return self.aic_function(y, wt, trials)(mu)

    def mustart(self, y: np.ndarray, wt: np.ndarray) -> np.ndarray:
        """Starting means for IRLS (R's ``family$initialize``)."""
        raise NotImplementedError

    def check_range(self, y: np.ndarray) -> None:
        """Raise ValueError if a response value lies outside the family's range (GEE's check)."""
        raise NotImplementedError

    def validate(self, y: np.ndarray, wt: np.ndarray, response: str, counts: bool) -> None:
        """Raise ValueError if the response cannot come from this family (glmer's stricter check:
        range, whole counts and the response form)."""
        if counts:
            raise ValueError("a cbind(successes, failures) response needs family='binomial'")
        self.check_range(y)

    def __repr__(self) -> str:
        return f"{self.name}({self.link})"


class Binomial(Family):
    """Binomial family; links ``"logit"`` (canonical), ``"probit"``, ``"cloglog"``.

    .. math::
        V(\\mu) = \\mu(1-\\mu),\\qquad
        d_i = 2 w_i\\Big[y_i\\log\\frac{y_i}{\\mu_i} + (1-y_i)\\log\\frac{1-y_i}{1-\\mu_i}\\Big].
    """

    family_name = "binomial"
    links = ("logit", "probit", "cloglog")

    def variance(self, mu: np.ndarray) -> np.ndarray:
        return mu * (1.0 - mu)

    def variance_slope(self, mu: np.ndarray) -> np.ndarray:
        """R's ``family$aic`` for this response, as a function of :math:`\\mu`:

        .. math:: V'(\\mu) = 1 - 2\\mu"""
        return 1.0 - 2.0 * mu

    def quasi_loglik(self, y: np.ndarray, mu: np.ndarray) -> float:
        """R's ``family$aic`` for this response, as a function of :math:`\\mu`:

        .. math:: Q = \\sum_i y_i\\log\\frac{\\mu_i}{1-\\mu_i} + \\log(1-\\mu_i)"""
        return float(np.sum(y * np.log(mu / (1.0 - mu)) + np.log(1.0 - mu)))

    def deviance_function(self, y: np.ndarray, wt: np.ndarray) -> DevianceFunction:
        """For 0/1 responses one of the two terms is exactly zero, and the other is
        :math:`-\\log p_i` with :math:`p_i` the probability of the observed outcome (computed with
        numpy's vectorized logarithm: this runs over every observation at every PIRLS iterate)."""
        failure = 1.0 - y
        if np.all((y == 0.0) | (y == 1.0)):
            scale = -2.0 if np.all(wt == 1.0) else -2.0 * wt

            def binary(mu: np.ndarray) -> np.ndarray:
                # |failure - mu| is mu for a success and 1 - mu for a failure, exactly
                values = np.subtract(failure, mu)
                np.abs(values, out=values)
                np.log(values, out=values)
                deviances: np.ndarray = np.multiply(scale, values, out=values)
                return deviances
            return binary
        return lambda mu: 2.0 * wt * (xlogy(y, y / mu) + xlogy(failure, failure / (1.0 - mu)))

    def aic_function(self, y: np.ndarray, wt: np.ndarray, trials: np.ndarray | None) -> AicFunction:
        """R's ``family$aic`` for this response, as a function of :math:`\\mu`:

        .. math:: -2\\sum_i \\frac{w_i}{m_i}\\log\\binom{m_i}{m_i y_i}\\mu_i^{m_i y_i}(1-\\mu_i)^{m_i(1-y_i)}

        with :math:`m_i` the trials when some exceed 1, else the prior weights (R's rule).
        """
        m = trials if trials is not None and np.any(trials > 1) else wt
        m_int = np.round(m)
        k = np.round(m * y)
        failures = m_int - k
        if np.all(m_int == 1.0) and np.all(wt == 1.0):
            # log C = 0 and one of the two xlogy terms is exactly 0; |failures - mu| is the
            # probability of the observed outcome: the sum of the unit deviances
            def binary(mu: np.ndarray) -> float:
                values = np.subtract(failures, mu)
                np.abs(values, out=values)
                return float(-2.0 * np.log(values, out=values).sum())
            return binary
        log_choose = gammaln(m_int + 1) - gammaln(k + 1) - gammaln(failures + 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(m > 0, wt / np.where(m > 0, m, 1.0), 0.0)
        return lambda mu: float(-2.0 * np.sum(scale * (log_choose + xlogy(k, mu) + xlogy(failures, 1.0 - mu))))

    def mustart(self, y: np.ndarray, wt: np.ndarray) -> np.ndarray:
        means: np.ndarray = (wt * y + 0.5) / (wt + 1.0)
        return means

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


class _Counts(Family):
    """What the Poisson and negative binomial families share: whole, non-negative counts."""

    def check_range(self, y: np.ndarray) -> None:
        if np.any(y < 0.0):
            raise ValueError(f"{self.family_name} response must be a non-negative count; found negative values")

    def validate(self, y: np.ndarray, wt: np.ndarray, response: str, counts: bool) -> None:
        if counts:
            raise ValueError("a cbind(successes, failures) response needs family='binomial'")
        label = "Poisson" if self.family_name == "poisson" else self.family_name
        if (y < 0).any():
            raise ValueError(f"{label} response '{response}' has negative values; counts must be >= 0")
        if np.any(np.abs(y - np.round(y)) > INTEGER_TOL):
            raise ValueError(f"{label} response '{response}' has non-integer values; "
                             "counts must be whole numbers")


class Poisson(_Counts):
    """Poisson family; links ``"log"`` (canonical), ``"sqrt"``, ``"identity"``.

    .. math::
        V(\\mu) = \\mu,\\qquad d_i = 2 w_i\\Big[y_i\\log\\frac{y_i}{\\mu_i} - (y_i - \\mu_i)\\Big].
    """

    family_name = "poisson"
    links = ("log", "sqrt", "identity")

    def variance(self, mu: np.ndarray) -> np.ndarray:
        return mu

    def variance_slope(self, mu: np.ndarray) -> np.ndarray:
        """R's ``family$aic`` for this response, as a function of :math:`\\mu`:

        .. math:: V'(\\mu) = 1"""
        return np.ones_like(mu)

    def quasi_loglik(self, y: np.ndarray, mu: np.ndarray) -> float:
        """R's ``family$aic`` for this response, as a function of :math:`\\mu`:

        .. math:: Q = \\sum_i y_i\\log\\mu_i - \\mu_i"""
        return float(np.sum(y * np.log(mu) - mu))

    def deviance_function(self, y: np.ndarray, wt: np.ndarray) -> DevianceFunction:
        return lambda mu: 2.0 * wt * (xlogy(y, y / mu) - (y - mu))

    def aic_function(self, y: np.ndarray, wt: np.ndarray, trials: np.ndarray | None) -> AicFunction:
        """R's ``family$aic`` for this response, as a function of :math:`\\mu`:

        .. math:: -2\\sum_i w_i\\,[y_i\\log\\mu_i - \\mu_i - \\log y_i!]"""
        log_factorial = gammaln(y + 1.0)
        return lambda mu: float(-2.0 * np.sum(wt * (xlogy(y, mu) - mu - log_factorial)))

    def mustart(self, y: np.ndarray, wt: np.ndarray) -> np.ndarray:
        return y + 0.1


class NegativeBinomial(_Counts):
    """Negative binomial family with a known shape :math:`\\theta` (MASS's
    ``negative.binomial(theta)``); links ``"log"`` (default), ``"sqrt"``, ``"identity"``.

    .. math::
        V(\\mu) = \\mu + \\mu^2/\\theta,\\qquad
        d_i = 2 w_i\\Big[y_i\\log\\frac{y_i}{\\mu_i}
              - (y_i + \\theta)\\log\\frac{y_i + \\theta}{\\mu_i + \\theta}\\Big].

    Parameters
    ----------
    theta : float
        The shape (``size`` of R's ``dnbinom``); larger values are closer to Poisson.
    """

    links = ("log", "sqrt", "identity")

    def __init__(self, theta: float, link: str | None = None, clamp: bool = True) -> None:
        if isinstance(theta, bool) or not np.isfinite(theta) or theta <= 0:
            raise ValueError(f"the negative binomial theta must be a positive number, got {theta!r}")
        self.theta = float(theta)
        self.family_name = f"Negative Binomial({format_number(float(round_r(self.theta, 4)))})"
        super().__init__(link, clamp)

    def with_clamp(self, clamp: bool) -> Family:
        return self if clamp == self.clamp else NegativeBinomial(self.theta, self.link, clamp)

    def variance(self, mu: np.ndarray) -> np.ndarray:
        return mu + mu**2 / self.theta

    def variance_slope(self, mu: np.ndarray) -> np.ndarray:
        """R's ``family$aic`` for this response, as a function of :math:`\\mu`:

        .. math:: V'(\\mu) = 1 + 2\\mu/\\theta"""
        return 1.0 + 2.0 * mu / self.theta

    def deviance_function(self, y: np.ndarray, wt: np.ndarray) -> DevianceFunction:
        th = self.theta
        return lambda mu: 2.0 * wt * (xlogy(y, y / mu) - (y + th) * np.log((y + th) / (mu + th)))

    def aic_function(self, y: np.ndarray, wt: np.ndarray, trials: np.ndarray | None) -> AicFunction:
        """R's ``family$aic`` for this response, as a function of :math:`\\mu`:

        .. math:: 2\\sum_i w_i\\big[(y_i+\\theta)\\log(\\mu_i+\\theta) - y_i\\log\\mu_i + \\log y_i!
            - \\theta\\log\\theta + \\log\\Gamma(\\theta) - \\log\\Gamma(\\theta + y_i)\\big]"""
        th = self.theta
        constant = gammaln(y + 1.0) - th * np.log(th) + gammaln(th) - gammaln(th + y)
        return lambda mu: float(2.0 * np.sum(wt * ((y + th) * np.log(mu + th) - xlogy(y, mu) + constant)))

    def mustart(self, y: np.ndarray, wt: np.ndarray) -> np.ndarray:
        means: np.ndarray = y + (y == 0) / 6.0
        return means


class _Continuous(Family):
    """Families with a dispersion: the ``aic`` term profiles it from the deviance."""

    has_dispersion = True

    def mustart(self, y: np.ndarray, wt: np.ndarray) -> np.ndarray:
        return y


class Gamma(_Continuous):
    """Gamma family; links ``"inverse"`` (canonical), ``"log"``, ``"identity"``.

    .. math::
        V(\\mu) = \\mu^2,\\qquad
        d_i = -2 w_i\\Big[\\log\\frac{y_i}{\\mu_i} - \\frac{y_i - \\mu_i}{\\mu_i}\\Big],

    and ``aic`` is :math:`-2\\sum_i w_i\\log f(y_i; 1/\\phi, \\mu_i\\phi) + 2` with the gamma density
    of shape :math:`1/\\phi` and scale :math:`\\mu_i\\phi`, :math:`\\phi = D/\\sum_i w_i`.
    """

    family_name = "Gamma"
    links = ("inverse", "log", "identity")

    def variance(self, mu: np.ndarray) -> np.ndarray:
        return mu**2

    def variance_slope(self, mu: np.ndarray) -> np.ndarray:
        """R's ``family$aic`` for this response, as a function of :math:`\\mu`:

        .. math:: V'(\\mu) = 2\\mu"""
        return 2.0 * mu

    def quasi_loglik(self, y: np.ndarray, mu: np.ndarray) -> float:
        """geepack's Gamma quasi-likelihood, as ``QIC()`` codes it, ``sum(-y/(mu - log(mu)))``:

        .. math:: Q = -\\sum_i \\frac{y_i}{\\mu_i - \\log\\mu_i}

        (the textbook :math:`-\\sum_i (y_i/\\mu_i + \\log\\mu_i)` with its parentheses misplaced;
        kept so that ``QIC`` gives geepack's numbers)."""
        return float(np.sum(-y / (mu - np.log(mu))))

    def deviance_function(self, y: np.ndarray, wt: np.ndarray) -> DevianceFunction:
        return lambda mu: -2.0 * wt * (xlogy(1.0, y / mu) - (y - mu) / mu)

    def aic_function(self, y: np.ndarray, wt: np.ndarray, trials: np.ndarray | None) -> AicFunction:
        deviance = self.deviance_function(y, wt)
        total_weight = float(np.sum(wt))

        def aic(mu: np.ndarray) -> float:
            dispersion = float(np.sum(deviance(mu))) / total_weight
            shape = 1.0 / dispersion
            scale = mu * dispersion
            log_density = -gammaln(shape) - shape * np.log(scale) + xlogy(shape - 1.0, y) - y / scale
            return float(-2.0 * np.sum(log_density * wt) + 2.0)
        return aic

    def check_range(self, y: np.ndarray) -> None:
        if np.any(y <= 0.0):
            raise ValueError("Gamma response must be positive; found values <= 0")

    def validate(self, y: np.ndarray, wt: np.ndarray, response: str, counts: bool) -> None:
        if counts:
            raise ValueError("a cbind(successes, failures) response needs family='binomial'")
        if np.any(y <= 0.0):
            raise ValueError(f"Gamma response '{response}' has values <= 0; the Gamma family needs "
                             "positive responses")


class Gaussian(_Continuous):
    """Gaussian family; links ``"identity"`` (canonical), ``"log"``, ``"inverse"``.

    .. math::
        V(\\mu) = 1,\\quad V'(\\mu) = 0,\\quad d_i = w_i(y_i - \\mu_i)^2,\\quad
        Q = -\\tfrac12\\sum_i (y_i - \\mu_i)^2,

    and ``aic`` is :math:`n(\\log(2\\pi D/n) + 1) + 2 - \\sum_i\\log w_i`.
    """

    family_name = "gaussian"
    links = ("identity", "log", "inverse")

    def variance(self, mu: np.ndarray) -> np.ndarray:
        return np.ones_like(mu)

    def variance_slope(self, mu: np.ndarray) -> np.ndarray:
        return np.zeros_like(mu)

    def quasi_loglik(self, y: np.ndarray, mu: np.ndarray) -> float:
        return float(np.sum((y - mu) ** 2 / -2.0))

    def deviance_function(self, y: np.ndarray, wt: np.ndarray) -> DevianceFunction:
        return lambda mu: wt * (y - mu) ** 2

    def aic_function(self, y: np.ndarray, wt: np.ndarray, trials: np.ndarray | None) -> AicFunction:
        n = len(y)
        log_weights = float(np.sum(np.log(wt)))
        deviance = self.deviance_function(y, wt)
        return lambda mu: n * (float(np.log(float(np.sum(deviance(mu))) / n * 2.0 * np.pi)) + 1.0) + 2.0 - log_weights

    def check_range(self, y: np.ndarray) -> None:
        """Every real response is allowed."""

    def validate(self, y: np.ndarray, wt: np.ndarray, response: str, counts: bool) -> None:
        if counts:
            raise ValueError("a cbind(successes, failures) response needs family='binomial'")
        if self.link in ("log", "inverse") and np.any(y <= 0.0):
            raise ValueError(f"gaussian response '{response}' has values <= 0: no valid starting "
                             f"values for the {self.link} link")


__all__ = ["AicFunction", "Binomial", "DevianceFunction", "EPS", "Family", "Gamma", "Gaussian", "LINKS",
           "NegativeBinomial", "Poisson"]
