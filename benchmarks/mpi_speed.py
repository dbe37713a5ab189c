"""Data-parallel speed (issue 17): a 4,000-step HalfCheetah epoch with ``--preset mujoco`` on one process with
one thread, on one process with the engine's default two threads, and under ``mpiexec -n 2`` (one thread each);
then the measured costs that put 8 and 32 ranks on paper.

    python benchmarks/mpi_speed.py [--env HalfCheetah-v5] [--epochs 12] [--rounds 3]

Needs the extras mujoco and mpi. Run it on a quiet machine: every figure is a median of epochs 3 to E (the
``time_s`` column of progress.csv), and the three settings take turns, ``--rounds`` times.

The model for N ranks, the global batch B fixed (each rank collects B/N steps and fits on B/N rows):

    T(N) = k C(B/N) + log2(N) A(2),

C(b) the measured time of one process with one thread on a b-step epoch (``nppg bench``: stepping, sampling,
the policy update, the value fit and the rest); A(2) the time rank 0 spends in collectives per epoch under
mpiexec -n 2 (81 Allreduces of a parameter vector, the statistics' gathers, the gather of the ranks'
states, and the waiting for the slower rank), scaled by log2 N as recursive doubling's log2 N exchanges
are; and k = (T(2) - A(2)) / C(B/2), measured: how much slower a process computes beside another busy one.
It assumes a core for each rank and the ranks on one host (shared memory); over a network, A grows.
"""
import argparse
import csv
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.dirname(sys.executable)
MPIEXEC = shutil.which("mpiexec", path=BIN) or shutil.which("mpiexec")


def epoch_seconds(run_dir, skip=2):
    with open(os.path.join(run_dir, "progress.csv"), newline="") as f:
        t = [float(r["time_s"]) for r in csv.DictReader(f)]
    return statistics.median(b - a for a, b in zip(t[skip - 1:], t[skip:]))


def train(args, ranks, threads, out):
    cmd = [sys.executable, "-m", "nppg", "train", "--env", args.env, "--preset", "mujoco", "--epochs", str(args.epochs),
           "--quiet", "--out", out]
    cmd += [] if threads is None else ["--threads", str(threads)]
    if ranks > 1:
        cmd = [MPIEXEC, "-n", str(ranks), sys.executable, "-m", "mpi4py", *cmd[1:]]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # MuJoCo's warnings
    return epoch_seconds(out)


def bench(args, steps):
    """C(steps): nppg bench's epoch time and its split, one process, one thread, the preset's normalisers."""
    out = subprocess.run([sys.executable, "-m", "nppg", "bench", "--env", args.env, "--threads", "1", "--epochs",
                          str(args.epochs), "--steps-per-epoch", str(steps), "--normalize-obs", "--scale-rewards",
                          "--json"], check=True, capture_output=True, text=True).stdout
    r = json.loads(out)["results"][0]
    return r["epoch_s"], r["split_s"]


def probe(env, epochs):
    """Run under mpiexec by ``comm_seconds``: train with every collective of DataParallel timed, and print
    rank 0's epoch time and its time in them (the waiting for the other ranks included), per epoch."""
    import time

    import nppg
    from nppg.engine import mpi
    from nppg.tools.flags import PRESETS
    spent, depth = [0.0], [0]

    def timed(f):
        def call(*args, **kwargs):  # only the outermost timed call counts: each_epoch calls sum
            t, depth[0] = time.perf_counter(), depth[0] + 1
            try:
                return f(*args, **kwargs)
            finally:
                depth[0] -= 1
                spent[0] += (time.perf_counter() - t) if depth[0] == 0 else 0.0
        return call
    for name in ("sum", "gather_rows", "any"):
        setattr(mpi.DataParallel, name, timed(getattr(mpi.DataParallel, name)))
    mpi.each_epoch = timed(mpi.each_epoch)  # the record's sums and the gather of the ranks' states to rank 0
    marks = []
    nppg.train(env, epochs=epochs, callback=lambda record, s: marks.append((record["time_s"], spent[0])),
               **PRESETS["mujoco"])
    if mpi.world().rank == 0:
        (t0, c0), (t1, c1) = marks[1], marks[-1]
        print(json.dumps({"epoch_s": (t1 - t0) / (len(marks) - 2), "comm_s": (c1 - c0) / (len(marks) - 2)}))


def comm_seconds(args):
    """(epoch s, of which in collectives) under mpiexec -n 2, epochs 3 to E."""
    out = subprocess.run([MPIEXEC, "-n", "2", sys.executable, "-m", "mpi4py", __file__, "--probe", "--env", args.env,
                          "--epochs", str(args.epochs)], check=True, capture_output=True, text=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return r["epoch_s"], r["comm_s"]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    p.add_argument("--env", default="HalfCheetah-v5")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch", type=int, default=4000, help="the preset's steps per epoch (B)")
    p.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.probe:
        return probe(args.env, args.epochs)
    settings = {"1 process, 1 thread": (1, 1), "1 process, default threads (2)": (1, None),
                "mpiexec -n 2, 1 thread each": (2, None)}
    times = {k: [] for k in settings}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for name, (ranks, threads) in settings.items():
                times[name].append(train(args, ranks, threads, os.path.join(tmp, f"{r}-{ranks}-{threads}")))
                print(f"round {r + 1}: {name}: {times[name][-1]:.3f} s per epoch", file=sys.stderr, flush=True)
    T = {k: statistics.median(v) for k, v in times.items()}
    one = T["1 process, 1 thread"]
    print(f"## {args.env}, --preset mujoco ({args.batch} steps per epoch): seconds per epoch, median of epochs 3-"
          f"{args.epochs}, median of {args.rounds} rounds\n")
    print("| setting | s per epoch | rounds | relative to 1 process, 1 thread |\n|---|---|---|---|")
    for name, t in T.items():
        print(f"| {name} | {t:.3f} | {', '.join(f'{x:.3f}' for x in times[name])} | {t / one:.2f} |")

    t2, a2 = comm_seconds(args)
    C = {N: bench(args, args.batch // N) for N in (1, 2, 8, 32)}
    k = (t2 - a2) / C[2][0]
    print(f"\nUnder mpiexec -n 2, rank 0 spends {a2 * 1e3:.1f} ms of a {t2:.3f} s epoch in collectives (waiting for "
          f"the other rank included); the rest, {t2 - a2:.3f} s, is {k:.2f} times C(B/2), one process alone on "
          f"a {args.batch // 2}-step epoch (two busy processes share this machine's caches and memory).\n")
    print("| ranks N | steps per rank | C(B/N) s | of which env + sampling | value fit | k C(B/N) + log2(N) A(2) s | "
          "speed-up over 1 process, 1 thread |\n|---|---|---|---|---|---|---|")
    for N, (c, split) in C.items():
        t = c if N == 1 else k * c + math.log2(N) * a2
        print(f"| {N} | {args.batch // N} | {c:.4f} | {split['env'] + split['sample']:.4f} | {split['fit_v']:.4f} | "
              f"{t:.4f} | {one / t:.1f} |")


if __name__ == "__main__":
    main()
