"""The weights Phi_t (8): each against its definition as a plain sum, written here as a double loop.

One segment is T steps ``r_0 .. r_{T-1}`` with values ``V(s_0) .. V(s_{T-1})``, closed by
``last_value`` = V(s_T) (0 if the episode terminated) (14).
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import seeds

from nppg.advantages import WEIGHTS, batch_weights, discount_cumsum, gae, nstep_advantages, reward_to_go

lengths = st.integers(0, 20)
unit = st.floats(0.0, 1.0)


def close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-12)


def segment(seed, T):
    """Rewards, values and a closing value for one segment of T steps."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal(T), rng.standard_normal(T), float(rng.standard_normal())


# ---- the definitions, as O(T^2) loops ------------------------------------------------------

def discount_cumsum_definition(x, discount):
    """y_t = sum_{k=0}^{T-1-t} discount^k x_{t+k}."""
    T = len(x)
    return [sum(discount**k * x[t + k] for k in range(T - t)) for t in range(T)]


def reward_to_go_definition(rew, last_value, gamma):
    """(6) R_hat_t = sum_{t'=t}^{T-1} gamma^(t'-t) r_t' + gamma^(T-t) V(s_T)."""
    T = len(rew)
    return [sum(gamma ** (u - t) * rew[u] for u in range(t, T)) + gamma ** (T - t) * last_value for t in range(T)]


def td_residual_definition(rew, val, last_value, gamma):
    """(11) delta_t = r_t + gamma V(s_{t+1}) - V(s_t), with V(s_T) = last_value."""
    V = list(val) + [last_value]
    return [rew[t] + gamma * V[t + 1] - V[t] for t in range(len(rew))]


def gae_definition(rew, val, last_value, gamma, lam):
    """(12) A_t = sum_{l=0}^{T-1-t} (gamma lam)^l delta_{t+l}."""
    delta, T = td_residual_definition(rew, val, last_value, gamma), len(rew)
    return [sum((gamma * lam) ** l * delta[t + l] for l in range(T - t)) for t in range(T)]


PHI_DEFINITIONS = {
    # (4) R(tau): every step weighted by the discounted return from the segment's start, incl. gamma^T V(s_T)
    "return": lambda rew, val, last, gamma, lam: [
        sum(gamma**t * r for t, r in enumerate(rew)) + gamma ** len(rew) * last] * len(rew),
    # (6) R_hat_t
    "reward-to-go": lambda rew, val, last, gamma, lam: reward_to_go_definition(rew, last, gamma),
    # (7) R_hat_t - V(s_t)
    "baseline": lambda rew, val, last, gamma, lam: [
        R - v for R, v in zip(reward_to_go_definition(rew, last, gamma), val)],
    # (12) A_t^GAE(gamma, lam)
    "gae": gae_definition,
    # (13) A_t^(n), here with n = 3 (batch_weights's n below)
    "nstep": lambda rew, val, last, gamma, lam: nstep_definition(rew, val, last, gamma, 3),
}


# ---- each function against its definition --------------------------------------------------

@given(seed=seeds, T=lengths, discount=unit)
def test_discount_cumsum_matches_its_definition(seed, T, discount):
    """The backward recursion y_t = x_t + discount y_{t+1} computes the forward sum."""
    x = np.random.default_rng(seed).standard_normal(T)
    y = discount_cumsum(x, discount)
    assert y.shape == (T,)
    close(y, discount_cumsum_definition(x, discount))


@given(seed=seeds, T=lengths, gamma=unit)
def test_reward_to_go_matches_its_definition(seed, T, gamma):
    """(10), (6) at gamma = 1, with the tail closed by last_value (14)."""
    rew, _, last_value = segment(seed, T)
    close(reward_to_go(rew, last_value, gamma), reward_to_go_definition(rew, last_value, gamma))


