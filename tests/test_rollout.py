"""Episode ends, exactly right: the traps of widely used implementations, each as a test."""
import numpy as np
import pytest
from nppg_test_envs import clock_envs

from nppg import CategoricalPolicy, GaussianPolicy
from nppg.algorithm import closing_values
from nppg.rollout import Rollout
from nppg.engine.evaluate import episodes, evaluate


class ObsValue:
    """A stand-in value function whose V(s) = 1000 + 10 t + k tells which observation it was given."""

    def predict(self, obs):
        return 1000.0 + 10.0 * obs[:, 0] + obs[:, 1]


def collect(envs, steps, epochs=1, box=False, seed=0):
    rng = np.random.default_rng(seed)
    d = int(np.prod(envs.single_observation_space.shape))
    policy = GaussianPolicy(d, 1, (8,), rng=rng) if box else CategoricalPolicy(d, 2, (8,), rng=rng)
    rollout = Rollout(envs, seed=seed)
    return [rollout.collect(policy, steps, rng) for _ in range(epochs)]


def segments(batch):
    return list(zip(batch.starts, batch.stops))


@pytest.mark.parametrize("num_envs, steps", [(1, 7), (2, 10), (3, 23), (4, 4)])
@pytest.mark.parametrize("copy", [True, False])  # False: s_t must be kept, not the env's reused buffer
def test_reset_step_is_never_stored_and_segments_are_consecutive(num_envs, steps, copy):
    for batch in collect(clock_envs(num_envs, max_episode_steps=5, copy=copy), steps, epochs=6):
        assert len(batch.rew) >= steps and len(batch.rew) < steps + num_envs
        assert np.all(batch.rew != 0.0), "a reset step (reward 0) was stored as a transition"
        for start, stop in segments(batch):
            t, k = batch.obs[start:stop, 0], batch.obs[start:stop, 1]
            assert np.all(np.diff(t) == 1) and np.all(k == k[0]), "a segment mixes steps of two episodes"
            assert np.array_equal(batch.rew[start:stop], 1.0 + t)
        assert batch.starts[0] == 0 and batch.stops[-1] == len(batch.rew)
        assert np.array_equal(batch.starts[1:], batch.stops[:-1])


def test_truncation_bootstraps_the_true_final_observation():
    (batch,) = collect(clock_envs(2, max_episode_steps=5), 40)
    last_val = closing_values(batch, ObsValue())
    for i, (start, stop) in enumerate(segments(batch)):
        final = batch.final_obs[i]
        assert not batch.terminated[i]  # the clock never terminates: every ending is a time limit or a cut
        assert final[0] == batch.obs[stop - 1, 0] + 1, "bootstrapped from the reset observation, not s_T"
        assert final[1] == batch.obs[stop - 1, 1], "final observation belongs to another episode"
        assert last_val[i] == 1000.0 + 10.0 * final[0] + final[1]
    assert np.sum(batch.final_obs[:, 0] == 5) >= 6  # whole time-limited episodes, closed at s_5


def test_termination_closes_with_zero():
    (batch,) = collect(clock_envs(2, max_episode_steps=50, terminate_at=3), 30)
    last_val = closing_values(batch, ObsValue())
    ended = batch.final_obs[:, 0] == 3
    assert ended.sum() >= 8 and np.all(batch.terminated[ended]) and np.all(last_val[ended] == 0.0)
    assert np.all(last_val[~ended] > 0)  # the cuts at the batch's end are bootstrapped


def test_termination_on_the_last_step_of_the_batch_closes_with_zero_not_V():
    # one env, episodes of exactly 4 steps, batches of 8: every batch ends on a termination
    for batch in collect(clock_envs(1, max_episode_steps=50, terminate_at=4), 8, epochs=3):
        assert len(batch.rew) == 8 and batch.obs[-1, 0] == 3
        assert list(batch.terminated) == [True, True]
        assert np.all(closing_values(batch, ObsValue()) == 0.0)


def test_truncation_on_the_last_step_of_the_batch_bootstraps_s_T():
    for batch in collect(clock_envs(1, max_episode_steps=4), 8, epochs=3):
        assert list(batch.terminated) == [False, False]
        assert np.all(batch.final_obs[:, 0] == 4)


