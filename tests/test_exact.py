"""The derivation's claims, checked on finite MDPs whose J(theta) and grad J(theta) are exact.

1. EGLP (5): the expected score is 0, exactly (a sum for the categorical, quadrature for the Gaussian).
2. (4): E[sum_t grad log pi(a_t|s_t) R(tau)] is grad J; the exact grad J is itself checked
   against finite differences of the exact J.
3. (6): reward-to-go keeps the mean and lowers the variance.
4. (7): any b(s_t) keeps the mean; b = V^pi lowers the variance further.
5. (12): GAE is unbiased for every lam when V is exact; lam = 1 is unbiased for any V on whole
   terminated episodes, and not on segments cut and closed with an inexact V(s_T) (14); with an
   inexact V, lam < 1 is biased, and has lower variance.
6. (10): with gamma < 1, the discounted reward-to-go estimates E[sum_t grad log pi Q_gamma], not the
   gradient of J_gamma = E[sum_t gamma^t r_t], which weighs step t by gamma^t.
7. (13): an n that reaches a terminated episode's end is R_hat_t - V(s_t), unbiased for any V.
8. normalize_adv: subtracting the batch mean of Phi_t biases g_hat by about 1/|D|, at every episode length.

The statistical tests sample whole episodes with nppg's own rollout functions and weights,
estimate g_hat from K independent batches, and compare the mean with the exact gradient in
every coordinate: z_i = (mean_i - grad J_i) / se_i. Unbiased, max_i |z_i| over ~100 coordinates
stays below ~4 (P(|z| > 5) ~ 6e-7 a coordinate); the planted bugs below reach 20 and more.
Everything is seeded, so every run draws the same samples.
"""
import numpy as np
import pytest

import nppg
from nppg.checks import exact
from nppg.checks.gradcheck import numerical_grad, rel_error

MDPS = {"bandit": exact.bandit, "chain": exact.chain, "gridworld": exact.gridworld}
Z_MAX = 5.0    # above this, the mean of the estimates is not the exact gradient
BATCH = 10     # |D|, episodes per independent estimate
GAMMA = 0.7    # the discount of the tests of item 6
CUT = 5        # item 5: every episode cut into segments of at most CUT steps, as a batch's end cuts one
EVERY_END = 10**6  # an n-step length past the end of every episode sampled here


def setup(name, seed=0):
    mdp = MDPS[name]()
    policy = exact.generic_policy(mdp, np.random.default_rng(seed))
    return mdp, policy


# ---- the exact quantities are right --------------------------------------------------

@pytest.mark.parametrize("name", MDPS)
@pytest.mark.parametrize("seed", [0, 1])
def test_exact_gradient_matches_finite_differences_of_exact_J(name, seed):
    mdp, policy = setup(name, seed)
    grads = exact.exact_gradient(mdp, policy)
    for k, g in grads.items():
        assert rel_error(g, numerical_grad(lambda: exact.J(mdp, policy), policy.params[k])) < 1e-6, k


def test_bandit_J_is_the_policy_weighted_mean_of_the_arms():
    mdp, policy = setup("bandit")
    pi = exact.probs(mdp, policy)[0]
    assert abs(exact.J(mdp, policy) - pi @ mdp.R[0, :, 0]) < 1e-12


@pytest.mark.parametrize("name", MDPS)
def test_environment_samples_the_mdp_that_is_solved(name):
    """The mean sampled return and episode length match J and sum_x d(x) (the expected length)."""
    mdp, policy = setup(name)
    batch = exact.episodes(exact.make_envs(mdp, 50), policy, 40, np.random.default_rng(0), seed=0)
    d = exact.solve(mdp, exact.probs(mdp, policy))[2]
    for sample, expected in ((batch.ep_returns, exact.J(mdp, policy)), (batch.ep_lengths, d.sum())):
        assert len(sample) == 2000
        assert abs(sample.mean() - expected) <= 4 * sample.std() / np.sqrt(len(sample)) + 1e-12
    assert batch.terminated.all() and np.all(batch.ep_lengths >= 1)
    assert np.all(batch.obs[batch.starts].argmax(axis=1) == 0)  # every segment is a whole episode from s_0
    if mdp.horizon is not None:
        assert batch.ep_lengths.max() == mdp.horizon  # the time limit is reached, and never passed


