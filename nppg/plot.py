"""Learning curves: mean return against environment steps, runs of one setting shown as mean and spread."""
import csv
import json
import os

import numpy as np


def read_progress(run_dir):
    """(config dict, {column: float array}) for one run directory."""
    path = os.path.join(run_dir, "progress.csv")
    if not os.path.isfile(path):
        raise ValueError(f"{run_dir} has no progress.csv: is it an nppg run directory?")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    cols = {k: np.array([float(r[k]) if r[k] != "" else np.nan for r in rows]) for k in (rows[0] if rows else {})}
    cfg_path = os.path.join(run_dir, "config.json")
    cfg = json.load(open(cfg_path)) if os.path.isfile(cfg_path) else {}
    return cfg, cols


def plot_runs(run_dirs, out, y="mean_return"):
    """One line per setting (environment and weights); several seeds of a setting: mean and min-max band.
    The runs are read and checked first, so that a mistake is reported with or without matplotlib."""
    if not os.path.isdir(os.path.dirname(os.path.abspath(out))):
        raise ValueError(f"cannot write {out}: the folder {os.path.dirname(out)} does not exist")
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
        groups.setdefault(label, []).append(cols)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("nppg plot needs matplotlib, which is not installed: pip install matplotlib "
                         "(or the extra: pip install 'nppg[plot]')") from None
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label, runs in groups.items():
        grid = np.linspace(0, min(r["env_steps"][-1] for r in runs), 200)
        # an epoch with no finished episode has no return: interpolate over the ones that do
        curves = np.array([np.interp(grid, r["env_steps"][~np.isnan(r[y])], r[y][~np.isnan(r[y])]) for r in runs])
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
