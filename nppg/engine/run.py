"""``train``: ``nppg.vpg`` run with the engine's pieces. The same algorithm, faster and safer.

``vpg`` takes two things from outside: ``setup(cfg)``, which makes the starting state, and a
``callback`` after each epoch. ``train`` gives it a ``setup`` that builds the state with
``FastValueFunction`` (row blocks, threads, float32), ``CheckedRollout`` (finite checks, recorded
actions) and ``make_env`` (gymnasium's vectorization modes, one-line errors), and that can restore
a saved run; and a ``callback`` that checks the parameters stayed finite, times the epoch, and then
calls the user's. Around the whole run it asks glibc to keep freed memory and NumPy's BLAS for one
thread per product (put back afterwards), and runs the value fit's thread pool.
"""
import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np

from ..algorithm import VPGConfig, start, vpg
from . import mpi
from .checkpoint import restore_train_state, resume_settings
from .config import ENGINE_SETTINGS, check_config, check_names, engine_config
from .evaluate import Evaluation
from .memory import keep_freed_memory
from .rollout import CheckedRollout, make_env
from .threads import one_thread
from .value import FastValueFunction


class DivergedError(ValueError):
    """Training produced NaN or infinite parameters."""


def check_finite(epoch, **networks):
    """Stop with a clear message if an update left a NaN or infinite parameter."""
    for net_name, params in networks.items():
        for k, p in params.items():
            if not np.isfinite(p).all():
                raise DivergedError(f"training diverged in epoch {epoch}: {net_name} parameter {k} is not finite "
                                    f"(try a smaller learning rate)")


@contextlib.contextmanager
def running(eng):
    """malloc that keeps freed memory, one BLAS thread per product, and the value fit's pool (or None)."""
    keep_freed_memory()  # lasts for the process (engine/memory.py)
    with one_thread() if eng.threads else contextlib.nullcontext():
        pool = ThreadPoolExecutor(eng.threads, thread_name_prefix="nppg-fit") if eng.threads > 1 else None
        try:
            yield pool
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)


def train(env=None, *, callback=None, resume=None, **settings_):
    """``nppg.vpg(env, **hyperparameters)`` with the engine's pieces; returns the final ``State``.

    Takes every ``VPGConfig`` field, checked by ``check_config``, and every ``EngineConfig`` field
    (``threads``, ``vf_dtype``, ``vectorization``, ``eval_every``, ``eval_episodes``). ``callback(record,
    state)`` is ``vpg``'s (return True to stop), and ``record`` also holds ``time_s``, the training time so
    far (evaluation not counted), ``steps_per_s``, and after an evaluation its ``EVAL_COLUMNS``. ``resume``:
    a saved training state (``nppg.engine.checkpoint.load_train_state(run_dir)``), continued exactly with
    its own settings (``resume_settings``): give only what changes, ``epochs`` to extend it or ``threads``.
    """
    check_names(settings_)
    dp = mpi.world()  # under mpiexec: data-parallel (engine/mpi.py), one thread per rank unless told otherwise
    both = mpi.on_all(dp)  # under MPI: a step that fails on every rank, or on none
    given = {**settings_, **({} if env is None else {"env": env})}
    if resume is not None:  # the saved settings, with the given epochs and threads
        given = both(resume_settings, resume[0], given, 1 if dp is None else dp.size)
    env = given.pop("env", VPGConfig.env)
    engine = {k: given.pop(k) for k in ENGINE_SETTINGS if k in given}
    if dp is not None:
        engine.setdefault("threads", 1)
    eng = both(engine_config, engine, dp)
    clock, evaluation = {"time_s": 0.0}, []
    with running(eng) as pool:
        def setup(cfg):
            pieces = dict(make_env=partial(make_env, vectorization_mode=eng.vectorization),
                          ValueFunction=partial(FastValueFunction, dtype=eng.vf_dtype, pool=pool))
            if dp is None:
                s = start(check_config(cfg), **pieces, Rollout=CheckedRollout)
            else:
                s = mpi.start(cfg, dp, check_config=partial(check_config, dp=dp), **pieces)
            try:
                if resume is not None:
                    clock["time_s"] = both(restore_train_state, s, resume, 0 if dp is None else dp.rank)
                if eng.eval_every:
                    evaluation.append(Evaluation(cfg.env, eng.eval_every, eng.eval_episodes, cfg.seed, cfg.num_envs,
                                                 eng.vectorization))
            except BaseException:
                s.rollout.envs.close()
                raise
            clock["t"], clock["env_steps"] = time.perf_counter(), s.env_steps
            return s

        def each_epoch(record, s):
            both(check_finite, s.epoch, policy=s.policy.params, value_function=s.value_fn.params)
            if dp is not None:
                mpi.each_epoch(dp, record, s)  # the record over every rank's steps; the ranks' states to rank 0
            dt = time.perf_counter() - clock["t"]
            clock["time_s"] += dt
            record.update(time_s=clock["time_s"], steps_per_s=(s.env_steps - clock["env_steps"]) / dt)
            if evaluation and evaluation[0].due(clock["env_steps"], s.env_steps):  # not counted as training time
                record.update(evaluation[0](s.policy, s.env_steps))
            stop = callback is not None and bool(callback(record, s))
            if dp is not None:
                stop = dp.any(stop)  # one rank's stop stops them all, after the same epoch
            clock["t"], clock["env_steps"] = time.perf_counter(), s.env_steps
            return stop

        try:
            return vpg(env, callback=each_epoch, setup=setup, **given)
        finally:
            for e in evaluation:
                e.close()
