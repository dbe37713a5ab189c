"""Policies and the value function: closed-form scores (14, 16, 17) backpropagated through the MLP.

``grad_log_prob(obs, act, w)`` must equal the gradient of ``sum_i w_i log pi(a_i|s_i)`` for
every key of ``params`` (the network's W_i, b_i and the Gaussian's log_std).
"""
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from strategies import (act_dims, activations, assert_grads_match, away_from_kink, dims, hidden_sizes, n_actions,
                        redraw_params, rows, seeds)

import nppg
from nppg import distributions as D


def categorical(seed, obs_dim, k, hidden, activation, n):
    rng = np.random.default_rng(seed)
    policy = nppg.CategoricalPolicy(obs_dim, k, hidden, activation, rng=rng)
    redraw_params(policy.params, rng)
    return policy, rng.standard_normal((n, obs_dim)), rng.integers(0, k, n), rng.standard_normal(n)


def gaussian(seed, obs_dim, d, hidden, activation, n):
    rng = np.random.default_rng(seed)
    policy = nppg.GaussianPolicy(obs_dim, d, hidden, activation, rng=rng)
    redraw_params(policy.params, rng)
    return policy, rng.standard_normal((n, obs_dim)), rng.standard_normal((n, d)), rng.standard_normal(n)


def assert_grad_log_prob_matches(policy, obs, act, w):
    """grad_log_prob(obs, act, w) is the gradient of sum_i w_i log pi(a_i|s_i), for every key of params."""
    assume(away_from_kink(policy.net, obs))
    f = lambda: float(np.sum(w * policy.log_prob(obs, act)))
    assert_grads_match(f, policy.params, policy.grad_log_prob(obs, act, w))


# ---- categorical ---------------------------------------------------------------------------

@given(seed=seeds, obs_dim=dims, k=n_actions, hidden=hidden_sizes, activation=activations, n=rows)
def test_categorical_grad_log_prob_matches_finite_differences(seed, obs_dim, k, hidden, activation, n):
    """(14) then backprop: the gradient of sum_i w_i log pi(a_i|s_i) for every W_i, b_i."""
    assert_grad_log_prob_matches(*categorical(seed, obs_dim, k, hidden, activation, n))


@given(seed=seeds, obs_dim=dims, k=n_actions, hidden=hidden_sizes, activation=activations, n=rows,
       weighted=st.booleans())
@example(seed=279157, obs_dim=3, k=3, hidden=(3,), activation="tanh", n=1, weighted=False)  # the dev profile found it: an entry of 7e-8
def test_categorical_grad_entropy_matches_finite_differences(seed, obs_dim, k, hidden, activation, n, weighted):
    """(17) then backprop: the gradient of sum_i w_i H(pi(.|s_i)), w = ones when not given."""
    policy, obs, _, w = categorical(seed, obs_dim, k, hidden, activation, n)
    assume(away_from_kink(policy.net, obs))
    w = w if weighted else np.ones(n)
    f = lambda: float(np.sum(w * policy.entropy(obs)))
    assert_grads_match(f, policy.params, policy.grad_entropy(obs, w if weighted else None))


@given(seed=seeds, obs_dim=dims, k=n_actions, hidden=hidden_sizes, activation=activations, n=rows)
def test_categorical_expected_score_is_zero_through_the_network(seed, obs_dim, k, hidden, activation, n):
    """EGLP: sum_a pi(a|s) grad_theta log pi(a|s) = 0, so the sum over actions of grad_log_prob
    weighted by pi(a|s) vanishes for every parameter (to roundoff, against its scale)."""
    policy, obs, _, _ = categorical(seed, obs_dim, k, hidden, activation, n)
    p = np.exp(D.log_softmax(policy.logits(obs)))                                       # (N, K)
    per_action = [policy.grad_log_prob(obs, np.full(n, a), p[:, a]) for a in range(k)]
    for key in policy.params:
        total = sum(g[key] for g in per_action)
        scale = max(np.abs(g[key]).max() for g in per_action)
        assert np.abs(total).max() <= 1e-12 * max(scale, 1.0), key


