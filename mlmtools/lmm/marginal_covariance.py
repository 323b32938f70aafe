"""The marginal covariance of the response of a linear mixed model and its derivatives in the
covariance parameters: the model-specific matrices of Kenward and Roger's method
(:mod:`mlmtools.inference.kenward_roger`), as pbkrtest's ``get_SigmaG`` builds them.

For random-effects term :math:`t` with columns :math:`Z_t` (the term's block of :math:`Z`,
levels in lme4's order) and covariance :math:`\\Sigma_t = \\hat\\sigma^2 T_t T_t^\\top` of its
:math:`k` effects per level, the covariance parameters are the lower triangle of each
:math:`\\Sigma_t`, column by column, then :math:`\\sigma^2`:

.. math::
    \\operatorname{Var}(y) = \\Sigma = \\sum_t \\sum_{a \\ge c} (\\Sigma_t)_{ac}\\, G_{t,ac} + \\sigma^2 I,
    \\qquad G_{t,ac} = Z_t (I \\otimes E_{ac}) Z_t^\\top,

with :math:`E_{ac}` the :math:`k \\times k` matrix with ones at :math:`(a, c)` and :math:`(c, a)`, so
:math:`G_{t,ac} = Z_{ta}Z_{tc}^\\top + Z_{tc}Z_{ta}^\\top` for :math:`a \\ne c` and :math:`Z_{ta}Z_{ta}^\\top`
on the diagonal (:math:`Z_{ta}`: the columns of component :math:`a`). As in pbkrtest, prior
weights are not part of :math:`\\Sigma`; the matrices are dense, :math:`n \\times n`.
"""

from __future__ import annotations

import numpy as np

from mlmtools.lmm.problem import LmmProblem

#: Kenward-Roger forms dense n x n matrices (as pbkrtest does); above this many observations
#: that needs more memory than is reasonable, and the method is refused.
MAX_OBSERVATIONS = 10_000


def covariance_parameter_matrices(problem: LmmProblem, theta: np.ndarray, sigma: float
                                  ) -> tuple[np.ndarray, list[np.ndarray]]:
    """:math:`\\Sigma` and the :math:`G_i`, in pbkrtest's order (module docstring).

    Returns
    -------
    tuple
        ``(Sigma, G)``: the n x n marginal covariance and the list of its derivatives, one per
        covariance parameter (the last one the identity, for :math:`\\sigma^2`).

    Raises
    ------
    ValueError
        For more than :data:`MAX_OBSERVATIONS` observations.

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmm import lmer
    >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
    >>> Sigma, G = covariance_parameter_matrices(fit.state.problem, fit.theta, fit.sigma)
    >>> Sigma.shape, len(G), round(float(Sigma[0, 0]), 2)  # 3 parameters of the term, then sigma^2
    ((180, 180), 4, 1267.04)
    """
    n = problem.n
    if n > MAX_OBSERVATIONS:
        raise ValueError(f"Kenward-Roger's method forms n x n matrices; with {n} observations (more than "
                         f"{MAX_OBSERVATIONS}) use ddf='satterthwaite'")
    Z = problem.Z
    sigma_matrix = np.zeros((n, n))
    derivatives: list[np.ndarray] = []
    for term in problem.terms:
        block = Z[:, term.b_slice].toarray().reshape(n, term.n_levels, term.k)
        T = term.template(theta)
        covariance = sigma**2 * T @ T.T
        for c in range(term.k):
            for a in range(c, term.k):
                product = block[:, :, a] @ block[:, :, c].T
                G = product if a == c else product + product.T
                derivatives.append(G)
                sigma_matrix += covariance[a, c] * G
    derivatives.append(np.eye(n))
    sigma_matrix += sigma**2 * np.eye(n)
    return sigma_matrix, derivatives