# ---- 1. EGLP: the score has zero mean ---------------------------------------------------

@pytest.mark.parametrize("name", MDPS)
def test_expected_score_is_zero_exactly_for_every_state_and_every_trajectory(name):
    mdp, policy = setup(name)
    pi = exact.probs(mdp, policy)                                  # (S, A)
    obs, act = np.repeat(np.eye(mdp.S), mdp.A, axis=0), np.tile(np.arange(mdp.A), mdp.S)
    # sum_a pi(a|s) grad log pi(a|s) = 0 for every s, through the network
    for g in policy.grad_log_prob(obs, act, pi.ravel()).values():
        assert np.abs(g).max() < 1e-12
    # over trajectories, E[sum_t grad log pi(a_t|s_t)] = grad of sum_tau P(tau|theta) = grad 1 = 0
    for g in exact.expected_score(mdp, policy, np.ones((len(mdp.s_of), mdp.A))).values():
        assert np.abs(g).max() < 1e-12


def test_gaussian_score_has_zero_mean_by_gauss_hermite_quadrature():
    """E_{a ~ N(mu, sigma^2)}[grad log pi(a|s)] = 0; the score is a polynomial of degree 2 in a,
    so Gauss-Hermite quadrature with 6 nodes a dimension integrates it exactly."""
    rng = np.random.default_rng(0)
    policy = nppg.GaussianPolicy(3, 2, (5,), rng=rng, log_std_init=-0.3)
    policy.params["W1"] += rng.standard_normal(policy.params["W1"].shape)  # a mean away from 0
    policy.params["log_std"][:] = (-0.7, 0.4)
    x, w = np.polynomial.hermite_e.hermegauss(6)                   # nodes and weights for exp(-x^2 / 2)
    u = np.stack(np.meshgrid(x, x, indexing="ij"), axis=-1).reshape(-1, 2)  # (36, 2) standard normal nodes
    weight = np.outer(w, w).ravel() / (2 * np.pi)                  # (36,), sums to 1
    for s in rng.standard_normal((4, 3)):
        obs = np.tile(s, (len(u), 1))
        act = policy.mean(obs) + np.exp(policy.params["log_std"]) * u
        assert abs(weight.sum() - 1) < 1e-12 and abs(weight @ u[:, 0] ** 2 - 1) < 1e-12
        for k, g in policy.grad_log_prob(obs, act, weight).items():  # a score without its -1 would read 1
            assert np.abs(g).max() < 1e-12, k


# ---- 4. any b(s) is a baseline; b(s, a) is not --------------------------------------------

@pytest.mark.parametrize("name", ["chain", "gridworld"])
def test_a_baseline_of_the_state_adds_exactly_zero_and_one_of_the_action_does_not(name):
    mdp, policy = setup(name)
    rng = np.random.default_rng(1)
    b_state = np.repeat(rng.standard_normal((len(mdp.s_of), 1)), mdp.A, axis=1)  # b(x), (X, A)
    for g in exact.expected_score(mdp, policy, b_state).values():
        assert np.abs(g).max() < 1e-12
    b_action = rng.standard_normal((len(mdp.s_of), mdp.A))                        # b(x, a)
    assert max(np.abs(g).max() for g in exact.expected_score(mdp, policy, b_action).values()) > 1e-3


# ---- 2-5. the sampled estimators --------------------------------------------------------