@given(seed=seeds, T=lengths, gamma=unit, lam=unit)
def test_gae_matches_its_definition(seed, T, gamma, lam):
    """(11, 12) exponentially weighted sum of TD residuals."""
    rew, val, last_value = segment(seed, T)
    close(gae(rew, val, last_value, gamma, lam), gae_definition(rew, val, last_value, gamma, lam))


@given(seed=seeds, T=lengths, gamma=unit)
def test_gae_with_lam_1_is_reward_to_go_minus_values(seed, T, gamma):
    """lam = 1: the residuals telescope, A_t = R_hat_t - V(s_t)."""
    rew, val, last_value = segment(seed, T)
    close(gae(rew, val, last_value, gamma, 1.0), reward_to_go(rew, last_value, gamma) - val)


@given(seed=seeds, T=lengths, gamma=unit)
def test_gae_with_lam_0_is_the_td_residual(seed, T, gamma):
    """lam = 0: A_t = delta_t = r_t + gamma V(s_{t+1}) - V(s_t), with V(s_T) = last_value."""
    rew, val, last_value = segment(seed, T)
    close(gae(rew, val, last_value, gamma, 0.0), td_residual_definition(rew, val, last_value, gamma))


def test_weights_offers_the_five_choices_of_Phi():
    assert set(WEIGHTS) == set(PHI_DEFINITIONS)


@pytest.mark.parametrize("name", sorted(PHI_DEFINITIONS))
@given(seed=seeds, T=lengths, gamma=unit, lam=unit)
def test_each_weight_matches_its_definition(name, seed, T, gamma, lam):
    """batch_weights on one segment gives Phi_t as the derivation defines it, and R_hat_t (6)."""
    rew, val, last_value = segment(seed, T)
    Phi, R_hat = batch_weights(rew, val, [(0, T, last_value)], name, gamma, lam, n=3)
    assert Phi.shape == R_hat.shape == (T,)
    close(Phi, PHI_DEFINITIONS[name](rew, val, last_value, gamma, lam))
    close(R_hat, reward_to_go_definition(rew, last_value, gamma))


@pytest.mark.parametrize("name", sorted(PHI_DEFINITIONS))
def test_each_weight_of_an_empty_segment_is_empty(name):
    """T = 0 (a segment that ends where it starts) gives no weights rather than an error."""
    Phi, R_hat = batch_weights(np.zeros(0), np.zeros(0), [(0, 0, 1.5)], name, 0.99, 0.95, n=3)
    assert Phi.shape == R_hat.shape == (0,)


# ---- a whole batch --------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(PHI_DEFINITIONS))
@given(seed=seeds, segment_lengths=st.lists(st.integers(0, 8), min_size=1, max_size=5), gamma=unit, lam=unit)
def test_batch_weights_is_one_call_per_segment(name, seed, segment_lengths, gamma, lam):
    """A batch is tiled by segments, each closed by its own last_value; empty segments are allowed."""
    rng = np.random.default_rng(seed)
    N = sum(segment_lengths)
    rew, val = rng.standard_normal(N), rng.standard_normal(N)
    stops = np.cumsum(segment_lengths)
    segments = [(int(stop - T), int(stop), float(rng.standard_normal())) for T, stop in zip(segment_lengths, stops)]
    Phi, R_hat = batch_weights(rew, val, segments, name, gamma, lam, n=3)
    assert Phi.shape == R_hat.shape == (N,)
    for start, stop, last_value in segments:
        close(Phi[start:stop], PHI_DEFINITIONS[name](rew[start:stop], val[start:stop], last_value, gamma, lam))
        close(R_hat[start:stop], reward_to_go_definition(rew[start:stop], last_value, gamma))


