"""SGD and Adam (23): exact update rules, Adam against Kingma & Ba's Algorithm 1, and convergence."""
import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from strategies import dims, seeds

import nppg


def adam_reference(theta, grads, alpha, beta1, beta2, eps):
    """Kingma & Ba (2015), Algorithm 1, one scalar at a time as printed in the paper.

    theta: list of floats; grads: one list of floats per step. Returns the final theta.
    """
    theta = list(theta)
    m = [0.0] * len(theta)  # 1st moment vector
    v = [0.0] * len(theta)  # 2nd moment vector
    t = 0
    for g in grads:
        t = t + 1
        for i in range(len(theta)):
            m[i] = beta1 * m[i] + (1 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] ** 2
            m_hat = m[i] / (1 - beta1**t)
            v_hat = v[i] / (1 - beta2**t)
            theta[i] = theta[i] - alpha * m_hat / (math.sqrt(v_hat) + eps)
    return theta


def random_params(rng, d):
    """Two parameters of different shapes, like a layer's W and b."""
    return {"W": rng.standard_normal((d, d + 1)), "b": rng.standard_normal(d + 1)}


def random_quadratic(rng, d):
    """f(x) = 1/2 (x - c)^T A (x - c) with A symmetric positive definite, eigenvalues in [0.5, 5]."""
    Q = np.linalg.qr(rng.standard_normal((d, d)))[0]
    eigenvalues = rng.uniform(0.5, 5.0, d)
    return (Q * eigenvalues) @ Q.T, rng.standard_normal(d), eigenvalues


@given(seed=seeds, d=dims, lr=st.floats(1e-4, 1.0))
def test_sgd_step_is_theta_minus_lr_g_in_place(seed, d, lr):
    """theta <- theta - lr g, on the same arrays the model reads (no copies)."""
    rng = np.random.default_rng(seed)
    params = random_params(rng, d)
    arrays, before = dict(params), {k: p.copy() for k, p in params.items()}
    grads = {k: rng.standard_normal(p.shape) for k, p in params.items()}
    nppg.SGD(params, lr=lr).step(grads)
    for k in params:
        assert params[k] is arrays[k]
        assert np.array_equal(params[k], before[k] - lr * grads[k])


@given(seed=seeds, d=dims, lr=st.floats(1e-4, 1e-1))
def test_adam_first_step_is_lr_times_sign_of_g(seed, d, lr):
    """At t = 1, m_hat = g and v_hat = g^2: the step is lr g / (|g| + eps) = lr sign(g) to within eps / |g| <= 1e-7."""
    rng = np.random.default_rng(seed)
    params = random_params(rng, d)
    before = {k: p.copy() for k, p in params.items()}
    sign_g = {k: rng.choice([-1.0, 1.0], p.shape) for k, p in params.items()}
    grads = {k: s * 10.0 ** rng.uniform(-1, 2, s.shape) for k, s in sign_g.items()}  # |g| in [0.1, 100]
    nppg.Adam(params, lr=lr).step(grads)
    for k in params:
        np.testing.assert_allclose(params[k] - before[k], -lr * sign_g[k], rtol=1e-6, atol=0)


@given(seed=seeds, d=dims, n_steps=st.integers(1, 8), lr=st.floats(1e-4, 1e-1), beta1=st.floats(0.0, 0.99),
       beta2=st.floats(0.9, 0.9999), eps=st.floats(1e-8, 1e-3))
def test_adam_matches_algorithm_1_of_kingma_and_ba(seed, d, n_steps, lr, beta1, beta2, eps):
    """(23) m, v, bias correction and update, step for step, for any hyperparameters."""
    rng = np.random.default_rng(seed)
    params = random_params(rng, d)
    start = {k: p.copy() for k, p in params.items()}
    grads = [{k: rng.standard_normal(p.shape) for k, p in params.items()} for _ in range(n_steps)]
    adam = nppg.Adam(params, lr=lr, beta1=beta1, beta2=beta2, eps=eps)
    for g in grads:
        adam.step(g)
    assert adam.t == n_steps
    for k in params:
        g_k = [g[k].ravel().tolist() for g in grads]
        expected = adam_reference(start[k].ravel().tolist(), g_k, lr, beta1, beta2, eps)
        np.testing.assert_allclose(params[k].ravel(), expected, rtol=1e-12, atol=1e-14)


@given(seed=seeds, d=dims)
def test_adam_leaves_parameters_without_a_gradient_untouched(seed, d):
    """Only the keys in grads move; the rest are not read or written."""
    rng = np.random.default_rng(seed)
    params = random_params(rng, d)
    b_before = params["b"].copy()
    nppg.Adam(params, lr=0.1).step({"W": rng.standard_normal(params["W"].shape)})
    assert np.array_equal(params["b"], b_before)


@given(seed=seeds, d=dims)
def test_sgd_minimises_a_convex_quadratic(seed, d):
    """Descent with lr = 1 / lambda_max contracts x - c by at least 1 - lambda_min / lambda_max = 0.9 per step."""
    rng = np.random.default_rng(seed)
    A, c, eigenvalues = random_quadratic(rng, d)
    params = {"x": c + 3.0 * rng.standard_normal(d)}
    sgd = nppg.SGD(params, lr=1.0 / eigenvalues.max())
    for _ in range(300):
        sgd.step({"x": A @ (params["x"] - c)})  # grad f(x) = A (x - c)
    np.testing.assert_allclose(params["x"], c, rtol=0, atol=1e-10)


@given(seed=seeds, d=dims)
def test_adam_minimises_a_convex_quadratic(seed, d):
    """Adam with a constant lr reaches the minimum, though it may keep circling it with steps of about lr:
    the last iterate is within lr of c, and the mean of the last 100 iterates within lr / 100."""
    rng = np.random.default_rng(seed)
    A, c, _ = random_quadratic(rng, d)
    params = {"x": c + 3.0 * rng.standard_normal(d)}
    lr = 0.1
    adam = nppg.Adam(params, lr=lr)
    tail = []
    for step in range(2000):
        adam.step({"x": A @ (params["x"] - c)})
        if step >= 1900:
            tail.append(params["x"].copy())
    np.testing.assert_allclose(params["x"], c, rtol=0, atol=lr)
    np.testing.assert_allclose(np.mean(tail, axis=0), c, rtol=0, atol=lr / 100)
