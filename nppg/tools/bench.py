"""``nppg bench``: how close an epoch of nppg comes to what it fundamentally needs.

For each environment, two numbers and their ratio:

- the **limit**: stepping the environment with random actions through the same vector API and
  number of copies (no policy, no bookkeeping), plus the arithmetic of the epoch's matrix
  products (the rollout's forward passes, the policy update, the value fit) divided by the
  throughput NumPy reaches on this machine for the largest of them, ``(N, H) @ (H, H)``,
  measured in the same run;
- **nppg**: the time of a whole training epoch (``nppg.train``, as the command line runs it), split into environment
  stepping, policy forward and sampling, the rest of the rollout, the policy update, the value
  fit, and everything else (weights, bookkeeping).

Each setting runs in its own process, so that the resident memory it reports is its own.
Nothing here is imported by training: the timers are wrapped around ``vpg``'s parts from outside.
"""
import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import time

import numpy as np

from .. import algorithm
from ..algorithm import VPGConfig
from ..engine import CheckedRollout, EngineConfig, run, train
from ..engine.config import VF_DTYPES, VECTORIZATIONS
from ..engine.threads import set_threads
from .flags import Parser
from .machine import describe

D, E = VPGConfig(), EngineConfig()
PARTS = ("env", "sample", "rollout_other", "update_pi", "fit_v", "other")
PART_NAMES = {"env": "env step", "sample": "pi fwd+sample", "rollout_other": "rollout rest",
              "update_pi": "pi update", "fit_v": "V fit", "other": "other"}


def default_envs():
    envs = ["CartPole-v1", "Pendulum-v1"]
    try:
        import mujoco  # noqa: F401  (the optional extra)
        envs.append("HalfCheetah-v5")
    except ImportError:
        pass
    return envs


# ---- the limit ---------------------------------------------------------------------------

def mlp_flops(sizes, n, backward=False):
    """Floating-point operations of the matrix products of one pass over n rows.

    Forward: 2 n d_i d_{i+1} per layer (x W). Backward: the same again for each dW = x^T dy, and
    for each dx = dy W^T except the first layer's, which nobody needs.
    """
    per_row = sum(2 * a * b for a, b in zip(sizes[:-1], sizes[1:]))
    if not backward:
        return n * per_row
    return n * (per_row + per_row - 2 * sizes[0] * sizes[1])


def epoch_flops(pi_sizes, v_sizes, n, train_v_iters, categorical=True):
    """The matrix arithmetic of one epoch of ``vpg`` on n transitions, pass by pass."""
    rollout = mlp_flops(pi_sizes, n)                                  # one forward per step, to sample
    weights = mlp_flops(v_sizes, n)                                   # V(s_t) for the advantages
    update_pi = (3 + categorical) * mlp_flops(pi_sizes, n) + mlp_flops(pi_sizes, n, backward=True)
    fit_v = (train_v_iters + 1) * (mlp_flops(v_sizes, n) + mlp_flops(v_sizes, n, backward=True))  # one more for the loss
    return {"rollout": rollout, "weights": weights, "update_pi": update_pi, "fit_v": fit_v}


def best_time(f, repeats=20, number=10):
    """Best of ``repeats`` averages over ``number`` calls, in seconds."""
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            f()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def matmul_flops_per_s(n, h, dtype=np.float64):
    """Throughput of ``(n, h) @ (h, h)`` into a preallocated result: the update's largest product."""
    rng = np.random.default_rng(0)
    a, b, out = rng.standard_normal((n, h)).astype(dtype), rng.standard_normal((h, h)).astype(dtype), np.empty((n, h), dtype)
    return 2.0 * n * h * h / best_time(lambda: np.matmul(a, b, out=out))


def env_steps_per_s(env_id, num_envs, vectorization, steps, repeats=3, seed=0):
    """Raw stepping with random actions (drawn beforehand), through nppg's own ``make_env``."""
    envs = run.make_env(env_id, num_envs, vectorization)
    try:
        envs.action_space.seed(seed)
        vector_steps = math.ceil(steps / num_envs)
        actions = [envs.action_space.sample() for _ in range(vector_steps)]
        envs.reset(seed=seed)
        best = np.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            for a in actions:
                envs.step(a)
            best = min(best, time.perf_counter() - t0)
        return vector_steps * num_envs / best
    finally:
        envs.close()


