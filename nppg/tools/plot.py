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


IGNORED = ("seed", "epochs", "threads", "vectorization", "eval_every", "eval_episodes")  # settings that do not make a run another setting
DEFAULTS = {"normalize_obs": False, "scale_rewards": False}  # settings newer than some run directories


def read_baseline(path):
    """{(env, algo): (steps, returns)} from a CSV with columns env, algo, env_steps, mean_epoch_return
    (Spinning Up's published curves: benchmarks/anchors/spinningup_mujoco.csv)."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        curves = {}
        for r in rows:
            curves.setdefault((r["env"], r["algo"]), []).append((float(r["env_steps"]), float(r["mean_epoch_return"])))
    except (OSError, KeyError, ValueError, csv.Error) as e:
        raise ValueError(f"cannot read the baseline {path} (columns env, algo, env_steps, mean_epoch_return): "
                         f"{e}") from None
    return {k: tuple(np.array(sorted(v)).T) for k, v in curves.items()}


def smooth(y, k):
    """Each epoch's value averaged with the (k - 1) / 2 epochs on either side (fewer at the ends), the
    smoothing of Spinning Up's published figures."""
    window, lo = np.ones(k), (k - 1) // 2
    centred = slice(lo, lo + len(y))  # the full convolution's middle: one value per epoch, however short the run
    return np.convolve(y, window)[centred] / np.convolve(np.ones(len(y)), window)[centred]


def plot_runs(run_dirs, out, y="mean_return", baseline=None, smoothing=1):
    """One line per setting (runs whose config.json differ only in seed, epochs or threads), one panel per
    environment; several seeds of a setting: mean and min-max band. ``baseline``: a CSV of published curves
    drawn dashed beside each environment's; ``smoothing``: average each run over that many epochs first.
    The runs are read and checked first, so that a mistake is reported with or without matplotlib.
    Runs of one setting are averaged up to the end of the shortest; the longer ones are cut there, and a
    note on stderr says which and where. ``out`` without an extension gets ``.png`` (as matplotlib would).
    Returns the path written."""
    if smoothing < 1:
        raise ValueError(f"--smooth must be >= 1; got {smoothing}")
    curves = read_baseline(baseline) if baseline else {}
    groups, configs = {}, {}
    for d in run_dirs:
        cfg, cols = read_progress(d)
        if not cols:
            raise ValueError(f"{d}/progress.csv has no epoch yet")
        for col in ("env_steps", y):
            if col not in cols:
                raise ValueError(f"{d}/progress.csv has no column {col!r}; it has {', '.join(cols)}")
        if np.isnan(cols[y]).all():
            raise ValueError(f"{d} has no value of {y} yet" + (" (no episode has ended)" if "return" in y else ""))
        cfg = {**DEFAULTS, **cfg}  # a setting an older nppg did not save was at its default
        key = json.dumps({k: v for k, v in cfg.items() if k not in IGNORED}, sort_keys=True)
        configs[key] = cfg
        groups.setdefault(key, []).append((d, cols))
    # a setting is named by its environment, its weights, and what else differs between the settings
    differ = sorted(k for k in set().union(*configs.values()) - {"env", "weights", *IGNORED}
                    if len({json.dumps(c.get(k)) for c in configs.values()}) > 1)
    labels = {key: " ".join([f"{c.get('env', '?')} {c.get('weights', '?')}", *(f"{k}={c.get(k)}" for k in differ)])
              for key, c in configs.items()}
    envs = list(dict.fromkeys(c.get("env", "?") for c in configs.values()))
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
    fig, axes = plt.subplots(1, len(envs), figsize=(7 * len(envs), 4.2), squeeze=False)
    for key, runs in groups.items():
        label, env = labels[key], configs[key].get("env", "?")
        ax = axes[0, envs.index(env)]
        end = min(r["env_steps"][-1] for _, r in runs)
        cut = [f"{d} ({r['env_steps'][-1]:.0f} steps)" for d, r in runs if r["env_steps"][-1] > end]
        if cut:
            print(f"nppg plot: note: {label} is averaged up to {end:.0f} env steps, where its shortest run ends; "
                  f"cut there: {', '.join(cut)}", file=sys.stderr)
        grid = np.linspace(0, end, 200)
        # an epoch with no finished episode has no return: interpolate over the ones that do
        runs_y = [(r["env_steps"][~np.isnan(r[y])], smooth(r[y][~np.isnan(r[y])], smoothing)) for _, r in runs]
        ys = np.array([np.interp(grid, steps, values) for steps, values in runs_y])
        line, = ax.plot(grid, ys.mean(axis=0), label=f"{label} ({len(runs)} run{'s' * (len(runs) > 1)})")
        if len(runs) > 1:
            ax.fill_between(grid, ys.min(axis=0), ys.max(axis=0), color=line.get_color(), alpha=0.2)
    for ax, env in zip(axes[0], envs):
        for (name, algo), (steps, values) in curves.items():
            if env.split("-v")[0] == name:
                ax.plot(steps, values, ls="--", label=f"Spinning Up {algo.upper()} ({name})")
        ax.set(title=env, xlabel="environment steps", ylabel=y.replace("_", " ")
               + (f", mean of {smoothing} epochs" if smoothing > 1 else ""))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
