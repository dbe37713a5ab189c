"""The two action distributions: log-likelihoods, closed-form scores, entropies and samplers.

Scores are checked against finite differences of ``sum(w * log_prob)`` for random weights
``w`` (the policy gradient's own form), and against the identities the derivation rests on.
"""
import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from strategies import TOL, act_dims, n_actions, rows, seeds

import nppg
from nppg import distributions as D


def normal_log_density_1d(x, mu, sigma):
    """log N(x; mu, sigma^2) for one number, straight from the density's formula."""
    return -0.5 * ((x - mu) / sigma) ** 2 - math.log(sigma) - 0.5 * math.log(2.0 * math.pi)


# ---- log-softmax ---------------------------------------------------------------------------

@given(seed=seeds, n=rows, k=n_actions)
def test_log_softmax_gradient_matches_finite_differences(seed, n, k):
    """d log_softmax(z)_j / dz_i = [i = j] - softmax(z)_i, so the upstream g pulls back to g - softmax(z) sum_j g_j."""
    rng = np.random.default_rng(seed)
    z, g = rng.standard_normal((n, k)), rng.standard_normal((n, k))
    analytic = g - np.exp(D.log_softmax(z)) * g.sum(axis=1, keepdims=True)
    num = nppg.numerical_grad(lambda: float(np.sum(g * D.log_softmax(z))), z)
    assert nppg.rel_error(analytic, num) < TOL


@given(seed=seeds, n=rows, k=n_actions, scale=st.floats(0.1, 50.0))
def test_log_softmax_rows_are_log_probabilities(seed, n, k, scale):
    """exp(log_softmax(z)) is a distribution: entries in (0, 1], rows summing to 1."""
    z = scale * np.random.default_rng(seed).standard_normal((n, k))
    logp = D.log_softmax(z)
    assert np.all(logp <= 0.0)
    np.testing.assert_allclose(np.exp(logp).sum(axis=1), 1.0, rtol=0, atol=1e-12)


@given(seed=seeds, n=rows, k=n_actions)
def test_log_softmax_is_shift_invariant(seed, n, k):
    """softmax(z + c) = softmax(z) for any constant c per row: logits are defined up to a shift."""
    rng = np.random.default_rng(seed)
    z, c = 2.0 * rng.standard_normal((n, k)), rng.uniform(-100.0, 100.0, (n, 1))
    np.testing.assert_allclose(D.log_softmax(z + c), D.log_softmax(z), rtol=0, atol=1e-11)


def test_log_softmax_of_huge_logits_is_finite_and_exact():
    """Subtracting the max first means exp never overflows: no inf, no nan, exact values."""
    z = np.array([[3e4, -3e4, 0.0], [-3e4, -3e4, -3e4], [1e300, 0.0, -1e300]])
    logp = D.log_softmax(z)
    assert np.array_equal(logp[0], [0.0, -6e4, -3e4])
    assert np.array_equal(logp[1], np.full(3, -np.log(3.0)))
    assert np.array_equal(logp[2], [0.0, -1e300, -2e300])


@given(seed=seeds, n=rows, k=n_actions)
def test_categorical_log_prob_is_log_of_softmax_at_the_action(seed, n, k):
    """(15) log pi(a|s) = z_a - logsumexp(z), compared with the naive log(exp(z_a) / sum exp z) at moderate z."""
    rng = np.random.default_rng(seed)
    z, a = 2.0 * rng.standard_normal((n, k)), rng.integers(0, k, n)
    naive = np.log(np.exp(z[np.arange(n), a]) / np.exp(z).sum(axis=1))
    np.testing.assert_allclose(D.categorical_log_prob(z, a), naive, rtol=1e-12, atol=1e-12)


# ---- categorical score and entropy ---------------------------------------------------------

@given(seed=seeds, n=rows, k=n_actions)
def test_categorical_score_matches_finite_differences(seed, n, k):
    """(16) d log pi(a|s) / dz = onehot(a) - softmax(z)."""
    rng = np.random.default_rng(seed)
    z, a, w = rng.standard_normal((n, k)), rng.integers(0, k, n), rng.standard_normal(n)
    num = nppg.numerical_grad(lambda: float(np.sum(w * D.categorical_log_prob(z, a))), z)
    assert nppg.rel_error(w[:, None] * D.categorical_score(z, a), num) < TOL


