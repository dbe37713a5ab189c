"""The run directory: config.json, progress.csv (flushed every epoch), policy.npz, and the console line."""
import contextlib
import csv
import json
import math
import os
import sys
import time

from ..engine.checkpoint import actions_path, as_json, save_checkpoint, save_train_state
from ..engine.evaluate import EVAL_COLUMNS

BEFORE_EVAL = ["epoch", "env_steps", "episodes", "mean_return", "std_return", "min_return", "max_return",
           "mean_ep_len", "loss_pi", "loss_v", "entropy", "kl", "delta_loss_pi", "delta_loss_v",
           "mean_value", "time_s", "steps_per_s"]
# kl: the batch mean of log pi_old - log pi_new after the step, an estimate of KL(pi_old || pi_new) that can be
# negative (a KL cannot): docs/cli.md says why.
COLUMNS = BEFORE_EVAL + list(EVAL_COLUMNS)  # evaluations' columns are empty in the epochs without one

# The console line: (title, column, format); NaN (no episode ended this epoch) prints as "-".
CONSOLE = [("epoch", "epoch", "{:>5d}"), ("steps", "env_steps", "{:>9d}"), ("eps", "episodes", "{:>5d}"),
           ("return", "mean_return", "{:>8.1f}"), ("+-std", "std_return", "{:>7.1f}"),
           ("ep_len", "mean_ep_len", "{:>7.1f}"), ("loss_pi", "loss_pi", "{:>8.4f}"),
           ("loss_v", "loss_v", "{:>9.3g}"), ("entropy", "entropy", "{:>7.3f}"), ("kl", "kl", "{:>8.5f}"),
           ("steps/s", "steps_per_s", "{:>8.0f}"), ("time", "time_s", "{:>6.1f}s"), ("eval", "eval_return", "{:>8.1f}")]
# RunLogger's table ends with the wall-clock time the run still needs, at the pace of its epochs so far (h:mm:ss)
TIMED = CONSOLE + [("left", "time_left", "{:>7}")]


def console_header(columns=CONSOLE):
    widths = [len(fmt.format(0.0 if "f" in fmt or "g" in fmt else 0)) for _, _, fmt in columns]
    return "  ".join(title.rjust(w) for (title, _, _), w in zip(columns, widths))


def console_line(record, columns=CONSOLE):
    cells = []
    for _, col, fmt in columns:
        x = record.get(col, math.nan)  # no evaluation this epoch: "-"
        width = len(fmt.format(0.0 if "f" in fmt or "g" in fmt else 0))
        cells.append("-".rjust(width) if isinstance(x, float) and math.isnan(x) else fmt.format(x))
    return "  ".join(cells)


def clock(seconds):
    """``seconds`` as m:ss, or h:mm:ss from an hour up."""
    m, s = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


RUN_FILES = ("config.json", "progress.csv", "env_actions.bin", "policy.npz", "state.npz")


def claim_run_dir(out, config, numbered=False):
    """A new run's directory of its own (two runs' files in one would be mixed up on resume or eval),
    claimed by creating its config.json exclusively, so that two runs started at once cannot share it.
    ``numbered``: a default name already taken becomes name-2, name-3, ... Returns (path, made), made
    the folders created here, deepest first (``runs/`` too, the first time)."""
    path, k = out, 1
    while True:
        if os.path.exists(path) and not os.path.isdir(path):
            raise ValueError(f"--out {path} is a file, not a directory")
        held = [f for f in RUN_FILES if os.path.exists(os.path.join(path, f))]
        if not held:
            made, d = [], os.path.abspath(path)
            while not os.path.exists(d):
                made, d = made + [d], os.path.dirname(d)
            try:
                os.makedirs(path, exist_ok=True)
                with open(os.path.join(path, "config.json"), "x") as f:
                    json.dump(config, f, indent=2)
                return path, made
            except FileExistsError:  # another run claimed it since the check above
                held = ["config.json"]
            except OSError as e:
                raise ValueError(f"cannot create the run directory {path}: {e.strerror or e}") from None
        if not numbered:
            raise ValueError(f"{path} already holds a run ({', '.join(held)}): continue it with --resume {path}, "
                             "or choose another --out")
        k += 1
        path = f"{out}-{k}"


def unclaim_run_dir(out, made):
    """Undo ``claim_run_dir`` for a run that failed before its first epoch was written."""
    with contextlib.suppress(OSError):
        os.remove(os.path.join(out, "config.json"))
        for d in made:
            os.rmdir(d)  # only if nothing else is in it


def check_progress(run_dir, done, eval_every=0):
    """A resumed run appends to progress.csv: it must hold the ``done`` saved epochs under its header, and
    have the evaluation's columns if it is to evaluate."""
    progress = os.path.join(run_dir, "progress.csv")
    if not os.path.isfile(progress):
        raise ValueError(f"{progress} is missing; resuming appends to it")
    with open(progress, newline="") as f:
        rows = list(csv.reader(f))
    epochs = [(row or [""])[0] for row in rows[1:done + 1]]
    if not rows or rows[0] not in (COLUMNS, BEFORE_EVAL) or epochs != [str(k) for k in range(1, done + 1)]:
        raise ValueError(f"{progress} does not hold the {done} saved epochs under its header (cut short or "
                         "edited?); resuming appends to it")
    if eval_every and rows[0] == BEFORE_EVAL:
        raise ValueError(f"{progress} is from an nppg without evaluation and has no columns for it: resume "
                         "without --eval-every, or evaluate the saved policy with nppg eval")


