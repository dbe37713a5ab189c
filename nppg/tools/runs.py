"""A run directory from its start to its end, one way for ``nppg train`` and ``nppg.train(out=...)`` alike:
a new run claims its folder (``new_run_dir``), a resume is decided and checked before anything is written
(``resumed_run_dir``), and a run that ends before its first epoch is written leaves nothing (``drop_unwritten``)."""
import json
import os
import time

from ..engine.checkpoint import load_train_state, resume_settings
from .flags import SETTINGS
from .logger import check_progress, claim_run_dir, default_run_dir, unclaim_run_dir


def new_run_dir(config, out=None):
    """Claim a new run's folder: ``out``, or ``runs/<env>-<weights>-s<seed>-<time>`` (``-2``, ``-3``, ... if
    taken). Returns (path, made), ``made`` for ``drop_unwritten``."""
    path = out or default_run_dir(config, time.strftime("%Y%m%d-%H%M%S"))
    return claim_run_dir(path, config, numbered=out is None)


def resumed_run_dir(run_dir, given, ranks=1):
    """(saved state, settings) of the run directory a resume continues: ``resume_settings`` decides the
    settings from those ``given``; progress.csv must hold the saved epochs, since the run appends to it.
    A run stopped before its first save gives (None, its settings): it starts again from its beginning."""
    first = unsaved_run(run_dir)
    if first is not None:  # stopped before its first save: nothing to continue, so it starts again, exactly
        ranks_then = 1 + sum(f.startswith("env_actions.rank") for f in os.listdir(run_dir))  # under MPI: one each
        header = {"config": first, "env": first["env"], "epoch": 0, "ranks": ranks_then}
        config = resume_settings(header, {**given, "epochs": None}, ranks, run_dir)
        return None, {**config, "epochs": given.get("epochs") or config["epochs"]}  # no step taken: any length
    saved = load_train_state(run_dir)
    config = resume_settings(saved[0], given, ranks, run_dir)
    check_progress(run_dir, saved[0]["epoch"], config["eval_every"])
    return saved, config


def unsaved_run(run_dir):
    """The settings (config.json) of an ``nppg train`` run in ``run_dir`` stopped before its first save (no
    state.npz, no policy.npz), or None (an example's folder, say, whose config.json holds other settings)."""
    if any(os.path.exists(os.path.join(run_dir, f)) for f in ("state.npz", "policy.npz")):
        return None
    try:
        with open(os.path.join(run_dir, "config.json")) as f:
            config = json.load(f)
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) and "env" in config and set(config) <= set(SETTINGS) else None


def drop_unwritten(out, made):
    """Undo ``new_run_dir`` for a run that ended before its first epoch was written (``made`` None: a
    resumed run, whose folder stays)."""
    if made is not None and not os.path.exists(os.path.join(out, "progress.csv")):
        unclaim_run_dir(out, made)
