"""Collect a batch of transitions from a gymnasium vector environment with the current policy.

gymnasium 1.x steps ``num_envs`` copies of an environment together and resets a copy
*on the step after* its episode ends (autoreset mode NEXT_STEP): that step ignores the
action, returns the first observation of the new episode and a reward of 0. It is not a
transition, and it is never stored. The step that ends an episode returns the true final
observation, which is what a truncated episode is bootstrapped from.

The batch comes out as *segments* (see ``advantages.py``): consecutive steps of one episode
from one environment copy. A segment ends when its episode terminates, is truncated, or is
cut at the end of the batch; ``terminated`` and ``final_obs`` say how to close each one (12).
"""
import math
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


def make_env(env_id, num_envs, vectorization_mode=None):
    """``gymnasium.make_vec``, asking sync and async vector environments for NEXT_STEP autoreset."""
    kwargs = {}
    if vectorization_mode in ("sync", "async"):
        kwargs["vector_kwargs"] = {"autoreset_mode": AutoresetMode.NEXT_STEP}
    try:
        envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=vectorization_mode, **kwargs)
    except gym.error.DependencyNotInstalled as e:
        hint = " (install the extra: pip install 'nppg[mujoco]')" if "mujoco" in str(e).lower() else ""
        raise ValueError(f"{env_id} needs a package that is not installed{hint}: {e}") from None
    except (gym.error.Error, ModuleNotFoundError) as e:  # unknown id: gymnasium suggests close matches
        raise ValueError(f"unknown environment {env_id!r}: {e}") from None
    mode = envs.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
    if mode != AutoresetMode.NEXT_STEP:
        envs.close()
        raise ValueError(f"{env_id}: nppg needs the vector environment's autoreset mode NEXT_STEP; got {mode}")
    return envs


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


class NonFiniteError(ValueError):
    """The environment returned a NaN or infinite observation or reward."""


class Rollout:
    """Steps ``envs`` with a policy, carrying unfinished episodes over from one batch to the next.

    ``last_actions`` holds the actions of every vector step of the last ``collect``, reset steps
    included: from the same seed, ``replay`` of all of them brings the environments back to the
    same state, which is how an interrupted run resumes exactly.
    """

    def __init__(self, envs, seed=None):
        self.envs, self.n = envs, envs.num_envs
        self.obs_space, self.act_space = envs.single_observation_space, envs.single_action_space
        self.obs = flatten_obs(self.obs_space, envs.reset(seed=seed)[0])  # (n, obs_dim)
        self.resetting = np.zeros(self.n, dtype=bool)   # True: this copy's next step only resets it
        self.ep_ret, self.ep_len = np.zeros(self.n), np.zeros(self.n, dtype=np.int64)
        self.vector_steps, self.last_actions = 0, None

    def step(self, a):
        """One vector step with the policy's actions ``a`` (n,) or (n, act_dim).

        Returns s_t, s_{t+1}, r_t, whether each copy's step is a transition (not a reset step),
        whether it terminated, whether its episode ended, and the returns and lengths of the
        episodes that ended.
        """
        o2, rw, te, tr, _ = self.envs.step(env_action(self.act_space, a))
        o2 = flatten_obs(self.obs_space, o2)
        if not (np.isfinite(o2).all() and np.isfinite(rw).all()):
            i = int(np.flatnonzero(~(np.isfinite(o2).all(axis=1) & np.isfinite(rw)))[0])
            what = f"reward {rw[i]}" if not np.isfinite(rw[i]) else f"observation {o2[i].tolist()}"
            raise NonFiniteError(f"environment copy {i} returned a non-finite {what} at step {self.ep_len[i] + 1} "
                                 f"of its episode (vector step {self.vector_steps + 1} of the run)")
        valid = ~self.resetting                                          # a reset step is no transition
        ended = valid & (te | tr)
        self.ep_ret += np.where(valid, rw, 0.0)
        self.ep_len += valid
        done_ret, done_len = self.ep_ret[ended], self.ep_len[ended]      # copies (boolean indexing)
        self.ep_ret[ended], self.ep_len[ended] = 0.0, 0
        s = self.obs
        self.resetting, self.obs = ended, o2
        self.vector_steps += 1
        return s, o2, rw, valid, valid & te, ended, done_ret, done_len

    def collect(self, policy, steps, rng):
        """Step until at least ``steps`` transitions are stored; returns a ``Batch``."""
        n, d = self.n, self.obs.shape[1]
        rows = 2 * math.ceil(steps / n) + 2  # enough rows even if every other step were a reset step
        obs = np.empty((rows, n, d))
        next_obs = np.empty((rows, n, d))
        rew = np.empty((rows, n))
        valid, term, ended = (np.zeros((rows, n), dtype=bool) for _ in range(3))
        act = None
        ep_returns, ep_lengths = [], []
        stored, row = 0, 0
        while stored < steps:
            a = policy.sample(self.obs, rng)                             # (n,) or (n, act_dim)
            if act is None:
                act = np.empty((rows,) + a.shape, dtype=a.dtype)
            act[row] = a
            obs[row], next_obs[row], rew[row], valid[row], term[row], ended[row], ep_R, ep_L = self.step(a)
            ep_returns.extend(ep_R)
            ep_lengths.extend(ep_L)
            stored += int(valid[row].sum())
            row += 1
        self.last_actions = act[:row]
        return to_batch(obs[:row], act[:row], rew[:row], next_obs[:row], valid[:row], term[:row], ended[:row],
                        ep_returns, ep_lengths)

    def replay(self, actions):
        """Step through recorded ``actions`` (rows, n, ...) exactly as the original run did."""
        for a in actions:
            self.step(a)


