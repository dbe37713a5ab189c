"""The command line: ``nppg train``, ``nppg eval``, ``nppg plot`` (also ``python -m nppg ...``)."""
import json
import os
import signal
import sys
import traceback

import gymnasium as gym
import numpy as np

from .. import __version__
from ..algorithm import VPGConfig, episode_stats, make_policy
from ..engine import DivergedError, NonFiniteError, make_env, train
from ..engine.checkpoint import for_rank, load_checkpoint
from ..engine.config import ENGINE_SETTINGS, check_config, engine_config, settings
from ..engine.mpi import on_all, world
from ..engine.signals import stop_signals
from .bench import add_bench_args, cmd_bench
from ..engine.evaluate import evaluate
from .course import add_exercise_args, cmd_exercise
from .flags import SETTINGS, D, E, Parser, add_train_args, given_settings
from .logger import RunLogger
from .runs import drop_unwritten, new_run_dir, resumed_run_dir
from .sweep import add_sweep_args, cmd_sweep

class StopNow(KeyboardInterrupt):
    """Training stopped at once by a second signal: main() exits with 128 + ``signum``, saying ``then``."""

    def __init__(self, signum, then=""):
        super().__init__(signum)
        self.signum, self.then = signum, then


def resumed_run(args, dp=None):
    """(saved state, settings, epochs done) of the run ``--resume`` continues: ``resume_settings`` decides
    the settings from the flags given; progress.csv must hold the saved epochs, since the run appends to it.
    A run stopped before its first save gives (None, its settings, 0): it starts again from its beginning."""
    if not args.resume:
        raise ValueError("--resume needs a run directory; got an empty string")
    if args.out is not None and os.path.abspath(args.out) != os.path.abspath(args.resume):
        raise ValueError(f"--resume continues in {args.resume} itself; --out cannot move it")
    saved, config = resumed_run_dir(args.resume, given_settings(args.argv), 1 if dp is None else dp.size)
    return saved, config, 0 if saved is None else saved[0]["epoch"]


def check_env(env_id):
    """Make one copy of the environment, and the policy its spaces take: an unknown id, a missing extra or a space
    nppg has no policy for is said before a run directory is named."""
    envs = make_env(env_id, 1)
    try:
        make_policy(envs.single_observation_space, envs.single_action_space, hidden=())
    finally:
        envs.close()


def new_settings(args, dp=None):
    """A new run's settings: the flags given (and a --preset's), the rest at their defaults; checked."""
    config = {name: getattr(args, name) for name in SETTINGS}
    config["threads"] = E.threads if dp is None else 1  # under MPI, one thread for each rank
    config.update(given_settings(args.argv))  # a --preset's settings, and the flags given beside it
    config["epochs"] = D.epochs if config["epochs"] is None else config["epochs"]  # None: serves --resume
    config = settings(check_config(VPGConfig(**{k: config[k] for k in config if k not in ENGINE_SETTINGS}), dp),
                      engine_config({k: config[k] for k in ENGINE_SETTINGS}, dp))
    check_env(config["env"])
    return config


