"""numDeriv's Richardson scheme and lme4's deriv12 (mlmtools.inference.numderiv)."""

import numpy as np

from mlmtools.inference.numderiv import central_derivatives, hessian, jacobian


def _function(x):
    return np.exp(x[0]) * np.sin(x[1]) + x[0] ** 2 * x[1]


def _exact_hessian(x):
    a, b = x
    return np.array([[np.exp(a) * np.sin(b) + 2 * b, np.exp(a) * np.cos(b) + 2 * a],
                     [np.exp(a) * np.cos(b) + 2 * a, -np.exp(a) * np.sin(b)]])


def test_hessian_of_a_batch_equals_the_hessian_of_each_point():
    points = np.array([[0.3, -1.2, 0.0], [0.7, 2.0, 1.5]])  # k = 2 parameters, 3 points
    batch = hessian(_function, points)
    assert batch.shape == (2, 2, 3)
    for j in range(3):
        single = hessian(_function, points[:, j])
        np.testing.assert_array_equal(batch[..., j], single)
        np.testing.assert_allclose(single, _exact_hessian(points[:, j]), atol=1e-5)


def test_jacobian_of_a_batch_equals_the_jacobian_of_each_point():
    points = np.array([[0.3, -1.2], [0.7, 2.0]])
    batch = jacobian(_function, points)
    for j in range(2):
        np.testing.assert_array_equal(batch[:, j], jacobian(_function, points[:, j]))
    a, b = points
    np.testing.assert_allclose(batch, [np.exp(a) * np.sin(b) + 2 * a * b, np.exp(a) * np.cos(b) + a**2],
                               rtol=1e-9)


def test_central_derivatives_over_free_coordinates_only():
    x = np.array([0.3, 0.7])
    grad, hess = central_derivatives(_function, x, _function(x), free=np.array([1]))
    assert grad.shape == (1,) and hess.shape == (1, 1)
    np.testing.assert_allclose(hess[0, 0], _exact_hessian(x)[1, 1], rtol=1e-6)
