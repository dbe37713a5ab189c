"""Learning curves: mean return against environment steps, runs of one setting shown as mean and spread."""
import csv
import json
import os
import sys

import numpy as np


def _number(cell, where):
    try:
        return float(cell) if cell != "" else np.nan  # an epoch with no finished episode has no return
    except ValueError:
        raise ValueError(f"{where}: {cell!r} is not a number") from None


def read_progress(run_dir):
    """(config dict, {column: float array}) for one run directory; a file that cannot be read is named."""
    path, cfg_path = os.path.join(run_dir, "progress.csv"), os.path.join(run_dir, "config.json")
    if not os.path.isfile(path):
        why = ("it has no progress.csv" if os.path.isdir(run_dir) else
               "it is a file, not a folder" if os.path.exists(run_dir) else "it does not exist")
        raise ValueError(f"{run_dir} is not a run directory: {why}")
    try:
        with open(path, newline="") as f:
            header, *rows = list(csv.reader(f)) or [[]]  # an empty file: no header, no rows
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ValueError(f"cannot read {path}: {e}") from None
    values = []
    for line, row in enumerate(rows, start=2):
        if not row:
            continue  # a blank line
        if len(row) != len(header):
            raise ValueError(f"{path} line {line} has {len(row)} cells, the header has {len(header)}")
        values.append([_number(cell, f"{path} line {line}, column {k}") for k, cell in zip(header, row)])
    cols = dict(zip(header, np.array(values).T)) if values else {}
    if not os.path.isfile(cfg_path):
        return {}, cols
    try:
        with open(cfg_path) as f:
            cfg = json.load(f)
    except ValueError as e:  # not JSON, or not UTF-8
        raise ValueError(f"{cfg_path} is not valid JSON: {e}") from None
    if not isinstance(cfg, dict):
        raise ValueError(f"{cfg_path} is not a JSON object of settings")
    return cfg, cols


def plot_runs(run_dirs, out, y="mean_return"):
    """One line per setting (environment and weights); several seeds of a setting: mean and min-max band.
    The runs are read and checked first, so that a mistake is reported with or without matplotlib.
    Runs of one setting are averaged up to the end of the shortest; the longer ones are cut there, and a
    note on stderr says which and where. ``out`` without an extension gets ``.png`` (as matplotlib would).
    Returns the path written."""
    groups = {}
    for d in run_dirs:
        cfg, cols = read_progress(d)
        if not cols:
            raise ValueError(f"{d}/progress.csv has no epoch yet")
        for col in ("env_steps", y):
            if col not in cols:
                raise ValueError(f"{d}/progress.csv has no column {col!r}; it has {', '.join(cols)}")
        if np.isnan(cols[y]).all():
            raise ValueError(f"{d} has no value of {y} yet" + (" (no episode has ended)" if "return" in y else ""))
        label = f"{cfg.get('env', '?')} {cfg.get('weights', '?')}"
        groups.setdefault(label, []).append((d, cols))
    if os.path.isdir(out):
        raise ValueError(f"cannot write {out}: it is a folder; give a file name such as "
                         f"{os.path.join(out, 'learning_curve.png')}")
    if not os.path.splitext(out)[1][1:]:
        out = out.rstrip(".") + ".png"
    folder = os.path.dirname(out) or "."
    if not os.path.isdir(folder):
        raise ValueError(f"cannot write {out}: " + (f"{folder} is a file, not a folder" if os.path.exists(folder)
                                                    else f"the folder {folder} does not exist"))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("nppg plot needs matplotlib, which is not installed: pip install matplotlib "
                         "(or the extra: pip install 'nppg[plot]')") from None
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label, runs in groups.items():
        end = min(r["env_steps"][-1] for _, r in runs)
        cut = [f"{d} ({r['env_steps'][-1]:.0f} steps)" for d, r in runs if r["env_steps"][-1] > end]
        if cut:
            print(f"nppg plot: note: {label} is averaged up to {end:.0f} env steps, where its shortest run ends; "
                  f"cut there: {', '.join(cut)}", file=sys.stderr)
        grid = np.linspace(0, end, 200)
        # an epoch with no finished episode has no return: interpolate over the ones that do
        curves = np.array([np.interp(grid, r["env_steps"][~np.isnan(r[y])], r[y][~np.isnan(r[y])]) for _, r in runs])
        line, = ax.plot(grid, curves.mean(axis=0), label=f"{label} ({len(runs)} run{'s' * (len(runs) > 1)})")
        if len(runs) > 1:
            ax.fill_between(grid, curves.min(axis=0), curves.max(axis=0), color=line.get_color(), alpha=0.2)
    ax.set_xlabel("environment steps")
    ax.set_ylabel(y.replace("_", " "))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
