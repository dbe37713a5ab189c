"""Checkpoints: plain .npz arrays plus a JSON header, loaded with ``allow_pickle=False``.

``policy.npz`` (what ``nppg eval`` loads): ``header`` (a JSON string: format version, nppg
version, environment id, spaces, architecture, epoch, config), ``pi.<name>`` for every policy
parameter, ``vf.<name>`` for every value-function parameter.

``state.npz`` (what ``nppg train --resume`` loads): the same, plus both Adam states, the random
generator's state, the counters, and the episodes carried into the next epoch. The environments'
own state is not saved (gymnasium has no general way to): ``env_actions.bin`` beside it holds
the actions of every vector step, and resuming replays them from the seed, which restores the
environments exactly because they are deterministic given their seed and actions.

Writes are atomic: a temporary file in the same folder, then ``os.replace``, so a crash
mid-write leaves the previous checkpoint intact.

A resume is decided in one place, ``resume_settings``: the settings a saved run continues with, or why
it cannot continue. The command line asks it before anything is written, ``nppg.train(resume=...)``
asks it again with the settings it was given, and ``restore_train_state`` then only fills the state.
"""
import json
import os
import tempfile
import zipfile

import numpy as np

from .. import __version__
from ..algorithm import VPGConfig
from ..normalize import RunningStats
from ..policies import CategoricalPolicy, GaussianPolicy
from .config import EngineConfig, settings
from .rollout import ROLLOUT_STATE
from .value import FastValueFunction

POLICIES = {"categorical": CategoricalPolicy, "gaussian": GaussianPolicy}

FORMAT = "nppg-checkpoint"
UNSAVED = {"vf_dtype": "float64"}  # the defaults of a setting older nppg did not save that have changed since
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: unreadable, foreign, incompatible or mismatched."""


def save_checkpoint(path, policy, value_fn, env_id, obs_space, act_space, epoch, config, extra=None, more_header=None):
    """Write policy, value function and a header to ``path`` atomically. ``extra``: more named arrays."""
    header = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "nppg_version": __version__,
        "env": env_id, "observation_space": str(obs_space), "action_space": str(act_space),
        "policy": policy.kind, "obs_dim": policy.obs_dim, "act_dim": policy.net.sizes[-1],
        "hidden": list(policy.net.sizes[1:-1]), "activation": policy.net.activation,
        "epoch": int(epoch), "config": config, **(more_header or {}),
    }
    arrays = {"header": np.array(json.dumps(header))}
    arrays.update({f"pi.{k}": v for k, v in policy.params.items()})
    arrays.update({f"vf.{k}": v for k, v in value_fn.params.items()})
    arrays.update(stats_arrays("obs", policy.net.obs_stats))
    arrays.update(extra or {})
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it 0600; give it the mode open() gives the run's other files
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def stats_arrays(name, stats):
    """A ``RunningStats`` (24) as arrays ``name.N``, ``name.mean``, ``name.M2``; nothing for None."""
    return {} if stats is None else {f"{name}.N": np.array(stats.N), f"{name}.mean": stats.mean, f"{name}.M2": stats.M2}


def fill_stats(stats, arrays, name, path):
    """Put the saved ``name.*`` arrays into ``stats`` (a RunningStats of the right shape)."""
    try:
        N, mean, M2 = (arrays[f"{name}.{k}"] for k in ("N", "mean", "M2"))
    except KeyError:
        raise CheckpointError(f"{path} has no {name} statistics, but the run normalises with them") from None
    if mean.shape != stats.mean.shape or M2.shape != stats.M2.shape:
        raise CheckpointError(f"{path}: {name} statistics of shape {mean.shape}; the run has {stats.mean.shape}")
    stats.N, stats.mean, stats.M2 = int(N), mean.astype(np.float64), M2.astype(np.float64)


def read_checkpoint(path):
    """(header dict, {name: array}) from ``path``, or a CheckpointError that says what is wrong."""
    if not os.path.isfile(path):
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError:  # NumPy's own message would suggest loading pickled data, which nppg never does
        raise CheckpointError(f"{path} is not a readable .npz checkpoint (not an .npz file, or one holding "
                              "Python objects)") from None
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise CheckpointError(f"{path} is not a readable .npz checkpoint (truncated or corrupt?): {e}") from None
    try:
        header = json.loads(str(arrays.pop("header")))
        assert header["format"] == FORMAT
    except (KeyError, ValueError, TypeError, AssertionError):
        raise CheckpointError(f"{path} is not an nppg checkpoint (no valid nppg header)") from None
    if header.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path} has checkpoint format {header.get('format_version')} (written by nppg "
                              f"{header.get('nppg_version')}); this nppg {__version__} reads format {FORMAT_VERSION}")
    return header, arrays


def _fill(params, arrays, prefix, path):
    for k, p in params.items():
        a = arrays.get(f"{prefix}.{k}")
        if a is None or a.shape != p.shape:
            got = "missing" if a is None else f"shape {a.shape}"
            raise CheckpointError(f"{path}: {prefix}.{k} should have shape {p.shape}; {got} (architecture mismatch)")
        p[...] = a


def load_checkpoint(path, env_id=None):
    """Rebuild (policy, value_fn, header) from ``path``; ``env_id`` if given must match the checkpoint's."""
    header, arrays = read_checkpoint(path)
    if env_id is not None and env_id != header["env"]:
        raise CheckpointError(f"{path} was trained on {header['env']}, not {env_id}")
    try:
        kind, obs_dim, act_dim = header["policy"], header["obs_dim"], header["act_dim"]
        hidden, activation = tuple(header["hidden"]), header["activation"]
    except KeyError as e:
        raise CheckpointError(f"{path}: the header has no {e} (edited by hand?)") from None
    if kind not in POLICIES:
        raise CheckpointError(f"{path}: the header names an unknown policy {kind!r} (edited by hand?)")
    policy = POLICIES[kind](obs_dim, act_dim, hidden, activation)
    value_fn = FastValueFunction(obs_dim, hidden, activation, dtype=header["config"].get("vf_dtype", UNSAVED["vf_dtype"]))
    _fill(policy.params, arrays, "pi", path)
    _fill(value_fn.params, arrays, "vf", path)
    if header["config"].get("normalize_obs"):  # the statistics training ended with, frozen from here on
        policy.net.obs_stats = value_fn.net.obs_stats = RunningStats(obs_dim)
        fill_stats(policy.net.obs_stats, arrays, "obs", path)
    bad = [f"{net}.{k}" for net, params in (("pi", policy.params), ("vf", value_fn.params))
           for k, p in params.items() if not np.isfinite(p).all()]
    if bad:
        raise CheckpointError(f"{path}: {', '.join(bad)} hold NaN or infinite values")
    return policy, value_fn, header


