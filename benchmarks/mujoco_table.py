"""The MuJoCo results table: nppg's runs beside Spinning Up's published VPG and PPO.

    python benchmarks/mujoco_table.py runs/mujoco --baseline benchmarks/anchors/spinningup_mujoco.csv

For every environment and setting under the sweep folder (``<folder>/<env>/<setting>/s<seed>``, as
``nppg sweep`` makes them) and every step count asked for (``--at``, default 1M, 2M and 3M), prints the
mean over seeds of the epoch mean return smoothed over ``--smooth`` epochs (centred, as Spinning Up's
figures are; 11 by default; the window counts epochs, whatever ended in them, ``mujoco_suite.smooth_epochs``),
with the smallest and largest seed, then Spinning Up's VPG and PPO at the same step counts, and each run's wall
time. A run that has not reached a step count yet shows "-".
"""
import argparse
import glob
import os

import numpy as np

from mujoco_suite import smooth_epochs
from nppg.tools.plot import read_baseline, read_progress


def value_at(run_dir, steps, k):
    """The smoothed epoch mean return at the last epoch that ends at or before ``steps``, or None."""
    _, cols = read_progress(run_dir)
    if not cols or cols["env_steps"][-1] < steps * 0.999:
        return None
    y = smooth_epochs(cols["mean_return"], k)
    at = np.searchsorted(cols["env_steps"], steps, side="right") - 1
    return float(y[at])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    p.add_argument("folder", help="a sweep's --out folder")
    p.add_argument("--baseline", default=None, help="Spinning Up's curves (env, algo, env_steps, mean_epoch_return)")
    p.add_argument("--at", type=float, nargs="+", default=[1e6, 2e6, 3e6])
    p.add_argument("--smooth", type=int, default=11)
    args = p.parse_args(argv)
    published = read_baseline(args.baseline) if args.baseline else {}
    head = " | ".join(f"{s / 1e6:g}M steps" for s in args.at)
    print(f"| env | setting | seeds | {head} | wall time per run |")
    print("|---|---|---|" + "---|" * len(args.at) + "---|")
    for env_dir in sorted(glob.glob(os.path.join(args.folder, "*"))):
        env = os.path.basename(env_dir)
        for setting_dir in sorted(glob.glob(os.path.join(env_dir, "*"))):
            runs = sorted(glob.glob(os.path.join(setting_dir, "s*")))
            cells = []
            for steps in args.at:
                values = [v for v in (value_at(r, steps, args.smooth) for r in runs) if v is not None]
                part = "" if len(values) == len(runs) else f"; {len(values)} of {len(runs)} seeds so far"
                cells.append(f"{np.mean(values):.0f} ({min(values):.0f} to {max(values):.0f}{part})" if values else "-")
            walls = [read_progress(r)[1]["time_s"][-1] / 60 for r in runs if value_at(r, max(args.at), 1) is not None]
            wall = f"{min(walls):.0f}-{max(walls):.0f} min" if walls else "-"
            print(f"| {env} | {os.path.basename(setting_dir)} | {len(runs)} | {' | '.join(cells)} | {wall} |")
        for (name, algo), (steps, values) in sorted(published.items()):
            if env.split("-v")[0] == name:
                cells = [f"{np.interp(s, steps, values):.0f}" for s in args.at]
                print(f"| {env} | Spinning Up {algo.upper()} (10 seeds, published) | 10 | {' | '.join(cells)} | |")


if __name__ == "__main__":
    main()
