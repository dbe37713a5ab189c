"""Whole episodes with a fixed policy: what ``nppg eval`` reports, and what the exact checks sample."""
import numpy as np

from .rollout import CheckedRollout
from ..rollout import to_batch


def episodes(envs, policy, quota, rng, seed=None, deterministic=False):
    """Whole episodes: ``quota`` of them from each copy of ``envs`` (an int, or one per copy), as a
    ``Batch`` with one segment per episode, in copy order, then time order.

    ``Rollout.collect`` stops after a number of steps and cuts the episodes still running. Here
    each copy runs a fixed count of episodes back to back and is ignored once it is done: taking
    the first episodes to finish anywhere would favour short ones. ``seed`` seeds the reset.
    """
    quota = np.broadcast_to(quota, (envs.num_envs,)).copy()
    rollout, rows = CheckedRollout(envs, seed), []
    while (quota > 0).any():
        a = policy.mode(rollout.obs) if deterministic else policy.sample(rollout.obs, rng)
        s, s2, rew, valid, term, ended, _, _, G = rollout.step(a)
        keep = valid & (quota > 0)                                     # a transition of an episode we count
        rows.append((s, a, np.asarray(rew, dtype=np.float64), s2, keep, term & keep, ended & keep, G))
        quota -= ended & keep
    batch = to_batch(*(np.stack(c) for c in zip(*rows)), [], [])      # (rows, n, ...) each
    batch.ep_returns = np.add.reduceat(batch.rew, batch.starts)       # (E,) undiscounted, one per segment
    batch.ep_lengths = batch.stops - batch.starts
    return batch


def evaluate(policy, envs, n_episodes, rng, deterministic=False, seed=None):
    """Returns and lengths of ``n_episodes`` whole episodes, split as evenly as can be over the copies."""
    n = envs.num_envs
    quota = np.full(n, n_episodes // n) + (np.arange(n) < n_episodes % n)
    batch = episodes(envs, policy, quota, rng, seed, deterministic)
    return batch.ep_returns, batch.ep_lengths