def to_batch(obs, act, rew, next_obs, valid, term, ended, ep_returns, ep_lengths):
    """Flatten a (rows, n) grid of steps env by env, keeping only valid ones, and find the segments."""
    e_idx, t_idx = np.nonzero(valid.T)                               # (M,), (M,) ordered by env, then time
    last = np.append(e_idx[1:] != e_idx[:-1], True)                 # last stored step of each env: cut
    seg_end = ended[t_idx, e_idx] | last                            # (M,)
    stops = np.flatnonzero(seg_end) + 1
    starts = np.append(0, stops[:-1])
    ends = stops - 1
    return Batch(
        obs=obs[t_idx, e_idx], act=act[t_idx, e_idx], rew=rew[t_idx, e_idx],
        starts=starts, stops=stops,
        terminated=term[t_idx[ends], e_idx[ends]],
        final_obs=next_obs[t_idx[ends], e_idx[ends]],
        ep_returns=np.asarray(ep_returns, dtype=np.float64),
        ep_lengths=np.asarray(ep_lengths, dtype=np.int64),
    )


def episodes(envs, policy, quota, rng, seed=None, deterministic=False):
    """Whole episodes: ``quota`` of them from each copy of ``envs`` (an int, or one per copy), as a
    ``Batch`` with one segment per episode, in copy order, then time order.

    ``Rollout.collect`` stops after a number of steps and cuts the episodes still running. Here
    each copy runs a fixed count of episodes back to back and is ignored once it is done: taking
    the first episodes to finish anywhere would favour short ones. ``seed`` seeds the reset.
    """
    quota = np.broadcast_to(quota, (envs.num_envs,)).copy()
    rollout, rows = Rollout(envs, seed), []
    while (quota > 0).any():
        a = policy.mode(rollout.obs) if deterministic else policy.sample(rollout.obs, rng)
        s, s2, rew, valid, term, ended, _, _ = rollout.step(a)
        keep = valid & (quota > 0)                                     # a transition of an episode we count
        rows.append((s, a, np.asarray(rew, dtype=np.float64), s2, keep, term & keep, ended & keep))
        quota -= ended & keep
    obs, act, rew, next_obs, valid, term, ended = (np.stack(c) for c in zip(*rows))  # (rows, n, ...)
    batch = to_batch(obs, act, rew, next_obs, valid, term, ended, [], [])
    batch.ep_returns = np.add.reduceat(batch.rew, batch.starts)       # (E,) undiscounted, one per segment
    batch.ep_lengths = batch.stops - batch.starts
    return batch


def evaluate(policy, envs, n_episodes, rng, deterministic=False, seed=None):
    """Returns and lengths of ``n_episodes`` whole episodes, split as evenly as can be over the copies."""
    n = envs.num_envs
    quota = np.full(n, n_episodes // n) + (np.arange(n) < n_episodes % n)
    batch = episodes(envs, policy, quota, rng, seed, deterministic)
    return batch.ep_returns, batch.ep_lengths
