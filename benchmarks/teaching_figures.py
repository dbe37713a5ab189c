"""Figures for slides, into docs/figures/ (docs/figures/README.md says what each shows).

    timeline.png   a batch of Rollout.collect on three copies of a clock environment: stored steps, the
                   autoreset steps (no transition), episode ends (terminated, truncated), the cut at the
                   batch's end, the segments and what closes each (14)
    examples.png   examples 1 to 3 on one set of axes: 3 seeds, mean return against environment steps,
                   the mean with a min-max band, from the examples' own progress.csv (--out)
    estimators.png bias and variance of every Phi_t (4, 6, 7, 12, 13) against lam and against n, on the
                   chain and the gridworld of nppg/checks/exact.py, with the exact V and a fitted V

    python benchmarks/teaching_figures.py [--out docs/figures] [--runs DIR] [--quick]

The full mode runs each example for 50 epochs with seeds 0, 1, 2 (about 80 s a seed of all three) into
--runs (a temporary folder if not given; a run whose progress.csv is complete is reused), and 20,000
episodes per MDP. --quick (2 epochs of small batches, 2 seeds, 1,000 episodes) checks that every file is
written. Needs matplotlib.
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time

import gymnasium as gym
import numpy as np

import nppg
from nppg.algorithm import closing_values, fit_value
from nppg.checks import exact
from nppg.rollout import Rollout

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from nppg_test_envs import ClockEnv  # noqa: E402  (observation [t, k]: step t of episode k)

EXAMPLES = (("1_simple_pg", "1: R(tau) (4)"), ("2_reward_to_go", "2: reward-to-go (6)"),
            ("3_vpg_gae", "3: V_phi, GAE (12), 2,000-step batches"))
LAMS = (0.0, 0.25, 0.5, 0.75, 0.9, 0.95, 1.0)
NS = (1, 2, 3, 4, 6, 8, 12, 16)


def pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save(fig, path):
    fig.savefig(path, dpi=100)
    pyplot().close(fig)
    print(f"wrote {path} ({os.path.getsize(path) // 1024} KB)")


# ---- (a) a batch's timeline ---------------------------------------------------------------

class RecordingRollout(Rollout):
    """nppg's Rollout, unchanged, keeping what each vector step returned so it can be drawn."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.steps = []

    def step(self, a):
        out = super().step(a)
        s, s2, rew, valid, term, ended = out[:6]
        self.steps.append(dict(s=s.copy(), s2=s2.copy(), valid=valid.copy(), term=term.copy(), ended=ended.copy()))
        return out


def timeline_batch(steps=20, seed=0):
    """Three copies: one that terminates after 3 steps, one truncated by a time limit of 4, one that runs
    on (terminates after 9 steps), so the batch's end cuts it. Returns the rollout, the batch and the closing values."""
    envs = gym.vector.SyncVectorEnv([lambda: ClockEnv(terminate_at=3),
                                     lambda: gym.wrappers.TimeLimit(ClockEnv(), 4),
                                     lambda: ClockEnv(terminate_at=9)])
    rng = np.random.default_rng(seed)
    rollout = RecordingRollout(envs, seed=seed)
    policy = nppg.CategoricalPolicy(2, 2, (8,), rng=rng)
    value_fn = nppg.ValueFunction(2, (8,), rng=rng)
    batch = rollout.collect(policy, steps, rng)
    envs.close()
    return rollout, batch, closing_values(batch, value_fn)


