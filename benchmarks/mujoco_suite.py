"""The MuJoCo suite's table, measured both ways, beside Tianshou's and Spinning Up's published figures.

    python benchmarks/mujoco_suite.py runs/mujoco9 --tianshou benchmarks/anchors/tianshou_mujoco.csv \\
        --spinningup benchmarks/anchors/spinningup_mujoco.csv

For every environment under the sweep folder (``<folder>/<env>/<setting>/s<seed>``, as ``nppg sweep`` makes
them, trained with ``--eval-every``), two figures at 1M and at 3M steps:

- **Tianshou's measure**: the highest point, within the first 1M (3M) steps, of the seed-mean curve of
  evaluation returns (``eval_return``: fresh episodes, actions sampled), with the standard deviation over
  seeds at that point. The seeds are averaged at the evaluations they all have.
- **Spinning Up's measure**: the epoch mean training return smoothed over 11 epochs (centred), at the last
  epoch that ends by 1M (3M) steps, averaged over seeds. The window is 11 epochs whatever ended in them, as
  Spinning Up's is: an epoch in which no episode ended (HalfCheetah's and Swimmer's 1,000-step episodes end
  every other epoch at 500 steps a copy) adds nothing, and does not stretch the window.

Beside them: Tianshou's REINFORCE, A2C and PPO (their own measure) and Spinning Up's VPG and PPO (theirs),
where they exist, each run's wall time (training plus evaluation), and last Tianshou's measure of nppg's
policy taking its mean action (``eval_mean_action_return``): how much of the gap is exploration noise. A run not yet at a step count
shows "-" there; a figure over fewer seeds than the setting has says how many.

    python benchmarks/mujoco_suite.py runs/mujoco9 --tianshou benchmarks/anchors/tianshou_mujoco.csv \\
        --plot docs/mujoco9.png --keep docs/data/mujoco9

``--stretches 0.5e6`` prints, for each half million steps in turn, the median KL of the policy steps and the
mean of the seed-mean evaluation curve there: does the return rise faster as the decay shrinks the steps?

``--plot`` draws the curves, one panel per task: the seed-mean evaluation return with the seeds' range (of
the runs that went furthest), its mean-action twin dashed, and Tianshou's figures at 1M and 3M as marks. ``--keep`` copies what the table and
the picture read of each run (its config.json and these columns of progress.csv) to a folder that can be
committed: a later session, on a fresh machine, makes both from it and the runs it adds. Several folders may be
given: a task's runs are gathered from all of them (more seeds of a task, run apart).
"""
import argparse
import csv
import glob
import json
import os

import numpy as np

from nppg.tools.plot import read_baseline, read_progress, smooth

AT = (1e6, 3e6)
KEPT = ("epoch", "env_steps", "mean_return", "time_s", "eval_return", "eval_return_std", "eval_mean_action_return",
        "eval_s", "entropy", "kl", "loss_v")


