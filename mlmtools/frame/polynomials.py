"""R's orthogonal and raw polynomials, ``poly(x, degree)`` and ``poly(x, degree, raw = TRUE)``.

The orthogonal basis is defined by three-term recurrence coefficients learned from the data
(R's ``coefs``: ``alpha`` and ``norm2``), kept to evaluate the same polynomials on new data
(R's ``makepredictcall``).
"""

from __future__ import annotations

import numpy as np


def poly_coefficients(x: np.ndarray, degree: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Recurrence coefficients of R's orthogonal polynomials ``poly(x, degree)``.

    The monic polynomials orthogonal over the points :math:`x_i` satisfy

    .. math::
        P_0 = 1,\quad P_1 = x - \alpha_0,\quad
        P_{k+1} = (x - \alpha_k) P_k - \frac{\lVert P_k\rVert^2}{\lVert P_{k-1}\rVert^2} P_{k-1},
        \qquad \alpha_k = \frac{\sum_i x_i P_k(x_i)^2}{\lVert P_k\rVert^2},

    and R returns :math:`P_k / \lVert P_k\rVert` for :math:`k = 1..degree`. ``norm2`` is
    R's vector ``(1, ||P_0||^2, ..., ||P_degree||^2)``.
    """
    previous, current = np.zeros_like(x), np.ones_like(x)
    alpha = np.empty(degree)
    norm2 = [1.0, float(x.size)]
    for k in range(degree):
        alpha[k] = float(np.sum(x * current**2) / norm2[-1])
        following = (x - alpha[k]) * current - (norm2[-1] / norm2[-2]) * previous
        previous, current = current, following
        norm2.append(float(np.sum(current**2)))
    return alpha, np.array(norm2)


def poly_evaluate(x: np.ndarray, alpha: np.ndarray, norm2: np.ndarray) -> np.ndarray:
    """The orthonormal polynomials of :func:`poly_coefficients` at ``x``, shape ``(len(x), degree)``."""
    degree = alpha.size
    columns = [np.ones_like(x), x - alpha[0]]
    for k in range(1, degree):
        columns.append((x - alpha[k]) * columns[k] - (norm2[k + 1] / norm2[k]) * columns[k - 1])
    basis = np.column_stack(columns[1:])
    scaled: np.ndarray = basis / np.sqrt(norm2[2:])
    return scaled


def raw_powers(x: np.ndarray, degree: int) -> np.ndarray:
    """R's ``poly(x, degree, raw = TRUE)``: the columns :math:`x, x^2, \\dots, x^{degree}`."""
    powers: np.ndarray = x[:, None] ** np.arange(1, degree + 1, dtype=float)
    return powers