# ---- the whole training state, for an exact resume ---------------------------------------

def actions_path(run_dir, rank=0):
    """The file of every action a rank's environments were given: ``env_actions.bin`` (a single process's, and
    MPI rank 0's), ``env_actions.rank<r>.bin`` for MPI rank r."""
    return os.path.join(run_dir, "env_actions.bin" if rank == 0 else f"env_actions.rank{rank}.bin")


def save_train_state(path, state, time_s, config):
    """Everything ``nppg.train`` needs to continue ``state`` exactly (see the module docstring); ``time_s``:
    the training time so far; ``config``: the run's settings (``engine.config.settings``)."""
    s, ro = state, state.rollout
    extra = {f"{name}.{m}.{k}": a for name, opt in (("pi_opt", s.pi_opt), ("vf_opt", s.vf_opt))
             for m, d in (("m", opt.m), ("v", opt.v)) for k, a in d.items()}
    extra.update({f"rollout.{k}": getattr(ro, k) for k in ROLLOUT_STATE}, **stats_arrays("ret", s.ret_stats))
    more = {"kind": "train-state", "env_steps": s.env_steps, "time_s": time_s, "vector_steps": ro.vector_steps,
            "rng_state": s.rng.bit_generator.state, "pi_opt_t": s.pi_opt.t, "vf_opt_t": s.vf_opt.t}
    peers = getattr(ro, "peers", [])  # under MPI, on rank 0: the other ranks' environments and generators
    if peers:
        more.update(ranks=1 + len(peers), rank_states=[{k: p[k] for k in ("vector_steps", "rng_state")} for p in peers])
        extra.update({f"rank{r}.rollout.{k}": p[k] for r, p in enumerate(peers, 1) for k in ROLLOUT_STATE})
    envs = ro.envs
    save_checkpoint(path, s.policy, s.value_fn, s.cfg.env, envs.single_observation_space, envs.single_action_space,
                    s.epoch, as_json(config), extra, more)


