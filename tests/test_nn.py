"""Every backward in nppg.nn against finite differences, and the gradient checker itself.

Each check differentiates the scalar ``sum(dy * forward(...))`` for a random upstream gradient
``dy``: its gradient with respect to an input is exactly what the matching backward returns
when handed ``dy``. A relative error below 1e-6 means they agree.
"""
import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st
from strategies import (TOL, activations, assert_grads_match, away_from_kink, dims, hidden_sizes, redraw_params, rows,
                        seeds)

import nppg
from nppg.nn import (MLP, linear_backward, linear_forward, orthogonal, relu_backward, relu_forward, tanh_backward,
                     tanh_forward)


# ---- the checker ---------------------------------------------------------------------------

@given(seed=seeds, n=rows, d=dims)
def test_numerical_grad_matches_a_known_derivative_and_restores_x(seed, n, d):
    """d/dx sum(c x^3 + sin x) = 3 c x^2 + cos x, and x comes back bit for bit."""
    rng = np.random.default_rng(seed)
    x, c = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    x_before = x.copy()
    num = nppg.numerical_grad(lambda: float(np.sum(c * x**3 + np.sin(x))), x)
    assert nppg.rel_error(3 * c * x**2 + np.cos(x), num) < TOL
    assert np.array_equal(x, x_before)


@given(seed=seeds, offset=st.floats(-1e3, 1e3))
def test_numerical_grad_is_exactly_zero_where_f_does_not_change(seed, offset):
    """A dead ReLU unit: f is bit-identical under the perturbation, so the stencil must read 0."""
    rng = np.random.default_rng(seed)
    x = -0.5 - rng.random(5)  # all negative: relu(x) = 0 near x
    w = rng.standard_normal(5)
    num = nppg.numerical_grad(lambda: offset + float(np.sum(w * np.maximum(x, 0.0))), x)
    assert np.all(num == 0.0)


def test_rel_error_flags_a_wrong_gradient():
    """The criterion can fail: one flipped sign, or a 1e-5 relative slip, exceeds 1e-6."""
    g = np.array([1.0, -2.0, 3e-3])
    assert nppg.rel_error(g, g) == 0.0
    assert nppg.rel_error(g, g * [1.0, -1.0, 1.0]) == 1.0
    assert nppg.rel_error(g, g * (1 + 1e-5)) > TOL


def test_check_grads_forgives_rounding_on_tiny_entries_but_not_a_wrong_one():
    """f = 1000 + sum(c x^3): its centred differences carry ~ulp(1000) / eps = 1e-10 of rounding, which
    the bare criterion reads as a wrong entry of 1e-7 and check_grads forgives; a 1% error on an entry
    of 1e-5, or a 1e-5 slip on an ordinary one, still fails."""
    x = np.array([0.3, -0.7, 0.5, 0.2])
    c = np.array([2.0, 1.0, 1e-7 / 0.75, 1e-5 / 0.12])          # gradients 3 c x^2: 0.54, 1.47, 1e-7, 1e-5
    f = lambda: 1000.0 + float(np.sum(c * x**3))
    true = 3 * c * x**2
    assert nppg.rel_error(true, nppg.numerical_grad(f, x)) > TOL  # rounding alone, on the 1e-7 entry
    assert max(nppg.check_grads(f, {"x": x}, {"x": true}).values()) < TOL
    assert max(nppg.check_grads(f, {"x": x}, {"x": true * [1, 1, 1, 1.01]}).values()) > TOL
    assert max(nppg.check_grads(f, {"x": x}, {"x": true * [1, 1 + 1e-5, 1, 1]}).values()) > TOL


# ---- one layer at a time -------------------------------------------------------------------

@given(seed=seeds, n=rows, d=dims, h=dims)
def test_linear_backward_matches_finite_differences(seed, n, d, h):
    """(20) dx = dy W^T, dW = x^T dy, db = 1^T dy (sum over rows)."""
    rng = np.random.default_rng(seed)
    x, W, b = rng.standard_normal((n, d)), rng.standard_normal((d, h)), rng.standard_normal(h)
    dy = rng.standard_normal((n, h))
    f = lambda: float(np.sum(dy * linear_forward(x, W, b)[0]))
    dx, dW, db = linear_backward(dy, linear_forward(x, W, b)[1])
    for analytic, wrt in ((dx, x), (dW, W), (db, b)):
        assert analytic.shape == wrt.shape
        assert nppg.rel_error(analytic, nppg.numerical_grad(f, wrt)) < TOL


@given(seed=seeds, n=rows, d=dims)
def test_tanh_backward_matches_finite_differences(seed, n, d):
    """(21) d tanh(x)/dx = 1 - tanh(x)^2."""
    rng = np.random.default_rng(seed)
    x, dy = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    f = lambda: float(np.sum(dy * tanh_forward(x)[0]))
    dx = tanh_backward(dy, tanh_forward(x)[1])
    assert nppg.rel_error(dx, nppg.numerical_grad(f, x)) < TOL