def test_unfinished_episode_carries_over_to_the_next_batch():
    b1, b2 = collect(clock_envs(1, max_episode_steps=50), 3, epochs=2)
    assert np.array_equal(b1.obs[:, 0], [0, 1, 2]) and np.array_equal(b2.obs[:, 0], [3, 4, 5])
    assert b1.final_obs[0, 0] == 3 and len(b1.ep_returns) == 0


def test_episode_statistics_count_whole_episodes():
    batches = collect(clock_envs(2, max_episode_steps=5), 50, epochs=2)
    for b in batches:
        assert np.all(b.ep_lengths == 5) and np.all(b.ep_returns == 1 + 2 + 3 + 4 + 5)


def test_box_actions_are_clipped_for_the_env_and_stored_unclipped():
    envs = clock_envs(2, max_episode_steps=5, box_actions=True)
    (batch,) = collect(envs, 400, box=True)
    received = np.concatenate([e.unwrapped.received for e in envs.envs])
    assert np.all(np.abs(received) <= 1.0)
    assert np.any(np.abs(batch.act) > 1.0), "stored actions were clipped: log-probs would be of the wrong action"


def test_observations_of_any_shape_are_flattened():
    (batch,) = collect(clock_envs(2, max_episode_steps=5, obs_shape=(2, 3)), 20)
    assert batch.obs.shape[1] == 6 and np.all(batch.obs[:, 2:] == 0)


def test_evaluate_runs_each_copy_for_its_quota_of_whole_episodes():
    envs = clock_envs(3, max_episode_steps=5)
    policy = CategoricalPolicy(2, 2, (8,), rng=np.random.default_rng(0))
    R, L = evaluate(policy, envs, 7, np.random.default_rng(0), seed=0)
    assert len(R) == 7 and np.all(L == 5) and np.all(R == 15)


@pytest.mark.parametrize("copy", [True, False])
def test_whole_episodes_store_each_step_own_observation(copy):
    """``episodes`` (evaluation, the exact MDPs) keeps s_t even when the env reuses its buffer."""
    policy = CategoricalPolicy(2, 2, (8,), rng=np.random.default_rng(0))
    batch = episodes(clock_envs(2, max_episode_steps=5, copy=copy), policy, 2, np.random.default_rng(0), seed=0)
    assert np.array_equal(batch.obs[:, 0], np.tile(np.arange(5.0), 4))
    assert np.array_equal(batch.rew, 1.0 + batch.obs[:, 0])


def test_whole_episode_returns_are_summed_in_float64():
    """CartPole's own vector env returns float32 rewards; eval's means would carry float32 noise."""
    from nppg.engine import make_env
    envs = make_env("CartPole-v1", 2)
    envs.reset(seed=0)
    assert envs.step(np.zeros(2, dtype=np.int64))[1].dtype == np.float32
    batch = episodes(envs, CategoricalPolicy(4, 2, (8,), rng=np.random.default_rng(0)), 1, np.random.default_rng(0))
    assert batch.rew.dtype == np.float64 and batch.ep_returns.dtype == np.float64


def test_whole_episodes_refuse_a_non_finite_reward_like_training_does():
    """``episodes`` steps through ``Rollout.step``, so evaluation checks what the environment returns too."""
    import gymnasium as gym
    from nppg.engine import NonFiniteError
    envs = gym.make_vec("nppg_test_envs:Broken-v0", num_envs=1, vectorization_mode="sync")
    policy = CategoricalPolicy(2, 2, (8,), rng=np.random.default_rng(0))
    with pytest.raises(NonFiniteError, match="copy 0 returned a non-finite reward nan at step 3 of its episode"):
        episodes(envs, policy, 3, np.random.default_rng(0), seed=0)


def test_a_vector_env_that_resets_on_the_same_step_is_refused():
    """Rollout's bookkeeping is written for NEXT_STEP autoreset; SAME_STEP would mix episodes silently."""
    import gymnasium as gym
    from gymnasium.vector import AutoresetMode
    envs = gym.make_vec("CartPole-v1", 2, vectorization_mode="sync",
                        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP})
    with pytest.raises(ValueError, match="autoreset mode NEXT_STEP; got .*SAME_STEP"):
        Rollout(envs, seed=0)
    envs.close()