@pytest.fixture(scope="module")
def sampled():
    """Per MDP: 10,000 whole episodes, the exact gradient, and the estimates for every weight."""
    cache = {}

    def get(name):
        if name not in cache:
            mdp, policy = setup(name)
            rng = np.random.default_rng(0)
            batch = exact.episodes(exact.make_envs(mdp, 100), policy, 100, rng, seed=0)
            pi = exact.probs(mdp, policy)
            V, Q, d = exact.solve(mdp, pi)
            # the best V that cannot see the time: what regression (9) on onehot(s) converges to
            d_ts = d.reshape(mdp.T, mdp.S)
            V_blind = np.tile((d_ts * V.reshape(mdp.T, mdp.S)).sum(0) / np.maximum(d_ts.sum(0), 1e-300), mdp.T)
            t = np.arange(len(batch.rew)) - np.repeat(batch.starts, batch.stops - batch.starts)
            v, v_blind = exact.step_values(mdp, V, batch), exact.step_values(mdp, V_blind, batch)
            rtg = exact.Phi_of(batch, "reward-to-go")
            rtg_gamma = exact.Phi_of(batch, "reward-to-go", gamma=GAMMA)
            # an inexact V: V^pi plus 5 per state index, so it overvalues states further along
            v_tilt = v + 5.0 * batch.obs.argmax(1) * ~mdp.terminal[mdp.x_of(batch.obs.argmax(1), t)]
            Phis = {
                "return": exact.Phi_of(batch, "return"),
                "reward-to-go": rtg,
                "baseline exact V": exact.Phi_of(batch, "baseline", v),
                "baseline time-blind V": exact.Phi_of(batch, "baseline", v_blind),
                "gae lam=1 exact V": exact.Phi_of(batch, "gae", v, 1.0),
                "gae lam=0.5 exact V": exact.Phi_of(batch, "gae", v, 0.5),
                "gae lam=0 exact V": exact.Phi_of(batch, "gae", v, 0.0),
                "gae lam=1 time-blind V": exact.Phi_of(batch, "gae", v_blind, 1.0),
                "gae lam=0.5 time-blind V": exact.Phi_of(batch, "gae", v_blind, 0.5),
                "gae lam=0 time-blind V": exact.Phi_of(batch, "gae", v_blind, 0.0),
                **{f"nstep n={n} exact V": exact.Phi_of(batch, "nstep", v, n=n) for n in (1, 2, 4, 8)},
                **{f"nstep n={n} time-blind V": exact.Phi_of(batch, "nstep", v_blind, n=n) for n in (1, 2, 4, 8)},
                "gae lam=1 tilted V": exact.Phi_of(batch, "gae", v_tilt, 1.0),
                **{f"nstep n={n} tilted V": exact.Phi_of(batch, "nstep", v_tilt, n=n) for n in (1, 8, EVERY_END)},
                "gae lam=1 cut, exact V": cut_weights(batch, v, CUT),
                "gae lam=1 cut, tilted V": cut_weights(batch, v_tilt, CUT),
                f"reward-to-go gamma={GAMMA}": rtg_gamma,
                f"gamma^t reward-to-go gamma={GAMMA}": GAMMA ** t * rtg_gamma,
                # planted bugs, to show the test has power
                "BUG reward-to-go without r_t": rtg - batch.rew,
                "BUG baseline Q(s_t, a_t)": rtg - Q[mdp.x_of(batch.obs.argmax(1), t), batch.act],
            }
            g = exact.flat(exact.exact_gradient(mdp, policy))
            cache[name] = g, {k: exact.g_hats(policy, batch, Phi, BATCH) for k, Phi in Phis.items()}
        return cache[name]
    return get


def cut_weights(batch, v, every):
    """GAE with lam = 1 (R_hat_t - V(s_t)) of whole episodes cut into segments of at most ``every`` steps: a
    segment that its episode goes on after is closed by (14) with V(s_T) = v at the next step, the last with 0."""
    segments = []
    for start, stop in zip(batch.starts, batch.stops):
        cuts = list(range(start + every, stop, every))
        segments += [(a, b, v[b] if b < stop else 0.0) for a, b in zip([start] + cuts, cuts + [stop])]
    return nppg.batch_weights(batch.rew, v, segments, "gae", 1.0, 1.0)[0]


