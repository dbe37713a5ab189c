"""How the value fit's block size, its threads and malloc decide the time of a value step.

    python benchmarks/value_blocks.py [--rows 4000] [--obs-dim 4] [--blocks 192 512 1024 2048 4000]

For each block size, with one thread and with two (``FastValueFunction(pool=...).grad_mse``), prints
milliseconds per value step (the gradient and an Adam step, best of 5 runs of 40 steps) and page
faults per step. Twice, each in a fresh process: with glibc's malloc as it comes, and after
``nppg.engine.memory.keep_freed_memory`` (what ``nppg.train`` does). One BLAS thread throughout.
"""
import argparse
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np


def worker(args):
    from nppg.engine.memory import keep_freed_memory
    from nppg.engine.threads import set_threads
    from nppg.engine.value import FastValueFunction
    from nppg.optim import Adam
    if args.worker == "kept":
        keep_freed_memory()
    set_threads(1)
    rng = np.random.default_rng(0)
    obs, targets = rng.standard_normal((args.rows, args.obs_dim)), rng.standard_normal(args.rows)
    for block in args.blocks:
        for threads in (1, 2):
            with ThreadPoolExecutor(threads) as pool:
                vf = FastValueFunction(args.obs_dim, (64, 64), rng=np.random.default_rng(1),
                                       pool=pool if threads > 1 else None)
                opt = Adam(vf.params, 1e-3)
                best, faults = np.inf, np.inf
                for _ in range(5):
                    f0, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
                    for _ in range(40):
                        opt.step(vf.grad_mse(obs, targets, block)[1])
                    best = min(best, (time.perf_counter() - t0) / 40)
                    faults = min(faults, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / 40)
            print(f"{args.worker:6} {block:6d} {threads:7d} {best * 1e3:8.2f} {faults:8.0f}", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    p.add_argument("--rows", type=int, default=4000)
    p.add_argument("--obs-dim", type=int, default=4)
    p.add_argument("--blocks", type=int, nargs="+", default=[192, 512, 1024, 2048, 4000])
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)
    print(f"value step on {args.rows} rows, (obs dim {args.obs_dim}, 64, 64, 1) tanh network")
    print(f"{'malloc':6} {'block':>6} {'threads':>7} {'ms/step':>8} {'faults':>8}")
    for mode in ("as-is", "kept"):
        subprocess.run([sys.executable, __file__, "--worker", mode, "--rows", str(args.rows),
                        "--obs-dim", str(args.obs_dim), "--blocks", *map(str, args.blocks)], check=True)


if __name__ == "__main__":
    main()