def draw_timeline(path, steps=20):
    plt = pyplot()
    rollout, batch, last_values = timeline_batch(steps)
    rows = rollout.steps
    valid = np.array([r["valid"] for r in rows])                      # (rows, n)
    n_rows, n = valid.shape
    e_idx, t_idx = np.nonzero(valid.T)                                # the batch's order: copy, then time (to_batch)
    seg_of = np.repeat(np.arange(len(batch.starts)), batch.stops - batch.starts)  # (M,) segment of each stored step
    assert np.array_equal(batch.obs, np.array([rows[t]["s"][e] for t, e in zip(t_idx, e_idx)]))
    colors = pyplot().cm.Set2(np.arange(len(batch.starts)) % 8)
    fig, ax = plt.subplots(figsize=(11, 4.3))
    for i, (t, e) in enumerate(zip(t_idx, e_idx)):
        ax.add_patch(plt.Rectangle((t + 0.05, e - 0.32), 0.9, 0.64, color=colors[seg_of[i]], ec="k", lw=0.5))
        step_t, k = batch.obs[i]
        ax.text(t + 0.5, e + 0.1, f"$s_{{{int(step_t)}}}$", ha="center", va="center", fontsize=10)
        ax.text(t + 0.5, e - 0.17, f"ep {int(k)}", ha="center", va="center", fontsize=7, color="0.3")
    for t in range(n_rows):
        for e in range(n):
            if not valid[t, e]:                                       # gymnasium's autoreset step: no transition
                ax.add_patch(plt.Rectangle((t + 0.05, e - 0.32), 0.9, 0.64, fc="white", ec="0.5", lw=0.8, hatch="//"))
                ax.text(t + 0.5, e, "reset\nstep", ha="center", va="center", fontsize=7, color="0.35",
                        bbox=dict(fc="white", ec="none", pad=0.5))
    for j, stop in enumerate(batch.stops):
        i = stop - 1                                                  # the segment's last stored step
        t, e = t_idx[i], e_idx[i]
        if batch.terminated[j]:
            end, label, color = "terminated", "0", "C3"
        elif rows[t]["ended"][e]:
            end, label, color = "truncated", f"$V(s_{{{int(batch.final_obs[j][0])}}})$", "C1"
        else:
            end, label, color = "cut", f"$V(s_{{{int(batch.final_obs[j][0])}}})$", "C0"
        ax.plot([t + 0.97, t + 0.97], [e - 0.4, e + 0.4], color=color, lw=3)
        ax.text(t + 0.97, e - 0.36, f"{end}: {label}", ha="center", va="bottom", fontsize=8, color=color, zorder=5,
                bbox=dict(fc="white", ec=color, lw=0.6, boxstyle="round,pad=0.2"))
        assert (label == "0") == (last_values[j] == 0.0)
    ax.axvline(n_rows + 0.02, color="C0", ls="--", lw=1)
    ax.text(n_rows + 0.15, -0.3, "the batch ends:\nepisodes still\nrunning are cut\nand go on in\nthe next batch",
            fontsize=8, color="C0", va="top")
    ax.set(xlim=(0, n_rows + 1.5), ylim=(-0.85, n - 0.55),
           xlabel="vector step (time)\nHatched: gymnasium's autoreset step (action ignored, reward 0, returns the new "
                  "episode's s_0): no transition, never stored",
           yticks=range(n), yticklabels=["copy 0\nterminates at t=3", "copy 1\ntime limit 4", "copy 2\nterminates at t=9"],
           title=f"Rollout.collect: one batch of {len(batch.rew)} steps from 3 copies. Colour: a segment; "
                 "at its end, the value V(s_T) that closes it (14)")
    ax.title.set_fontsize(10)
    ax.invert_yaxis()
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    save(fig, path)


# ---- (b) examples 1 to 3 on one set of axes -------------------------------------------------

def run_examples(runs, seeds, epochs, batch_size=None):
    """Each example with --out runs/<name>-s<seed>; a run whose progress.csv already has ``epochs`` rows is kept."""
    paths = {}
    for name, _ in EXAMPLES:
        for seed in seeds:
            out = os.path.join(runs, f"{name}-s{seed}")
            csv_path = os.path.join(out, "progress.csv")
            if not (os.path.exists(csv_path) and len(read_progress(csv_path)[0]) >= epochs):
                cmd = [sys.executable, os.path.join(ROOT, "examples", f"{name}.py"), "--seed", str(seed),
                       "--epochs", str(epochs), "--out", out]
                if batch_size is not None:
                    cmd += ["--batch-size", str(batch_size)]
                print(" ".join(cmd[1:]), flush=True)
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
            paths.setdefault(name, []).append(csv_path)
    return paths


def read_progress(path):
    """env_steps and mean_return of each epoch."""
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return (np.array([float(r["env_steps"]) for r in rows]), np.array([float(r["mean_return"]) for r in rows]))


def draw_examples(path, paths):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for i, (name, label) in enumerate(EXAMPLES):
        curves = [read_progress(p) for p in paths[name]]
        x = np.linspace(max(c[0][0] for c in curves), min(c[0][-1] for c in curves), 100)  # steps every seed reached
        y = np.array([np.interp(x, steps, ret) for steps, ret in curves])                 # (seeds, 100)
        ax.fill_between(x, y.min(axis=0), y.max(axis=0), color=f"C{i}", alpha=0.2, lw=0)
        ax.plot(x, y.mean(axis=0), color=f"C{i}", label=f"example {label}")
    ax.axhline(500, color="0.5", lw=0.8, ls=":")
    ax.set(xlabel="environment steps", ylabel="mean return of the epoch's episodes",
           title=f"CartPole-v1: examples 1-3, seeds {', '.join(str(s) for s in range(len(paths[EXAMPLES[0][0]])))} "
                 "(mean, min-max band)")
    ax.title.set_fontsize(10)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save(fig, path)


# ---- (c) bias and variance against lam and n ------------------------------------------------

def fitted_value(mdp, policy, envs, rng, per_copy=2, iters=300):
    """V_phi(s): regression (9) of R_hat_t on onehot(s_t), as examples/estimator_variance.py fits it."""
    batch = exact.episodes(envs, policy, per_copy, rng, seed=int(rng.integers(2**31)))  # seeded resets: reproducible
    value_fn = nppg.ValueFunction(mdp.S, (16,), rng=rng)
    fit_value(value_fn, nppg.Adam(value_fn.params, lr=1e-2), batch.obs, exact.Phi_of(batch, "reward-to-go"), iters)
    return value_fn