def max_z(G, g):
    """max_i |mean_i - g_i| / se_i over coordinates that vary; where none does, mean and g must agree."""
    mean, se = G.mean(axis=0), G.std(axis=0, ddof=1) / np.sqrt(len(G))
    seen = se > 0
    assert np.abs(mean - g)[~seen].max(initial=0.0) < 1e-12   # a state never visited: both exactly 0
    return float((np.abs(mean - g)[seen] / se[seen]).max())


def total_var(G):
    return float(G.var(axis=0, ddof=1).sum())


UNBIASED = ["return", "reward-to-go", "baseline exact V", "baseline time-blind V",
            "gae lam=1 exact V", "gae lam=0.5 exact V", "gae lam=0 exact V", "gae lam=1 time-blind V",
            "gae lam=1 tilted V", "gae lam=1 cut, exact V",
            "nstep n=1 exact V", "nstep n=2 exact V", "nstep n=4 exact V", "nstep n=8 exact V"]


@pytest.mark.parametrize("name", ["chain", "gridworld"])
@pytest.mark.parametrize("weight", UNBIASED)
def test_estimator_mean_is_the_exact_gradient(sampled, name, weight):
    g, G = sampled(name)
    assert len(G[weight]) == 1000
    assert max_z(G[weight], g) < Z_MAX


@pytest.mark.parametrize("name", ["chain", "gridworld"])
@pytest.mark.parametrize("bug", ["BUG reward-to-go without r_t", "BUG baseline Q(s_t, a_t)"])
def test_the_unbiasedness_test_catches_planted_bugs(sampled, name, bug):
    g, G = sampled(name)
    assert max_z(G[bug], g) > 4 * Z_MAX


@pytest.mark.parametrize("name", ["chain", "gridworld"])
def test_lam_1_with_an_inexact_value_is_biased_on_cut_segments(sampled, name):
    """lam = 1 is R_hat_t - V(s_t): on whole terminated episodes, unbiased for any V ("gae lam=1 tilted V" is
    in UNBIASED). A segment cut before its episode ends is closed with V(s_T) (14), so there an inexact V
    biases it too (an exact V does not: "gae lam=1 cut, exact V" is in UNBIASED)."""
    g, G = sampled(name)
    assert max_z(G["gae lam=1 cut, tilted V"], g) > 4 * Z_MAX


@pytest.mark.parametrize("name", ["chain", "gridworld"])
def test_discounted_weights_estimate_another_direction_than_the_gradient_of_the_discounted_objective(sampled, name):
    """With gamma < 1, grad J_gamma = E[sum_t gamma^t grad log pi(a_t|s_t) Q_gamma(x_t, a_t)] (checked against
    finite differences of the exact J_gamma). The discounted reward-to-go (10) drops the gamma^t: its mean is
    E[sum_t grad log pi Q_gamma], another vector; gamma^t R_hat_t has the mean grad J_gamma."""
    mdp, policy = setup(name)
    grad_Jg = exact.exact_gradient(mdp, policy, GAMMA)
    for k, gk in grad_Jg.items():
        assert rel_error(gk, numerical_grad(lambda: exact.J(mdp, policy, GAMMA), policy.params[k])) < 1e-6, k
    grad_Jg, usual = exact.flat(grad_Jg), exact.flat(exact.discounted_estimator_mean(mdp, policy, GAMMA))
    assert np.linalg.norm(usual - grad_Jg) > 0.5 * np.linalg.norm(grad_Jg)   # two different vectors, exactly
    _, G = sampled(name)
    assert max_z(G[f"reward-to-go gamma={GAMMA}"], usual) < Z_MAX
    assert max_z(G[f"reward-to-go gamma={GAMMA}"], grad_Jg) > 4 * Z_MAX
    assert max_z(G[f"gamma^t reward-to-go gamma={GAMMA}"], grad_Jg) < Z_MAX
    assert max_z(G[f"gamma^t reward-to-go gamma={GAMMA}"], usual) > 4 * Z_MAX