@given(seed=seeds, n=rows, k=n_actions)
def test_categorical_score_has_zero_mean_under_the_policy(seed, n, k):
    """EGLP lemma, exactly: sum_a pi(a|s) d log pi(a|s)/dz = softmax(z) - softmax(z) sum_a pi(a|s) = 0."""
    z = 3.0 * np.random.default_rng(seed).standard_normal((n, k))
    p = np.exp(D.log_softmax(z))
    expected_score = sum(p[:, [a]] * D.categorical_score(z, np.full(n, a)) for a in range(k))
    np.testing.assert_allclose(expected_score, 0.0, rtol=0, atol=1e-12)


@given(seed=seeds, n=rows, k=n_actions)
def test_categorical_entropy(seed, n, k):
    """(19) H = -sum_a pi_a log pi_a."""
    z = np.random.default_rng(seed).standard_normal((n, k))
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(D.categorical_entropy(z), -(p * np.log(p)).sum(axis=1), rtol=1e-12, atol=1e-12)


@given(k=n_actions, c=st.floats(-100.0, 100.0))
def test_categorical_entropy_is_log_k_for_equal_logits(k, c):
    """Equal logits give the uniform distribution, whose entropy is the maximum, log K."""
    np.testing.assert_allclose(D.categorical_entropy(np.full((1, k), c)), np.log(k), rtol=1e-14)


# ---- diagonal Gaussian ---------------------------------------------------------------------

@given(seed=seeds, n=rows, d=act_dims)
def test_gaussian_log_prob_is_a_sum_of_1d_normal_log_densities(seed, n, d):
    """(17) a diagonal Gaussian factorises: log pi(a|s) = sum_i log N(a_i; mu_i, sigma_i^2)."""
    rng = np.random.default_rng(seed)
    mu, log_std = rng.standard_normal((n, d)), rng.uniform(-1.0, 0.5, d)
    a = rng.standard_normal((n, d))
    expected = [sum(normal_log_density_1d(a[r, i], mu[r, i], math.exp(log_std[i])) for i in range(d)) for r in range(n)]
    np.testing.assert_allclose(D.gaussian_log_prob(mu, log_std, a), expected, rtol=1e-12, atol=1e-12)


@given(seed=seeds, n=rows, d=act_dims)
def test_gaussian_score_matches_finite_differences(seed, n, d):
    """(18) d log pi / d mu_i = (a_i - mu_i) / sigma_i^2 and d log pi / d log sigma_i = u_i^2 - 1."""
    rng = np.random.default_rng(seed)
    mu, log_std = rng.standard_normal((n, d)), rng.uniform(-1.0, 0.5, d)
    a, w = rng.standard_normal((n, d)), rng.standard_normal(n)
    dmu, dlog_std = D.gaussian_score(mu, log_std, a)
    f = lambda: float(np.sum(w * D.gaussian_log_prob(mu, log_std, a)))
    assert nppg.rel_error(w[:, None] * dmu, nppg.numerical_grad(f, mu)) < TOL
    assert nppg.rel_error(w @ dlog_std, nppg.numerical_grad(f, log_std)) < TOL


@given(seed=seeds, d=act_dims)
def test_gaussian_score_has_zero_mean_under_the_policy(seed, d):
    """EGLP lemma for the Gaussian, by Monte Carlo: E[u / sigma] = 0 and E[u^2 - 1] = 0 (6 standard errors)."""
    rng = np.random.default_rng(seed)
    m = 20_000
    mu, log_std = np.tile(rng.standard_normal(d), (m, 1)), rng.uniform(-1.0, 0.5, d)
    dmu, dlog_std = D.gaussian_score(mu, log_std, D.gaussian_sample(mu, log_std, rng))
    assert np.all(np.abs(dmu.mean(axis=0)) < 6.0 * np.exp(-log_std) / np.sqrt(m))  # Var(u / sigma) = 1 / sigma^2
    assert np.all(np.abs(dlog_std.mean(axis=0)) < 6.0 * np.sqrt(2.0 / m))           # Var(u^2 - 1) = 2