# ---- nppg, timed from outside ----------------------------------------------------------------

def rss_mb():
    """Resident memory now (Linux /proc), else the peak so far (``ru_maxrss``), in MB."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


class Timers:
    """Seconds spent in each wrapped function, reset every epoch."""

    def __init__(self):
        self.total = {}

    def wrap(self, name, f):
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return f(*args, **kwargs)
            finally:
                self.total[name] = self.total.get(name, 0.0) + time.perf_counter() - t0
        return timed

    def take(self):
        total, self.total = self.total, {}
        return total


@contextlib.contextmanager
def timed_parts(timers):
    """Wrap the environments' ``step``, the policy's ``sample``, ``CheckedRollout.collect``,
    ``update_policy`` and ``fit_value`` where ``nppg.train`` finds them, and put everything back afterwards."""
    make_env, make_policy = run.make_env, algorithm.make_policy

    def timed_env(*args, **kwargs):
        envs = make_env(*args, **kwargs)
        envs.step = timers.wrap("env", envs.step)
        return envs

    def timed_policy(*args, **kwargs):
        policy = make_policy(*args, **kwargs)
        policy.sample = timers.wrap("sample", policy.sample)
        return policy

    update_policy, fit_value, collect = algorithm.update_policy, algorithm.fit_value, CheckedRollout.collect
    try:
        run.make_env, algorithm.make_policy = timed_env, timed_policy
        algorithm.update_policy = timers.wrap("update_pi", update_policy)
        algorithm.fit_value = timers.wrap("fit_v", fit_value)
        CheckedRollout.collect = timers.wrap("collect", collect)
        yield
    finally:
        run.make_env, algorithm.make_policy = make_env, make_policy
        algorithm.update_policy, algorithm.fit_value, CheckedRollout.collect = update_policy, fit_value, collect


def run_setting(env_id, num_envs, epochs, threads, vectorization=None, steps_per_epoch=4000,
                train_v_iters=D.train_v_iters, hidden=D.hidden, vf_dtype=E.vf_dtype, seed=0, normalize_obs=False,
                scale_rewards=False):
    """Everything for one (environment, settings) pair, in this process. Returns one result dict."""
    hidden = tuple(hidden)
    cfg = dict(epochs=epochs, steps_per_epoch=steps_per_epoch, num_envs=num_envs, train_v_iters=train_v_iters,
               hidden=hidden, vectorization=vectorization, seed=seed, vf_dtype=vf_dtype, threads=threads,
               normalize_obs=normalize_obs, scale_rewards=scale_rewards)
    timers, records = Timers(), []

    def callback(record, state):
        parts = timers.take()
        records.append({"t": time.perf_counter(), "steps": record["env_steps"], "rss_mb": rss_mb(), **parts})

    with timed_parts(timers):
        t_start = time.perf_counter()
        state = train(env_id, callback=callback, **cfg)
    policy, value_fn = state.policy, state.value_fn

    # nppg: whole epochs after the first (imports, caches and first-touch allocations are in the first)
    starts = [t_start] + [r["t"] for r in records[:-1]]
    epoch_s = np.array([r["t"] - s for r, s in zip(records, starts)])
    steps = np.diff([0] + [r["steps"] for r in records])
    timed = slice(1, None) if epochs > 1 else slice(0, None)
    split = {part: float(np.median([r.get(part, 0.0) for r in records[timed]]))
             for part in ("env", "sample", "collect", "update_pi", "fit_v")}
    split["rollout_other"] = split.pop("collect") - split["env"] - split["sample"]
    median_epoch = float(np.median(epoch_s[timed]))
    split["other"] = median_epoch - sum(split[p] for p in PARTS[:-1])

    # the limit, measured in the same process after training, with the same thread count:
    # each network's products at the throughput of its own precision
    if threads:  # 0: training left NumPy's BLAS as it found it (OPENBLAS_NUM_THREADS, say); so does the limit
        set_threads(threads)
    n, widest = steps_per_epoch, max(hidden or policy.net.sizes)
    flops = epoch_flops(policy.net.sizes, value_fn.net.sizes, n, train_v_iters, policy.kind == "categorical")
    mm_pi = matmul_flops_per_s(n, widest)
    mm_v = mm_pi if value_fn.dtype == np.float64 else matmul_flops_per_s(n, widest, value_fn.dtype)
    env_rate = env_steps_per_s(env_id, num_envs, vectorization, n)
    limit_env_s = n / env_rate
    limit_arith_s = (flops["rollout"] + flops["update_pi"]) / mm_pi + (flops["weights"] + flops["fit_v"]) / mm_v
    limit = limit_env_s + limit_arith_s

    return {
        "env": env_id, "num_envs": num_envs, "threads": threads, "vectorization": vectorization or "default",
        "vf_dtype": vf_dtype, "steps_per_epoch": n, "train_v_iters": train_v_iters, "hidden": list(hidden),
        "epochs": epochs, "limit_epoch_s": limit, "epoch_s": median_epoch, "ratio": median_epoch / limit,
        "epoch_s_best": float(epoch_s[timed].min()),
        "env_steps_per_s_raw": env_rate, "train_steps_per_s": float(steps[timed].sum() / epoch_s[timed].sum()),
        "limit_env_s": limit_env_s, "limit_arith_s": limit_arith_s,
        "matmul_gflop_per_s": mm_pi / 1e9, "matmul_gflop_per_s_v": mm_v / 1e9,
        "epoch_gflop": {k: v / 1e9 for k, v in flops.items()}, "split_s": split,
        "rss_mb_after_epoch_1": records[0]["rss_mb"], "rss_mb_end": records[-1]["rss_mb"],
        "mem_growth_mb": records[-1]["rss_mb"] - records[0]["rss_mb"],
        # a leak keeps growing; the allocator's warm-up stops: the second half of the run tells them apart
        "mem_growth_second_half_mb": records[-1]["rss_mb"] - records[len(records) // 2]["rss_mb"],
    }


# ---- the command --------------------------------------------------------------------------

def add_bench_args(p):
    p.add_argument("--env", action="append", default=None,
                   help="gymnasium id; repeat for several (default: CartPole-v1, Pendulum-v1, "
                        "and HalfCheetah-v5 if the mujoco extra is installed)")
    p.add_argument("--num-envs", type=int, nargs="+", default=[D.num_envs],
                   help="environment copies; several values run one setting each (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=10, help="epochs per setting; the first is not timed (default: %(default)s)")
    p.add_argument("--steps-per-epoch", type=int, default=4000, help="(default: %(default)s, Spinning Up's)")
    p.add_argument("--train-v-iters", type=int, default=D.train_v_iters, help="(default: %(default)s)")
    p.add_argument("--hidden", type=int, nargs="+", default=list(D.hidden), metavar="WIDTH",
                   help=f"(default: {' '.join(map(str, D.hidden))})")
    p.add_argument("--vf-dtype", default=E.vf_dtype, choices=VF_DTYPES, help="(default: %(default)s)")
    p.add_argument("--vectorization", default=None, choices=VECTORIZATIONS[1:])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                   help="values of train's --threads, one setting each; the limit uses as many BLAS threads, "
                        "0 NumPy's own setting (default: 1 2; 2 is nppg's default)")
    p.add_argument("--normalize-obs", action="store_true", help="train with observation normalisation (25)")
    p.add_argument("--scale-rewards", action="store_true", help="train with reward scaling (26)")
    p.add_argument("--json", action="store_true", help='print one JSON object {"machine": "...", "results": [...]}')
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)


def run_in_subprocess(setting):
    """``run_setting`` in a fresh interpreter, so that its memory figures are its own."""
    cmd = [sys.executable, "-m", "nppg.tools.bench", "--worker", json.dumps(setting)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        if last.startswith(("ValueError: ", "nppg.")):  # a bad setting or environment: its one line says it
            raise ValueError(f"benchmark of {setting['env_id']} failed: {last.split(': ', 1)[-1]}")
        raise ValueError(f"benchmark of {setting} failed:\n{proc.stderr.strip()}")  # a crash: all of it
    return json.loads(proc.stdout.strip().splitlines()[-1])


def format_table(results):
    head = (f"{'env':16} {'envs':>4} {'thr':>3} | {'limit s':>7} = {'env':>6} + {'arith':>6} | "
            f"{'epoch s':>7} {'steps/s':>7} | " + " ".join(f"{PART_NAMES[p]:>13}" for p in PARTS) +
            f" | {'ratio':>5} | {'mem +MB':>7}")
    lines = [head, "-" * len(head)]
    for r in results:
        split = r["split_s"]
        lines.append(f"{r['env']:16} {r['num_envs']:>4} {r['threads']:>3} | {r['limit_epoch_s']:7.3f} = "
                     f"{r['limit_env_s']:6.3f} + {r['limit_arith_s']:6.3f} | {r['epoch_s']:7.3f} "
                     f"{r['train_steps_per_s']:7.0f} | " + " ".join(f"{split[p]:13.3f}" for p in PARTS) +
                     f" | {r['ratio']:5.2f} | {r['mem_growth_mb']:7.1f}")
    lines.append("")
    for r in results:
        lines.append(f"{r['env']} ({r['threads']} thread(s)): raw env {r['env_steps_per_s_raw']:,.0f} steps/s; "
                     f"{sum(r['epoch_gflop'].values()):.2f} GFLOP per epoch at {r['matmul_gflop_per_s']:.1f} GFLOP/s; "
                     f"RSS {r['rss_mb_after_epoch_1']:.1f} MB after epoch 1, {r['rss_mb_end']:.1f} MB after "
                     f"epoch {r['epochs']} ({r['mem_growth_second_half_mb']:+.1f} MB in its second half)")
    return "\n".join(lines)


def cmd_bench(args):
    if min(args.epochs, args.steps_per_epoch, *args.num_envs) < 1 or min(args.threads) < 0:
        raise ValueError("--epochs, --steps-per-epoch and --num-envs must be whole numbers >= 1, --threads >= 0")
    results = []
    for env_id in args.env or default_envs():
        for num_envs in args.num_envs:
            for threads in args.threads:
                setting = dict(env_id=env_id, num_envs=num_envs, epochs=args.epochs, threads=threads,
                               vectorization=args.vectorization, steps_per_epoch=args.steps_per_epoch,
                               train_v_iters=args.train_v_iters, hidden=args.hidden, vf_dtype=args.vf_dtype,
                               normalize_obs=args.normalize_obs, scale_rewards=args.scale_rewards)
                results.append(run_in_subprocess(setting))
                if not args.json:
                    print(f"nppg bench: {env_id}, {num_envs} envs, {threads} thread(s) done", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps({"machine": describe(), "results": results}))
    else:
        print(f"nppg bench: measured on {describe()}")
        print(f"nppg bench: {args.steps_per_epoch} steps per epoch, hidden {tuple(args.hidden)}, "
              f"{args.train_v_iters} value steps, value net {args.vf_dtype}, vectorization "
              f"{args.vectorization or 'default'}; times in s, median of epochs "
              f"{'2-%d' % args.epochs if args.epochs > 1 else '1'}; "
              f"machine load {os.getloadavg()[0]:.2f}")
        print(format_table(results))
    return 0


def main(argv=None):
    parser = Parser(prog="nppg bench", description="nppg's epoch time against its limit.")
    add_bench_args(parser)
    args = parser.parse_args(argv)
    if args.worker is not None:
        setting = json.loads(args.worker)
        print(json.dumps(run_setting(**setting)))
        return 0
    return cmd_bench(args)


if __name__ == "__main__":
    sys.exit(main())
