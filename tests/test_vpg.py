"""The VPG loop: each weight runs, diagnostics are honest, runs are reproducible, CartPole improves."""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import arrays

import nppg
from nppg.algorithm import VPGConfig, fit_value, update_policy
from nppg.rollout import Batch

SMALL = dict(epochs=3, steps_per_epoch=200, num_envs=2, hidden=(16,), train_v_iters=5)


@pytest.mark.parametrize("weights", ["return", "reward-to-go", "baseline", "nstep", "gae"])
def test_every_weight_trains_on_discrete_and_box_actions(weights):
    for env in ("nppg_test_envs:Clock-v0", "nppg_test_envs:ClockBox-v0"):
        history = nppg.vpg(env, weights=weights, **SMALL).history
        assert [r["epoch"] for r in history] == [1, 2, 3]
        assert all(np.isfinite(r["loss_v"]) and r["episodes"] >= 38 for r in history)
        assert history[-1]["env_steps"] >= 600


def test_same_seed_same_run_number_for_number():
    runs = [nppg.vpg("CartPole-v1", seed=3, **SMALL) for _ in range(2)]
    assert runs[0].history == runs[1].history
    for k in runs[0].policy.params:
        assert np.array_equal(runs[0].policy.params[k], runs[1].policy.params[k])
    other = nppg.vpg("CartPole-v1", seed=4, **SMALL)
    assert other.history != runs[0].history


def test_an_epoch_with_no_finished_episode_reports_nan_and_goes_on():
    # CartPole episodes last at least 8 steps; 2 envs x 4 steps cannot finish one
    history = nppg.vpg("CartPole-v1", epochs=2, steps_per_epoch=8, num_envs=2, hidden=(8,), train_v_iters=1).history
    assert history[0]["episodes"] == 0 and np.isnan(history[0]["mean_return"]) and np.isnan(history[0]["std_return"])
    assert np.isfinite(history[0]["loss_pi"]) and np.isfinite(history[0]["kl"])


def test_kl_and_loss_change_are_measured_after_the_update():
    rng = np.random.default_rng(0)
    policy = nppg.CategoricalPolicy(3, 4, (16,), rng=rng)
    obs = rng.standard_normal((20000, 3))
    act, Phi = policy.sample(obs, rng), rng.standard_normal(20000)  # kl's estimator needs a ~ pi_old
    logp_old = nppg.distributions.log_softmax(policy.logits(obs))                   # (N, K) every action's
    stats = update_policy(policy, nppg.Adam(policy.params, lr=1e-2), obs, act, Phi)
    logp_new = nppg.distributions.log_softmax(policy.logits(obs))
    exact_kl = np.mean(np.sum(np.exp(logp_old) * (logp_old - logp_new), axis=1))  # KL(pi_old || pi_new)
    assert exact_kl > 1e-5, "the step did not change the policy"
    assert stats["kl"] == pytest.approx(exact_kl, rel=0.3), "kl read before the update is exactly 0"
    assert stats["delta_loss_pi"] < 0, "an ascent step on the surrogate must lower -mean(logp * Phi)"


def test_the_policy_step_ascends_the_sampled_policy_gradient():
    """update_policy moves theta along +g_hat = 1/N sum grad log pi * Phi (a small SGD-like Adam step)."""
    rng = np.random.default_rng(1)
    policy = nppg.CategoricalPolicy(3, 4, (16,), rng=rng)
    obs, act, Phi = rng.standard_normal((300, 3)), rng.integers(0, 4, 300), rng.standard_normal(300)
    g = policy.grad_log_prob(obs, act, Phi / 300)
    before = {k: v.copy() for k, v in policy.params.items()}
    update_policy(policy, nppg.SGD(policy.params, lr=1e-3), obs, act, Phi)
    for k in g:
        assert np.allclose(policy.params[k] - before[k], 1e-3 * g[k], rtol=1e-10, atol=1e-15)


def test_lr_decay_takes_epoch_k_s_steps_with_alpha_0_times_1_minus_k_over_K():
    """(28) on both optimizers, set before epoch k's steps: the same run as one whose callback sets the step
    sizes by hand for the next epoch, to the bit; and without lr_decay the step sizes never change."""
    cfg = dict(SMALL, epochs=4, pi_lr=0.02, vf_lr=0.004)
    by_hand, built_in = [], []

    def schedule(record, s):  # after epoch k (record["epoch"] = k + 1): epoch k + 1's step sizes
        k, K = record["epoch"], cfg["epochs"]
        s.pi_opt.lr, s.vf_opt.lr = 0.02 * (1 - k / K), 0.004 * (1 - k / K)
        by_hand.append({n: p.copy() for n, p in s.policy.params.items()})

    nppg.vpg("CartPole-v1", seed=5, callback=schedule, **cfg)
    decayed = nppg.vpg("CartPole-v1", seed=5, lr_decay=True, **cfg,
                       callback=lambda r, s: built_in.append(({n: p.copy() for n, p in s.policy.params.items()},
                                                               s.pi_opt.lr, s.vf_opt.lr)))
    assert np.allclose([(a, b) for _, a, b in built_in], [(0.02 * f, 0.004 * f) for f in (1, .75, .5, .25)])
    for hand, (auto, _, _) in zip(by_hand, built_in):
        assert all(np.array_equal(hand[n], auto[n]) for n in hand)
    plain = nppg.vpg("CartPole-v1", seed=5, **cfg)
    assert (plain.pi_opt.lr, plain.vf_opt.lr) == (0.02, 0.004)
    assert any(not np.array_equal(plain.policy.params[n], decayed.policy.params[n]) for n in plain.policy.params)