def as_json(config):
    """A configuration dict as JSON gives it back (tuples become lists)."""
    return json.loads(json.dumps(config))


# what a resume may change: epochs (to extend the run), threads (results are the same with any number) and the
# evaluation's settings (it trains the same parameters to the bit with or without it)
CHANGEABLE = ("epochs", "threads", "eval_every", "eval_episodes")


def config_differences(a, b):
    """The settings two configurations (as JSON gives them back) both have and set differently, except the
    CHANGEABLE ones."""
    return sorted(k for k in a.keys() & b.keys() if k not in CHANGEABLE and a[k] != b[k])


def check_length(saved, epochs, run_dir="DIR"):
    """A run with lr_decay (28) sized every step by its length: it cannot go on to another."""
    if saved.get("lr_decay") and epochs != saved.get("epochs"):
        raise CheckpointError(f"{run_dir} decays its step sizes over its {saved.get('epochs')} epochs (28): it cannot "
                              f"go on to {epochs}, which would have sized its steps so far differently")


def load_train_state(run_dir):
    """(header, arrays, actions) from ``run_dir``'s state.npz and env_actions.bin, checked for consistency."""
    header, arrays = read_checkpoint(os.path.join(run_dir, "state.npz"))
    if header.get("kind") != "train-state":
        raise CheckpointError(f"{run_dir}/state.npz is not a training state (written by an older nppg?)")
    try:  # the logger's config.json; a directory without a readable one (older nppg) is not checked
        with open(os.path.join(run_dir, "config.json")) as f:
            config = json.load(f)
    except (OSError, ValueError):
        config = None
    if isinstance(config, dict):
        differ = config_differences(config, {**header["config"], "env": header["env"]})
        if differ:
            raise CheckpointError(f"{run_dir}/state.npz does not belong to this run directory: it differs from "
                                  f"{run_dir}/config.json in {', '.join(differ)} (copied from another run?)")
    actions = read_actions(actions_path(run_dir), header["vector_steps"], header)
    for r, rank in enumerate(header.get("rank_states", []), 1):  # an MPI run's other ranks
        arrays[f"rank{r}.actions"] = read_actions(actions_path(run_dir, r), rank["vector_steps"], header)
    return header, arrays, actions


def read_actions(path, rows, header):
    """The first ``rows`` vector steps' actions from the raw file (it may hold more, written after the save)."""
    n = header["config"]["num_envs"]
    shape, dtype = (rows, n) if header["policy"] == "categorical" else (rows, n, header["act_dim"]), \
        (np.int64 if header["policy"] == "categorical" else np.float64)
    count = int(np.prod(shape))
    have = os.path.getsize(path) // np.dtype(dtype).itemsize if os.path.isfile(path) else 0
    if have < count:
        raise CheckpointError(f"{path} holds {have} actions; resuming needs {count} (the file is incomplete)")
    actions = np.fromfile(path, dtype=dtype, count=count).reshape(shape)
    if header["policy"] == "categorical" and not ((0 <= actions) & (actions < header["act_dim"])).all():
        raise CheckpointError(f"{path} holds actions outside 0..{header['act_dim'] - 1} (corrupt, or from another run)")
    if header["policy"] != "categorical" and not np.isfinite(actions).all():
        raise CheckpointError(f"{path} holds NaN or infinite actions (corrupt, or from another run)")
    return actions