def cmd_train(args):
    if args.save_every < 0:
        raise ValueError(f"--save-every must be >= 0 (0: only at the end); got {args.save_every}")
    dp = world()  # under mpiexec: data-parallel, and rank 0 alone prints and writes the run directory
    rank = 0 if dp is None else dp.rank
    say = print if rank == 0 else (lambda *a, **k: None)
    both = on_all(dp)  # under MPI: a step that fails on every rank, or on none
    if args.resume is not None:
        if dp is None:
            saved, config, done = resumed_run(args)
        else:  # rank 0 reads the run directory and sends each rank its part: only rank 0 needs to see it
            run = both(lambda: resumed_run(args, dp) if rank == 0 else None)
            parts = None if rank else [(run[0] and for_rank(run[0], r), *run[1:]) for r in range(dp.size)]
            saved, config, done = dp.comm.scatter(parts, root=0)
        out, made = args.resume, None
        if saved is None:
            say(f"nppg: {out} stopped before its first save; starting it again from its beginning, with its settings")
        else:
            steps = saved[0]["vector_steps"] + sum(r["vector_steps"] for r in saved[0].get("rank_states", []))
            say(f"nppg: resuming {out} after epoch {done} of {config['epochs']} (replaying {steps} vector steps "
                f"to restore the environments)")
    else:
        saved, done = None, None
        config = both(new_settings, args, dp)  # a bad setting fails here, before anything is written
        out, made = both(lambda: new_run_dir(config, args.out) if rank == 0 else (args.out, []))
        out = out if dp is None else dp.comm.bcast(out, root=0)
        ranks = "" if dp is None else f" on {dp.size} MPI ranks"
        say(f"nppg: training {config['env']} with weights={config['weights']}, seed {config['seed']}{ranks}; "
            f"run directory {out}")
    signals, again = None, "nppg train" if dp is None else f"mpiexec -n {dp.size} python -m mpi4py -m nppg train"
    stopping = (lambda: bool(signals.received)) if dp is None else (lambda: dp.any(signals.received))
    logger = RunLogger(config, out if rank == 0 else None, args.save_every, verbose=not args.quiet and rank == 0,
                       resume_epoch=done or None, stop=stopping)
    try:
        with stop_signals(verbose=rank == 0) as signals:
            state = train(callback=logger, resume=saved, **config)
    except KeyboardInterrupt:
        if os.path.exists(os.path.join(out, "state.npz")):
            then = f"; continue from the last save with: {again} --resume {out}"
        elif os.path.exists(os.path.join(out, "progress.csv")):
            then = f"; nothing was saved yet: {again} --resume {out} starts the run again from its beginning"
        else:
            then = ""  # stopped in its first epoch: the run directory is taken away below
        raise StopNow(signals.received[-1] if signals and signals.received else signal.SIGINT, then) from None
    except (NonFiniteError, DivergedError) as e:
        # no advice to resume: the run is deterministic, so resuming would reach the same step again
        last = os.path.join(out, "state.npz")
        where = f"; the last good checkpoint, {last}, is intact" if os.path.isfile(last) else ""
        raise ValueError(f"{e}{where}") from None
    finally:
        logger.close()
        if rank == 0 and saved is None:
            drop_unwritten(out, made)  # failed before its first epoch: leave nothing behind
    if state.epoch < config["epochs"]:  # stopped by a signal (under MPI, one to any rank stops them all)
        if dp is not None:
            dp.agreed = True  # every rank stopped after this epoch, and it is saved
        say(f"nppg: stopped after epoch {state.epoch}; everything is saved in {out}. "
            f"Continue with: {again} --resume {out}")
        return 128 + (signals.received or [signal.SIGINT])[0]
    last = [r["mean_return"] for r in state.history if not np.isnan(r["mean_return"])]
    say(f"nppg: done. last epoch's mean return {last[-1] if last else float('nan'):.1f}; "
        f"evaluate with: nppg eval {out}")
    return 0


def cmd_eval(args):
    if args.episodes is None:  # a video of one episode; statistics of a hundred
        args.episodes = 1 if args.video else 100
    if args.episodes < 1 or args.num_envs < 1:
        raise ValueError(f"--episodes and --num-envs must be >= 1; got {args.episodes} and {args.num_envs}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0; got {args.seed}")
    path = os.path.join(args.run, "policy.npz") if os.path.isdir(args.run) else args.run
    policy, _, header = load_checkpoint(path)
    env_id = args.env or header["env"]
    if args.video:
        if args.every < 1 or not args.fps > 0 or (args.video_size and min(args.video_size) < 1):
            raise ValueError(f"--every and --video-size must be >= 1 and --fps > 0; got {args.every}, "
                             f"{args.video_size}, {args.fps}")
        from .video import record
        size = tuple(args.video_size) if args.video_size else None
        n, R = record(policy, env_id, args.video, min(args.episodes, 100), args.seed, args.deterministic,
                      args.fps, args.every, size)
        print(f"nppg: wrote {args.video}: {n} frames of {len(R)} episodes, returns {', '.join(f'{r:.1f}' for r in R)}")
        return 0
    if args.render:
        envs = gym.make_vec(env_id, num_envs=1, vectorization_mode="sync", render_mode="human")
    else:
        envs = make_env(env_id, min(args.num_envs, args.episodes))
    try:
        obs_space, act_space = envs.single_observation_space, envs.single_action_space
        fits = make_policy(obs_space, act_space, hidden=())  # the policy this environment takes
        if (fits.obs_dim, fits.kind, fits.net.sizes[-1]) != (header["obs_dim"], header["policy"], header["act_dim"]):
            raise ValueError(f"{path} was trained on {header['env']} ({header['observation_space']}, "
                             f"{header['action_space']}); {env_id} has {obs_space}, {act_space}")
        R, L = evaluate(policy, envs, args.episodes, np.random.default_rng(args.seed), args.deterministic, args.seed)
    finally:
        envs.close()
    summary = {"env": env_id, **episode_stats(R, L), "deterministic": args.deterministic, "checkpoint": path,
               "epoch": header["epoch"]}
    if args.json:
        print(json.dumps(summary))
    else:
        actions = (("its most likely action" if header["policy"] == "categorical" else "its mean action")
                   if args.deterministic else "actions sampled from it")
        print(f"{env_id}: {summary['episodes']} episodes of the policy with {actions}, "
              f"return {summary['mean_return']:.1f} +- "
              f"{summary['std_return']:.1f} (min {summary['min_return']:.1f}, max {summary['max_return']:.1f}), "
              f"mean length {summary['mean_ep_len']:.1f}")
    return 0


def cmd_plot(args):
    from .plot import plot_runs
    out = args.out or (os.path.join(args.runs[0], "learning_curve.png") if len(args.runs) == 1 else "learning_curves.png")
    print(f"nppg: wrote {plot_runs(args.runs, out, args.y, args.baseline, args.smooth)}")
    return 0


