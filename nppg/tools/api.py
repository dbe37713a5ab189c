"""The Python API as ``nppg`` exports it: ``train`` with the command line's run directory and epoch table,
and ``save`` and ``load``, a trained state in one call each. What they write is a run directory like the one
``nppg train`` leaves, so ``nppg eval``, ``nppg plot`` and ``nppg train --resume`` read it alike.

    state = nppg.train("CartPole-v1", epochs=50, out="runs/cartpole", verbose=True)
    nppg.save(state, "runs/cartpole-copy")              # any trained state, nppg.vpg's too
    state = nppg.load("runs/cartpole")                  # policy, value function, optimisers, history
    state = nppg.train(resume="runs/cartpole", epochs=100)
"""
import csv
import math
import os
import shutil
import weakref

import numpy as np

from ..algorithm import State, VPGConfig
from ..engine import run
from ..engine.checkpoint import actions_path, as_json, load_checkpoint, read_checkpoint
from ..engine.checkpoint import restore_learner, save_checkpoint, save_train_state
from ..engine.config import ALGORITHM_SETTINGS, ENGINE_SETTINGS, EngineConfig, check_config, check_names
from ..engine.config import engine_config, settings
from ..engine.threads import whole
from ..normalize import RunningStats
from ..optim import Adam
from .logger import COLUMNS, RUN_FILES, RunLogger, claim_run_dir, unclaim_run_dir
from .runs import drop_unwritten, new_run_dir, resumed_run_dir

# what nppg.save needs to know of a state that the State does not hold: its settings with the engine's, and
# where its actions are (a run directory, or the arrays of a run kept in memory); dropped with the state
_made = {}


def _remember(state, config, source):
    _made[id(state)] = (config, source)
    weakref.finalize(state, _made.pop, id(state), None)


def new_settings(given):
    """A new run's settings from keyword arguments, the rest at their defaults; checked."""
    cfg = VPGConfig(**{k: v for k, v in given.items() if k not in ENGINE_SETTINGS})
    return settings(check_config(cfg), engine_config({k: v for k, v in given.items() if k in ENGINE_SETTINGS}))


def train(env=None, *, callback=None, resume=None, out=None, verbose=False, save_every=10, tensorboard=None,
          **settings_):
    """``nppg.vpg`` with the engine's pieces (``nppg/engine/run.py``), as ``nppg train`` runs it; returns the
    final ``State``.

    Every ``VPGConfig`` field and every ``EngineConfig`` field is a keyword (a name that is none raises a
    ValueError naming the nearest). ``callback(record, state)`` is called after every epoch (True stops there).
    ``out``: a folder to write the run directory ``nppg train --out`` writes (config.json, progress.csv,
    policy.npz and state.npz every ``save_every`` epochs and at the end, env_actions.bin); it must not hold a
    run already. ``verbose``: print the command line's epoch table. ``resume``: a run directory to continue in
    place, with its own settings (give only what changes: ``epochs`` to extend it, ``threads``, the
    evaluation's), as ``nppg train --resume``; or the saved state ``nppg.engine.checkpoint.load_train_state``
    returns, continued without writing. ``tensorboard``: a folder for TensorBoard event files of the same
    columns (True: ``out``/tensorboard), with the ``tensorboard`` extra; progress.csv stays the record.
    """
    given = {**settings_, **({} if env is None else {"env": env})}
    check_names(given)  # before anything is written
    if not whole(save_every, 0):
        raise ValueError(f"save_every must be a whole number >= 0 (0: only at the end); got {save_every!r}")
    made = done = None
    if isinstance(resume, (str, os.PathLike)):  # a run directory, continued in place as --resume does
        run_dir = os.fspath(resume)
        if out is not None and os.path.abspath(out) != os.path.abspath(run_dir):
            raise ValueError(f"resume= continues in {run_dir} itself; out= cannot move it")
        saved, config = resumed_run_dir(run_dir, given)  # saved None: stopped before its first save, started again
        out, done, made = run_dir, 0 if saved is None else saved[0]["epoch"], False
    elif resume is not None:  # a state read by load_train_state: nothing is written
        if out is not None:
            raise ValueError("out= with a loaded state would start a run directory in the middle of a run: give "
                             "resume= the run directory itself, which goes on in place")
        saved, config = resume, given  # the engine decides its settings (under MPI too)
    else:
        saved, config = None, new_settings(given) if out is not None else given
    if tensorboard is True and out is None:
        raise ValueError("tensorboard=True writes into out=/tensorboard: give out=, or a folder as tensorboard=")
    if tensorboard:
        from .tensorboard import summary_writer
        summary_writer()  # the package is there, before a run directory is made
    if saved is None and out is not None and made is None:  # a new run (made False: one started again in place)
        out, made = new_run_dir(config, os.fspath(out))
    stop, board = [False], None
    logger = RunLogger(config, out, save_every, verbose, resume_epoch=done, stop=lambda: stop[0])
    actions = [] if out is None and saved is None else None  # for nppg.save: every action of a run without a folder
    if verbose and out is not None:
        print(f"nppg: {'resuming' if done else 'training'} {config['env']} with weights={config['weights']}, "
              f"seed {config['seed']}; run directory {out}")

    def each_epoch(record, state):
        stop[0] = callback is not None and bool(callback(record, state))
        if actions is not None:
            actions.append(state.rollout.last_actions)
        if board is not None:
            board(record, state)
        logger(record, state)  # saves the epoch a stop ends on
        return stop[0]

    try:
        if tensorboard:
            from .tensorboard import TensorBoardWriter
            board = TensorBoardWriter(os.path.join(out, "tensorboard") if tensorboard is True else tensorboard)
        state = run.train(callback=each_epoch, resume=saved, **config)
    finally:
        logger.close()
        if board is not None:
            board.close()
        if out is not None:
            drop_unwritten(out, made)
    engine = {k: v for k, v in config.items() if k in ENGINE_SETTINGS}
    _remember(state, as_json(config) if out is not None else _settings_of(state, engine), out or actions)
    return state


