"""The run directory: config.json, progress.csv (flushed every epoch), policy.npz, and the console line."""
import csv
import json
import math
import os
import sys
from dataclasses import asdict

from .checkpoint import save_checkpoint

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

    ``out=None`` only prints (the examples use that).
    """

    def __init__(self, out=None, save_every=0, verbose=True, stream=None):
        self.out, self.save_every, self.verbose = out, save_every, verbose
        self.stream = stream or sys.stdout
        if out is not None:
            os.makedirs(out, exist_ok=True)
        self._csv_file = self._writer = None

    def __call__(self, record, result):
        if self.verbose:
            if (record["epoch"] - 1) % 25 == 0:
                print(console_header(), file=self.stream)
            print(console_line(record), file=self.stream, flush=True)
        if self.out is not None:
            self.write(record, result)

    def write(self, record, result):
        cfg = result.config
        if self._writer is None:  # first epoch: the config and the csv header
            with open(os.path.join(self.out, "config.json"), "w") as f:
                json.dump(asdict(cfg), f, indent=2)
            self._csv_file = open(os.path.join(self.out, "progress.csv"), "w", newline="")
            self._writer = csv.writer(self._csv_file)
            self._writer.writerow(COLUMNS)
        self._writer.writerow(["" if isinstance(record[c], float) and math.isnan(record[c]) else record[c]
                               for c in COLUMNS])
        self._csv_file.flush()
        last = record["epoch"] == cfg.epochs
        if last or (self.save_every and record["epoch"] % self.save_every == 0):
            self.save(result, record["epoch"])
        if last:
            self.close()

    def save(self, result, epoch):
        save_checkpoint(os.path.join(self.out, "policy.npz"), result.policy, result.value_fn, result.config.env,
                        result.obs_space, result.act_space, epoch, asdict(result.config))

    def close(self):
        if self._csv_file is not None:
            self._csv_file.close()
            self._csv_file = None