def build_parser():
    parser = Parser(prog="nppg", description="Vanilla Policy Gradient from scratch in NumPy.")
    parser.add_argument("--version", action="version", version=f"nppg {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a policy (CartPole-v1 by default)")
    add_train_args(train)
    train.set_defaults(func=cmd_train)
    ev = sub.add_parser("eval", help="run a saved policy and report its returns")
    ev.add_argument("run", help="a run directory (uses its policy.npz) or a .npz checkpoint")
    ev.add_argument("--episodes", type=int, default=None, help="(default: 100, or 1 with --video)")
    ev.add_argument("--deterministic", action="store_true", help="take the most likely action (mean for Gaussian)")
    ev.add_argument("--render", action="store_true", help="show the environment (needs a display)")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument("--seed", type=int, default=12345,
                    help="seed for the environments and the action sampling (default: %(default)s)")
    ev.add_argument("--num-envs", type=int, default=8, help="environment copies (default: %(default)s)")
    ev.add_argument("--env", default=None, help="override the checkpoint's environment id")
    ev.add_argument("--video", default=None, metavar="FILE", help="record --episodes episodes (1 unless given) to a .gif "
                    "or .mp4 instead of reporting returns (needs: pip install 'nppg[video]')")
    ev.add_argument("--fps", type=float, default=30, help="frames per second of --video (default: %(default)s)")
    ev.add_argument("--every", type=int, default=1, help="keep every N-th frame in --video (default: every one)")
    ev.add_argument("--video-size", type=int, nargs=2, default=None, metavar=("W", "H"),
                    help="frame size: MuJoCo environments draw at it, others are cut down to about it")
    ev.set_defaults(func=cmd_eval)
    pl = sub.add_parser("plot", help="plot learning curves of run directories to a PNG (needs matplotlib)")
    pl.add_argument("runs", nargs="+", help="run directories; runs that differ only in seed are averaged")
    pl.add_argument("--out", default=None, help="image file; .png is added when the name has no extension "
                    "(default: RUN/learning_curve.png for one run, else learning_curves.png)")
    pl.add_argument("--y", default="mean_return", help="progress.csv column to plot (default: %(default)s)")
    pl.add_argument("--smooth", type=int, default=1, help="average each run over this many epochs (default: 1)")
    pl.add_argument("--baseline", default=None, metavar="CSV", help="published curves to draw beside, e.g. Spinning "
                    "Up's: a CSV of env, algo, env_steps, mean_epoch_return")
    pl.set_defaults(func=cmd_plot)
    sw = sub.add_parser("sweep", help="run a grid of settings x seeds, several at once; again: go on where it was")
    add_sweep_args(sw)
    sw.set_defaults(func=cmd_sweep)
    be = sub.add_parser("bench", help="time an epoch against the environment's and the arithmetic's limit")
    add_bench_args(be)
    be.set_defaults(func=cmd_bench)
    ex = sub.add_parser("exercise", help="the course: list the exercises, start a workspace, check it, train with it")
    add_exercise_args(ex)
    ex.set_defaults(func=cmd_exercise)
    return parser


def main(argv=None):
    """Run a command; returns its exit code. Under MPI, a rank that fails ends every rank of the job
    (``python -m mpi4py`` would too; this also covers ``mpiexec -n N nppg ...``)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv  # which settings were given, not defaulted: a resume refuses changes to them
    try:
        dp = world()
    except ValueError as e:  # started by mpiexec without mpi4py
        print(f"nppg {args.command}: error: {e}", file=sys.stderr)
        return 1
    if dp is not None and args.command not in ("train", "sweep"):
        if dp.rank == 0:
            print(f"nppg {args.command}: error: it runs on one process; run it without mpiexec", file=sys.stderr)
        return 1
    try:
        code = run(args, dp)
    except BaseException:
        if dp is not None:
            traceback.print_exc()
            dp.abort(1)
        raise
    if code and dp is not None:
        if not dp.agreed:  # only this rank knows: the others may be waiting for it
            dp.abort(code)
        dp.finish()  # every rank ends this way (a failure all saw, a stop all agreed on): no abort needed
    return code


def run(args, dp=None):
    try:
        return args.func(args)
    except (ValueError, gym.error.Error) as e:
        if dp is None or not dp.quiet:  # under MPI, an error every rank shares is said once
            where = "" if dp is None else f" (rank {dp.rank} of {dp.size})"
            print(f"nppg {args.command}: error{where}: {e}", file=sys.stderr, flush=True)
        return 1
    except MemoryError as e:  # e.g. --steps-per-epoch or --hidden far too large for this machine
        print(f"nppg {args.command}: error: out of memory: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:  # Ctrl-C, or train's StopNow (which may be a SIGTERM)
        where = "" if dp is None else f" (rank {dp.rank} of {dp.size})"
        print(f"nppg {args.command}{where}: stopped at once; files written so far are intact{getattr(e, 'then', '')}",
              file=sys.stderr, flush=True)
        return 128 + getattr(e, "signum", signal.SIGINT)