def _settings_of(state, engine=None):
    """A state's settings as config.json holds them: its VPGConfig, and the engine's as given (else their
    defaults) but the value network's precision, read off the network, which a checkpoint must know."""
    dtype = next(iter(state.value_fn.params.values())).dtype
    engine = {**(engine or {}), "vf_dtype": "float32" if dtype == np.float32 else "float64"}
    return as_json(settings(state.cfg, EngineConfig(**engine)))


def save(state, path):
    """Write a trained ``state`` as a run directory at ``path`` (a new folder): config.json, progress.csv (its
    history) and policy.npz, which ``nppg eval`` and ``nppg plot`` read, and, for a state from ``nppg.train``
    or ``nppg.load``, state.npz and env_actions.bin, from which ``nppg train --resume`` (``nppg.train(resume=)``)
    continues it exactly. ``nppg.vpg`` keeps no record of its actions: its state saves without the two.
    Returns ``path``."""
    path = os.fspath(path)
    config, source = _made.get(id(state), (None, None))
    if isinstance(source, str) and os.path.abspath(source) == os.path.abspath(path):
        return path  # its own run directory, saved at its last epoch
    config = config or _settings_of(state)
    path, made = claim_run_dir(path, config)
    try:
        if isinstance(source, str) and os.path.isdir(source):  # a run directory: copied as its last save left it
            for name in RUN_FILES[1:]:
                if os.path.exists(os.path.join(source, name)):
                    shutil.copyfile(os.path.join(source, name), os.path.join(path, name))
            return path
        with open(os.path.join(path, "progress.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(COLUMNS)
            w.writerows([["" if isinstance(x, float) and math.isnan(x) else x for x in
                          (r.get(c, math.nan) for c in COLUMNS)] for r in state.history])
        if isinstance(source, str):  # a checkpoint file nppg.load read
            shutil.copyfile(source, os.path.join(path, "policy.npz"))
        else:
            envs = state.rollout.envs
            save_checkpoint(os.path.join(path, "policy.npz"), state.policy, state.value_fn, state.cfg.env,
                            envs.single_observation_space, envs.single_action_space, state.epoch, config)
        if isinstance(source, list):  # every action since the start: the run can be resumed
            with open(actions_path(path), "wb") as f:
                for a in source:
                    f.write(np.ascontiguousarray(a).tobytes())
            time_s = state.history[-1]["time_s"] if state.history else 0.0
            save_train_state(os.path.join(path, "state.npz"), state, time_s, config)
    except BaseException:
        for name in RUN_FILES[1:]:
            if os.path.exists(os.path.join(path, name)):
                os.remove(os.path.join(path, name))
        unclaim_run_dir(path, made)
        raise
    return path


def _history(run_dir, epochs):
    """The records of progress.csv's first ``epochs`` rows, as ``vpg`` made them (empty cells NaN)."""
    with open(os.path.join(run_dir, "progress.csv"), newline="") as f:
        rows = list(csv.DictReader(f))[:epochs]
    whole = ("epoch", "env_steps", "episodes")
    return [{k: (int(v) if k in whole else float(v) if v != "" else math.nan) for k, v in r.items()} for r in rows]


def load(path):
    """The trained state saved in a run directory (or a ``.npz`` checkpoint): a ``State`` with its settings
    (``cfg``), policy, value function, both Adam states, random generator, statistics, epoch, env_steps and
    history, and ``rollout`` None (the environments are not saved; ``nppg.train(resume=path)`` replays them
    to train on). ``nppg.save`` writes it again."""
    path = os.fspath(path)
    run_dir = path if os.path.isdir(path) else os.path.dirname(path) or "."
    checkpoint = path
    if os.path.isdir(path):
        checkpoint = os.path.join(path, "state.npz" if os.path.isfile(os.path.join(path, "state.npz")) else "policy.npz")
    policy, value_fn, header = load_checkpoint(checkpoint)
    config = {**header["config"], "env": header["env"]}
    cfg = VPGConfig(**{k: v for k, v in config.items() if k in ALGORITHM_SETTINGS})
    state = State(cfg, policy, value_fn, Adam(policy.params, cfg.pi_lr), Adam(value_fn.params, cfg.vf_lr), None,
                  np.random.default_rng(cfg.seed), policy.net.obs_stats, RunningStats() if cfg.scale_rewards else None,
                  header["epoch"], header.get("env_steps", 0))
    if header.get("kind") == "train-state":
        restore_learner(state, header, read_checkpoint(checkpoint)[1], checkpoint)
    if os.path.isfile(os.path.join(run_dir, "progress.csv")):
        state.history = _history(run_dir, header["epoch"])
        state.env_steps = state.env_steps or (state.history[-1]["env_steps"] if state.history else 0)
    _remember(state, config, path)
    return state