@given(seed=seeds, obs_dim=dims, k=n_actions, n=rows)
def test_categorical_policy_starts_near_uniform(seed, obs_dim, k, n):
    """Output gain 0.01: every action starts about equally likely, whatever the observation."""
    rng = np.random.default_rng(seed)
    policy = nppg.CategoricalPolicy(obs_dim, k, (8, 8), rng=rng)
    p = np.exp(D.log_softmax(policy.logits(rng.standard_normal((n, obs_dim)))))
    np.testing.assert_allclose(p, 1.0 / k, atol=0.05)


def test_categorical_sample_frequencies_match_the_policy():
    """policy.sample draws from softmax(logits(s)), checked per action on one repeated observation."""
    rng = np.random.default_rng(7)
    policy = nppg.CategoricalPolicy(3, 4, (8,), rng=rng)
    redraw_params(policy.params, rng)
    obs = np.tile(rng.standard_normal(3), (20_000, 1))
    p = np.exp(D.log_softmax(policy.logits(obs[:1])))[0]
    counts = np.bincount(policy.sample(obs, rng), minlength=4)
    assert np.all(np.abs(counts - 20_000 * p) <= 6.0 * np.sqrt(20_000 * p * (1 - p)) + 1.0), (counts, p)


@given(seed=seeds, obs_dim=dims, k=n_actions, n=rows)
def test_categorical_sample_and_mode_shape_dtype_and_seed(seed, obs_dim, k, n):
    """(N,) integer actions in [0, K); the same seed gives the same actions; mode is the argmax logit."""
    policy, obs, _, _ = categorical(seed, obs_dim, k, (4,), "tanh", n)
    a = policy.sample(obs, np.random.default_rng(seed))
    assert a.shape == (n,) and np.issubdtype(a.dtype, np.integer) and a.min() >= 0 and a.max() < k
    assert np.array_equal(a, policy.sample(obs, np.random.default_rng(seed)))
    assert np.array_equal(policy.mode(obs), policy.logits(obs).argmax(axis=1))


# ---- Gaussian ------------------------------------------------------------------------------

@given(seed=seeds, obs_dim=dims, d=act_dims, hidden=hidden_sizes, activation=activations, n=rows)
def test_gaussian_grad_log_prob_matches_finite_differences(seed, obs_dim, d, hidden, activation, n):
    """(16) then backprop for mu: the gradient of sum_i w_i log pi(a_i|s_i) for every W_i, b_i and log_std."""
    assert_grad_log_prob_matches(*gaussian(seed, obs_dim, d, hidden, activation, n))


@given(seed=seeds, obs_dim=dims, d=act_dims, hidden=hidden_sizes, n=rows, weighted=st.booleans())
def test_gaussian_grad_entropy_matches_finite_differences(seed, obs_dim, d, hidden, n, weighted):
    """(17) H depends on log_std only: dH/dlog sigma_i = 1 per state, zero for the network."""
    policy, obs, _, w = gaussian(seed, obs_dim, d, hidden, "tanh", n)
    w = w if weighted else np.ones(n)
    f = lambda: float(np.sum(w * policy.entropy(obs)))
    grads = policy.grad_entropy(obs, w if weighted else None)
    assert_grads_match(f, policy.params, grads)
    np.testing.assert_allclose(grads["log_std"], w.sum(), rtol=1e-14)


@given(seed=seeds, obs_dim=dims, d=act_dims, hidden=hidden_sizes, n=rows)
def test_gaussian_log_prob_is_a_sum_of_1d_normal_log_densities(seed, obs_dim, d, hidden, n):
    """(15) through the policy: log pi(a|s) = sum_i log N(a_i; mu_i(s), sigma_i^2)."""
    policy, obs, act, _ = gaussian(seed, obs_dim, d, hidden, "tanh", n)
    mu, sigma = policy.mean(obs), np.exp(policy.params["log_std"])
    expected = [sum(-0.5 * ((act[r, i] - mu[r, i]) / sigma[i]) ** 2 - math.log(sigma[i]) - 0.5 * math.log(2 * math.pi)
                    for i in range(d)) for r in range(n)]
    np.testing.assert_allclose(policy.log_prob(obs, act), expected, rtol=1e-12, atol=1e-12)


