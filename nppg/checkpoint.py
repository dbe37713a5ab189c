"""Checkpoints: plain .npz arrays plus a JSON header, loaded with ``allow_pickle=False``.

Keys: ``header`` (a JSON string: format version, nppg version, environment id, spaces,
architecture, epoch, config), ``pi.<name>`` for every policy parameter, ``vf.<name>`` for
every value-function parameter. Writes are atomic: a temporary file in the same folder,
then ``os.replace``, so a crash mid-write leaves the previous checkpoint intact.
"""
import json
import os
import tempfile
import zipfile

import numpy as np

from . import __version__
from .policies import CategoricalPolicy, GaussianPolicy, ValueFunction

FORMAT = "nppg-checkpoint"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: unreadable, foreign, incompatible or mismatched."""


def save_checkpoint(path, policy, value_fn, env_id, obs_space, act_space, epoch, config, extra=None):
    """Write policy, value function and a header to ``path`` atomically. ``extra``: more named arrays."""
    header = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "nppg_version": __version__,
        "env": env_id, "observation_space": str(obs_space), "action_space": str(act_space),
        "policy": "categorical" if isinstance(policy, CategoricalPolicy) else "gaussian",
        "obs_dim": policy.obs_dim,
        "act_dim": policy.n_actions if isinstance(policy, CategoricalPolicy) else policy.act_dim,
        "hidden": list(policy.net.sizes[1:-1]), "activation": policy.net.activation,
        "epoch": int(epoch), "config": config,
    }
    arrays = {"header": np.array(json.dumps(header))}
    arrays.update({f"pi.{k}": v for k, v in policy.params.items()})
    arrays.update({f"vf.{k}": v for k, v in value_fn.params.items()})
    arrays.update(extra or {})
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def read_checkpoint(path):
    """(header dict, {name: array}) from ``path``, or a CheckpointError that says what is wrong."""
    if not os.path.isfile(path):
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
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
    kind, obs_dim, act_dim = header["policy"], header["obs_dim"], header["act_dim"]
    hidden, activation = tuple(header["hidden"]), header["activation"]
    if kind == "categorical":
        policy = CategoricalPolicy(obs_dim, act_dim, hidden, activation)
    else:
        policy = GaussianPolicy(obs_dim, act_dim, hidden, activation)
    value_fn = ValueFunction(obs_dim, hidden, activation)
    _fill(policy.params, arrays, "pi", path)
    _fill(value_fn.params, arrays, "vf", path)
    return policy, value_fn, header