def test_config_rejects_unknown_weights():
    with pytest.raises(ValueError, match="weights must be one of"):
        nppg.vpg("CartPole-v1", weights="advantage", **SMALL)


def test_config_documents_every_field():
    import inspect
    lines = inspect.getsource(VPGConfig).splitlines()
    for name in VPGConfig.__dataclass_fields__:
        line = next(l for l in lines if l.strip().startswith(f"{name}:"))
        assert "  # " in line and len(line.split("  # ", 1)[1]) > 10, f"VPGConfig.{name} has no comment"


@pytest.mark.slow
def test_cartpole_return_clearly_improves():
    history = nppg.vpg("CartPole-v1", seed=0, epochs=15).history
    first, last = history[0]["mean_return"], max(r["mean_return"] for r in history[-3:])
    assert first < 40 and last > 150, (first, last)


def test_gaussian_policy_learns_a_continuous_contextual_bandit():
    """One-step episodes, reward -(a - s/2)^2: the mean mu(s) must move to s/2 and sigma shrink."""
    state = nppg.vpg("nppg_test_envs:Target-v0", epochs=60, steps_per_epoch=500, num_envs=4,
                     hidden=(), pi_lr=3e-2, weights="baseline", train_v_iters=20)
    policy, history = state.policy, state.history
    s = np.linspace(-1, 1, 9)[:, None]
    assert np.max(np.abs(policy.mean(s)[:, 0] - s[:, 0] / 2)) < 0.1
    assert policy.params["log_std"][0] < -1.0
    assert history[-1]["mean_return"] > 0.5 * history[0]["mean_return"]


def test_fit_value_regresses_v_on_the_targets_and_reports_the_loss_before_and_after():
    """(9) fit_value's Adam steps lower mean_t (V(s_t) - R_hat_t)^2 on the batch, and its record holds
    the loss before the fit and the change the fit made."""
    rng = np.random.default_rng(0)
    vf = nppg.ValueFunction(3, (16,), rng=rng)
    obs = rng.standard_normal((500, 3))
    R_hat = obs @ np.array([1.0, -2.0, 0.5]) + 3.0
    before = vf.grad_mse(obs, R_hat)[0]
    stats = fit_value(vf, nppg.Adam(vf.params, 1e-2), obs, R_hat, iters=200)
    after = vf.grad_mse(obs, R_hat)[0]
    assert stats["loss_v"] == before and stats["delta_loss_v"] == after - before
    assert after < 0.01 * before, (before, after)


@given(arrays(np.float64, st.integers(1, 300), elements=st.floats(-1e6, 1e6)))
def test_phi_normalised_with_the_batch_mean_is_numpys_mean_and_std_to_the_bit(Phi):
    """vpg writes the normalisation as batch means (so that a batch split over processes can take them over
    all of D_k); on one process that is exactly (Phi - Phi.mean()) / (Phi.std() + 1e-8)."""
    batch = Batch(*[np.zeros(0)] * 10)
    mu = batch.mean(Phi)
    ours = (Phi - mu) / (np.sqrt(batch.mean((Phi - mu) ** 2)) + 1e-8)
    assert np.array_equal(ours, (Phi - Phi.mean()) / (Phi.std() + 1e-8))


def test_an_epoch_is_the_pseudocode_in_order():
    """One epoch of vpg is steps 3-8 in their order, redone here by hand from the same seed: the advantages use
    V_phi_k, the value function *before* its fit (step 5; step 8 fits phi_{k+1} afterwards), Phi is normalised
    over the whole batch, and the policy takes one step. An advantage computed with the fitted V, or Phi
    normalised episode by episode, moves the parameters elsewhere."""
    from nppg.course.checks.algorithm import vpg_by_hand  # the course's own redo of the pseudocode, steps 3-8
    cfg = dict(epochs=1, steps_per_epoch=300, num_envs=2, hidden=(16,), train_v_iters=10, seed=5)
    ours, s = nppg.vpg("CartPole-v1", **cfg), vpg_by_hand(**cfg)
    for net_a, net_b in ((ours.policy, s.policy), (ours.value_fn, s.value_fn)):
        for k in net_a.params:
            assert np.allclose(net_a.params[k], net_b.params[k], rtol=1e-12, atol=1e-15), k
