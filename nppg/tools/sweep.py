"""``nppg sweep``: a grid of settings x seeds, each run a normal run directory of ``nppg train``, run as
separate processes, several at once. Run again, it skips the finished runs and resumes the interrupted ones.

    nppg sweep --env HalfCheetah-v5 Hopper-v5 --seeds 0 1 2 --grid pi-lr=3e-4,1e-3 --out runs/sweep -- --epochs 250

makes ``runs/sweep/<env>/<setting>/s<seed>`` for every environment, every combination of the ``--grid``
values (``pi-lr=1e-3`` and so on; ``default`` without a grid) and every seed. Everything after ``--`` goes to
every run as ``nppg train`` flags. Each process writes its console to ``train.log`` in its run directory.
"""
import argparse
import itertools
import json
import os
import shlex
import signal
import subprocess
import sys
import time

from ..engine.checkpoint import as_json, check_length, config_differences, read_checkpoint
from ..engine.mpi import plain_environ, world
from .flags import add_train_args, did_you_mean, given_settings
from .logger import RUN_FILES

_jobs, _signals = [], []  # the processes running now, so that a signal reaches each of them once; signals seen


def add_sweep_args(p):
    p.add_argument("--env", nargs="+", default=["CartPole-v1"], help="gymnasium ids (default: %(default)s)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="(default: 0 1 2)")
    p.add_argument("--grid", nargs="*", default=[], metavar="FLAG=V1,V2",
                   help="train flags without their dashes and the values to try, e.g. pi-lr=3e-4,1e-3 "
                        "or hidden='64 64,32 32'; every combination is run (default: none, one setting)")
    p.add_argument("--out", default="runs/sweep", help="parent folder of the run directories (default: %(default)s)")
    p.add_argument("--jobs", type=int, default=None,
                   help=f"runs at once (default: the number of cores, {os.cpu_count() or 1}; under mpiexec, 1 on "
                        "each rank)")
    p.add_argument("--dry-run", action="store_true", help="print what would run, and run nothing")
    p.add_argument("train_flags", nargs="*", metavar="-- TRAIN_FLAGS", help="flags for every run, after --")


def settings_of(grid):
    """[(name, flags)] for every combination of ``FLAG=V1,V2`` items: name ``pi-lr=1e-3_lam=0.9``."""
    axes = []
    for item in grid:
        flag, sep, values = item.partition("=")
        if not sep or not flag or not values or flag.startswith("-"):
            raise ValueError(f"--grid takes FLAG=V1,V2,... with the train flag's name without dashes; got {item!r}")
        axes.append([(flag, v.strip()) for v in values.split(",")])
    combos = []
    for combo in itertools.product(*axes):
        name = "_".join(f"{flag}={v.replace(' ', 'x')}" for flag, v in combo) or "default"
        combos.append((name, [a for flag, v in combo for a in [f"--{flag}", *v.split()]]))
    return combos


def status(run_dir, epochs):
    """("done" | "resume" | "new", epochs saved): what a run directory holds of a run of ``epochs`` epochs."""
    path = os.path.join(run_dir, "state.npz")
    saved = read_checkpoint(path)[0]["epoch"] if os.path.exists(path) else 0  # a broken one is said, not deleted
    if saved >= epochs and os.path.isfile(os.path.join(run_dir, "policy.npz")):
        return "done", saved
    return ("resume" if saved else "new"), saved


def check_flags(flags):
    """Refuse train flags that ``nppg train`` would refuse, before any run starts."""
    p = argparse.ArgumentParser(prog="nppg train", add_help=False, allow_abbrev=False, exit_on_error=False)
    add_train_args(p)
    try:
        extra = p.parse_known_args(flags)[1]
    except argparse.ArgumentError as e:
        raise ValueError(f"{' '.join(flags)}: {e}") from None
    if extra:
        raise ValueError(f"not flags of nppg train: {' '.join(extra)}{did_you_mean(p, extra)}")


def saved_config(run_dir):
    try:
        with open(os.path.join(run_dir, "config.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def plan(args):
    """Every run: (run directory, argv of its ``nppg train``, what is done of it, epochs saved)."""
    check_flags(args.train_flags)
    given = given_settings(args.train_flags)
    for reserved in ("env", "seed"):
        if reserved in given:
            raise ValueError(f"give --{reserved} to nppg sweep itself, not after --")
    if {"--out", "--resume"} & set(args.train_flags):
        raise ValueError("--out and --resume are the sweep's to set; give --out to nppg sweep itself")
    epochs = given.get("epochs") or 50
    threads = [] if "threads" in given else ["--threads", str(max(1, (os.cpu_count() or 1) // args.jobs))
                                             if world() is None else "1"]
    runs = []
    for env in args.env:
        for name, grid_flags in settings_of(args.grid):
            check_flags(grid_flags)
            for seed in args.seeds:
                run_dir = os.path.join(args.out, env.replace(":", "_").replace("/", "_"), name, f"s{seed}")
                flags = ["--env", env, "--seed", str(seed), *grid_flags, *args.train_flags]
                config = saved_config(run_dir)
                if isinstance(config, dict):  # a run is here already: it must be this one
                    differ = config_differences(as_json(config), as_json({**config, **given_settings(flags)}))
                    if differ:
                        raise ValueError(f"{run_dir} holds a run with other settings ({', '.join(differ)}); "
                                         "move it away, or sweep into another --out")
                    check_length(config, epochs, run_dir)
                state, saved = status(run_dir, epochs)
                if state == "resume":
                    argv = ["train", "--resume", run_dir, *flags, "--epochs", str(epochs), *threads, "--quiet"]
                else:
                    argv = ["train", *flags, "--out", run_dir, *threads, "--quiet"]
                runs.append((run_dir, argv, state, saved))
    return runs, epochs


def _forward(signum, frame):
    """Ctrl-C or SIGTERM to the sweep reaches every run once (they run in sessions of their own, away from
    the terminal's Ctrl-C): each finishes its epoch and saves, and the sweep starts no more runs."""
    _signals.append(signum)
    for proc in _jobs:
        if proc.poll() is None:
            proc.send_signal(signum)


def cmd_sweep(args):
    """Plan the runs, start them ``--jobs`` at a time and wait for all. Under mpiexec, rank 0 plans, rank r
    takes every N-th run from the r-th, and rank 0 reports for all when every rank is done."""
    dp = world()
    args.jobs = (os.cpu_count() or 1 if dp is None else 1) if args.jobs is None else args.jobs
    if args.jobs < 1:
        raise ValueError(f"--jobs must be >= 1; got {args.jobs}")
    rank, size = (0, 1) if dp is None else (dp.rank, dp.size)
    if dp is None:
        runs, epochs = plan(args)
    else:  # rank 0 plans, so that every rank has the same list; a bad flag fails every rank
        runs, epochs = dp.comm.bcast(dp.together(lambda: plan(args) if rank == 0 else None), root=0)
    todo = [r for r in runs if r[2] != "done"]
    if rank == 0:
        where = "" if dp is None else f" on each of {size} MPI ranks"
        print(f"nppg sweep: {len(runs)} runs of {epochs} epochs in {args.out}: {len(runs) - len(todo)} done, "
              f"{sum(r[2] == 'resume' for r in todo)} to resume, {sum(r[2] == 'new' for r in todo)} to start; "
              f"{min(args.jobs, len(todo))} at once{where}", flush=True)
    if args.dry_run:
        for i, (run_dir, argv, state, saved) in enumerate(todo):
            if i % size == rank:
                print(f"  {state:6} {run_dir}: nppg {shlex.join(argv)}" + (f"  (rank {rank})" if dp else ""))
        return 0
    previous = {sig: signal.signal(sig, _forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    _signals.clear()
    try:
        failed, stopped, left = run_all(todo[rank::size], args.jobs, "" if dp is None else f" (rank {rank})")
        if dp is not None:  # every rank's outcome, once all are done (a signal meanwhile is noted, not raised)
            dp.wait_for_all()
            failed, stopped, left, signals = (sum(x, []) for x in zip(*dp.comm.allgather(
                (failed, stopped, left, _signals[:1]))))
            _signals[:] = signals[:1]
            dp.agreed, dp.quiet = True, rank != 0  # every rank ends the same way; rank 0 says how
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if _signals:
        if rank == 0:
            print(f"nppg sweep: stopped; {len(stopped)} runs saved where they were, {len(left)} not started. "
                  f"Run the same command again to go on.")
        return 128 + _signals[0]
    if stopped and rank == 0:  # a signal sent to some runs alone: they saved, the others went on
        print(f"nppg sweep: {len(stopped)} of {len(todo)} runs stopped by a signal before their end, saved where "
              f"they were: {', '.join(stopped)}. Run the same command again to go on.", file=sys.stderr, flush=True)
    if failed:
        raise ValueError(f"{len(failed)} of {len(todo)} runs failed: {', '.join(failed)}")
    if stopped:
        return 1
    if rank == 0:
        print(f"nppg sweep: all {len(runs)} runs done in {args.out}; plot them with: nppg plot {args.out}/*/*/s*")
    return 0


def run_all(todo, jobs, where=""):
    """Run ``todo`` (from ``plan``) ``jobs`` at a time, with the signals forwarded to them (``_forward``);
    returns the run directories that failed, those stopped by a signal, and those never started."""
    failed, stopped, queue, t0 = [], [], list(todo), time.perf_counter()
    while _jobs or (queue and not _signals):
        while queue and len(_jobs) < jobs and not _signals:
            run_dir, argv, state, saved = queue.pop(0)
            if state == "new":  # a run that stopped before its first save left nothing to resume
                for f in RUN_FILES:
                    if os.path.exists(os.path.join(run_dir, f)):
                        os.remove(os.path.join(run_dir, f))
            os.makedirs(run_dir, exist_ok=True)
            with open(os.path.join(run_dir, "train.log"), "a") as log:
                proc = subprocess.Popen([sys.executable, "-m", "nppg", *argv], stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True, env=plain_environ())  # a run, not a rank
            proc.run_dir = run_dir
            _jobs.append(proc)
            print(f"nppg sweep: {'resumed' if state == 'resume' else 'started'} {run_dir}"
                  + (f" after epoch {saved}" if state == "resume" else "") + where, flush=True)
        time.sleep(0.2)
        for proc in [p for p in _jobs if p.poll() is not None]:
            _jobs.remove(proc)
            code = proc.returncode
            if code == 0:
                print(f"nppg sweep: finished {proc.run_dir} ({time.perf_counter() - t0:.0f} s into the sweep)"
                      + where, flush=True)
            elif code > 128:  # stopped by a signal, after saving: the same command resumes it
                stopped.append(proc.run_dir)
            else:
                failed.append(proc.run_dir)
                print(f"nppg sweep: FAILED {proc.run_dir} (exit {code}); see {proc.run_dir}/train.log",
                      file=sys.stderr, flush=True)
    return failed, stopped, [run[0] for run in queue]
