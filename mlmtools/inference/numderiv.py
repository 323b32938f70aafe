"""Numerical derivatives as R computes them: numDeriv's Richardson scheme and lme4's ``deriv12``.

Two schemes are used in the package, each chosen to reproduce R's numbers:

* :func:`hessian` and :func:`jacobian` follow numDeriv (``hessian`` through ``genD``, and
  ``jacobian``), which lmerTest uses for Satterthwaite's method: central differences over
  the steps :math:`h_0, h_0/2, \\ldots, h_0/2^{r-1}`, with

  .. math:: h_0 = |d\\,x| + 10^{-4}\\,[\\,|x| < \\text{zero.tol}\\,],

  combined by Richardson extrapolation (:func:`richardson`).
* :func:`central_derivatives` is lme4's ``deriv12``: one step :math:`\\delta` (default
  :math:`10^{-4}`), used for glmer's Hessian and for lme4's gradient check.

Both numDeriv functions work on a batch of points at once: ``x`` has shape
``(k, *batch)`` (k parameters, any number of trailing batch axes, e.g. one column per
simulated data set) and ``func`` maps such an array to values of shape ``(*batch)`` (or
``(*batch, ...)`` for :func:`jacobian`).  A plain vector ``x`` of shape ``(k,)`` is the
batch of one point.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: numDeriv's ``zero.tol``: coordinates smaller than this get the absolute step ``eps``.
ZERO_TOL = float(np.sqrt(np.finfo(float).eps / 7e-7))


def richardson(approximations: list[np.ndarray]) -> np.ndarray:
    """Richardson extrapolation of approximations over steps halved each time (numDeriv, ``v = 2``).

    With :math:`A_k^{(0)}` the approximation at step :math:`h_0/2^k`,

    .. math:: A_k^{(m)} = \\frac{4^m A_{k+1}^{(m-1)} - A_k^{(m-1)}}{4^m - 1},

    and the result is :math:`A_0^{(r-1)}`.
    """
    values = [np.asarray(a, dtype=float) for a in approximations]
    for order in range(1, len(values)):
        factor = 4.0**order
        values = [(values[k + 1] * factor - values[k]) / (factor - 1.0) for k in range(len(values) - 1)]
    return values[0]


def initial_steps(x: np.ndarray, d: float, eps: float = 1e-4) -> np.ndarray:
    """numDeriv's first steps :math:`h_0 = |d\\,x| + \\epsilon\\,[|x| < \\text{zero.tol}]`."""
    x = np.asarray(x, dtype=float)
    steps: np.ndarray = np.abs(d * x) + eps * (np.abs(x) < ZERO_TOL)
    return steps


def _unit(x: np.ndarray, i: int, h: np.ndarray) -> np.ndarray:
    """The step ``h[i]`` along coordinate ``i`` (zero elsewhere), shaped like ``x``."""
    step = np.zeros_like(x)
    step[i] = h[i]
    return step


def hessian(func: Callable[[np.ndarray], np.ndarray | float], x: np.ndarray, d: float = 0.1,
            r: int = 4) -> np.ndarray:
    """Hessian by numDeriv's ``genD`` (as ``numDeriv::hessian``), for a batch of points.

    Diagonal: :math:`(f(x+h_ie_i) - 2f(x) + f(x-h_ie_i))/h_i^2`; off-diagonal:

    .. math:: \\frac{f(x+h_ie_i+h_je_j) - 2f(x) + f(x-h_ie_i-h_je_j)
        - H_{ii}h_i^2 - H_{jj}h_j^2}{2h_ih_j},

    each over the steps :math:`h_0/2^k` (:func:`initial_steps`), then extrapolated
    (:func:`richardson`).

    Parameters
    ----------
    func : callable
        Maps an array of shape ``(k, *batch)`` to values of shape ``(*batch)``.
    x : numpy.ndarray
        Shape ``(k, *batch)``.
    d, r : float, int
        numDeriv's relative step and number of Richardson steps.

    Returns
    -------
    numpy.ndarray
        Shape ``(k, k, *batch)``.
    """
    x = np.asarray(x, dtype=float)
    k = x.shape[0]
    f0 = np.asarray(func(x), dtype=float)
    h0 = initial_steps(x, d)
    steps = [h0 / 2**m for m in range(r)]

    def second_difference(step: np.ndarray) -> np.ndarray:
        difference: np.ndarray = (np.asarray(func(x + step), dtype=float) - 2 * f0
                                  + np.asarray(func(x - step), dtype=float))
        return difference

    out = np.empty((k, k) + f0.shape)
    for i in range(k):
        out[i, i] = richardson([second_difference(_unit(x, i, h)) / h[i] ** 2 for h in steps])
    for i in range(k):
        for j in range(i):
            out[i, j] = out[j, i] = richardson([
                (second_difference(_unit(x, i, h) + _unit(x, j, h))
                 - out[i, i] * h[i] ** 2 - out[j, j] * h[j] ** 2) / (2 * h[i] * h[j])
                for h in steps])
    return out


