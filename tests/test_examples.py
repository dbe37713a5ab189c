"""The examples' own choices, checked where a flag changes the math: how a truncated episode is closed (14)."""
import gymnasium as gym
import numpy as np
import pytest
from scripts import load_example


class ConstantV:
    """A critic that says V(s) = 5 everywhere, so that the closing value is plain to see in R_hat."""

    def predict(self, obs):
        return np.full(len(obs), 5.0)


@pytest.mark.parametrize("name, env_id", [("3_vpg_gae", "CartPole-v1"), ("4_continuous", "Pendulum-v1")])
def test_truncation_end_closes_a_cut_episode_with_0_and_bootstrap_with_V(name, env_id):
    """(14): with --truncation bootstrap an episode the time limit cuts is closed with V(s_T), with end with 0;
    an episode that terminates is closed with 0 either way. Same seeds, so the two batches hold the same steps."""
    example = load_example(name)
    policy_cls = example.CategoricalPolicy if name == "3_vpg_gae" else example.GaussianPolicy
    R, ends = {}, {}
    for truncation in ("bootstrap", "end"):
        env = gym.make(env_id, max_episode_steps=12)  # Pendulum never terminates; CartPole sometimes does by 12
        env.reset(seed=0)
        space = env.action_space
        policy = policy_cls(env.observation_space.shape[0], space.n if name == "3_vpg_gae" else space.shape[0],
                            (8,), "tanh", *(() if name == "3_vpg_gae" else (-0.5,)), rng=np.random.default_rng(1))
        obs, act, adv, R_hat, ep_returns, ep_lengths = example.collect(
            env, policy, ConstantV(), 100, 0.9, 0.95, truncation, np.random.default_rng(2))
        R[truncation], ends[truncation] = R_hat, np.cumsum(ep_lengths) - 1
    assert np.array_equal(ends["bootstrap"], ends["end"])
    cut = np.array([n == 12 for n in np.diff(np.r_[-1, ends["end"]])])  # the episodes the limit ended
    assert cut.any()
    last = ends["end"]
    np.testing.assert_allclose(R["bootstrap"][last[cut]] - R["end"][last[cut]], 0.9 * 5.0)
    np.testing.assert_array_equal(R["bootstrap"][last[~cut]], R["end"][last[~cut]])


def test_a_bad_truncation_is_refused_with_its_choices():
    with pytest.raises(SystemExit, match="bootstrap or end"):
        load_example("4_continuous").train(truncation="cut", epochs=1)