@given(seed=seeds, n=rows, d=act_dims)
def test_gaussian_entropy_is_a_sum_of_1d_entropies(seed, n, d):
    """(19) H = sum_i 1/2 log(2 pi e sigma_i^2), the same for every state."""
    log_std = np.random.default_rng(seed).uniform(-2.0, 1.0, d)
    expected = sum(0.5 * math.log(2.0 * math.pi * math.e * math.exp(2.0 * s)) for s in log_std)
    H = D.gaussian_entropy(log_std, n)
    assert H.shape == (n,)
    np.testing.assert_allclose(H, expected, rtol=1e-12)


# ---- sampling ------------------------------------------------------------------------------

def counts_match(counts, p, z_max=6.0):
    """Each action's count lies within z_max binomial standard deviations of m p (plus 1 for tiny p)."""
    m = counts.sum()
    return bool(np.all(np.abs(counts - m * p) <= z_max * np.sqrt(m * p * (1.0 - p)) + 1.0))


def test_categorical_sample_frequencies_catch_an_off_by_one():
    """Frequencies match softmax(z); the same bound rejects the neighbouring action's probabilities."""
    p = np.array([0.1, 0.2, 0.3, 0.4])
    z = np.tile(np.log(p) + 7.0, (20_000, 1))
    counts = np.bincount(D.categorical_sample(z, np.random.default_rng(0)), minlength=4)
    assert counts_match(counts, p)
    assert not counts_match(counts, np.roll(p, 1)) and not counts_match(counts, np.roll(p, -1))


@given(seed=seeds, k=n_actions)
def test_categorical_sample_frequencies_match_softmax(seed, k):
    """a ~ pi(.|s): over 20,000 draws each action turns up about m softmax(z)_a times."""
    rng = np.random.default_rng(seed)
    z = np.tile(1.5 * rng.standard_normal(k), (20_000, 1))
    counts = np.bincount(D.categorical_sample(z, rng), minlength=k)
    assert counts_match(counts, np.exp(D.log_softmax(z[0])))


def test_categorical_sample_never_draws_an_impossible_action():
    """Probability 0 (to double precision) is never sampled, at either end of the cdf."""
    z = np.array([[0.0, -1e3, -1e3], [-1e3, 0.0, -1e3], [-1e3, -1e3, 0.0]])
    a = D.categorical_sample(np.repeat(z, 1000, axis=0), np.random.default_rng(1))
    assert np.array_equal(a, np.repeat([0, 1, 2], 1000))


@given(seed=seeds, n=rows, k=n_actions)
def test_categorical_sample_shape_dtype_and_seed(seed, n, k):
    """(N,) integer actions in [0, K); the same seed gives the same actions."""
    z = np.random.default_rng(seed).standard_normal((n, k))
    a = D.categorical_sample(z, np.random.default_rng(seed))
    assert a.shape == (n,) and np.issubdtype(a.dtype, np.integer)
    assert a.min() >= 0 and a.max() < k
    assert np.array_equal(a, D.categorical_sample(z, np.random.default_rng(seed)))


@given(seed=seeds, d=act_dims)
def test_gaussian_sample_mean_and_std(seed, d):
    """a = mu + sigma * xi: per-row means, per-dimension sigma = exp(log_std) (6 standard errors)."""
    rng = np.random.default_rng(seed)
    m = 20_000
    mu, log_std = 3.0 * rng.standard_normal((m, d)), rng.uniform(-1.0, 0.5, d)
    u = (D.gaussian_sample(mu, log_std, rng) - mu) / np.exp(log_std)  # should be standard normal
    assert np.all(np.abs(u.mean(axis=0)) < 6.0 / np.sqrt(m))
    assert np.all(np.abs(u.std(axis=0) - 1.0) < 6.0 / np.sqrt(2.0 * m))


@given(seed=seeds, n=rows, d=act_dims)
def test_gaussian_sample_shape_dtype_and_seed(seed, n, d):
    """(N, n) float64 actions; the same seed gives the same actions, another seed different ones."""
    rng = np.random.default_rng(seed)
    mu, log_std = rng.standard_normal((n, d)), rng.uniform(-1.0, 0.5, d)
    a = D.gaussian_sample(mu, log_std, np.random.default_rng(seed))
    assert a.shape == (n, d) and a.dtype == np.float64
    assert np.array_equal(a, D.gaussian_sample(mu, log_std, np.random.default_rng(seed)))
    assert not np.array_equal(a, D.gaussian_sample(mu, log_std, np.random.default_rng(seed + 1)))
