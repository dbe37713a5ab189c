"""Small environments whose observations reveal exactly what the rollout stored.

ClockEnv: observation [t, k] where t counts the steps of the current episode and k counts
episodes; the reward for acting at time t is 1 + t (never 0, so gymnasium's reset step,
whose reward is 0, would show if it were ever stored). It terminates after ``terminate_at``
steps when that is set; a TimeLimit wrapper truncates it.
"""
import time

import gymnasium as gym
import numpy as np


class ClockEnv(gym.Env):
    def __init__(self, terminate_at=None, box_actions=False, obs_shape=(2,)):
        self.terminate_at, self.obs_shape = terminate_at, obs_shape
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=obs_shape, dtype=np.float64)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,)) if box_actions else gym.spaces.Discrete(2)
        self.t, self.k, self.received = 0, -1, []

    def _obs(self):
        o = np.zeros(int(np.prod(self.obs_shape)))
        o[:2] = self.t, self.k
        return o.reshape(self.obs_shape)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.k = 0, self.k + 1
        return self._obs(), {}

    def step(self, action):
        self.received.append(np.copy(action))
        reward = 1.0 + self.t
        self.t += 1
        terminated = self.terminate_at is not None and self.t >= self.terminate_at
        return self._obs(), reward, terminated, False, {}


class TargetEnv(gym.Env):
    """A continuous contextual bandit: s ~ U(-1, 1), reward -(a - s/2)^2, then the episode terminates."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), dtype=np.float64)
    action_space = gym.spaces.Box(-2.0, 2.0, (1,), dtype=np.float64)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.s = self.np_random.uniform(-1.0, 1.0, (1,))
        return self.s.copy(), {}

    def step(self, action):
        return self.s.copy(), -float((action[0] - self.s[0] / 2) ** 2), True, False, {}


class BrokenEnv(ClockEnv):
    """A clock that returns a NaN reward at step ``nan_at`` of its third episode."""

    def __init__(self, nan_at=3):
        super().__init__()
        self.nan_at = nan_at

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, (np.nan if self.k == 2 and self.t == self.nan_at else reward), terminated, truncated, info


class BrokenAboveSeedEnv(ClockEnv):
    """A clock that returns a NaN reward (or with ``error``, raises) at step 3 of its first episode when it was
    first reset with a seed of at least ``from_seed``: under MPI, only the higher ranks' copies (their seeds
    are offset)."""

    def __init__(self, from_seed=2, error=False):
        super().__init__()
        self.from_seed, self.first_seed, self.error = from_seed, None, error

    def reset(self, *, seed=None, options=None):
        self.first_seed = seed if self.first_seed is None else self.first_seed
        return super().reset(seed=seed, options=options)

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        broken = self.first_seed is not None and self.first_seed >= self.from_seed and self.k == 0 and self.t == 3
        if broken and self.error:
            raise RuntimeError(f"an environment seeded {self.first_seed} broke down")
        return obs, (np.nan if broken else reward), terminated, truncated, info


class SlowEnv(ClockEnv):
    """A clock whose every step takes ``seconds``, whatever the machine: an epoch as long as a test needs."""

    def __init__(self, seconds=0.005):
        super().__init__()
        self.seconds = seconds

    def step(self, action):
        time.sleep(self.seconds)
        return super().step(action)


class MultiDiscreteEnv(ClockEnv):
    def __init__(self):
        super().__init__()
        self.action_space = gym.spaces.MultiDiscrete([2, 3])


class DictObsEnv(ClockEnv):
    def __init__(self):
        super().__init__()
        self.observation_space = gym.spaces.Dict({"t": gym.spaces.Box(-np.inf, np.inf, (2,), dtype=np.float64)})

    def _obs(self):
        return {"t": np.array([self.t, self.k], dtype=np.float64)}


def clock_envs(num_envs=2, max_episode_steps=5, copy=True, **kwargs):
    """A sync vector env (NEXT_STEP autoreset, gymnasium's default) of time-limited clocks.
    ``copy=False``: the vector env returns the same observation array every step, overwritten."""
    return gym.vector.SyncVectorEnv(
        [lambda: gym.wrappers.TimeLimit(ClockEnv(**kwargs), max_episode_steps) for _ in range(num_envs)], copy=copy)


gym.register("Clock-v0", entry_point=ClockEnv, max_episode_steps=5)
gym.register("ClockBox-v0", entry_point=ClockEnv, max_episode_steps=5, kwargs={"box_actions": True})
gym.register("Target-v0", entry_point=TargetEnv)
gym.register("Broken-v0", entry_point=BrokenEnv, max_episode_steps=5)
gym.register("BrokenAboveSeed-v0", entry_point=BrokenAboveSeedEnv, max_episode_steps=5)
gym.register("RaisesAboveSeed-v0", entry_point=BrokenAboveSeedEnv, max_episode_steps=5, kwargs={"error": True})
gym.register("Slow-v0", entry_point=SlowEnv, max_episode_steps=5)
gym.register("MultiDiscrete-v0", entry_point=MultiDiscreteEnv, max_episode_steps=5)
gym.register("DictObs-v0", entry_point=DictObsEnv, max_episode_steps=5)
