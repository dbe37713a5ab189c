"""The run directory: config.json, progress.csv (flushed every epoch), policy.npz, and the console line."""
import csv
import json
import math
import os
import sys
from dataclasses import asdict

from .checkpoint import save_checkpoint, save_train_state

COLUMNS = ["epoch", "env_steps", "episodes", "mean_return", "std_return", "min_return", "max_return",
           "mean_ep_len", "loss_pi", "loss_v", "entropy", "kl", "delta_loss_pi", "delta_loss_v",
           "mean_value", "time_s", "steps_per_s"]

# The console line: (title, column, format); NaN (no episode ended this epoch) prints as "-".
CONSOLE = [("epoch", "epoch", "{:>5d}"), ("steps", "env_steps", "{:>9d}"), ("eps", "episodes", "{:>5d}"),
           ("return", "mean_return", "{:>8.1f}"), ("+-std", "std_return", "{:>7.1f}"),
           ("ep_len", "mean_ep_len", "{:>7.1f}"), ("loss_pi", "loss_pi", "{:>8.4f}"),
           ("loss_v", "loss_v", "{:>9.3g}"), ("entropy", "entropy", "{:>7.3f}"), ("kl", "kl", "{:>8.5f}"),
           ("steps/s", "steps_per_s", "{:>8.0f}"), ("time", "time_s", "{:>6.1f}s")]


def console_header():
    widths = [len(fmt.format(0.0 if "f" in fmt or "g" in fmt else 0)) for _, _, fmt in CONSOLE]
    return "  ".join(title.rjust(w) for (title, _, _), w in zip(CONSOLE, widths))


def console_line(record):
    cells = []
    for _, col, fmt in CONSOLE:
        x = record[col]
        width = len(fmt.format(0.0 if "f" in fmt or "g" in fmt else 0))
        cells.append("-".rjust(width) if isinstance(x, float) and math.isnan(x) else fmt.format(x))
    return "  ".join(cells)


def default_run_dir(cfg, stamp):
    env = cfg.env.replace(":", "_").replace("/", "_")
    return os.path.join("runs", f"{env}-{cfg.weights}-s{cfg.seed}-{stamp}")


class RunLogger:
    """A ``vpg`` callback that writes a run directory and prints one aligned line per epoch.

    ``out=None`` only prints (the examples use that). Every epoch appends to progress.csv and
    env_actions.bin; every ``save_every`` epochs, at the last one, and at the epoch where the run
    is being stopped (``result.stopping``), it writes policy.npz and state.npz (see checkpoint.py).
    ``resume_epoch=k`` continues a run directory saved after epoch k, first dropping what was
    written after that save.
    """

    def __init__(self, out=None, save_every=0, verbose=True, stream=None, resume_epoch=None):
        self.out, self.save_every, self.verbose = out, save_every, verbose
        self.stream = stream or sys.stdout
        self.resume_epoch = resume_epoch
        self._csv_file = self._writer = self._actions = None
        self._lines = 0  # console lines printed: the header comes first and every 25 lines

    def __call__(self, record, result):
        if self.verbose:
            if self._lines % 25 == 0:
                print(console_header(), file=self.stream)
            self._lines += 1
            print(console_line(record), file=self.stream, flush=True)
        if self.out is not None:
            self.write(record, result)

    def _open(self, result):
        """First epoch: the directory, config.json and the headers; or, resuming, the files cut back."""
        os.makedirs(self.out, exist_ok=True)
        csv_path, actions_path = os.path.join(self.out, "progress.csv"), os.path.join(self.out, "env_actions.bin")
        with open(os.path.join(self.out, "config.json"), "w") as f:  # resuming: --epochs may have grown
            json.dump(asdict(result.config), f, indent=2)
        if self.resume_epoch is None:
            self._csv_file = open(csv_path, "w", newline="")
            csv.writer(self._csv_file).writerow(COLUMNS)
            open(actions_path, "wb").close()
        else:
            with open(csv_path, newline="") as f:
                rows = list(csv.reader(f))[: 1 + self.resume_epoch]  # the header and the saved epochs
            self._csv_file = open(csv_path, "w", newline="")
            csv.writer(self._csv_file).writerows(rows)
        self._writer = csv.writer(self._csv_file)
        self._actions = open(actions_path, "r+b")
        self._actions.truncate(self._actions_bytes(result, result.rollout.vector_steps - len(result.rollout.last_actions)))
        self._actions.seek(0, os.SEEK_END)

    @staticmethod
    def _actions_bytes(result, vector_steps):
        return vector_steps * result.rollout.last_actions[0].nbytes

    def write(self, record, result):
        if self._writer is None:
            self._open(result)
        self._writer.writerow(["" if isinstance(record[c], float) and math.isnan(record[c]) else record[c]
                               for c in COLUMNS])
        self._csv_file.flush()
        self._actions.write(result.rollout.last_actions.tobytes())  # the replay that resuming needs
        self._actions.flush()
        last = record["epoch"] == result.config.epochs
        if last or (self.save_every and record["epoch"] % self.save_every == 0) or result.stopping:
            self.save(result)
        if last:
            self.close()

    def save(self, result):
        for f in (self._actions, self._csv_file):  # what the state refers to is on disk before the state
            os.fsync(f.fileno())
        save_checkpoint(os.path.join(self.out, "policy.npz"), result.policy, result.value_fn, result.config.env,
                        result.obs_space, result.act_space, result.epoch, asdict(result.config))
        save_train_state(os.path.join(self.out, "state.npz"), result)

    def close(self):
        for f in (self._csv_file, self._actions):
            if f is not None:
                f.close()
        self._csv_file = self._actions = None