def jacobian(func: Callable[[np.ndarray], np.ndarray | float], x: np.ndarray, d: float = 1e-4,
             r: int = 4) -> np.ndarray:
    """Jacobian by Richardson extrapolation of central differences (``numDeriv::jacobian``).

    .. math:: \\frac{\\partial f}{\\partial x_i} \\approx
        \\frac{f(x + h_ie_i) - f(x - h_ie_i)}{2h_i}\\ \\text{over } h_0/2^k,\\ \\text{extrapolated}.

    Returns
    -------
    numpy.ndarray
        Shape ``(k,) + func(x).shape``.
    """
    x = np.asarray(x, dtype=float)
    h0 = initial_steps(x, d)
    steps = [h0 / 2**m for m in range(r)]
    return np.asarray([
        richardson([(np.asarray(func(x + _unit(x, i, h)), dtype=float)
                     - np.asarray(func(x - _unit(x, i, h)), dtype=float)) / (2 * h[i]) for h in steps])
        for i in range(x.shape[0])])


def central_derivatives(objective: Callable[[np.ndarray], float], x: np.ndarray, fx: float,
                        delta: float = 1e-4, free: np.ndarray | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian by central differences with one step (lme4's ``deriv12``).

    .. math::
        g_i = \\frac{f(x + \\delta e_i) - f(x - \\delta e_i)}{2\\delta},\\qquad
        H_{ii} = \\frac{f(x + \\delta e_i) - 2 f(x) + f(x - \\delta e_i)}{\\delta^2},

        H_{ij} = \\frac{f(x + \\delta e_i + \\delta e_j) - f(x + \\delta e_i - \\delta e_j)
            - f(x - \\delta e_i + \\delta e_j) + f(x - \\delta e_i - \\delta e_j)}{4\\delta^2}.

    Parameters
    ----------
    objective : callable
        Function of a vector.
    x : numpy.ndarray
        The point.
    fx : float
        ``objective(x)`` (not evaluated again).
    delta : float
        The step.
    free : numpy.ndarray of int, optional
        Differentiate over these coordinates only (all by default).

    Returns
    -------
    tuple of numpy.ndarray
        The gradient (length ``len(free)``) and the Hessian over the ``free`` coordinates.
    """
    x = np.asarray(x, dtype=float)
    free = np.arange(len(x)) if free is None else np.asarray(free, dtype=int)
    k = free.size
    grad, hess = np.empty(k), np.empty((k, k))
    steps = np.zeros((k, len(x)))
    steps[np.arange(k), free] = delta
    for a in range(k):
        f_plus, f_minus = objective(x + steps[a]), objective(x - steps[a])
        grad[a] = (f_plus - f_minus) / (2 * delta)
        hess[a, a] = (f_plus - 2 * fx + f_minus) / delta**2
        for c in range(a):
            hess[a, c] = hess[c, a] = (
                objective(x + steps[a] + steps[c]) - objective(x + steps[a] - steps[c])
                - objective(x - steps[a] + steps[c]) + objective(x - steps[a] - steps[c])
            ) / (4 * delta**2)
    return grad, hess
