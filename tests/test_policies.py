"""Policies and the value function: closed-form scores (16, 18) backpropagated through the MLP.

``grad_log_prob(obs, act, Phi)`` must equal the gradient of ``sum_t Phi_t log pi(a_t|s_t)`` for
every key of ``params`` (the network's W_i, b_i and the Gaussian's log_std).
"""
import math

import numpy as np
from hypothesis import assume, given
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
    """(16) then backprop: the gradient of sum_i w_i log pi(a_i|s_i) for every W_i, b_i."""
    assert_grad_log_prob_matches(*categorical(seed, obs_dim, k, hidden, activation, n))


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
    """(18) then backprop for mu: the gradient of sum_i w_i log pi(a_i|s_i) for every W_i, b_i and log_std."""
    assert_grad_log_prob_matches(*gaussian(seed, obs_dim, d, hidden, activation, n))


@given(seed=seeds, obs_dim=dims, d=act_dims, hidden=hidden_sizes, n=rows)
def test_gaussian_log_prob_is_a_sum_of_1d_normal_log_densities(seed, obs_dim, d, hidden, n):
    """(17) through the policy: log pi(a|s) = sum_i log N(a_i; mu_i(s), sigma_i^2)."""
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

@given(seed=seeds, obs_dim=dims, hidden=hidden_sizes, activation=activations, n=rows)
def test_value_grad_mse_matches_finite_differences(seed, obs_dim, hidden, activation, n):
    """(22) L = mean_t (V(s_t) - R_hat_t)^2 equals its definition, and its gradient matches finite differences."""
    rng = np.random.default_rng(seed)
    vf = nppg.ValueFunction(obs_dim, hidden, activation, rng=rng)
    redraw_params(vf.params, rng)
    obs, R_hat = rng.standard_normal((n, obs_dim)), rng.standard_normal(n)
    assume(away_from_kink(vf.net, obs))
    loss, grads = vf.grad_mse(obs, R_hat)
    assert vf.predict(obs).shape == (n,)
    np.testing.assert_allclose(loss, np.mean((vf.predict(obs) - R_hat) ** 2), rtol=1e-13)
    assert_grads_match(lambda: vf.grad_mse(obs, R_hat)[0], vf.params, grads)