def test_gaussian_sample_mean_and_std_match_the_policy():
    """policy.sample draws mu(s) + exp(log_std) * xi: check mean and std on one repeated observation."""
    rng = np.random.default_rng(3)
    policy = nppg.GaussianPolicy(3, 2, (8,), rng=rng)
    redraw_params(policy.params, rng)
    m = 20_000
    obs = np.tile(rng.standard_normal(3), (m, 1))
    a, mu, sigma = policy.sample(obs, rng), policy.mean(obs[:1])[0], np.exp(policy.params["log_std"])
    assert np.all(np.abs(a.mean(axis=0) - mu) < 6.0 * sigma / np.sqrt(m))
    assert np.all(np.abs(a.std(axis=0) - sigma) < 6.0 * sigma / np.sqrt(2.0 * m))


@given(seed=seeds, obs_dim=dims, d=act_dims, n=rows, log_std_init=st.floats(-2.0, 1.0))
def test_gaussian_sample_shape_dtype_seed_and_init(seed, obs_dim, d, n, log_std_init):
    """(N, n) float64 actions, reproducible per seed; log_std starts at log_std_init; mode is the mean."""
    rng = np.random.default_rng(seed)
    policy = nppg.GaussianPolicy(obs_dim, d, (4,), log_std_init=log_std_init, rng=rng)
    obs = rng.standard_normal((n, obs_dim))
    assert np.array_equal(policy.params["log_std"], np.full(d, log_std_init))
    a = policy.sample(obs, np.random.default_rng(seed))
    assert a.shape == (n, d) and a.dtype == np.float64
    assert np.array_equal(a, policy.sample(obs, np.random.default_rng(seed)))
    assert np.array_equal(policy.mode(obs), policy.mean(obs))


def test_optimizer_steps_on_params_move_the_policy():
    """params is the one dict the network and log_std are read from: an update in place changes pi."""
    rng = np.random.default_rng(0)
    policy = nppg.GaussianPolicy(3, 2, (4,), rng=rng)
    obs, act = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    before = policy.log_prob(obs, act)
    grads = policy.grad_log_prob(obs, act, -np.ones(5))   # gradient of -sum log pi: descend to ascend
    nppg.SGD(policy.params, lr=1e-2).step(grads)
    assert np.all(policy.params["log_std"] != -0.5)
    assert policy.log_prob(obs, act).sum() > before.sum()


# ---- value function ------------------------------------------------------------------------

@given(seed=seeds, obs_dim=dims, hidden=hidden_sizes, activation=activations, n=rows,
       block=st.one_of(st.just("one pass"), st.none(), st.integers(1, 6)))
def test_value_grad_mse_matches_finite_differences(seed, obs_dim, hidden, activation, n, block):
    """(20) L = mean_i (V(s_i) - R_hat_i)^2 equals its definition, and its gradient matches finite
    differences, whether the rows go through the network in one pass or in blocks."""
    rng = np.random.default_rng(seed)
    vf = nppg.ValueFunction(obs_dim, hidden, activation, rng=rng)
    redraw_params(vf.params, rng)
    obs, targets = rng.standard_normal((n, obs_dim)), rng.standard_normal(n)
    assume(away_from_kink(vf.net, obs))
    grad_mse = vf.grad_mse if block == "one pass" else lambda obs, targets: vf.grad_mse_blocks(obs, targets, block)
    loss, grads = grad_mse(obs, targets)
    assert vf.predict(obs).shape == (n,)
    np.testing.assert_allclose(loss, np.mean((vf.predict(obs) - targets) ** 2), rtol=1e-13)
    np.testing.assert_allclose(vf.mse(obs, targets), loss, rtol=1e-13)
    assert_grads_match(lambda: grad_mse(obs, targets)[0], vf.params, grads)


