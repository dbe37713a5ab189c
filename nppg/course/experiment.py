"""``nppg exercise experiment DIR``: the student's own package on a small grid in the manner of CS285's
homework 2, and the figures and table a report needs (docs/experiments.md).

The grid, per environment: five weights Phi_t (8) x two batch sizes x three seeds, each cell one run of
the workspace's own ``vpg`` (the plain layer, float64):

    R(tau) (4)  |  reward-to-go (6)  |  GAE lam = 0 (11)  |  GAE lam = 0.95 (12)  |  reward-to-go - V (7)

The last is GAE at lam = 1 too (12), so one cell serves two comparisons: reward-to-go with and without the
baseline V, and lam in {0, 0.95, 1}. Phi_t is not normalised in any cell (``normalize_adv=False``):
normalising subtracts the batch's mean of Phi_t, itself a baseline, and would blur the first comparisons.

Each cell is a folder ``OUT/<env>/<setting>-b<batch>/s<seed>/`` holding ``config.json`` and
``progress.csv`` (so ``nppg plot`` reads it too) and, once the run has finished, ``result.json``: a rerun
skips the cells that have one and runs the others from their start. The table (``table.md``,
``table.csv``) is rewritten after every cell; the figures are drawn when the grid is done.
"""
import ast
import csv
import json
import multiprocessing
import os
import re
import sys
import time
import warnings
from dataclasses import asdict, dataclass

import numpy as np

from ..algorithm import VPGConfig
from ..engine.rollout import make_env
from ..engine.threads import set_threads
from ..tools.logger import BEFORE_EVAL
from ..tools.machine import describe
from .ladder import LADDER, PACKAGE
from .workspace import load


@dataclass(frozen=True)
class Setting:
    name: str     # the cell's folder: OUT/<env>/<name>-b<batch>/
    label: str    # in the table and the legends
    weights: str  # VPGConfig.weights
    lam: float    # GAE's lam, for the weights that use it (None: VPGConfig's default, unused)


SETTINGS = (
    Setting("return", "R(tau) (4)", "return", None),
    Setting("rtg", "reward-to-go (6)", "reward-to-go", None),
    Setting("lam0", "GAE lam=0 (11)", "gae", 0.0),
    Setting("lam0.95", "GAE lam=0.95 (12)", "gae", 0.95),
    Setting("lam1", "reward-to-go - V (7) = GAE lam=1", "baseline", 1.0),
)
BY_SETTING = {s.name: s for s in SETTINGS}

# The figures: one per comparison and environment, one panel per batch size (the table has every cell).
COMPARISONS = (
    ("rtg", "R(tau) against reward-to-go", ("return", "rtg")),
    ("baseline", "reward-to-go without and with the baseline V", ("rtg", "lam1")),
    ("lam", "GAE's lam, with the baseline V", ("lam0", "lam0.95", "lam1")),
)


@dataclass(frozen=True)
class Grid:
    """One environment's part of the grid: what every cell shares, and what varies."""
    env: str
    batches: tuple    # steps_per_epoch, small and large
    epochs: int       # every cell the same number of policy steps, as CS285's homework
    threshold: float  # "steps to threshold": the env steps of the first epoch whose mean return reaches it
    config: tuple     # (field, value) pairs of VPGConfig shared by every cell
    quick: tuple      # (batches, epochs) of --quick


# Chosen so that the differences show in a few CPU-minutes for the whole grid (docs/experiments.md has the
# measurement): small networks, 4 environments and 25 value steps an epoch make a run cheap; Phi_t is not
# normalised, since normalising subtracts a baseline of its own. The thresholds are gymnasium's reward_threshold.
SHARED = (("hidden", (32, 32)), ("num_envs", 4), ("gamma", 0.99), ("pi_lr", 1e-2), ("vf_lr", 3e-3),
          ("train_v_iters", 25), ("normalize_adv", False))
