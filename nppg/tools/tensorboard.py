"""progress.csv's columns as TensorBoard scalars, for those who watch runs there (the ``tensorboard`` extra:
``pip install "nppg[tensorboard]"``, the ``tensorboardX`` package; no torch, no TensorFlow). progress.csv stays
the record: this writes a copy of its numbers, one scalar per column at x = env_steps.

    nppg.train("CartPole-v1", out="runs/cp", tensorboard=True)   # events in runs/cp/tensorboard, as it trains
    python -m nppg.tools.tensorboard RUN_DIR...                  # the events of finished runs, from progress.csv
    tensorboard --logdir runs                                     # (the tensorboard package, to look at them)
"""
import argparse
import math
import os
import sys

from .logger import COLUMNS

MISSING = ("writing TensorBoard events needs the tensorboardX package, which is not installed: "
           "pip install tensorboardX (or the extra: pip install 'nppg[tensorboard]')")


def summary_writer():
    """tensorboardX's SummaryWriter, or an ImportError that says how to install it."""
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ImportError(MISSING) from None
    return SummaryWriter


class TensorBoardWriter:
    """A callback of ``nppg.train`` that writes each epoch's record to event files in ``log_dir``: every
    column of progress.csv but epoch and env_steps, at x = env_steps; empty cells (no episode ended, no
    evaluation) are skipped."""

    def __init__(self, log_dir):
        self.writer = summary_writer()(os.fspath(log_dir))

    def __call__(self, record, state=None):
        step = int(record["env_steps"])
        for col in COLUMNS[2:]:
            x = record.get(col)
            if x is not None and not (isinstance(x, float) and math.isnan(x)):
                self.writer.add_scalar(col, float(x), step)
        self.writer.flush()
        return False

    def close(self):
        self.writer.close()


def main(argv=None):
    """Event files for finished runs: RUN/tensorboard from RUN/progress.csv."""
    from .plot import read_progress
    p = argparse.ArgumentParser(prog="python -m nppg.tools.tensorboard", allow_abbrev=False,
                                description="write RUN/tensorboard event files from each RUN/progress.csv")
    p.add_argument("runs", nargs="+", help="run directories")
    args = p.parse_args(argv)
    try:
        for run_dir in args.runs:
            _, cols = read_progress(run_dir)
            writer = TensorBoardWriter(os.path.join(run_dir, "tensorboard"))
            for k in range(len(cols.get("env_steps", []))):
                writer({c: float(v[k]) for c, v in cols.items()})
            writer.close()
            print(f"nppg: wrote {os.path.join(run_dir, 'tensorboard')}")
    except (ValueError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
