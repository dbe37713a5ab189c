"""How a run is set: ``EngineConfig`` (how it is computed), the range of every setting, and a run's
settings as one dict (``settings``: what config.json and the checkpoints hold). The plain ``vpg`` takes
its ``VPGConfig`` as given; ``nppg.train`` and the command line check it here first.
"""
import difflib
from dataclasses import asdict, dataclass

import numpy as np

from ..advantages import WEIGHTS
from ..algorithm import VPGConfig
from ..nn import ACTIVATIONS
from .threads import whole

VF_DTYPES, VECTORIZATIONS = ("float64", "float32"), (None, "sync", "async")


def engine_config(engine, dp=None):
    """``EngineConfig(**engine)``; under MPI (``dp``), threads 0 is refused."""
    eng = EngineConfig(**engine)
    if dp is not None and eng.eval_every:
        raise ValueError("eval_every is not yet supported under MPI: evaluate the saved policy with nppg eval, or "
                         "train on one process")
    if dp is not None and eng.threads == 0:
        raise ValueError("threads 0 leaves NumPy's BLAS threads as they are, and under MPI every rank would start "
                         "as many as there are cores: give each rank 1 thread (the default under mpiexec) or more")
    return eng


def check_config(cfg, dp=None):
    """Refuse a ``VPGConfig`` setting outside its range, naming it (the plain ``vpg`` takes them as given);
    ``dp``: the ranks of an MPI job, for the memory check."""
    checks = [
        (whole(cfg.seed, 0), "seed", "a whole number >= 0"),
        (whole(cfg.epochs, 1), "epochs", "a whole number >= 1"),
        (whole(cfg.steps_per_epoch, 1), "steps_per_epoch", "a whole number >= 1"),
        (whole(cfg.num_envs, 1), "num_envs", "a whole number >= 1"),
        (cfg.weights in WEIGHTS, "weights", f"one of {list(WEIGHTS)}"),
        (0 < cfg.gamma <= 1, "gamma", "in (0, 1]"),
        (0 <= cfg.lam <= 1, "lam", "in [0, 1]"),
        (whole(cfg.n_step, 1), "n_step", "a whole number >= 1"),
        (0 < cfg.pi_lr < np.inf, "pi_lr", "> 0 and finite"),
        (0 < cfg.vf_lr < np.inf, "vf_lr", "> 0 and finite"),
        (whole(cfg.train_v_iters, 0), "train_v_iters", "a whole number >= 0"),
        (all(whole(h, 1) for h in cfg.hidden), "hidden", "widths >= 1 (or none)"),
        (cfg.activation in ACTIVATIONS, "activation", f"one of {sorted(ACTIVATIONS)}"),
        (np.isfinite(cfg.log_std_init), "log_std_init", "finite"),
        (isinstance(cfg.normalize_adv, bool), "normalize_adv", "True or False"),
        (isinstance(cfg.lr_decay, bool), "lr_decay", "True or False"),
        (isinstance(cfg.normalize_obs, bool), "normalize_obs", "True or False"),
        (isinstance(cfg.scale_rewards, bool), "scale_rewards", "True or False"),
    ]
    for ok, name, expected in checks:
        if not ok:
            raise ValueError(f"{name} must be {expected}; got {getattr(cfg, name)!r}")
    if cfg.num_envs > cfg.steps_per_epoch:
        raise ValueError(f"num_envs ({cfg.num_envs}) must not exceed steps_per_epoch ({cfg.steps_per_epoch})")
    cfg.hidden = tuple(int(h) for h in cfg.hidden)
    check_memory(cfg, dp)
    return cfg


def available_memory():
    """Bytes of memory available now (Linux's MemAvailable), or None where that cannot be read."""
    try:
        with open("/proc/meminfo") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError):
        return None