GRIDS = {
    "CartPole-v1": Grid("CartPole-v1", (400, 1600), 30, 475.0, SHARED, ((40, 80), 3)),
    "InvertedPendulum-v5": Grid("InvertedPendulum-v5", (400, 1600), 30, 950.0, SHARED, ((40, 80), 3)),
}
MUJOCO = "InvertedPendulum-v5"
NOT_NEEDED = ("nstep", "running_stats")            # exercises the grid's runs never call
GAUSSIAN = ("gaussian", "gaussian_policy")         # called only on InvertedPendulum


class ExperimentError(ValueError):
    """A grid that cannot run, said in one line (the CLI prints it as an error)."""


@dataclass(frozen=True)
class Cell:
    env: str
    setting: str
    batch: int
    seed: int
    epochs: int
    threshold: float
    config: tuple

    @property
    def key(self):
        return f"{self.env}/{self.setting}-b{self.batch}/s{self.seed}"

    def vpg_settings(self):
        s = BY_SETTING[self.setting]
        lam = {} if s.lam is None else {"lam": s.lam}
        return {**dict(self.config), "weights": s.weights, **lam, "steps_per_epoch": self.batch,
                "epochs": self.epochs, "seed": self.seed}


def plan(envs, seeds, quick=False):
    """Every cell, seed by seed (an interrupted grid has whole seeds of every environment and setting first)."""
    cells = []
    for env in envs:
        g = GRIDS[env]
        batches, epochs = g.quick if quick else (g.batches, g.epochs)
        cells += [Cell(env, s.name, b, seed, epochs, g.threshold, g.config)
                  for seed in seeds for b in batches for s in SETTINGS]
    return sorted(cells, key=lambda c: (seeds.index(c.seed), envs.index(c.env)))


# ---- one cell ----------------------------------------------------------------------------------

def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_json(path, obj):
    """Whole or not at all: a file written beside it, then renamed."""
    with open(path + ".part", "w") as f:
        json.dump(obj, f, indent=2)
    os.replace(path + ".part", path)


def cell_config(cell):
    return asdict(VPGConfig(env=cell.env, **cell.vpg_settings()))


def summarize(rows, threshold):
    """Final and best epoch mean return, and the env steps of the first epoch at or above ``threshold``.
    rows: the epoch records (or progress.csv's rows as numbers), mean_return NaN in an epoch where no episode
    ended; "final" is then the last epoch where one did."""
    ret = np.array([r["mean_return"] for r in rows], dtype=float)  # NaN: no episode ended in that epoch
    seen = ret[~np.isnan(ret)]
    reached = [r["env_steps"] for r in rows if r["mean_return"] >= threshold]  # NaN >= x is False
    return {"final_return": float(seen[-1]) if len(seen) else None,
            "best_return": float(seen.max()) if len(seen) else None,
            "steps_to_threshold": int(reached[0]) if reached else None,
            "epochs": len(rows), "env_steps": int(rows[-1]["env_steps"]) if rows else 0}


_package = {}