@given(seed=seeds, n=st.integers(1, 3000), block=st.integers(1, 1200))
def test_value_grad_mse_in_blocks_is_the_one_pass_gradient(seed, n, block):
    """The blocked form (the fast one) sums to the plain one-pass gradient, up to rounding; one block
    of all the rows is the one-pass gradient exactly."""
    rng = np.random.default_rng(seed)
    vf = nppg.ValueFunction(4, (16, 16), rng=rng)
    obs, targets = rng.standard_normal((n, 4)), rng.standard_normal(n)
    loss, grads = vf.grad_mse_blocks(obs, targets, block)
    loss_1, grads_1 = vf.grad_mse(obs, targets)
    loss_n, grads_n = vf.grad_mse_blocks(obs, targets, n)
    assert loss_n == loss_1 and all(np.array_equal(grads_n[k], grads_1[k]) for k in grads_1)
    np.testing.assert_allclose(loss, loss_1, rtol=1e-12)
    for k in grads_1:
        np.testing.assert_allclose(grads[k], grads_1[k], rtol=1e-10, atol=1e-14 * np.abs(grads_1[k]).max())


@settings(max_examples=20, deadline=None)
@given(seed=seeds, n=st.integers(1, 400), block=st.integers(1, 120), workers=st.integers(2, 4))
def test_value_grad_mse_with_threads_is_the_same_to_the_bit(seed, n, block, workers):
    """A thread pool computes the blocks at once but they are added in the same order: equal, not close."""
    rng = np.random.default_rng(seed)
    vf = nppg.ValueFunction(3, (16, 16), rng=rng)
    obs, targets = rng.standard_normal((n, 3)), rng.standard_normal(n)
    with ThreadPoolExecutor(workers) as pool:
        loss_p, grads_p = vf.grad_mse_blocks(obs, targets, block, pool=pool)
    loss, grads = vf.grad_mse_blocks(obs, targets, block)
    assert loss_p == loss and all(np.array_equal(grads_p[k], grads[k]) for k in grads)



@pytest.mark.parametrize("block", [0, -3, 2.5, "10"])
def test_value_grad_mse_refuses_a_block_that_is_not_a_whole_number(block):
    vf = nppg.ValueFunction(3, (8,), rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="block must be a whole number >= 1"):
        vf.grad_mse_blocks(np.zeros((5, 3)), np.zeros(5), block=block)


class RecordingPool:
    """Computes the blocks in this thread, and keeps the row at which each one starts."""

    def __init__(self):
        self.starts = []

    def map(self, f, starts):
        self.starts = list(starts)
        return map(f, self.starts)


@pytest.mark.parametrize("n, starts", [(4000, [0, 2000]), (5000, [0, 1667, 3334]), (10, [0, 5]), (1, [0])])
def test_value_grad_mse_default_blocks_are_the_fewest_equal_ones_and_at_least_two(n, starts):
    vf = nppg.ValueFunction(3, (64, 64), rng=np.random.default_rng(0))
    assert vf.block == 2048  # 1 MB of 64 float64s
    pool = RecordingPool()
    vf.grad_mse_blocks(np.zeros((n, 3)), np.zeros(n), pool=pool)
    assert pool.starts == starts

def test_value_function_in_float32_stays_close_to_float64():
    """dtype=float32 (the faster option) computes the same loss and gradient to single precision."""
    rng = np.random.default_rng(3)
    vf64 = nppg.ValueFunction(4, (64, 64), rng=np.random.default_rng(0))
    vf32 = nppg.ValueFunction(4, (64, 64), rng=np.random.default_rng(0), dtype=np.float32)
    obs, targets = rng.standard_normal((500, 4)), rng.standard_normal(500)
    assert all(p.dtype == np.float32 for p in vf32.params.values())
    (loss64, g64), (loss32, g32) = vf64.grad_mse(obs, targets), vf32.grad_mse(obs, targets)
    np.testing.assert_allclose(loss32, loss64, rtol=1e-5)
    for k in g64:
        assert g32[k].dtype == np.float32
        np.testing.assert_allclose(g32[k], g64[k], rtol=1e-3, atol=1e-5 * np.abs(g64[k]).max())