@pytest.mark.parametrize("name", ["chain", "gridworld"])
def test_an_n_that_reaches_a_terminated_episodes_end_is_unbiased_for_any_value(sampled, name):
    """(13) with n at least the T - t steps left is R_hat_t - V(s_t): on an episode that terminated, V(s_T) = 0 and
    the weight is a baseline (7), unbiased for any V, here the tilted one, whose n = 1 is far off. On the gridworld
    n = 8 reaches every end; on the chain (episodes of 20 steps on average, some far longer) it reaches only the
    last 8 steps of each, and is biased; an n past every end is not."""
    g, G = sampled(name)
    assert max_z(G["nstep n=1 tilted V"], g) > 4 * Z_MAX
    assert max_z(G[f"nstep n={EVERY_END} tilted V"], g) < Z_MAX
    if name == "gridworld":
        assert max_z(G["nstep n=8 tilted V"], g) < Z_MAX
    else:
        assert max_z(G["nstep n=8 tilted V"], g) > 4 * Z_MAX


def test_gae_with_an_inexact_value_and_lam_below_1_is_biased_and_less_noisy(sampled):
    """On the gridworld, V(s) cannot see the steps left: exact V_t(s) differs from the time-blind V."""
    g, G = sampled("gridworld")
    for lam in ("0.5", "0"):
        assert max_z(G[f"gae lam={lam} time-blind V"], g) > 4 * Z_MAX
        assert total_var(G[f"gae lam={lam} time-blind V"]) < 0.6 * total_var(G["gae lam=1 time-blind V"])


@pytest.mark.parametrize("name", ["chain", "gridworld"])
def test_variance_falls_from_return_to_reward_to_go_to_baseline(sampled, name):
    _, G = sampled(name)
    var = {k: total_var(G[k]) for k in ("return", "reward-to-go", "baseline exact V")}
    assert var["reward-to-go"] < 0.6 * var["return"]
    assert var["baseline exact V"] < 0.9 * var["reward-to-go"]


def test_gae_variance_falls_with_lam_on_the_gridworld(sampled):
    _, G = sampled("gridworld")
    var = [total_var(G[f"gae lam={lam} exact V"]) for lam in ("1", "0.5", "0")]
    assert var[1] < 0.5 * var[0] and var[2] < 0.95 * var[1]


def test_gae_variance_need_not_fall_all_the_way_to_lam_0_on_the_chain(sampled):
    """Not a law: on the chain lam = 0.5 has less variance than both lam = 1 and lam = 0."""
    _, G = sampled("chain")
    var = [total_var(G[f"gae lam={lam} exact V"]) for lam in ("1", "0.5", "0")]
    assert var[1] < 0.5 * var[0] and var[1] < 0.9 * var[2]


def test_nstep_with_an_inexact_value_is_biased_less_as_n_grows(sampled):
    """(13) trusts V(s_{t+n}) for everything after n rewards: with the time-blind V of the gridworld (whose
    episodes last at most 8 steps) the bias falls as n grows, and n = 8, the whole episode, has none."""
    g, G = sampled("gridworld")
    z = [max_z(G[f"nstep n={n} time-blind V"], g) for n in (1, 2, 4, 8)]
    assert z[0] > 1.5 * z[1] > 2.25 * z[2] and z[2] > Z_MAX and z[3] < Z_MAX, z


def test_nstep_variance_grows_with_n_on_the_gridworld(sampled):
    """More real rewards, more noise: with the exact V, each doubling of n adds variance."""
    _, G = sampled("gridworld")
    var = [total_var(G[f"nstep n={n} exact V"]) for n in (1, 2, 4, 8)]
    assert var[0] * 1.3 < var[1] and var[1] * 1.3 < var[2] and var[2] * 1.2 < var[3], var


