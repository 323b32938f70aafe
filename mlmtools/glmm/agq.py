"""Adaptive Gauss-Hermite quadrature deviance for one scalar random-effects term.

lme4's ``glmerAGQ`` (``nAGQ > 1``).  With a single scalar term the integral over the random
effects factors into one integral per level :math:`j`.  Around the conditional mode
:math:`\\tilde u_j` (from :func:`mlmtools.glmm.pirls.penalized_irls`) with scale :math:`s_j = 1/L_{jj}`, let

.. math::
    \\mathrm{devc}_j(u) = u^2 + \\sum_{i \\in j} d_i(y_i, \\mu_i(u)),\\qquad
    \\mathrm{devc}^0_j = \\mathrm{devc}_j(\\tilde u_j).

For the Gauss-Hermite rule :math:`(z_m, w_m)` of the standard normal kernel (weights summing
to one), the deviance is

.. math::
    d_k(\\theta, \\beta) = \\sum_j \\mathrm{devc}^0_j + \\log|L|^2
        - 2\\sum_j \\log \\sum_m w_m \\exp\\!\\Big(\\frac{z_m^2}{2}
        - \\frac{\\mathrm{devc}_j(\\tilde u_j + z_m s_j) - \\mathrm{devc}^0_j}{2}\\Big).

It uses unit deviances (not :math:`-2\\log p`), exactly as lme4 does; for 0/1 data the two
coincide.  With one node (:math:`z = 0`, :math:`w = 1`) it reduces to the Laplace deviance
written with unit deviances.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.polynomial.hermite import hermgauss

from mlmtools.glmm.pirls import GlmmData, PirlsResult

MAX_NODES = 100  # lme4's GHrule accepts orders below 101


@cache
def gauss_hermite_normal(n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes and weights for :math:`\\int f(z)\\,\\phi(z)\\,dz`.

    .. math:: z_m = \\sqrt{2}\\,x_m,\\qquad w_m = \\omega_m / \\sqrt{\\pi},

    from the physicists' rule :math:`(x_m, \\omega_m)` for the kernel :math:`e^{-x^2}`; the
    weights sum to one. The rule is computed once per size (the arrays are read-only).
    """
    if not 1 <= n_nodes <= MAX_NODES:
        raise ValueError(f"the number of quadrature nodes must be between 1 and {MAX_NODES}, got {n_nodes}")
    x, omega = hermgauss(n_nodes)
    z = np.sqrt(2.0) * x
    if n_nodes % 2:
        z[n_nodes // 2] = 0.0
    weights = omega / np.sqrt(np.pi)
    z.flags.writeable = weights.flags.writeable = False
    return z, weights


def agq_deviance(data: GlmmData, theta: np.ndarray, beta: np.ndarray, mode: PirlsResult,
                 n_nodes: int) -> float:
    """The adaptive Gauss-Hermite deviance :math:`d_k(\\theta, \\beta)` (module docstring).

    Parameters
    ----------
    data : GlmmData
        Must have exactly one scalar random-effects term.
    theta, beta : numpy.ndarray
        Parameters at which ``mode`` was computed (PIRLS over u with beta fixed).
    mode : PirlsResult
    n_nodes : int
        Number of quadrature nodes (lme4's ``nAGQ``).
    """
    if not data.single_scalar:
        raise ValueError("adaptive Gauss-Hermite quadrature needs a single scalar random-effects term")
    codes, z_entries = data.scalar_term
    n_levels = data.terms[0].n_levels
    loadings = float(theta[0]) * z_entries
    response = data.response
    fixed = data.X @ beta if response.offset is None else data.X @ beta + response.offset
    devc0 = np.bincount(codes, mode.dev_resids, minlength=n_levels) + mode.u**2
    scale = 1.0 / mode.l_diagonal
    nodes, weights = gauss_hermite_normal(n_nodes)
    moved = nodes != 0.0
    # every node but the centre at once: row m holds u + z_m s and the observations' means there;
    # bincount over codes offset by the row adds each (node, level) in observation order
    u = mode.u[None, :] + nodes[moved, None] * scale[None, :]
    eta = fixed[None, :] + loadings[None, :] * u[:, codes]
    mu, _ = response.link.mean(eta)
    unit = response.unit_deviances(mu)
    rows = len(u)
    level_sums = np.bincount((codes[None, :] + n_levels * np.arange(rows)[:, None]).ravel(), unit.ravel(),
                             minlength=rows * n_levels).reshape(rows, n_levels)
    change = level_sums + u**2 - devc0[None, :]
    terms = iter(weights[moved, None] * np.exp(0.5 * nodes[moved, None] ** 2 - 0.5 * change))
    total = np.zeros(n_levels)
    for is_moved, w in zip(moved, weights):
        total += next(terms) if is_moved else w
    return float(np.sum(devc0) + mode.log_det_L2 - 2.0 * np.sum(np.log(total)))
