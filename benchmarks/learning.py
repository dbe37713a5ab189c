"""Learning benchmark: train several seeds, report steps to a threshold and a final evaluation.

    python benchmarks/learning.py --env CartPole-v1 --seeds 0 1 2 3 4 --threshold 475
    python benchmarks/learning.py --env Pendulum-v1 --seeds 0 1 2 --threshold -700 -- --epochs 250 --pi-lr 3e-3

Everything after ``--`` is passed to the training configuration as ``nppg train`` flags.
Prints one line per seed and a summary; ``--json FILE`` also writes every number.
"""
import argparse
import json
import time

import numpy as np

import nppg
from nppg.algorithm import VPGConfig
from nppg.engine import make_env
from nppg.tools.flags import SETTINGS, add_train_args
from nppg.engine.evaluate import evaluate
from nppg.tools.logger import RunLogger


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    p.add_argument("--env", default="CartPole-v1")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--threshold", type=float, default=475.0, help="an epoch's mean return that counts as solved")
    p.add_argument("--eval-episodes", type=int, default=100)
    p.add_argument("--json", default=None)
    p.add_argument("--every", type=int, default=0, help="print every N-th epoch's line while training")
    p.add_argument("--runs", default=None, help="also write a run directory per seed under this folder (for nppg plot)")
    args, rest = p.parse_known_args()
    train = argparse.ArgumentParser(allow_abbrev=False)
    add_train_args(train)
    targs = train.parse_args([a for a in rest if a != "--"] + ["--env", args.env])
    hyper = {name: getattr(targs, name) for name in SETTINGS}
    hyper["epochs"] = targs.epochs or VPGConfig.epochs  # --epochs has no default of its own (it serves --resume)
    rows = []
    for seed in args.seeds:
        hyper["seed"] = seed
        t0 = time.perf_counter()
        run_log = RunLogger(hyper, f"{args.runs}/seed{seed}", verbose=False) if args.runs else None
        screen = RunLogger(hyper) if args.every else None

        def callback(record, state):
            if run_log:
                run_log(record, state)
            if screen and (record["epoch"] - 1) % args.every == 0:
                screen(record, state)

        res = nppg.train(callback=callback, **hyper)
        wall = time.perf_counter() - t0
        hit = [r["env_steps"] for r in res.history if r["mean_return"] >= args.threshold]
        envs = make_env(args.env, 8)
        R, _ = evaluate(res.policy, envs, args.eval_episodes, np.random.default_rng(10_000 + seed), seed=10_000 + seed)
        envs.close()
        best = max((r["mean_return"] for r in res.history if not np.isnan(r["mean_return"])), default=np.nan)
        rows.append({"seed": seed, "steps_to_threshold": hit[0] if hit else None, "eval_mean": float(R.mean()),
                     "eval_std": float(R.std()), "best_epoch_return": best, "env_steps": res.history[-1]["env_steps"],
                     "wall_s": wall, "curve": [(r["env_steps"], r["mean_return"]) for r in res.history]})
        print(f"seed {seed}: steps to {args.threshold:g}: {rows[-1]['steps_to_threshold']}, eval {R.mean():.1f} "
              f"+- {R.std():.1f} over {len(R)} episodes, best epoch {best:.1f}, {wall:.1f} s", flush=True)
    steps = [r["steps_to_threshold"] for r in rows]
    reached = [s for s in steps if s is not None]
    print(f"summary {args.env}: {len(reached)}/{len(rows)} seeds reached {args.threshold:g}; median steps "
          f"{np.median([s if s is not None else np.inf for s in steps]):.0f}; eval >= threshold for "
          f"{sum(r['eval_mean'] >= args.threshold for r in rows)}/{len(rows)} seeds; mean wall "
          f"{np.mean([r['wall_s'] for r in rows]):.1f} s")
    if args.json:
        json.dump({"args": vars(args), "config": {k: v for k, v in hyper.items() if k != "seed"}, "runs": rows},
                  open(args.json, "w"), indent=1, default=float)


if __name__ == "__main__":
    main()