def eval_curve(run_dir, column="eval_return"):
    """{k: value} of one run's evaluations, k the evaluation's number (env_steps // eval_every): seeds'
    batches end a few steps apart (a batch is whole vector steps), so their evaluations are matched by k."""
    cfg, cols = read_progress(run_dir)
    if column not in cols:
        return {}, 1
    every = cfg.get("eval_every") or 30000
    ok = ~np.isnan(cols[column])
    return dict(zip((cols["env_steps"][ok] // every).astype(int), cols[column][ok])), every


def seed_curves(curves):
    """(ks, ys): the evaluation numbers k that all ``curves`` ({k: value}, one a seed) share, in order, and
    their values, one row a seed; ``ys.mean(axis=0)`` is the seed-mean curve the measures and the plot read."""
    ks = sorted(set.intersection(*(set(c) for c in curves)))
    return np.array(ks, dtype=int), np.array([[c[k] for k in ks] for c in curves], dtype=float).reshape(len(curves), -1)


def tianshou_measure(runs, steps, column="eval_return"):
    """(highest seed-mean eval return within ``steps``, std over seeds there, seeds) or None; ``column``
    eval_mean_action_return: the same of the policy's mean action, without its exploration noise."""
    curves = [eval_curve(r, column) for r in runs]
    # the runs that reached the step count, give or take one evaluation's spacing
    curves = [(c, every) for c, every in curves if c and (max(c) + 1) * every > steps]
    if not curves:
        return None
    ks, ys = seed_curves([c for c, _ in curves])
    ys = ys[:, ks * curves[0][1] <= steps]
    if not ys.size:
        return None
    best = int(np.argmax(ys.mean(axis=0)))
    return float(ys[:, best].mean()), float(ys[:, best].std()), len(curves)


def smooth_epochs(y, k=11):
    """Spinning Up's smoothing over k epochs, whatever ended in them (``nppg plot --smooth`` draws the same)."""
    return smooth(y, k)


def spinningup_measure(runs, steps, k=11):
    """(mean over seeds of the k-epoch-smoothed training return at ``steps``, seeds) or None."""
    values = []
    for r in runs:
        _, cols = read_progress(r)
        if not cols or cols["env_steps"][-1] < steps * 0.999:
            continue
        y = smooth_epochs(cols["mean_return"], k)
        # the epoch that ends at the step count: a batch is whole vector steps, so it may end a few steps past it
        values.append(float(y[np.searchsorted(cols["env_steps"], steps * 1.001, side="right") - 1]))
    return (float(np.mean(values)), len(values)) if values else None


def diagnose(runs, steps, act_dim):
    """What tells the gap's causes apart, over the runs' epochs up to ``steps``: the exploration noise sigma at
    the end (from the logged entropy, sum_i (log sigma_i + 1/2 log 2 pi e) over ``act_dim`` actions; the mean
    over seeds), the KL each step moved the policy (median and largest epoch, over seeds: no trust region
    bounds it), and the seed-mean evaluation curve's highest point and last value (how far it falls back).
    None if no run has reached ``steps``."""
    sigmas, kls, reached = [], [], []
    for r in runs:
        _, cols = read_progress(r)
        if not cols or cols["env_steps"][-1] < steps * 0.999:
            continue  # not yet there
        upto = cols["env_steps"] <= steps * 1.001
        reached.append(r)
        sigmas.append(np.exp(cols["entropy"][upto][-1] / act_dim - 0.5 * np.log(2 * np.pi * np.e)))
        kls.extend(cols["kl"][upto])
    curves = [c for c, _ in (eval_curve(r) for r in reached) if c]
    if not curves:
        return None
    ks, ys = seed_curves(curves)
    mean = ys[:, ks * eval_curve(reached[0])[1] <= steps * 1.001].mean(axis=0)
    return {"sigma": float(np.mean(sigmas)), "kl_median": float(np.median(kls)), "kl_max": float(np.max(kls)),
            "eval_best": float(np.max(mean)), "eval_last": float(mean[-1]), "seeds": len(sigmas)}


def stretches(runs, width):
    """[(start, end, KL median, seed-mean evaluation)] over consecutive stretches of ``width`` environment steps:
    the median KL of the seeds' policy steps in each, and the mean of the seed-mean evaluation curve's points in
    it (does the return rise faster as the steps shrink?). Stretches no run reaches are left out."""
    cols = [c for _, c in (read_progress(r) for r in runs) if c]
    curves = [c for c, _ in (eval_curve(r) for r in runs) if c]
    if not cols or not curves:
        return []
    ks, ys = seed_curves(curves)
    x, mean = ks * eval_curve(runs[0])[1], ys.mean(axis=0)
    out = []
    for start in np.arange(0, max(c["env_steps"][-1] for c in cols) - width / 100, width):
        end = start + width  # a batch is whole vector steps: an epoch may end a few steps past a stretch's end
        kl = np.concatenate([c["kl"][(c["env_steps"] > start * 1.001) & (c["env_steps"] <= end * 1.001)] for c in cols])
        inside = (x > start * 1.001) & (x <= end * 1.001)
        if kl.size and inside.any():
            out.append((float(start), float(end), float(np.median(kl)), float(mean[inside].mean())))
    return out


# The nine tasks' action sizes, so that --diagnose reads the kept runs without MuJoCo installed
ACT_DIM = {"HalfCheetah": 6, "Hopper": 3, "Walker2d": 6, "Swimmer": 2, "Ant": 8, "Humanoid": 17, "Reacher": 2,
           "InvertedPendulum": 1, "InvertedDoublePendulum": 1}


def act_dim_of(env_id):
    if env_id.split("-v")[0] in ACT_DIM:
        return ACT_DIM[env_id.split("-v")[0]]
    import gymnasium as gym
    env = gym.make(env_id)
    try:
        return env.action_space.shape[0]
    finally:
        env.close()


def wall_minutes(run_dir):
    _, cols = read_progress(run_dir)
    return (cols["time_s"][-1] + np.nansum(cols.get("eval_s", [0.0]))) / 60


ORDER = ("HalfCheetah", "Hopper", "Walker2d", "Swimmer", "Ant", "Humanoid", "Reacher", "InvertedPendulum",
         "InvertedDoublePendulum")  # Tianshou's table's order: the six locomotion tasks, then the three others


def tasks(folders):
    """{env: {setting: [run dirs]}} of the sweep folders' runs (``<folder>/<env>/<setting>/s<seed>``), the tasks in
    ORDER, then any others by name; a setting's runs are gathered from every folder (more seeds of a task, run
    apart), by seed."""
    found = {}
    for folder in folders:
        for run in filter(os.path.isdir, glob.glob(os.path.join(folder, "*", "*", "s*"))):  # not a run's log beside it
            setting_dir = os.path.dirname(run)
            env, setting = os.path.basename(os.path.dirname(setting_dir)), os.path.basename(setting_dir)
            found.setdefault(env, {}).setdefault(setting, []).append(run)
    rank = {name: i for i, name in enumerate(ORDER)}
    order = sorted(found, key=lambda env: (rank.get(env.split("-v")[0], len(ORDER)), env))
    seed = lambda run: int(os.path.basename(run)[1:]) if os.path.basename(run)[1:].isdigit() else -1
    return {env: {setting: sorted(runs, key=seed) for setting, runs in sorted(found[env].items())} for env in order}


def fmt(value):
    """A figure as the table prints it: whole numbers, but one decimal below 100 (Reacher's -6.7 and -5.6)."""
    return f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}"


def named(env, setting):
    """A task in the --diagnose and --stretches tables: its setting in brackets, unless it is "default"."""
    return env if setting == "default" else f"{env} ({setting})"


def of(n, runs):
    """" (2 seeds)" after a figure made of fewer seeds than the setting has, else nothing."""
    return "" if n == len(runs) else f" ({n} seed{'s' * (n != 1)})"


def keep(folder, dest):
    """Copy every run's config.json and the KEPT columns of its progress.csv (6 significant digits) from the
    sweep ``folder`` to ``dest``, in the same layout; returns the runs copied."""
    copied = []
    for run in (run for settings in tasks([folder]).values() for runs in settings.values() for run in runs):
        cfg, cols = read_progress(run)
        if not cols:
            continue
        to = os.path.join(dest, os.path.relpath(run, folder))
        os.makedirs(to, exist_ok=True)
        with open(os.path.join(to, "config.json"), "w") as f:
            json.dump(cfg, f, indent=1, sort_keys=True)
        names = [k for k in KEPT if k in cols]
        with open(os.path.join(to, "progress.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(names)
            for row in zip(*(cols[k] for k in names)):
                w.writerow(["" if np.isnan(v) else f"{v:.6g}" for v in row])
        copied.append(to)
    return copied


def plot(folders, out, tianshou):
    """The curves of Tianshou's measure, one panel per task (see the module's docstring)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    envs = tasks(folders)
    cols = 3
    rows = -(-len(envs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.4 * rows), squeeze=False)
    for ax, env in zip(axes.flat, envs):
        name = env.split("-v")[0]
        end = 0
        for runs in envs[env].values():
            line = None
            for column, style in (("eval_return", "-"), ("eval_mean_action_return", "--")):
                curves = [eval_curve(r, column) for r in runs]
                curves = [(c, every) for c, every in curves if c]
                if not curves:
                    continue
                # the runs that went furthest: a run cut short would end the seeds' mean where it ends
                curves = [(c, every) for c, every in curves if max(c) >= max(max(c) for c, _ in curves) - 1]
                ks, ys = seed_curves([c for c, _ in curves])
                x = ks * curves[0][1]
                end = max(end, x[-1])
                label = "nppg VPG, sampled actions" if style == "-" else "the same policies, mean action"
                line, = ax.plot(x, ys.mean(axis=0), style, label=label,
                                **({} if line is None else {"color": line.get_color()}))
                if style == "-" and len(curves) > 1:
                    ax.fill_between(x, ys.min(axis=0), ys.max(axis=0), color=line.get_color(), alpha=0.2)
        at = [steps for steps in AT if steps <= max(end, AT[0]) * 1.05]  # the marks the curves reach
        for algo, marker in (("reinforce", "v"), ("a2c", "o"), ("ppo", "^")):
            r = tianshou.get((name, algo))
            if r is not None:
                ax.plot(at, [float(r["at_1M"]), float(r["at_3M"])][:len(at)], marker, linestyle="none", color="0.35",
                        label=f"Tianshou {algo.upper() if algo != 'reinforce' else 'REINFORCE'} (10 seeds)")
        ax.set_title(env)
        ax.set_xlabel("environment steps")
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(envs):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("evaluation return")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(out, dpi=90)
    return out


def read_tianshou(path):
    with open(path, newline="") as f:
        return {(r["env"], r["algo"]): r for r in csv.DictReader(f)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    p.add_argument("folders", nargs="+", metavar="folder", help="a sweep's --out folder, its runs trained with "
                   "--eval-every; with several, a task's runs are gathered from all of them")
    p.add_argument("--tianshou", default=None, help="Tianshou's table (env, algo, at_1M, at_3M, std_1M, std_3M)")
    p.add_argument("--spinningup", default=None, help="Spinning Up's curves (env, algo, env_steps, mean_epoch_return)")
    p.add_argument("--plot", default=None, metavar="PNG", help="draw the curves, one panel per task, to this file")
    p.add_argument("--diagnose", action="store_true", help="also print what tells the gaps' causes apart: the "
                   "noise sigma, the KL of each policy step, how far the evaluation curve falls from its peak")
    p.add_argument("--stretches", type=float, default=None, metavar="STEPS",
                   help="also print, for every STEPS environment steps in turn, the median KL of the policy steps "
                   "and the mean of the seed-mean evaluation curve there")
    p.add_argument("--keep", default=None, metavar="DIR",
                   help="copy what the table and the picture read of each run to DIR, to be committed")
    args = p.parse_args(argv)
    if args.keep:
        print(f"kept {sum(len(keep(folder, args.keep)) for folder in args.folders)} runs in {args.keep}")
    tianshou = read_tianshou(args.tianshou) if args.tianshou else {}
    spinningup = read_baseline(args.spinningup) if args.spinningup else {}
    print("| task | setting | nppg, Tianshou's measure: 1M / 3M | nppg, Spinning Up's measure: 1M / 3M | "
          "Tianshou REINFORCE | Tianshou A2C | Tianshou PPO | Spinning Up VPG | Spinning Up PPO | wall time per run | "
          "nppg's mean action, Tianshou's measure |")
    print("|---" * 11 + "|")
    envs = tasks(args.folders)
    for env, settings in envs.items():
        name = env.split("-v")[0]
        for setting, runs in settings.items():
            ts, su, mean_action = [], [], []
            for steps in AT:
                t, s = tianshou_measure(runs, steps), spinningup_measure(runs, steps)
                ts.append("-" if t is None else f"{fmt(t[0])} +- {fmt(t[1])}" + of(t[2], runs))
                m = tianshou_measure(runs, steps, "eval_mean_action_return")
                mean_action.append("-" if m is None else fmt(m[0]) + of(m[2], runs))
                su.append("-" if s is None else fmt(s[0]) + of(s[1], runs))
            theirs = []
            for algo in ("reinforce", "a2c", "ppo"):
                r = tianshou.get((name, algo))
                theirs.append("-" if r is None else f"{fmt(float(r['at_1M']))} / {fmt(float(r['at_3M']))}")
            for algo in ("vpg", "ppo"):
                c = spinningup.get((name, algo))
                theirs.append("-" if c is None else " / ".join(fmt(np.interp(s, *c)) for s in AT))
            walls = [wall_minutes(r) for r in runs if read_progress(r)[1]]
            wall = f"{min(walls):.0f}-{max(walls):.0f} min" if walls else "-"
            print(f"| {env} | {setting} | {' / '.join(ts)} | {' / '.join(su)} | "
                  f"{' | '.join(theirs)} | {wall} | {' / '.join(mean_action)} |")
    if args.diagnose:
        print("\n| task | steps | sigma at the end (mean over seeds) | KL of a policy step: median / largest epoch | "
              "evaluation, seed mean: highest / last |")
        print("|---" * 5 + "|")
        for env, settings in envs.items():
            act_dim = act_dim_of(env)
            for setting, runs in settings.items():
                for steps in AT:
                    d = diagnose(runs, steps, act_dim)
                    if d is None:
                        continue  # no run has reached it
                    print(f"| {named(env, setting)} | {steps / 1e6:.0f}M | {d['sigma']:.2f} | "
                          f"{d['kl_median']:.4f} / {d['kl_max']:.3f} | {fmt(d['eval_best'])} / {fmt(d['eval_last'])} |")
    if args.stretches:
        print(f"\n| task | steps, by {args.stretches / 1e6:g}M | KL of a policy step: median | evaluation, seed mean |")
        print("|---" * 4 + "|")
        for env, settings in envs.items():
            for setting, runs in settings.items():
                for start, end, kl, ev in stretches(runs, args.stretches):
                    print(f"| {named(env, setting)} | {start / 1e6:g}M-{end / 1e6:g}M | {kl:.4f} | {fmt(ev)} |")
    if args.plot:
        print(f"wrote {plot(args.folders, args.plot, tianshou)}")


if __name__ == "__main__":
    main()