def test_nstep_variance_need_not_grow_from_n_1_on_the_chain(sampled):
    """Not a law either: on the chain n = 2 has less variance than n = 1 (and than n = 8)."""
    _, G = sampled("chain")
    var = {n: total_var(G[f"nstep n={n} exact V"]) for n in (1, 2, 8)}
    assert var[2] < 0.85 * var[1] and var[2] < 0.5 * var[8], var


# ---- normalising Phi: the batch mean costs a bias of order 1/|D|, not 1/M ------------------------

@pytest.mark.parametrize("weights", ["return", "reward-to-go"])
def test_subtracting_the_batch_mean_of_Phi_biases_g_hat_by_order_1_over_D_at_every_episode_length(weights):
    """vpg's normalize_adv shifts Phi_t by its batch mean. Every Phi_i of an episode depends on its actions, so
    the shift is biased by about (the Phi_i that a_t moves) / M: about 1/|D|, whatever the episode length H.
    A bandit pulled H times, so that M = |D| H: the exact relative bias along grad J (``exact.centred_mean``)
    is -1/|D| for R(tau) and -(H + 1) / (2 H |D|) for R_hat_t. The mean of 8,000 sampled episodes, weighed by
    nppg's batch_weights and centred in batches of |D|, agrees with it within Z_MAX standard errors and, for
    |D| = 2 and 4, is more than Z_MAX standard errors below -1/M, a bias of order 1/M."""
    for H in (4, 16):
        mdp = exact.bandit(reward_std=0.0, horizon=H)
        policy = exact.generic_policy(mdp, np.random.default_rng(0))
        g = exact.flat(exact.exact_gradient(mdp, policy))
        u = g / np.linalg.norm(g)
        batch = exact.episodes(exact.make_envs(mdp, 100), policy, 80, np.random.default_rng(0), seed=0)
        assert np.all(batch.stops - batch.starts == H)
        Phi = exact.Phi_of(batch, weights)
        for D in (2, 4, 8):
            exact_bias = exact.centred_mean(mdp, policy, weights, D) @ u / np.linalg.norm(g) - 1
            assert abs(exact_bias - (-1 / D if weights == "return" else -(H + 1) / (2 * H * D))) < 1e-9
            G = exact.g_hats(policy, batch, exact.normalised(batch, Phi, D, scale=False), D)
            bias = G @ u / np.linalg.norm(g) - 1                    # (8000 / D,) relative error of each g_hat
            mean, se = bias.mean(), bias.std(ddof=1) / np.sqrt(len(bias))
            assert abs(mean - exact_bias) < Z_MAX * se, (H, D, mean, exact_bias, se)
            if D <= 4:
                assert mean < -1 / (D * H) - Z_MAX * se, (H, D, mean, se)


# ---- ascent on the bandit reaches the best arm --------------------------------------------

def test_gradient_ascent_with_the_exact_gradient_reaches_the_best_arm():
    mdp = exact.bandit()
    policy = exact.generic_policy(mdp, np.random.default_rng(0), scale=0.0)  # nppg's near-uniform start
    opt = nppg.SGD(policy.params, lr=1.0)
    for _ in range(200):
        opt.step({k: -g for k, g in exact.exact_gradient(mdp, policy).items()})  # ascent on J
    pi = exact.probs(mdp, policy)[0]
    assert pi.argmax() == mdp.R[0, :, 0].argmax() and pi.max() > 0.99


def test_vpg_from_samples_reaches_the_best_arm():
    mdp = exact.bandit()
    result = nppg.vpg("nppg.checks.exact:nppg/Bandit-v0", seed=0, epochs=30, steps_per_epoch=200, num_envs=4,
                      hidden=(8,), weights="reward-to-go")
    pi = exact.probs(mdp, result.policy)[0]
    assert pi.argmax() == mdp.R[0, :, 0].argmax() and pi.max() > 0.8
    assert exact.J(mdp, result.policy) > 0.9  # the best arm pays 1.0; uniform play pays 0.425
