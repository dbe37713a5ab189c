"""Collect a batch of transitions from a gymnasium vector environment with the current policy.

gymnasium 1.x steps ``num_envs`` copies of an environment together and resets a copy *on the step
after* its episode ends (autoreset mode NEXT_STEP): that step ignores the action and returns the new
episode's first observation and a reward of 0. It is no transition, and it is never stored. The step
that ends an episode returns the true final observation, which a truncated episode is bootstrapped from.

The batch comes out as *segments* (``advantages.py``): consecutive steps of one episode from one copy,
ended by its termination, its truncation or the batch's end; ``terminated`` and ``final_obs`` say how
to close each one (14).
"""
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode


@dataclass
class Batch:
    obs: np.ndarray         # (M, obs_dim)  s_t
    act: np.ndarray         # (M,) ints or (M, act_dim) floats: a_t as sampled (Box actions unclipped)
    rew: np.ndarray         # (M,)  r_t
    starts: np.ndarray      # (S,)  index of each segment's first step; segments tile [0, M) in order
    stops: np.ndarray       # (S,)  one past each segment's last step
    terminated: np.ndarray  # (S,)  bool: the segment's episode terminated, so it closes with 0
    final_obs: np.ndarray   # (S, obs_dim)  the observation after each segment's last step, s_T
    ep_returns: np.ndarray  # (E,)  undiscounted returns of the episodes that ended in this batch
    ep_lengths: np.ndarray  # (E,)
    G: np.ndarray           # (M,)  G_t = r_t + gamma G_{t-1}, the discounted return of the episode so far (26)

    def mean(self, x):      # the mean over the batch D_k of a quantity x (M, ...) of its steps
        return np.mean(x, axis=0)


def obs_dim_of(space):
    """Width of a flattened observation: Box of any shape, or Discrete (one-hot)."""
    if isinstance(space, gym.spaces.Box):
        return int(np.prod(space.shape))
    if isinstance(space, gym.spaces.Discrete):
        return int(space.n)
    raise ValueError(f"observation space must be Box (any shape) or Discrete; got {space}")


def flatten_obs(space, obs):
    """A batch of observations (num_envs, ...) as float64 rows (num_envs, obs_dim), always a copy:
    a vector env built with ``copy=False`` overwrites the array it returned on its next step."""
    if isinstance(space, gym.spaces.Discrete):
        return np.eye(space.n)[np.asarray(obs) - space.start]
    return np.array(obs, dtype=np.float64).reshape(len(obs), -1)


def env_action(space, act):
    """What the environment is given: Box actions clipped to the bounds, Discrete shifted by ``start``."""
    if isinstance(space, gym.spaces.Box):
        return np.clip(act, space.low, space.high).astype(space.dtype)
    return act + space.start


class Rollout:
    """Steps ``envs`` with a policy, carrying unfinished episodes over from one batch to the next."""

    def __init__(self, envs, seed=None, gamma=1.0):
        if (mode := envs.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)) != AutoresetMode.NEXT_STEP:
            raise ValueError(f"Rollout needs a vector environment with autoreset mode NEXT_STEP; got {mode}")
        self.envs, self.n = envs, envs.num_envs
        self.obs_space, self.act_space = envs.single_observation_space, envs.single_action_space
        self.obs = flatten_obs(self.obs_space, envs.reset(seed=seed)[0])  # (n, obs_dim)
        self.resetting = np.zeros(self.n, dtype=bool)   # True: this copy's next step only resets it
        self.ep_ret, self.ep_len = np.zeros(self.n), np.zeros(self.n, dtype=np.int64)
        self.gamma, self.G = gamma, np.zeros(self.n)    # each copy's discounted return so far (26)

    def step(self, a):
        """One vector step with actions ``a`` (n,) or (n, act_dim). Returns s_t, s_{t+1}, r_t, whether each copy's
        step is a transition (not a reset step), terminated, or ended its episode, the ended episodes' returns
        and lengths, and G_t."""
        o2, rw, te, tr, _ = self.envs.step(env_action(self.act_space, a))
        o2 = flatten_obs(self.obs_space, o2)
        valid = ~self.resetting                                          # a reset step is no transition
        ended = valid & (te | tr)
        self.ep_ret += np.where(valid, rw, 0.0)
        self.ep_len += valid
        G = np.where(valid, self.gamma * self.G + rw, 0.0)               # (n,) G_t of this step
        done_ret, done_len = self.ep_ret[ended], self.ep_len[ended]
        self.ep_ret[ended], self.ep_len[ended] = 0.0, 0
        s, self.G = self.obs, np.where(ended, 0.0, G)
        self.resetting, self.obs = ended, o2
        return s, o2, rw, valid, valid & te, ended, done_ret, done_len, G

    def collect(self, policy, steps, rng):
        """Step until at least ``steps`` transitions are stored; returns a ``Batch``."""
        grid, ep_returns, ep_lengths, stored = [], [], [], 0
        while stored < steps:
            a = policy.sample(self.obs, rng)                             # (n,) or (n, act_dim)
            s, s2, rew, valid, term, ended, ep_R, ep_L, G = self.step(a)
            grid.append((s, a, np.asarray(rew, dtype=np.float64), s2, valid, term, ended, G))
            ep_returns.extend(ep_R)
            ep_lengths.extend(ep_L)
            stored += int(valid.sum())
        return to_batch(*(np.stack(column) for column in zip(*grid)), ep_returns, ep_lengths)  # (rows, n, ...)


def to_batch(obs, act, rew, next_obs, valid, term, ended, G, ep_returns, ep_lengths):
    """Flatten a (rows, n) grid of steps env by env, keeping only valid ones, and find the segments."""
    e_idx, t_idx = np.nonzero(valid.T)                               # (M,), (M,) ordered by env, then time
    last = np.append(e_idx[1:] != e_idx[:-1], True)                 # last stored step of each env: cut
    seg_end = ended[t_idx, e_idx] | last                            # (M,)
    stops = np.flatnonzero(seg_end) + 1
    starts, ends = np.append(0, stops[:-1]), stops - 1
    return Batch(obs[t_idx, e_idx], act[t_idx, e_idx], rew[t_idx, e_idx], starts, stops,
                 term[t_idx[ends], e_idx[ends]], next_obs[t_idx[ends], e_idx[ends]],
                 np.asarray(ep_returns, dtype=np.float64), np.asarray(ep_lengths, dtype=np.int64), G[t_idx, e_idx])
