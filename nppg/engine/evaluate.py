"""Whole episodes with a fixed policy: what ``nppg eval`` reports, what the exact checks sample, and the
evaluation during training (``Evaluation``, ``--eval-every``)."""
import time

import numpy as np

from ..rollout import to_batch
from .rollout import CheckedRollout, make_env


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


EVAL_COLUMNS = ("eval_return", "eval_return_std", "eval_mean_action_return", "eval_mean_action_return_std", "eval_s")


class Evaluation:
    """Evaluation during training, as published tables measure: every ``every`` environment steps, ``episodes``
    fresh whole episodes with actions sampled from the policy, and as many with its mean (or most likely)
    action, on environment copies of their own.

    It touches nothing of training: its own environments, reset with seeds no training copy uses, and a
    generator of its own for the sampled actions, both derived from the run's seed and the evaluation's
    number k (``env_steps // every``). So a run trains the same parameters to the bit with and without
    it, and a resumed run evaluates exactly as the uninterrupted one. Observations are normalised by the
    policy's statistics as they stand (frozen: evaluation does not update them)."""

    def __init__(self, env_id, every, episodes, seed, num_envs, vectorization=None):
        self.every, self.episodes, self.seed = every, episodes, seed
        # a copy per episode (up to 16, or training's num_envs if more), so that the copies run their episodes
        # side by side and none idles while another runs a second (10 on 8 copies would step 8 for 2 episodes' time)
        self.envs = make_env(env_id, min(episodes, max(num_envs, 16)), vectorization)

    def due(self, steps_before, steps_after):
        """Did this epoch cross a multiple of ``every`` steps?"""
        return steps_after // self.every > steps_before // self.every

    def __call__(self, policy, env_steps):
        """The columns of EVAL_COLUMNS for the policy as it is after ``env_steps`` steps of training (``eval_s``:
        the seconds it took, which training's ``time_s`` does not count)."""
        t0, k = time.perf_counter(), env_steps // self.every
        reset_seed = 2**31 + (self.seed * 1000 + k) * 2 * self.envs.num_envs  # far above any training copy's seed
        out = {}
        for i, (name, deterministic) in enumerate((("eval_return", False), ("eval_mean_action_return", True))):
            rng = np.random.default_rng([self.seed, k, i, 7919])  # 7919: a stream no training generator uses
            R, _ = evaluate(policy, self.envs, self.episodes, rng, deterministic,
                            reset_seed + i * self.envs.num_envs)
            out[name], out[f"{name}_std"] = float(np.mean(R)), float(np.std(R))
        out["eval_s"] = time.perf_counter() - t0
        return out

    def close(self):
        self.envs.close()