def test_batch_weights_does_not_leak_across_segments():
    """A terminated segment (last_value 0) ignores the rewards of the episode that follows it."""
    rew, val = np.array([1.0, 1.0, 100.0]), np.zeros(3)
    Phi, R_hat = batch_weights(rew, val, [(0, 2, 0.0), (2, 3, 0.0)], "reward-to-go", 0.5, 1.0)
    assert np.array_equal(R_hat, [1.5, 1.0, 100.0]) and np.array_equal(Phi, R_hat)
    Phi, _ = batch_weights(rew, val, [(0, 2, 0.0), (2, 3, 0.0)], "return", 0.5, 1.0)
    assert np.array_equal(Phi, [1.5, 1.5, 100.0])


# ---- n-step advantages (13): the bridge from the TD residual to reward-to-go, and what GAE averages ----

def nstep_definition(rew, val, last_value, gamma, n):
    """(13) A_t^(n) = sum_{l<n_t} gamma^l r_{t+l} + gamma^n_t V(s_{t+n_t}) - V(s_t), n_t = min(n, T - t), V(s_T) = last_value."""
    V, T = list(val) + [last_value], len(rew)
    out = []
    for t in range(T):
        n_t = min(n, T - t)
        out.append(sum(gamma**l * rew[t + l] for l in range(n_t)) + gamma**n_t * V[t + n_t] - V[t])
    return out


steps = st.integers(1, 25)


@given(seed=seeds, T=lengths, gamma=unit, n=steps)
def test_nstep_matches_its_double_loop_definition(seed, T, gamma, n):
    rew, val, last_value = segment(seed, T)
    A = nstep_advantages(rew, val, last_value, gamma, n)
    assert A.shape == (T,)
    close(A, nstep_definition(rew, val, last_value, gamma, n))


@given(seed=seeds, T=lengths, gamma=unit)
def test_nstep_with_n_1_is_the_td_residual(seed, T, gamma):
    rew, val, last_value = segment(seed, T)
    close(nstep_advantages(rew, val, last_value, gamma, 1), td_residual_definition(rew, val, last_value, gamma))


@given(seed=seeds, T=lengths, gamma=unit, extra=st.integers(0, 5))
def test_nstep_past_the_segment_end_is_reward_to_go_minus_values(seed, T, gamma, extra):
    rew, val, last_value = segment(seed, T)
    close(nstep_advantages(rew, val, last_value, gamma, T + extra), reward_to_go(rew, last_value, gamma) - val)


@given(seed=seeds, T=st.integers(1, 20), gamma=unit, lam=unit)
def test_gae_is_the_lambda_weighted_average_of_the_nstep_advantages(seed, T, gamma, lam):
    """A_t^GAE = (1 - lam) sum_{n < T-t} lam^(n-1) A_t^(n) + lam^(T-t-1) A_t^(T-t): the weights sum to 1,
    and the weight of every n past the segment's end falls on the longest, which they all equal."""
    rew, val, last_value = segment(seed, T)
    A = {n: nstep_advantages(rew, val, last_value, gamma, n) for n in range(1, T + 1)}
    average = np.array([sum((1 - lam) * lam ** (n - 1) * A[n][t] for n in range(1, T - t))
                        + lam ** (T - t - 1) * A[T - t][t] for t in range(T)])
    np.testing.assert_allclose(gae(rew, val, last_value, gamma, lam), average, rtol=1e-12, atol=1e-12)


@given(seed=seeds, T=st.integers(0, 20), gamma=unit)
def test_example_2s_reward_to_go_is_the_librarys(seed, T, gamma):
    """One reward_to_go a reader can trust: examples/2_reward_to_go.py writes its body out, with the library's signature."""
    from scripts import load_example
    example = load_example("2_reward_to_go")
    rng = np.random.default_rng(seed)
    rew, last_value = rng.standard_normal(T), float(rng.standard_normal())
    assert np.array_equal(example.reward_to_go(rew, last_value, gamma), reward_to_go(rew, last_value, gamma))
    assert np.array_equal(example.reward_to_go(rew), reward_to_go(rew, 0.0, 1.0))