def resume_settings(header, given, ranks=1, run_dir="DIR"):
    """The one place a resume is decided: the settings that continue the run saved with ``header`` (from
    ``load_train_state``), or a CheckpointError that says why it cannot continue.

    ``given``: the settings asked for (the flags given on the command line, or ``nppg.train``'s keyword
    arguments). ``epochs`` may extend the run, and ``threads`` (results are the same with any number from 1
    up) and the evaluation's ``eval_every`` and ``eval_episodes`` change; every other setting given must
    equal the saved one, so that none is silently ignored.
    ``ranks``: the processes that will run it, which must be the saved run's number."""
    n = header.get("ranks", 1)
    if n != ranks:  # each process collects its own share of the batch from environments of its own
        was = "one process" if n == 1 else f"{n} MPI ranks"
        how = "without mpiexec" if n == 1 else f"with mpiexec -n {n} python -m mpi4py -m nppg train --resume {run_dir}"
        raise CheckpointError(f"this run was trained on {was} and cannot continue exactly on {ranks}, which "
                              f"would collect other batches: resume it {how}")
    # a setting older nppg did not save was at its default (then: its default now, but for UNSAVED's)
    saved = {**as_json(settings(VPGConfig(), EngineConfig())), **UNSAVED, **header["config"], "env": header["env"]}
    given = as_json(given)
    changed = config_differences(saved, given)
    if changed:  # "gamma 0.5 and seed 7 differ from the saved run's gamma 0.99 and seed 0"
        def listed(values):
            items = [f"{k} {values[k]}" for k in changed]
            return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else items[0]
        raise CheckpointError(f"{listed(given)} {'differ' if len(changed) > 1 else 'differs'} from the saved run's "
                              f"{listed(saved)}, which a resume continues with (only --epochs, --threads, --eval-every "
                              "and --eval-episodes may change)")
    config, done = {**saved, **{k: given[k] for k in CHANGEABLE if given.get(k) is not None}}, header["epoch"]
    if (config["threads"] == 0) != (saved["threads"] == 0):
        raise CheckpointError("threads 0 leaves NumPy's BLAS threads as they are, which can change a product's last "
                              "bits: a run cannot move between 0 and 1 or more and stay exact")
    check_length(saved, config["epochs"], run_dir)
    if config["epochs"] <= done:
        raise CheckpointError(f"{run_dir} has already run {done} epochs: pass --epochs N (train's epochs=N) with "
                              f"N > {done} to extend it")
    config["hidden"] = tuple(config["hidden"])
    return config


def for_rank(saved, rank):
    """What rank ``rank`` of an MPI job needs of a saved state (``load_train_state``): the header, the shared
    arrays and its own (rank 0's actions only to rank 0)."""
    header, arrays, actions = saved
    own = {k: a for k, a in arrays.items() if not k.startswith("rank") or k.startswith(f"rank{rank}.")}
    return header, own, actions if rank == 0 else None


def rank_part(saved, rank):
    """(header, arrays, actions) of an MPI run's rank ``rank``: its own generator, vector steps, episodes
    and actions in the places where a single process's are."""
    header, arrays, actions = saved
    if rank == 0:
        return saved
    own = header["rank_states"][rank - 1]
    arrays = {**arrays, **{f"rollout.{k}": arrays[f"rank{rank}.rollout.{k}"] for k in ROLLOUT_STATE}}
    return {**header, "rng_state": own["rng_state"], "vector_steps": own["vector_steps"]}, arrays, \
        arrays[f"rank{rank}.actions"]


def restore_learner(state, header, arrays, path="state.npz"):
    """Put a saved training state's networks, Adam states, random generator and statistics into ``state``:
    everything but the environments."""
    _fill(state.policy.params, arrays, "pi", path)
    _fill(state.value_fn.params, arrays, "vf", path)
    for name, opt in (("pi_opt", state.pi_opt), ("vf_opt", state.vf_opt)):
        _fill(opt.m, arrays, f"{name}.m", path)
        _fill(opt.v, arrays, f"{name}.v", path)
        opt.t = header[f"{name}_t"]
    state.rng.bit_generator.state = header["rng_state"]
    for name, stats in (("obs", state.obs_stats), ("ret", state.ret_stats)):
        if stats is not None:
            fill_stats(stats, arrays, name, path)


def restore_train_state(state, saved, rank=0):
    """Put a saved training state (``load_train_state``) into a freshly started ``state`` of the settings
    ``resume_settings`` decided, replaying the environments (a ``CheckedRollout``); ``rank``: this
    process's place in an MPI job. Returns the training time so far."""
    header, arrays, actions = rank_part(saved, rank)
    restore_learner(state, header, arrays)
    ro = state.rollout
    ro.replay(actions)
    for k in ROLLOUT_STATE:
        if f"rollout.{k}" in arrays and not np.array_equal(getattr(ro, k), arrays[f"rollout.{k}"]):
            raise CheckpointError(f"replaying the saved actions did not reproduce the environments' state ({k} "
                                  f"differs): is {header['env']} deterministic given its seed and actions, or "
                                  "were env_actions.bin or state.npz altered or copied from another run?")
    state.epoch, state.env_steps = header["epoch"], header["env_steps"]
    return header["time_s"]