def run_cell(workspace, out, cell):
    """Run one cell with the workspace's own ``vpg``; progress.csv is flushed every epoch and result.json
    written at the end. Returns the result, or raises what the student's code raised."""
    if workspace not in _package:
        _package[workspace] = load(workspace)
    pkg, folder = _package[workspace], os.path.join(out, cell.key)
    os.makedirs(folder, exist_ok=True)
    write_json(os.path.join(folder, "config.json"), cell_config(cell))
    rows, t0, cpu0 = [], time.perf_counter(), time.process_time()
    with open(os.path.join(folder, "progress.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=BEFORE_EVAL, extrasaction="ignore", restval="")
        writer.writeheader()

        def record(r, state):
            for key in ("mean_return", "env_steps"):
                if key not in r:
                    raise ExperimentError(f"your vpg's epoch record has no {key!r} (vpg's docstring lists the keys)")
            r = {**r, "time_s": time.perf_counter() - t0}
            r["steps_per_s"] = r["env_steps"] / r["time_s"]
            rows.append(r)
            writer.writerow(r)
            f.flush()
            return False

        pkg.vpg(cell.env, callback=record, **cell.vpg_settings())
    result = {**summarize(rows, cell.threshold), "time_s": time.perf_counter() - t0,
              "cpu_s": time.process_time() - cpu0}  # the machine's other work is in the first, not the second
    write_json(os.path.join(folder, "result.json"), result)
    return result


def read_progress(folder):
    """progress.csv's epochs as [{"env_steps": float, "mean_return": float or NaN}]."""
    with open(os.path.join(folder, "progress.csv"), newline="") as f:
        return [{"env_steps": float(r["env_steps"]),
                 "mean_return": float(r["mean_return"]) if r["mean_return"] not in ("", "nan") else np.nan}
                for r in csv.DictReader(f)]


def finished(out, cell):
    """The cell's result if it has finished with the planned settings; None if it has not (yet)."""
    folder = os.path.join(out, cell.key)
    saved, planned = read_json(os.path.join(folder, "config.json")), json.loads(json.dumps(cell_config(cell)))
    if saved is not None and saved != planned:
        differ = sorted(k for k in set(saved) | set(planned) if saved.get(k) != planned.get(k))
        raise ExperimentError(f"{folder} holds a run with other settings ({', '.join(differ)}): move it away, "
                              "or give another --out")
    return read_json(os.path.join(folder, "result.json")) if saved is not None else None


def _worker(job):
    """A cell in a process of its own (--jobs > 1): the outcome, never an exception (some do not pickle)."""
    workspace, out, cell = job
    try:
        return cell, run_cell(workspace, out, cell), None
    except NotImplementedError as e:
        return cell, None, ("NotImplementedError", str(e))
    except Exception as e:  # the student's code may raise anything
        return cell, None, (type(e).__name__, str(e))


def _init_worker():
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the pool on Ctrl-C
    set_threads(1)


# ---- a workspace that is not finished -----------------------------------------------------------

def blank_exercises(workspace):
    """The exercises, in ladder order, whose functions still hold only ``raise NotImplementedError``."""
    blanks = []
    for e in LADDER:
        try:
            with open(os.path.join(workspace, PACKAGE, f"{e.module}.py")) as f:
                tree = ast.parse(f.read())
        except (OSError, SyntaxError):
            continue
        for qualname, _ in e.functions:
            body, node = tree.body, None
            for part in qualname.split("."):
                node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == part),
                            None)
                body = node.body if node is not None else []
            code = [n for n in body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
            if (len(code) == 1 and isinstance(code[0], ast.Raise) and code[0].exc is not None
                    and "NotImplementedError" in ast.unparse(code[0].exc)):
                blanks.append(e.name)
                break
    return blanks


def not_finished(workspace, envs, error):
    """The message for a NotImplementedError raised by the workspace: which exercise to finish first."""
    needed = [b for b in blank_exercises(workspace) if b not in NOT_NEEDED
              and (MUJOCO in envs or b not in GAUSSIAN)]
    named = re.search(r"exercise '(\w+)'", str(error))
    first = needed[0] if needed else named.group(1) if named else None
    number = {e.name: i for i, e in enumerate(LADDER, 1)}
    msg = f"{workspace}'s package is not finished (the first run stopped at: {error})."
    if first:
        msg += (f" Finish exercise {number.get(first, '?')}, {first!r}, first: nppg exercise check {workspace} "
                f"{first}.")
    if len(needed) > 1:
        msg += f" Still blank, in ladder order: {', '.join(needed)}."
    return msg + f" The experiment runs your vpg, which needs every exercise but {' and '.join(NOT_NEEDED)}."


def probe(workspace, envs):
    """One short epoch of each kind of weights on each environment, before the grid: a blank or a crash is
    found in a second, not after minutes."""
    pkg = load(workspace)
    for env in envs:
        for weights in dict.fromkeys(s.weights for s in SETTINGS):
            try:
                pkg.vpg(env, epochs=1, steps_per_epoch=64, num_envs=2, train_v_iters=1, weights=weights,
                        hidden=(8,), normalize_adv=False)
            except NotImplementedError as e:
                raise ExperimentError(not_finished(workspace, envs, e)) from None
            except Exception as e:
                raise ExperimentError(f"your vpg failed on one epoch of {env} with weights={weights!r}: "
                                      f"{type(e).__name__}: {e} (nppg exercise check {workspace} finds it)") from None


# ---- the table -----------------------------------------------------------------------------------

def _stat(values):
    v = np.array([x for x in values if x is not None], dtype=float)
    return (float(v.mean()), float(v.std()), len(v)) if len(v) else (None, None, 0)


def table_rows(out, cells):
    """One row per (env, batch, setting) with at least one finished seed: mean and std over the seeds. The
    measures are taken from progress.csv, so that a threshold changed here needs no run again."""
    groups = {}
    for c in cells:
        result = read_json(os.path.join(out, c.key, "result.json"))
        if result is not None:
            result = {**summarize(read_progress(os.path.join(out, c.key)), c.threshold), "time_s": result["time_s"],
                      "cpu_s": result.get("cpu_s")}
            groups.setdefault((c.env, c.batch, c.setting), []).append((c, result))
    rows = []
    for (env, batch, setting), runs in groups.items():
        c = runs[0][0]
        s = BY_SETTING[setting]
        row = {"env": env, "setting": setting, "weights": s.weights, "lam": "" if s.lam is None else s.lam,
               "batch": batch, "epochs": c.epochs, "seeds": len(runs), "threshold": c.threshold}
        for key in ("final_return", "best_return", "steps_to_threshold", "time_s", "cpu_s"):
            row[f"{key}_mean"], row[f"{key}_std"], n = _stat([r[key] for _, r in runs])
            if key == "steps_to_threshold":
                row["reached"] = n
        rows.append(row)
    order = {s.name: i for i, s in enumerate(SETTINGS)}
    return sorted(rows, key=lambda r: (r["env"], r["batch"], order[r["setting"]]))


def _pm(mean, std, fmt="{:.0f}"):
    return "-" if mean is None else f"{fmt.format(mean)} ± {fmt.format(std)}"


def write_table(out, cells, header=""):
    rows = table_rows(out, cells)
    columns = ["env", "setting", "weights", "lam", "batch", "epochs", "seeds", "threshold", "final_return_mean",
               "final_return_std", "best_return_mean", "best_return_std", "steps_to_threshold_mean",
               "steps_to_threshold_std", "reached", "time_s_mean", "time_s_std", "cpu_s_mean", "cpu_s_std"]
    with open(os.path.join(out, "table.csv.part"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        w.writerows({k: ("" if r[k] is None else r[k]) for k in columns} for r in rows)
    os.replace(os.path.join(out, "table.csv.part"), os.path.join(out, "table.csv"))
    lines = [header, "", "| env | Phi_t | batch | seeds | final epoch return | best epoch return | "
             "env steps to the threshold | wall time a run (CPU) |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        steps = ("never" if not r["reached"] else
                 f"{_pm(r['steps_to_threshold_mean'], r['steps_to_threshold_std'], '{:,.0f}')}"
                 + ("" if r["reached"] == r["seeds"] else f" ({r['reached']} of {r['seeds']})"))
        lines.append(f"| {r['env']} (>= {r['threshold']:g}) | {BY_SETTING[r['setting']].label} | {r['batch']} | "
                     f"{r['seeds']} | {_pm(r['final_return_mean'], r['final_return_std'])} | "
                     f"{_pm(r['best_return_mean'], r['best_return_std'])} | {steps} | "
                     f"{r['time_s_mean']:.0f} s" + ("" if r["cpu_s_mean"] is None else f" ({r['cpu_s_mean']:.0f} s)")
                     + " |")
    with open(os.path.join(out, "table.md.part"), "w") as f:
        f.write("\n".join(lines).lstrip("\n") + "\n")
    os.replace(os.path.join(out, "table.md.part"), os.path.join(out, "table.md"))
    return rows


# ---- the figures ---------------------------------------------------------------------------------

def _pyplot():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ExperimentError("the figures need matplotlib, which is not installed: pip install 'nppg[plot]' "
                              "(or give --no-figures for the table alone)") from None
    return plt


def curves(out, cells):
    """{(env, setting, batch): (env steps (E,), returns (seeds, E))}, an epoch without a finished episode
    showing the epoch before it; the steps are the seeds' mean (a batch may hold a few steps more than asked)."""
    found = {}
    for c in cells:
        if read_json(os.path.join(out, c.key, "result.json")) is None:
            continue
        rows = read_progress(os.path.join(out, c.key))
        steps = np.array([r["env_steps"] for r in rows])
        ret = np.array([r["mean_return"] for r in rows])
        for i in range(1, len(ret)):
            if np.isnan(ret[i]):
                ret[i] = ret[i - 1]
        found.setdefault((c.env, c.setting, c.batch), []).append((steps, ret))
    out_curves = {}
    for key, runs in found.items():
        E = min(len(s) for s, _ in runs)
        out_curves[key] = (np.mean([s[:E] for s, _ in runs], axis=0), np.array([r[:E] for _, r in runs]))
    return out_curves


def _panel(ax, data, env, batch, names, threshold, legend=True):
    for i, name in enumerate(names):
        if (env, name, batch) not in data:
            continue
        steps, R = data[(env, name, batch)]
        with warnings.catch_warnings():  # epochs before any episode ended have no return: not drawn
            warnings.simplefilter("ignore", RuntimeWarning)
            mean, low, high = np.nanmean(R, axis=0), np.nanmin(R, axis=0), np.nanmax(R, axis=0)
        line, = ax.plot(steps, mean, color=f"C{i}",
                        label=f"{BY_SETTING[name].label} ({len(R)} seed{'s' * (len(R) > 1)})")
        if len(R) > 1:
            ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.2)
    ax.axhline(threshold, color="grey", ls=":", lw=1)
    ax.set_title(f"{env}, batch {batch}", fontsize=10)
    ax.set_xlabel("environment steps")
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(fontsize=7, loc="best")


def _save(fig, path, dpi):
    """A PNG of 128 colours: a third of the size, the same to the eye (Pillow comes with matplotlib)."""
    import matplotlib.pyplot as plt
    from PIL import Image
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=128)
    small.save(path, optimize=True)


def write_figures(out, cells):
    """OUT/figures/<env>-<comparison>.png, one panel per batch size, and OUT/figures/overview.png: every
    comparison (rows) of every environment and batch size (columns). Mean over seeds, band from min to max."""
    plt = _pyplot()
    data, written = curves(out, cells), []
    os.makedirs(os.path.join(out, "figures"), exist_ok=True)
    columns = list(dict.fromkeys((c.env, c.batch) for c in cells))
    threshold = {c.env: c.threshold for c in cells}
    for env in dict.fromkeys(c.env for c in cells):
        batches = [b for e, b in columns if e == env]
        for name, title, names in COMPARISONS:
            fig, axes = plt.subplots(1, len(batches), figsize=(5 * len(batches), 3.6), squeeze=False, sharey=True)
            for i, (ax, batch) in enumerate(zip(axes[0], batches)):
                _panel(ax, data, env, batch, names, threshold[env], legend=i == 0)
            axes[0, 0].set_ylabel("mean return of the epoch's episodes")
            fig.suptitle(f"{title}: mean of the seeds, band from their min to max", fontsize=10)
            fig.tight_layout()
            path = os.path.join(out, "figures", f"{env}-{name}.png")
            _save(fig, path, 100)
            written.append(path)
    fig, axes = plt.subplots(len(COMPARISONS), len(columns), figsize=(3.6 * len(columns), 2.9 * len(COMPARISONS)),
                             squeeze=False)
    for row, (name, title, names) in enumerate(COMPARISONS):
        for col, (env, batch) in enumerate(columns):
            ax = axes[row, col]
            _panel(ax, data, env, batch, names, threshold[env], legend=col == 0)
            if col == 0:
                ax.set_ylabel(name, fontsize=10)
            if row < len(COMPARISONS) - 1:
                ax.set_xlabel("")
    fig.suptitle("nppg exercise experiment: mean return of each epoch's episodes, mean of the seeds, band from "
                 "min to max; dotted: the threshold", fontsize=10)
    fig.tight_layout()
    path = os.path.join(out, "figures", "overview.png")
    _save(fig, path, 90)
    return written + [path]


# ---- the command ---------------------------------------------------------------------------------

def add_experiment_args(parser):
    """The flags of ``nppg exercise experiment``; ``parser`` is its subparser."""
    parser.add_argument("dir", help="the workspace (nppg exercise start DIR), its exercises done")
    parser.add_argument("--env", nargs="+", default=list(GRIDS), choices=list(GRIDS),
                        help=f"(default: both; {MUJOCO} needs pip install 'nppg[mujoco]')")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="(default: 0 1 2)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: tiny batches, 3 epochs (into OUT-quick unless --out is given)")
    parser.add_argument("--jobs", type=int, default=None,
                        help=f"cells run at once, each in a process of its own (default: the number of cores, "
                             f"{os.cpu_count() or 1})")
    parser.add_argument("--out", default=None, help="where the cells, table and figures go (default: DIR/experiment)")
    parser.add_argument("--no-figures", action="store_true", help="only the table (without matplotlib)")


