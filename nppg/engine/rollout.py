"""The environments' side of the engine: ``make_env`` with gymnasium's vectorization modes and one-line
errors, and ``CheckedRollout``, a ``Rollout`` that refuses non-finite numbers and records every action
so that a run can be replayed."""
import sys

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from .. import rollout


ROLLOUT_STATE = ("obs", "ep_ret", "ep_len", "resetting", "G")  # a Rollout's episodes carried to the next batch


class NonFiniteError(ValueError):
    """The environment returned a NaN or infinite observation or reward."""


def make_env(env_id, num_envs, vectorization_mode=None):
    """``gymnasium.make_vec`` (the plain loop's), asking sync and async vector environments for autoreset
    mode NEXT_STEP, and saying an unknown id or a missing extra in one line; async ones in ``EndsWorkers``."""
    kwargs = {"vector_kwargs": {"autoreset_mode": AutoresetMode.NEXT_STEP}} if vectorization_mode else {}
    try:
        envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=vectorization_mode, **kwargs)
        return EndsWorkers(envs) if vectorization_mode == "async" else envs
    except gym.error.DependencyNotInstalled as e:
        hint = " (install the extra: pip install 'nppg[mujoco]')" if "mujoco" in str(e).lower() else ""
        raise ValueError(f"{env_id} needs a package that is not installed{hint}: {e}") from None
    except (gym.error.Error, ModuleNotFoundError) as e:  # unknown id: gymnasium suggests close matches
        raise ValueError(f"unknown environment {env_id!r}: {e}") from None


class EndsWorkers(gym.vector.VectorWrapper):
    """Async environments whose ``close`` neither fails nor hangs after a stop at once (a second Ctrl-C,
    ``engine.signals``), which may land while a step is pending. Closing by the book then waits for the step's
    results: from a worker the signal reached too, gone, it fails on the closed pipe (an EOFError hiding the
    interrupt behind a traceback); if the interrupt came after some results were read, it waits forever for
    them again. So while a KeyboardInterrupt is on its way, or if closing fails, the workers are ended."""

    def close(self, **kwargs):
        if isinstance(sys.exc_info()[1], KeyboardInterrupt):  # called from a finally: stopping at once
            end_workers(self.env.unwrapped)
            return
        try:
            self.env.close(**kwargs)
        except (EOFError, OSError):
            end_workers(self.env.unwrapped)


def end_workers(envs):
    """Kill an async vector environment's workers (they may ignore SIGTERM: the first signal only finishes
    the epoch), close its pipes, and mark it closed, so that nothing, the garbage collector included, waits
    on them again."""
    for process in envs.processes:
        if process.is_alive():
            process.kill()
    for pipe in envs.parent_pipes:
        if pipe is not None:
            pipe.close()
    for process in envs.processes:
        process.join()
    envs.closed = True


class CheckedRollout(rollout.Rollout):
    """``Rollout``, plus: a non-finite observation or reward stops the run with a ``NonFiniteError`` that
    names the step; ``last_actions`` holds the actions of every vector step of the last ``collect``
    (reset steps included) and ``vector_steps`` counts all steps so far. From the same seed, ``replay``
    of every recorded action brings the environments back to the same state: that is how an interrupted
    run resumes exactly (environments are deterministic given their seed and actions)."""

    def __init__(self, envs, seed=None, gamma=1.0):
        super().__init__(envs, seed, gamma)
        self.vector_steps, self.last_actions, self._record = 0, None, None

    def step(self, a):
        t = self.ep_len + 1                                                # each copy's step in its episode
        out = super().step(a)
        s2, rew = out[1], out[2]
        bad = ~(np.isfinite(s2).all(axis=1) & np.isfinite(rew))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            what = f"reward {rew[i]}" if not np.isfinite(rew[i]) else f"observation {s2[i].tolist()}"
            raise NonFiniteError(f"environment copy {i} returned a non-finite {what} at step {t[i]} "
                                 f"of its episode (vector step {self.vector_steps + 1} of the run)")
        self.vector_steps += 1
        if self._record is not None:
            self._record.append(a)
        return out

    def collect(self, policy, steps, rng):
        self._record = []
        try:
            batch = super().collect(policy, steps, rng)
            self.last_actions = np.stack(self._record)                     # (rows, n) or (rows, n, act_dim)
        finally:
            self._record = None
        return batch

    def replay(self, actions):
        """Step through recorded ``actions`` (rows, n, ...) exactly as the original run did."""
        for a in actions:
            self.step(a)
