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


# settings that do not change what a run learns: runs that differ only in these are seeds of one setting
IGNORED = ("seed", "threads", "vectorization", "eval_every", "eval_episodes")
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
    """Each epoch's value replaced by the mean over the k epochs centred on it (fewer at the ends) of the
    values that exist, the smoothing of Spinning Up's published figures: an epoch in which no episode ended
    (NaN) adds nothing and does not widen the window, which spans k epochs, not k values. NaN where no epoch
    of the window has a value."""
    window, lo = np.ones(k), (k - 1) // 2
    ok = ~np.isnan(y)
    centred = slice(lo, lo + len(y))  # the full convolution's middle: one value per epoch, however short the run
    total = np.convolve(np.where(ok, y, 0.0), window)[centred]
    count = np.convolve(ok.astype(float), window)[centred]
    return np.divide(total, count, out=np.full(len(y), np.nan), where=count > 0)


def _value(v):
    """A setting's value in a label: strings as they are, the rest as compact JSON (``hidden=[64,64]``)."""
    return v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))


def setting_labels(configs):
    """{key: label} for the settings drawn: each named by its weights and by the settings whose values differ
    between them, short. The environment is the panel's title. A setting that only some runs' config.json
    have (an example writes its own few) names a curve only where the others cannot tell it apart."""
    keys = sorted(set().union(*configs.values()) - {"env", "weights", *IGNORED})

    def labels(differ):
        return {key: " ".join([_value(c.get("weights", "?")), *(f"{k}={_value(c[k])}" for k in differ
                                                                if c.get(k) is not None)])
                for key, c in configs.items()}
    valued = labels([k for k in keys if len({json.dumps(c[k]) for c in configs.values() if c.get(k) is not None}) > 1])
    panels = [(c.get("env"), valued[key]) for key, c in configs.items()]
    if len(set(panels)) == len(panels):
        return valued
    return labels([k for k in keys if len({json.dumps(c.get(k)) for c in configs.values()}) > 1])


def setting_curve(runs, y, smoothing):
    """One setting's runs as one curve, epoch by epoch: (env steps, mean, min, max, runs counted), each over the
    runs that have a value at that epoch. A run's epochs without one (no episode ended in it) are interpolated
    between its values, and each run counts from its first value to its last: the curve starts at the first
    real point, and where a run ends early the rest is the mean of the runs that go on."""
    n = max(len(cols[y]) for _, cols in runs)
    steps, ys = np.full((len(runs), n), np.nan), np.full((len(runs), n), np.nan)
    for i, (_, cols) in enumerate(runs):
        k, has, smoothed = np.arange(len(cols[y])), ~np.isnan(cols[y]), smooth(cols[y], smoothing)
        inside, ok = (k >= k[has][0]) & (k <= k[has][-1]), ~np.isnan(smoothed)
        ys[i, k[inside]] = np.interp(k[inside], k[ok], smoothed[ok])
        steps[i, k[inside]] = cols["env_steps"][inside]
    counted = (~np.isnan(ys)).sum(axis=0)
    ys, steps, counted = ys[:, counted > 0], steps[:, counted > 0], counted[counted > 0]
    return np.nanmean(steps, axis=0), np.nanmean(ys, axis=0), np.nanmin(ys, axis=0), np.nanmax(ys, axis=0), counted


def no_values(run_dir, cfg, y):
    """Why a run has no value of ``y`` at all, in one line."""
    if y.startswith("eval_") and not cfg.get("eval_every"):
        return (f"{run_dir} has no {y}: it was trained without evaluation (evaluation is off unless asked for); "
                f"train with --eval-every STEPS (nppg.train's eval_every=STEPS), e.g. --eval-every 20000, to "
                f"evaluate the policy every STEPS environment steps, or plot its training return (--y mean_return)")
    return f"{run_dir} has no value of {y} yet" + (" (no episode has ended)" if "return" in y else "")


def plot_runs(run_dirs, out, y="mean_return", baseline=None, smoothing=1):
    """One curve per setting, one panel per environment; runs whose config.json differ only in the seed (or in
    threads, vectorization or evaluation, which do not change what is learned) are one setting, drawn as their
    mean with a min-max band. ``baseline``: a CSV of published curves drawn dashed beside each environment's;
    ``smoothing``: average each run over that many epochs first. The runs are read and checked first, so that
    a mistake is reported with or without matplotlib. A setting whose runs end at different epochs is the mean
    of the runs that reach each epoch: its legend says so, and a note on stderr names the runs that end early.
    ``out`` without an extension gets ``.png`` (as matplotlib would). Returns the path written."""
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
            raise ValueError(no_values(d, cfg, y))
        cfg = {**DEFAULTS, **cfg}  # a setting an older nppg did not save was at its default
        key = json.dumps({k: v for k, v in cfg.items() if k not in IGNORED}, sort_keys=True)
        configs[key] = cfg
        groups.setdefault(key, []).append((d, cols))
    labels = setting_labels(configs)
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
        from matplotlib.ticker import EngFormatter
    except ImportError:
        raise SystemExit("nppg plot needs matplotlib, which is not installed: pip install matplotlib "
                         "(or the extra: pip install 'nppg[plot]')") from None
    fig, axes = plt.subplots(1, len(envs), figsize=(6.4 * len(envs), 4.2), squeeze=False)
    for key, runs in groups.items():
        label, env = labels[key], configs[key].get("env", "?")
        ax = axes[0, envs.index(env)]
        steps, mean, low, high, counted = setting_curve(runs, y, smoothing)
        ends = {d: cols["env_steps"][np.flatnonzero(~np.isnan(cols[y]))[-1]] for d, cols in runs}
        early = [d for d, (_, cols) in zip(ends, runs) if len(cols[y]) < max(len(c[y]) for _, c in runs)]
        count = f"{len(runs)} run{'s' * (len(runs) > 1)}"
        if early:
            first = min(ends[d] for d in early)
            count += (f", 1 ending at {first:,.0f} steps" if len(early) == 1 else
                      f", {len(early)} ending early, from {first:,.0f} steps")
            print(f"nppg plot: note: {env} {label}: {', '.join(f'{d} ends at {ends[d]:.0f} env steps' for d in early)}, "
                  "before the setting's longest run; from there on the curve is the mean of the runs that go on",
                  file=sys.stderr)
        line, = ax.plot(steps, mean, label=f"{label} ({count})")
        if len(runs) > 1:
            ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.2)
    for ax, env in zip(axes[0], envs):
        for (name, algo), (steps, values) in curves.items():
            if env.split("-v")[0] == name:
                ax.plot(steps, values, ls="--", label=f"Spinning Up {algo.upper()} ({name})")
        ax.set(title=env, xlabel="environment steps", ylabel=y.replace("_", " ")
               + (f", mean of {smoothing} epochs" if smoothing > 1 else ""))
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))  # 10k, 1.5M: short labels that never run together
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0, -0.14), frameon=False)  # below the axes
    fig.savefig(out, dpi=120, bbox_inches="tight")  # the figure grows to hold the legends; the axes keep their size
    plt.close(fig)
    return out