def _result_line(cell, result):
    steps = result["steps_to_threshold"]
    fmt = lambda x: "-" if x is None else f"{x:.1f}"  # noqa: E731
    return (f"{cell.env} {BY_SETTING[cell.setting].label}, batch {cell.batch}, seed {cell.seed}: final "
            f"{fmt(result['final_return'])}, best {fmt(result['best_return'])}, >= {cell.threshold:g} "
            + ("never" if steps is None else f"at {steps:,} steps") + f" ({result['time_s']:.0f} s)")


def _usable(envs):
    """The environments that can be made here, and a message for each that cannot."""
    usable, missing = [], []
    for env in envs:
        try:
            make_env(env, 1).close()
            usable.append(env)
        except ValueError as e:
            if env == MUJOCO:
                missing.append(f"{env} needs MuJoCo, which is not installed: pip install \"nppg[mujoco]\" "
                               f"(or run --env CartPole-v1 alone) [{e}]")
            else:
                missing.append(str(e))
    return usable, missing


def experiment(workspace, envs=None, seeds=(0, 1, 2), quick=False, jobs=1, out=None, figures=True, say=print):
    """Run the grid (the cells not finished yet), write the table and the figures. Returns the exit status:
    0 when every cell of every environment asked for has run, 1 when an environment could not be made."""
    envs = list(GRIDS) if envs is None else list(dict.fromkeys(envs))
    seeds = list(dict.fromkeys(seeds))
    unknown = [e for e in envs if e not in GRIDS]
    if unknown:
        raise ExperimentError(f"--env must be among {', '.join(GRIDS)}; got {', '.join(unknown)}")
    if jobs < 1:
        raise ExperimentError(f"--jobs must be >= 1; got {jobs}")
    if not os.path.isfile(os.path.join(workspace, PACKAGE, "__init__.py")):
        raise ExperimentError(f"{workspace} has no {PACKAGE}/__init__.py: make a workspace with "
                              f"nppg exercise start {workspace}, and do its exercises")
    out = out or os.path.join(workspace, "experiment" + ("-quick" if quick else ""))
    if figures:
        _pyplot()  # before minutes of running, not after
    envs, missing = _usable(envs)
    for m in missing:
        say(f"nppg exercise experiment: skipped: {m}")
    if not envs:
        raise ExperimentError("no environment left to run: " + "; ".join(missing))
    probe(workspace, envs)
    cells = plan(envs, seeds, quick)
    done = {c: finished(out, c) for c in cells}
    todo = [c for c in cells if done[c] is None]
    os.makedirs(out, exist_ok=True)
    header = (f"nppg exercise experiment {workspace}: {len(cells)} cells ({', '.join(envs)}; "
              f"{len(SETTINGS)} weights x 2 batch sizes x {len(seeds)} seeds), {len(cells) - len(todo)} done "
              f"already, {len(todo)} to run, {min(jobs, max(len(todo), 1))} at once; in {out}")
    say(header)
    say(f"machine: {describe()}")
    t0, n = time.perf_counter(), len(cells) - len(todo)

    def finish(cell, result):
        nonlocal n
        n += 1
        write_table(out, cells, table_header(workspace, envs, seeds, quick))
        elapsed = time.perf_counter() - t0
        say(f"[{n:>3}/{len(cells)}] {_result_line(cell, result)}; {elapsed / 60:.1f} min so far")

    previous = set_threads(1)
    try:
        if jobs == 1 or len(todo) <= 1:
            for cell in todo:
                try:
                    finish(cell, run_cell(workspace, out, cell))
                except NotImplementedError as e:
                    raise ExperimentError(not_finished(workspace, envs, e)) from None
                except ExperimentError:
                    raise
                except Exception as e:  # the student's code may raise anything
                    raise ExperimentError(f"{cell.key} failed: {type(e).__name__}: {e}") from None
        else:
            context = multiprocessing.get_context("spawn")  # the same on every platform; the parent's
            pool = context.Pool(jobs, initializer=_init_worker, maxtasksperchild=None)  # state stays its own
            try:
                for cell, result, error in pool.imap_unordered(_worker, [(workspace, out, c) for c in todo]):
                    if error is not None:
                        kind, text = error
                        if kind == "NotImplementedError":
                            raise ExperimentError(not_finished(workspace, envs, text))
                        raise ExperimentError(f"{cell.key} failed: {kind}: {text}")
                    finish(cell, result)
                pool.close()
            finally:
                pool.terminate()
                pool.join()
    except KeyboardInterrupt:
        say(f"nppg exercise experiment: stopped; {n} of {len(cells)} cells finished are kept in {out}; "
            "the same command again runs the others")
        raise
    finally:
        if previous is not None:
            set_threads(previous)
    rows = write_table(out, cells, table_header(workspace, envs, seeds, quick))
    say(f"table: {os.path.join(out, 'table.md')} and table.csv ({len(rows)} rows); grid "
        f"{(time.perf_counter() - t0) / 60:.1f} min for the {len(todo)} cells run now")
    if figures:
        for path in write_figures(out, cells):
            say(f"figure: {path}")
    for m in missing:
        say(f"nppg exercise experiment: not run: {m}")
    return 1 if missing else 0


def table_header(workspace, envs, seeds, quick):
    parts = []
    for env in envs:
        g = GRIDS[env]
        batches, epochs = g.quick if quick else (g.batches, g.epochs)
        settings = ", ".join(f"{k}={v}" for k, v in g.config)
        parts.append(f"{env}: {epochs} epochs of {' or '.join(map(str, batches))} steps, {settings}")
    return (f"Made by nppg exercise experiment{' --quick' if quick else ''} (seeds {', '.join(map(str, seeds))}); "
            f"{'; '.join(parts)}. Mean ± std over the seeds; final and best: the mean return of an epoch's "
            "finished episodes; env steps to the threshold over the seeds that reached it.")


def cmd_experiment(args):
    """``nppg exercise experiment``: the exit status (the CLI prints an ExperimentError as an error)."""
    jobs = args.jobs if args.jobs is not None else (os.cpu_count() or 1)
    return experiment(args.dir, args.env, args.seeds, args.quick, jobs, args.out, not args.no_figures)