@given(seed=seeds, n=rows, d=dims)
def test_relu_backward_matches_finite_differences(seed, n, d):
    """(21) d relu(x)/dx = [x > 0]: dy passes where x > 0 and is exactly 0 elsewhere."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, d))
    x = np.sign(z) * (0.1 + np.abs(z))  # at least 0.1 from the kink, both signs present
    dy = rng.standard_normal((n, d))
    f = lambda: float(np.sum(dy * relu_forward(x)[0]))
    dx = relu_backward(dy, relu_forward(x)[1])
    assert np.all(dx[x < 0] == 0.0)
    assert nppg.rel_error(dx, nppg.numerical_grad(f, x)) < TOL


# ---- the whole network ---------------------------------------------------------------------

@given(seed=seeds, n=rows, d_in=dims, hidden=hidden_sizes, d_out=dims, activation=activations)
def test_mlp_backward_matches_finite_differences(seed, n, d_in, hidden, d_out, activation):
    """Backprop through the whole MLP: every W_i, b_i and the input x, any depth (including none)."""
    rng = np.random.default_rng(seed)
    net = MLP((d_in, *hidden, d_out), activation, rng)
    redraw_params(net.params, rng)
    x, dy = rng.standard_normal((n, d_in)), rng.standard_normal((n, d_out))
    assume(away_from_kink(net, x))
    f = lambda: float(np.sum(dy * net.forward(x)[0]))
    grads, dx = net.backward(dy, net.forward(x)[1])
    assert_grads_match(f, {**net.params, "x": x}, {**grads, "x": dx})  # x is checked like one more parameter


@given(seed=seeds, n=rows, d_in=dims, d_out=dims, activation=activations)
def test_mlp_without_hidden_layers_is_a_linear_model(seed, n, d_in, d_out, activation):
    """sizes = (in, out): y = x W0 + b0, whatever the activation, with (20)'s gradients exactly."""
    rng = np.random.default_rng(seed)
    net = MLP((d_in, d_out), activation, rng)
    redraw_params(net.params, rng)
    W, b = net.params["W0"], net.params["b0"]
    x, dy = rng.standard_normal((n, d_in)), rng.standard_normal((n, d_out))
    y, cache = net.forward(x)
    grads, dx = net.backward(dy, cache)
    assert set(net.params) == {"W0", "b0"}
    np.testing.assert_allclose(y, x @ W + b, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(grads["W0"], x.T @ dy, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(grads["b0"], dy.sum(axis=0), rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(dx, dy @ W.T, rtol=1e-14, atol=1e-14)
    f = lambda: float(np.sum(dy * net.forward(x)[0]))
    assert_grads_match(f, net.params, grads)


@given(seed=seeds, n=rows, d_in=dims, hidden=hidden_sizes, d_out=dims, activation=activations)
def test_mlp_cache_is_the_only_memory(seed, n, d_in, hidden, d_out, activation):
    """A second forward pass in between does not change the backward of the first."""
    rng = np.random.default_rng(seed)
    net = MLP((d_in, *hidden, d_out), activation, rng)
    x1, x2 = rng.standard_normal((n, d_in)), rng.standard_normal((n + 1, d_in))
    dy = rng.standard_normal((n, d_out))
    cache1 = net.forward(x1)[1]
    expected = net.backward(dy, cache1)
    net.forward(x2)
    grads, dx = net.backward(dy, cache1)
    assert np.array_equal(dx, expected[1])
    assert all(np.array_equal(grads[k], expected[0][k]) for k in net.params)


@given(seed=seeds, d=dims, h=dims, gain=st.floats(0.01, 3.0))
def test_orthogonal_init_has_orthonormal_columns_or_rows_times_gain(seed, d, h, gain):
    """W^T W = gain^2 I when D >= H (orthonormal columns), W W^T = gain^2 I otherwise."""
    W = orthogonal((d, h), gain, np.random.default_rng(seed))
    assert W.shape == (d, h) and W.flags.c_contiguous
    gram = W.T @ W if d >= h else W @ W.T
    np.testing.assert_allclose(gram, gain**2 * np.eye(min(d, h)), atol=1e-12)


@given(seed=seeds, d_in=dims, hidden=hidden_sizes, d_out=dims, out_gain=st.floats(0.01, 2.0))
def test_mlp_init_zero_biases_and_out_gain_on_the_last_layer(seed, d_in, hidden, d_out, out_gain):
    """Biases start at 0; the output layer's singular values all equal ``out_gain``, hidden ones sqrt(2)."""
    net = MLP((d_in, *hidden, d_out), "tanh", np.random.default_rng(seed), out_gain=out_gain)
    assert all(np.all(net.params[f"b{i}"] == 0.0) for i in range(net.n_layers))
    for i in range(net.n_layers):
        gain = out_gain if i == net.n_layers - 1 else np.sqrt(2.0)
        np.testing.assert_allclose(np.linalg.svd(net.params[f"W{i}"], compute_uv=False), gain, rtol=1e-12)