def default_run_dir(config, stamp):
    env = config["env"].replace(":", "_").replace("/", "_")
    return os.path.join("runs", f"{env}-{config['weights']}-s{config['seed']}-{stamp}")


def rank_actions(state):
    """(vector steps so far, this epoch's actions) of each rank: this process's, then under MPI (on rank 0)
    the other ranks' that ``engine.mpi.each_epoch`` gathered."""
    ro = state.rollout
    return [(ro.vector_steps, ro.last_actions)] + [(p["vector_steps"], p["actions"]) for p in getattr(ro, "peers", [])]


class RunLogger:
    """A callback of ``nppg.train`` that writes a run directory and prints one aligned line per epoch.

    ``config``: the run's settings (``engine.config.settings``); ``out=None`` only prints. Every epoch
    appends to progress.csv and env_actions.bin; every ``save_every`` epochs, at the last one, and at
    the epoch where the run is being stopped, it writes policy.npz and state.npz (see checkpoint.py).
    ``stop()``, if given, is asked once after each epoch: when it returns True, that epoch is saved and
    the callback returns True, which ends the run. ``resume_epoch=k`` continues a run directory saved
    after epoch k, first dropping what was written after that save.
    """

    def __init__(self, config, out=None, save_every=0, verbose=True, stream=None, resume_epoch=None, stop=None):
        self.config, self.out, self.save_every, self.verbose = config, out, save_every, verbose
        self.stream = stream or sys.stdout
        self.resume_epoch, self.stop = resume_epoch, stop
        self._csv_file = self._writer = self._columns = None
        self._actions = []  # env_actions.bin, and under MPI one file for each other rank
        self._lines = 0  # console lines printed: the header comes first and every 25 lines
        self._first = None  # (epoch, wall clock) of the first epoch this logger saw: the pace is measured from it

    def __call__(self, record, state):
        stopping = self.stop is not None and bool(self.stop())
        if self.verbose:
            if self._lines % 25 == 0:
                print(console_header(TIMED), file=self.stream)
            self._lines += 1
            print(console_line({**record, "time_left": self.time_left(record)}, TIMED), file=self.stream, flush=True)
        if self.out is not None:
            self.write(record, state, stopping)
        return stopping

    def time_left(self, record):
        """The wall-clock time still to go, as ``clock`` writes it (NaN if unknown): the epochs left at the pace of
        those since the first this logger saw, evaluations included; after the first, its training time's."""
        now, epoch, epochs = time.perf_counter(), record["epoch"], self.config.get("epochs")
        if self._first is None:
            self._first = epoch, now
        first, t0 = self._first
        pace = (now - t0) / (epoch - first) if epoch > first else record.get("time_s", math.nan) / epoch
        return math.nan if epochs is None or math.isnan(pace) else clock(pace * max(epochs - epoch, 0))

    def _open(self, state):
        """First epoch: the directory, config.json and the headers; or, resuming, the files cut back."""
        os.makedirs(self.out, exist_ok=True)
        csv_path = os.path.join(self.out, "progress.csv")
        with open(os.path.join(self.out, "config.json"), "w") as f:  # resuming: --epochs may have grown
            json.dump(self.config, f, indent=2)
        if self.resume_epoch is None:
            self._csv_file = open(csv_path, "w", newline="")
            csv.writer(self._csv_file).writerow(COLUMNS)
            self._columns = COLUMNS
        else:
            with open(csv_path, newline="") as f:
                rows = list(csv.reader(f))[: 1 + self.resume_epoch]  # the header and the saved epochs
            self._columns = rows[0]  # an older nppg's file goes on with its own columns
            with open(csv_path + ".tmp", "w", newline="") as f:  # then renamed: a crash here loses no saved epoch
                csv.writer(f).writerows(rows)
                f.flush()
                os.fsync(f.fileno())
            os.replace(csv_path + ".tmp", csv_path)
            self._csv_file = open(csv_path, "a", newline="")
        self._writer = csv.writer(self._csv_file)
        for rank, (vector_steps, actions) in enumerate(rank_actions(state)):
            path = actions_path(self.out, rank)
            if self.resume_epoch is None:
                open(path, "wb").close()
            f = open(path, "r+b")
            f.truncate((vector_steps - len(actions)) * actions[0].nbytes)  # resuming: drop steps after the save
            f.seek(0, os.SEEK_END)
            self._actions.append(f)

    def write(self, record, state, stopping=False):
        if self._writer is None:
            self._open(state)
        cells = [record.get(c, math.nan) for c in self._columns]  # no evaluation this epoch: empty cells
        self._writer.writerow(["" if isinstance(x, float) and math.isnan(x) else x for x in cells])
        self._csv_file.flush()
        for f, (_, actions) in zip(self._actions, rank_actions(state)):
            f.write(actions.tobytes())  # the replay that resuming needs
            f.flush()
        last = record["epoch"] == state.cfg.epochs
        if last or (self.save_every and record["epoch"] % self.save_every == 0) or stopping:
            self.save(state, record["time_s"])
        if last:
            self.close()

    def save(self, state, time_s):
        for f in (*self._actions, self._csv_file):  # what the state refers to is on disk before the state
            os.fsync(f.fileno())
        envs = state.rollout.envs
        save_checkpoint(os.path.join(self.out, "policy.npz"), state.policy, state.value_fn, state.cfg.env,
                        envs.single_observation_space, envs.single_action_space, state.epoch, as_json(self.config))
        save_train_state(os.path.join(self.out, "state.npz"), state, time_s, self.config)

    def close(self):
        for f in (self._csv_file, *self._actions):
            if f is not None:
                f.close()
        self._csv_file, self._actions = None, []
