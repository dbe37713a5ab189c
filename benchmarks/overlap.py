"""Would fitting V in a thread while the next batch is collected save time? The value fit uses
no random numbers, so running epoch k's fit beside epoch k+1's rollout would give the same run;
this measures whether two Python threads on two cores actually overlap them:

    python benchmarks/overlap.py CartPole-v1 HalfCheetah-v5

Prints, per environment: one rollout of 4,000 steps; one value fit (80 steps) in one thread and in
two (nppg's default, ``FastValueFunction(pool=...)``); the rollout and the two-thread fit one after the
other (what ``nppg.train`` does); and the rollout with the fit at once, the fit in a thread of its own
(one-thread fit, or two-thread fit). Spinning Up's settings, one BLAS thread, memory kept as
``nppg.train`` keeps it.
"""
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from nppg.algorithm import VPGConfig, fit_value, make_policy
from nppg.engine import FastValueFunction, make_env
from nppg.engine.memory import keep_freed_memory
from nppg.engine.threads import set_threads
from nppg.optim import Adam
from nppg.rollout import Rollout


def measure(env_id, steps=4000, iters=80, repeats=3):
    cfg = VPGConfig(env=env_id)
    rng = np.random.default_rng(0)
    envs = make_env(env_id, cfg.num_envs, None)
    try:
        policy = make_policy(envs.single_observation_space, envs.single_action_space, cfg.hidden, cfg.activation,
                             rng=rng)
        pool = ThreadPoolExecutor(2)
        value_fns = {None: FastValueFunction(policy.obs_dim, cfg.hidden, cfg.activation, np.random.default_rng(1)),
                     pool: FastValueFunction(policy.obs_dim, cfg.hidden, cfg.activation, np.random.default_rng(1),
                                             pool=pool)}
        rollout = Rollout(envs, seed=0)
        batch = rollout.collect(policy, steps, rng)
        targets = rng.standard_normal(len(batch.rew))

        def fit(pool=None):
            value_fn = value_fns[pool]
            fit_value(value_fn, Adam(value_fn.params, cfg.vf_lr), batch.obs, targets, iters)

        def collect():
            rollout.collect(policy, steps, rng)

        def beside(f):
            thread = threading.Thread(target=f)
            thread.start()
            collect()
            thread.join()

        best = {}
        for _ in range(repeats):
            for name, f in (("rollout", collect), ("V fit", fit), ("V fit, 2 threads", lambda: fit(pool)),
                            ("at once", lambda: beside(fit)), ("at once, 2 threads", lambda: beside(lambda: fit(pool)))):
                t0 = time.perf_counter()
                f()
                best[name] = min(best.get(name, np.inf), time.perf_counter() - t0)
        pool.shutdown()
        return best
    finally:
        envs.close()


if __name__ == "__main__":
    set_threads(1)
    keep_freed_memory()
    for env_id in sys.argv[1:] or ["CartPole-v1"]:
        t = measure(env_id)
        print(f"{env_id}: rollout {t['rollout']:.3f} s; V fit {t['V fit']:.3f} s, two threads "
              f"{t['V fit, 2 threads']:.3f} s; one after the other (two-thread fit) "
              f"{t['rollout'] + t['V fit, 2 threads']:.3f} s; at once: one-thread fit {t['at once']:.3f} s, "
              f"two-thread fit {t['at once, 2 threads']:.3f} s", flush=True)