def bias_and_variance(G, g):
    """G (K, P): K independent g_hat of one batch each; g (P,) the exact grad J. Returns |E[g_hat] - grad J| / |grad J|
    in %, with |mean - g|^2 less its expected noise tr Var / K (so an unbiased estimator scores about 0), and tr Var."""
    K = len(G)
    var = G.var(axis=0, ddof=1)                                       # (P,)
    bias2 = max(0.0, float(np.sum((G.mean(axis=0) - g) ** 2) - var.sum() / K))
    return 100 * np.sqrt(bias2) / np.linalg.norm(g), var.sum()


def estimator_curves(mdp, episodes, batch_size, rng):
    policy = exact.generic_policy(mdp, rng)
    V = exact.solve(mdp, exact.probs(mdp, policy))[0]
    g = exact.flat(exact.exact_gradient(mdp, policy))
    envs = exact.make_envs(mdp, 100)
    batch = exact.episodes(envs, policy, episodes // 100, rng, seed=int(rng.integers(2**31)))
    vals = {"exact V": exact.step_values(mdp, V, batch), "fitted V": fitted_value(mdp, policy, envs, rng).predict(batch.obs)}
    envs.close()
    measure = lambda Phi: bias_and_variance(exact.g_hats(policy, batch, Phi, batch_size), g)  # noqa: E731
    out = {"R(tau) (4)": measure(exact.Phi_of(batch, "return")),
           "R_hat_t (6)": measure(exact.Phi_of(batch, "reward-to-go"))}
    for which, v in vals.items():
        out[f"GAE (12), {which}"] = np.array([measure(exact.Phi_of(batch, "gae", v, lam)) for lam in LAMS])
        out[f"n-step (13), {which}"] = np.array([measure(exact.Phi_of(batch, "nstep", v, n=n)) for n in NS])
    return out


def draw_estimators(path, episodes, batch_size, seed=0):
    plt = pyplot()
    rng = np.random.default_rng(seed)
    mdps = (("chain", exact.chain()), ("gridworld", exact.gridworld()))
    fig, axes = plt.subplots(2, 4, figsize=(13, 5.6), sharex="col")
    for m, (name, mdp) in enumerate(mdps):
        curves = estimator_curves(mdp, episodes, batch_size, rng)
        for c, (kind, xs, xlabel) in enumerate((("GAE (12)", LAMS, "lam"), ("n-step (13)", NS, "n"))):
            col = 2 * m + c
            for row in range(2):
                ax = axes[row, col]
                for ref, style in (("R(tau) (4)", ":"), ("R_hat_t (6)", "-.")):
                    ax.axhline(curves[ref][row], color="0.4", ls=style, lw=1, label=ref)
                for which, color in (("exact V", "C0"), ("fitted V", "C3")):
                    ax.plot(xs, curves[f"{kind}, {which}"][:, row], marker="o", ms=3, color=color,
                            ls="-" if which == "exact V" else "--", label=f"{kind[:-5]}, {which}")
                ax.grid(alpha=0.3)
            axes[0, col].set_title(f"{name}: {kind} against {xlabel}", fontsize=9)
            axes[1, col].set(xlabel=xlabel, yscale="log")
            axes[1, col].yaxis.set_minor_formatter(plt.NullFormatter())
            if kind.startswith("n-step"):
                axes[1, col].set_xscale("log", base=2)
                axes[1, col].set_xticks(NS, [str(n) for n in NS])
    axes[0, 0].set_ylabel("|bias| / |grad J|  (%)")
    axes[1, 0].set_ylabel(f"tr Var of g_hat, |D| = {batch_size}")
    for col in (1, 3):
        axes[0, col].legend(fontsize=7, loc="upper right")
    fig.suptitle(f"Every Phi_t against the exact gradient ({episodes} episodes per MDP, batches of {batch_size}): "
                 "exact V is unbiased for every lam and n, a fitted V is not", fontsize=10)
    fig.tight_layout()
    save(fig, path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    p.add_argument("--out", default=os.path.join(ROOT, "docs", "figures"))
    p.add_argument("--runs", default=None, help="a folder for the examples' runs (reused when complete)")
    p.add_argument("--quick", action="store_true", help="few seeds, epochs and episodes: checks every file is written")
    args = p.parse_args(argv)
    start = time.perf_counter()
    os.makedirs(args.out, exist_ok=True)
    draw_timeline(os.path.join(args.out, "timeline.png"))
    with tempfile.TemporaryDirectory() as tmp:
        runs = args.runs or tmp
        if args.quick:
            paths = run_examples(runs, seeds=(0, 1), epochs=2, batch_size=300)
        else:
            paths = run_examples(runs, seeds=(0, 1, 2), epochs=50)
        draw_examples(os.path.join(args.out, "examples.png"), paths)
    episodes, batch_size = (1000, 10) if args.quick else (20000, 10)
    draw_estimators(os.path.join(args.out, "estimators.png"), episodes, batch_size)
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
