"""Observation normalisation and reward scaling (24-26): the running statistics against NumPy's own, the
merge of two halves against the whole, the discounted return G_t they scale by, and an exact resume."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from run_dirs import logger
from strategies import seeds
from test_robust import assert_same_run, progress

import nppg
from nppg.normalize import RunningStats
from nppg.rollout import Rollout
from nppg.engine import checkpoint
from nppg.tools.cli import main

batch_sizes = st.lists(st.integers(1, 40), min_size=1, max_size=6)


@given(seed=seeds, sizes=batch_sizes, dim=st.integers(1, 4))
def test_streamed_statistics_are_numpys_mean_and_variance_of_everything_seen(seed, sizes, dim):
    rng = np.random.default_rng(seed)
    batches = [rng.normal(3.0, 2.0, (n, dim)) * rng.uniform(0.1, 10.0) for n in sizes]
    stats = RunningStats(dim)
    for b in batches:
        stats.update(b)
    everything = np.concatenate(batches)
    assert stats.N == len(everything)
    np.testing.assert_allclose(stats.mean, everything.mean(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(stats.var(), everything.var(axis=0), rtol=1e-10, atol=1e-12)


@given(seed=seeds, n=st.integers(2, 200), cut=st.floats(0.05, 0.95))
def test_merging_two_halves_is_the_whole(seed, n, cut):
    x = np.random.default_rng(seed).standard_normal((n, 3)) * 5 + 1
    k = max(1, min(n - 1, int(cut * n)))
    halves, whole = RunningStats(3), RunningStats(3)
    halves.update(x[:k])
    halves.update(x[k:])
    whole.update(x)
    assert halves.N == whole.N
    np.testing.assert_allclose(halves.mean, whole.mean, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(halves.M2, whole.M2, rtol=1e-10, atol=1e-12)


def test_the_normalised_observation_is_24_clipped():
    stats = RunningStats(2)
    np.testing.assert_array_equal(stats.var(), [1.0, 1.0])  # nothing seen yet: observations pass (almost) as they are
    stats.update(np.array([[0.0, 10.0], [2.0, 10.0]]))      # mean (1, 10), var (1, 0)
    s = np.array([[3.0, 10.0], [-100.0, 10.001]])
    out = stats.normalize(s, clip=5.0)
    np.testing.assert_allclose(out[0], [2.0 / np.sqrt(1 + 1e-8), 0.0])
    assert out[1, 0] == -5.0 and out[1, 1] == 5.0           # clipped to [-c, c]; var 0 does not divide by 0


def test_G_is_each_episodes_discounted_return_so_far():
    from nppg_test_envs import clock_envs
    envs = clock_envs(2, max_episode_steps=5)  # rewards 1, 2, 3, 4, 5 in every episode
    rollout = Rollout(envs, seed=0, gamma=0.5)
    policy = nppg.CategoricalPolicy(envs.single_observation_space.shape[0], 2, (4,), rng=np.random.default_rng(0))
    for _ in range(3):
        batch = rollout.collect(policy, 13, np.random.default_rng(0))
        t = batch.obs[:, 0].astype(int)                 # the clock shows each step's time in its episode
        expected = [sum(0.5 ** (k - j) * (1 + j) for j in range(k + 1)) for k in t]
        np.testing.assert_allclose(batch.G, expected, rtol=1e-15)


def test_training_keeps_the_statistics_of_every_observation_and_every_G():
    state = nppg.vpg("Pendulum-v1", epochs=3, steps_per_epoch=200, num_envs=2, hidden=(8,), train_v_iters=2,
                     normalize_obs=True, scale_rewards=True)
    assert state.obs_stats.N == 600 and state.ret_stats.N == 600
    assert state.policy.net.obs_stats is state.value_fn.net.obs_stats is state.obs_stats
    assert np.all(state.obs_stats.var() > 0) and state.ret_stats.var() > 0


SMALL = dict(steps_per_epoch=300, num_envs=3, hidden=(8,), train_v_iters=3)


@pytest.mark.parametrize("env", ["Pendulum-v1", "nppg_test_envs:ClockBox-v0"])
def test_a_resumed_run_with_normalisation_is_the_uninterrupted_run(tmp_path, env):
    cfg = dict(env=env, seed=3, epochs=5, normalize_obs=True, scale_rewards=True, **SMALL)
    whole, part = str(tmp_path / "whole"), str(tmp_path / "part")
    nppg.train(callback=logger(whole, cfg), **cfg)
    nppg.train(callback=logger(part, cfg, stop=lambda: True), **cfg)  # stops after epoch 1
    assert len(progress(part)) == 1
    saved = checkpoint.load_train_state(part)
    assert saved[1]["obs.N"] == 300 and "ret.M2" in saved[1]
    nppg.train(callback=logger(part, cfg, resume_epoch=1), resume=saved, **cfg)
    assert_same_run(whole, part)


def test_evaluation_uses_the_saved_statistics_frozen(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main(["train", "--env", "Pendulum-v1", "--epochs", "2", "--steps-per-epoch", "200", "--num-envs", "2",
                 "--hidden", "8", "--normalize-obs", "--quiet", "--out", out]) == 0
    policy, value_fn, header = checkpoint.load_checkpoint(f"{out}/policy.npz")
    saved = checkpoint.read_checkpoint(f"{out}/state.npz")[1]
    stats = policy.net.obs_stats
    assert stats is value_fn.net.obs_stats and stats.N == 400
    np.testing.assert_array_equal(stats.mean, saved["obs.mean"])
    assert main(["eval", out, "--episodes", "2"]) == 0
    assert stats.N == 400  # evaluation does not update them


def test_the_preset_sets_its_flags_and_flags_beside_it_win(tmp_path):
    import json
    out = str(tmp_path / "run")
    assert main(["train", "--preset", "mujoco", "--env", "Pendulum-v1", "--pi-lr", "0.002", "--epochs", "1",
                 "--steps-per-epoch", "100", "--num-envs", "2", "--hidden", "4", "--quiet", "--out", out]) == 0
    config = json.load(open(f"{out}/config.json"))
    assert config["normalize_obs"] and config["scale_rewards"] and config["lam"] == 0.95
    assert config["log_std_init"] == -1.5 and config["lr_decay"]
    assert config["pi_lr"] == 0.002 and config["steps_per_epoch"] == 100
    undone = str(tmp_path / "undone")
    assert main(["train", "--preset", "mujoco", "--no-scale-rewards", "--no-lr-decay", "--env", "Pendulum-v1", "--epochs", "1",
                 "--steps-per-epoch", "100", "--num-envs", "2", "--hidden", "4", "--quiet", "--out", undone]) == 0
    config = json.load(open(f"{undone}/config.json"))
    assert config["normalize_obs"] and not config["scale_rewards"] and not config["lr_decay"]
