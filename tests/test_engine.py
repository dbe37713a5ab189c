"""The engine's pieces against the plain ones they stand in for: the same numbers, to the bit where
the arithmetic is the same, and to rounding where only the order of a sum changes."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from strategies import activations, assert_grads_match, away_from_kink, dims, hidden_sizes, redraw_params, rows, seeds

import nppg
from nppg.engine import CheckedRollout, FastValueFunction
from nppg.engine import make_env
from nppg.rollout import Rollout

SMALL = dict(epochs=3, steps_per_epoch=300, num_envs=3, hidden=(16,), train_v_iters=5)


def pair(seed, obs_dim, hidden, activation="tanh", **fast):
    """A plain ValueFunction and a FastValueFunction from the same draws."""
    return (nppg.ValueFunction(obs_dim, hidden, activation, np.random.default_rng(seed)),
            FastValueFunction(obs_dim, hidden, activation, np.random.default_rng(seed), **fast))


# ---- FastValueFunction: (22) in row blocks, threads, float32 ------------------------------------

@given(seed=seeds, obs_dim=dims, hidden=hidden_sizes, activation=activations, n=rows)
def test_one_block_of_every_row_is_the_plain_value_function_to_the_bit(seed, obs_dim, hidden, activation, n):
    plain, fast = pair(seed, obs_dim, hidden, activation)
    assert all(np.array_equal(plain.params[k], fast.params[k]) for k in plain.params)  # the same initial draws
    rng = np.random.default_rng(seed + 1)
    obs, R_hat = rng.standard_normal((n, obs_dim)), rng.standard_normal(n)
    assert np.array_equal(fast.predict(obs), plain.predict(obs))
    (loss, grads), (loss_1, grads_1) = fast.grad_mse(obs, R_hat, block=n), plain.grad_mse(obs, R_hat)
    assert loss == loss_1 and all(np.array_equal(grads[k], grads_1[k]) for k in grads_1)


@given(seed=seeds, obs_dim=dims, hidden=hidden_sizes, activation=activations, n=rows,
       block=st.one_of(st.none(), st.integers(1, 6)))
def test_the_blocked_gradient_matches_finite_differences(seed, obs_dim, hidden, activation, n, block):
    rng = np.random.default_rng(seed)
    vf = FastValueFunction(obs_dim, hidden, activation, rng)
    redraw_params(vf.params, rng)
    obs, R_hat = rng.standard_normal((n, obs_dim)), rng.standard_normal(n)
    assume(away_from_kink(vf.net, obs))
    loss, grads = vf.grad_mse(obs, R_hat, block)
    np.testing.assert_allclose(loss, np.mean((vf.predict(obs) - R_hat) ** 2), rtol=1e-13)
    assert_grads_match(lambda: vf.grad_mse(obs, R_hat, block)[0], vf.params, grads)


@given(seed=seeds, n=st.integers(1, 3000), block=st.integers(1, 1200))
def test_blocks_sum_to_the_plain_gradient_up_to_rounding(seed, n, block):
    plain, fast = pair(seed, 4, (16, 16))
    rng = np.random.default_rng(seed)
    obs, R_hat = rng.standard_normal((n, 4)), rng.standard_normal(n)
    (loss, grads), (loss_1, grads_1) = fast.grad_mse(obs, R_hat, block), plain.grad_mse(obs, R_hat)
    np.testing.assert_allclose(loss, loss_1, rtol=1e-12)
    for k in grads_1:
        np.testing.assert_allclose(grads[k], grads_1[k], rtol=1e-10, atol=1e-14 * np.abs(grads_1[k]).max())


@settings(max_examples=20, deadline=None)
@given(seed=seeds, n=st.integers(1, 400), block=st.integers(1, 120), workers=st.integers(2, 4))
def test_blocks_computed_in_threads_are_the_same_to_the_bit(seed, n, block, workers):
    """A thread pool computes the blocks at once but they are added in the same order: equal, not close."""
    rng = np.random.default_rng(seed)
    obs, R_hat = rng.standard_normal((n, 3)), rng.standard_normal(n)
    with ThreadPoolExecutor(workers) as pool:
        loss_p, grads_p = FastValueFunction(3, (16, 16), rng=np.random.default_rng(seed), pool=pool).grad_mse(
            obs, R_hat, block)
    loss, grads = FastValueFunction(3, (16, 16), rng=np.random.default_rng(seed)).grad_mse(obs, R_hat, block)
    assert loss_p == loss and all(np.array_equal(grads_p[k], grads[k]) for k in grads)


@pytest.mark.parametrize("block", [0, -3, 2.5, "10", True])
def test_a_block_that_is_not_a_whole_number_is_refused(block):
    vf = FastValueFunction(3, (8,), rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="block must be a whole number >= 1"):
        vf.grad_mse(np.zeros((5, 3)), np.zeros(5), block=block)


class RecordingPool:
    """Computes the blocks in this thread, and keeps the row at which each one starts."""

    def __init__(self):
        self.starts = []

    def map(self, f, starts):
        self.starts = list(starts)
        return map(f, self.starts)


@pytest.mark.parametrize("n, starts", [(4000, [0, 2000]), (5000, [0, 1667, 3334]), (10, [0, 5]), (1, [0])])
def test_the_default_blocks_are_the_fewest_equal_ones_and_at_least_two(n, starts):
    pool = RecordingPool()
    vf = FastValueFunction(3, (64, 64), rng=np.random.default_rng(0), pool=pool)
    assert vf.block == 2048  # 1 MB of 64 float64s
    vf.grad_mse(np.zeros((n, 3)), np.zeros(n))
    assert pool.starts == starts


def test_float32_stays_close_to_float64():
    """dtype=float32 (the faster option) computes the same loss and gradient to single precision."""
    plain, fast = pair(0, 4, (64, 64), dtype=np.float32)
    rng = np.random.default_rng(3)
    obs, R_hat = rng.standard_normal((500, 4)), rng.standard_normal(500)
    assert all(p.dtype == np.float32 for p in fast.params.values())
    (loss64, g64), (loss32, g32) = plain.grad_mse(obs, R_hat), fast.grad_mse(obs, R_hat)
    np.testing.assert_allclose(loss32, loss64, rtol=1e-5)
    for k in g64:
        assert g32[k].dtype == np.float32
        np.testing.assert_allclose(g32[k], g64[k], rtol=1e-3, atol=1e-5 * np.abs(g64[k]).max())


# ---- CheckedRollout: the plain Rollout, plus checks and a record of every action ---------------

@pytest.mark.parametrize("env_id", ["CartPole-v1", "nppg_test_envs:ClockBox-v0"])
def test_checked_rollout_collects_the_plain_rollouts_batches_and_records_their_actions(env_id):
    rollouts = [R(make_env(env_id, 3), seed=5) for R in (Rollout, CheckedRollout)]
    policy = nppg.make_policy(rollouts[0].obs_space, rollouts[0].act_space, (8,), rng=np.random.default_rng(0))
    rows = 0
    for _ in range(3):
        plain, checked = (r.collect(policy, 50, np.random.default_rng(rows)) for r in rollouts)
        for field in plain.__dataclass_fields__:
            assert np.array_equal(getattr(plain, field), getattr(checked, field)), field
        assert rollouts[1].last_actions.shape[:2] == (len(rollouts[1].last_actions), 3)
        rows += len(rollouts[1].last_actions)
        assert rollouts[1].vector_steps == rows


def test_replay_restores_the_environments_state():
    a = CheckedRollout(make_env("CartPole-v1", 2), seed=3)
    policy = nppg.make_policy(a.obs_space, a.act_space, (8,), rng=np.random.default_rng(0))
    recorded = []
    for k in range(3):
        a.collect(policy, 40, np.random.default_rng(k))
        recorded.append(a.last_actions)
    b = CheckedRollout(make_env("CartPole-v1", 2), seed=3)
    b.replay(np.concatenate(recorded))
    for k in ("obs", "ep_ret", "ep_len", "resetting"):
        assert np.array_equal(getattr(a, k), getattr(b, k)), k
    assert a.vector_steps == b.vector_steps


# ---- nppg.train: the plain loop with the engine's pieces ----------------------------------------

def strip(history):
    return [{k: v for k, v in r.items() if k not in ("time_s", "steps_per_s")} for r in history]


@pytest.mark.parametrize("env_id", ["CartPole-v1", "nppg_test_envs:ClockBox-v0"])
def test_train_with_one_value_block_is_vpg_to_the_bit(env_id, monkeypatch):
    """With the value gradient in one block, every piece of the engine computes what the plain one does."""
    one_block = FastValueFunction.grad_mse
    monkeypatch.setattr(FastValueFunction, "grad_mse", lambda self, obs, R_hat, block=None:
                        one_block(self, obs, R_hat, block=len(obs)))
    plain, fast = nppg.vpg(env_id, seed=2, **SMALL), nppg.train(env_id, seed=2, vf_dtype="float64", **SMALL)
    assert strip(fast.history) == plain.history
    for a, b in ((plain.policy, fast.policy), (plain.value_fn, fast.value_fn)):
        assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)


def test_train_with_its_default_blocks_is_vpg_up_to_rounding():
    plain, fast = nppg.vpg("CartPole-v1", seed=2, **SMALL), nppg.train("CartPole-v1", seed=2, vf_dtype="float64", **SMALL)
    for k in plain.policy.params:
        np.testing.assert_allclose(fast.policy.params[k], plain.policy.params[k], rtol=1e-9, atol=1e-12)
    assert [r["env_steps"] for r in fast.history] == [r["env_steps"] for r in plain.history]


def test_train_fits_a_float32_value_network_by_default_and_keeps_the_policy_float64():
    """The engine's one change of precision (docs/performance.md): V in float32, which is twice as fast where
    float64 products are slow; the policy, its score and the plain nppg.vpg stay float64."""
    fast, plain = nppg.train("CartPole-v1", seed=2, **SMALL), nppg.vpg("CartPole-v1", seed=2, **SMALL)
    assert all(p.dtype == np.float32 for p in fast.value_fn.params.values())
    assert all(p.dtype == np.float64 for s in (fast, plain) for p in s.policy.params.values())
    assert all(p.dtype == np.float64 for p in plain.value_fn.params.values())
    first, first_plain = fast.history[0], plain.history[0]  # the same batch; V's loss to single precision
    assert first["env_steps"] == first_plain["env_steps"] and first["mean_return"] == first_plain["mean_return"]
    assert first["loss_v"] == pytest.approx(first_plain["loss_v"], rel=1e-5) and first["loss_v"] != first_plain["loss_v"]


def test_train_adds_the_training_time_and_speed_to_each_record():
    history = nppg.train("CartPole-v1", **SMALL).history
    times = [r["time_s"] for r in history]
    assert all(t > 0 for t in times) and times == sorted(times)
    assert all(r["steps_per_s"] > 0 for r in history)


def test_with_observation_statistics_it_is_still_the_plain_value_function_to_the_bit():
    """FastValueFunction normalises a batch once per statistics (25); a change of statistics is seen."""
    from nppg.normalize import RunningStats
    plain, fast = pair(3, 5, (16,))
    stats = RunningStats(5)
    plain.net.obs_stats = fast.net.obs_stats = stats
    rng = np.random.default_rng(0)
    obs, R_hat = rng.normal(2.0, 3.0, (300, 5)), rng.standard_normal(300)
    for _ in range(2):
        stats.update(rng.normal(1.0, 2.0, (50, 5)))
        for _ in range(2):  # the second call of each pair takes the cached normalisation
            assert np.array_equal(fast.predict(obs), plain.predict(obs))
            (loss, grads), (loss_1, grads_1) = fast.grad_mse(obs, R_hat, block=300), plain.grad_mse(obs, R_hat)
            assert loss == loss_1 and all(np.array_equal(grads[k], grads_1[k]) for k in grads_1)
