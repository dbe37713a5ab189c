"""``nppg exercise train``: the student's own ``vpg`` trained and its final policy evaluated as ``nppg eval`` does."""
import time

import numpy as np

from ..engine.evaluate import evaluate
from ..engine.rollout import make_env
from ..engine.threads import one_thread
from ..tools.logger import console_header, console_line
from .ladder import PACKAGE
from .workspace import load


# What ``exercise train`` runs, and what the final policy's 100-episode mean return must reach. CartPole: nppg's
# defaults (nppg's own plain vpg, seed 0, scores 500). Pendulum: examples/4_continuous.py's gamma and lam, 250
# epochs; nppg's own plain vpg, seed 0, scores -788 (the untrained policy about -1,100; docs/teaching.md).
TRAIN = {
    "CartPole-v1": ({}, 475.0),
    "Pendulum-v1": ({"gamma": 0.9, "lam": 0.95, "epochs": 250}, -1000.0),
}


def train(directory, env="CartPole-v1", seed=0, out=print):
    """Train the workspace's own ``vpg`` (plain, float64) and evaluate the final policy on 100 episodes as
    ``nppg eval`` does. Returns (mean return, threshold, passed)."""
    if env not in TRAIN:
        raise ValueError(f"--env must be one of {sorted(TRAIN)}; got {env!r}")
    settings, threshold = TRAIN[env]
    pkg = load(directory)
    out(f"nppg exercise train: {PACKAGE}.vpg({env!r}, seed={seed}"
        + "".join(f", {k}={v}" for k, v in settings.items()) + ")")
    out(console_header())
    t0 = [time.perf_counter()]

    def show(record, state):
        record["time_s"] = time.perf_counter() - t0[0]
        record["steps_per_s"] = record["env_steps"] / record["time_s"]
        out(console_line(record))
        return False

    with one_thread():  # as nppg.vpg: nppg's products are too small for a second BLAS thread (performance.md)
        state = pkg.vpg(env, seed=seed, callback=show, **settings)
    envs = make_env(env, 8)
    try:
        R, _ = evaluate(state.policy, envs, 100, np.random.default_rng(12345), False, 12345)
    finally:
        envs.close()
    mean = float(np.mean(R))
    passed = mean >= threshold
    out(f"final policy, 100 episodes: mean return {mean:.1f} +- {np.std(R):.1f}; "
        f"{'PASS' if passed else 'FAIL'} (needs >= {threshold:g})")
    return mean, threshold, passed