def check_memory(cfg, dp=None):
    """Refuse, before anything is allocated, settings whose arrays cannot fit: the hidden layers' weights
    (twice, for the policy and V, with a gradient and Adam's m and v each) and the activations of a batch.
    A lower bound: the input and output layers, whose sizes the environment sets, add more. Under MPI
    (``dp``), each of the ranks on this host holds the weights and the activations of its share."""
    h = cfg.hidden
    weights = sum(a * b for a, b in zip(h[:-1], h[1:])) + sum(h)
    rows, ranks = (cfg.steps_per_epoch, 1) if dp is None else (dp.share(cfg.steps_per_epoch), dp.local_size)
    need = 8 * ranks * (2 * 4 * weights + 3 * rows * sum(h))
    have = available_memory()
    if have is not None and need > have:
        on = "" if ranks == 1 else f" on each of {ranks} ranks"
        raise ValueError(f"--hidden {' '.join(map(str, h))} with {rows} steps per epoch{on} needs at "
                         f"least {need / 2**30:,.1f} GB; this machine has {have / 2**30:,.1f} GB available")


@dataclass
class EngineConfig:
    """How a run is computed; none of it changes the algorithm.

    threads        threads that compute the value fit's row blocks at once, each matrix product on one BLAS
                   thread; a run is the same to the bit with any number >= 1. 0: one thread, and NumPy's BLAS
                   setting left alone (more BLAS threads can change the last bits of a product).
    vf_dtype       the value network's precision. "float32" (the default since nppg 0.3) fits it about twice as
                   fast where float64 products are slow (AVX2 kernels) and 1.6 times where they are not, and
                   learns as well (docs/performance.md); "float64" is the plain layer's ValueFunction exactly.
                   The policy, its gradient and every check stay float64.
    vectorization  gymnasium's vectorization mode: None (the environment's own vector version if it has
                   one, else "sync"), "sync", or "async" (subprocesses; pays off only for slow environments).
    eval_every     every this many environment steps, evaluate the policy on fresh episodes of environment
                   copies of its own (engine/evaluate.py, Evaluation); 0: never. Training is the same to the bit.
    eval_episodes  episodes per evaluation, with sampled actions, and as many with the mean action.
    """
    threads: int = 2
    vf_dtype: str = "float32"
    vectorization: str = None
    eval_every: int = 0
    eval_episodes: int = 10

    def __post_init__(self):
        if not whole(self.threads, 0):
            raise ValueError(f"threads must be a whole number >= 0; got {self.threads!r}")
        if self.vf_dtype not in VF_DTYPES:
            raise ValueError(f'vf_dtype must be "float64" or "float32"; got {self.vf_dtype!r}')
        if self.vectorization not in VECTORIZATIONS:
            raise ValueError(f'vectorization must be None, "sync" or "async"; got {self.vectorization!r}')
        if not whole(self.eval_every, 0):
            raise ValueError(f"eval_every must be a whole number >= 0 (0: never); got {self.eval_every!r}")
        if not whole(self.eval_episodes, 1):
            raise ValueError(f"eval_episodes must be a whole number >= 1; got {self.eval_episodes!r}")


ENGINE_SETTINGS = tuple(EngineConfig.__dataclass_fields__)


def settings(cfg, eng):
    """A run's settings as its config.json and checkpoints hold them: the algorithm's and the engine's."""
    return {**asdict(cfg), **asdict(eng)}


ALGORITHM_SETTINGS = tuple(VPGConfig.__dataclass_fields__)


def check_names(given, valid=ALGORITHM_SETTINGS + ENGINE_SETTINGS, who="nppg.train"):
    """Refuse a keyword that is no setting with a ValueError naming the nearest one and every valid one (a
    mistyped ``epoch=2`` would otherwise end in VPGConfig's TypeError, which names neither)."""
    for name in given:
        if name not in valid:
            near = difflib.get_close_matches(name, valid, n=1)
            hint = f"did you mean {near[0]}? " if near else ""
            where = (f" (it is one of the engine's, which nppg.train takes; {who} runs the plain pieces)"
                     if name in ENGINE_SETTINGS else "")
            raise ValueError(f"{who} has no setting {name!r}{where}: {hint}its settings are {', '.join(valid)}")
