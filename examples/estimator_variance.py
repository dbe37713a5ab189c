"""The estimators of grad J side by side, against the exact gradient (docs/theory.md).

On the chain and the gridworld of ``nppg/checks/exact.py``, where J(theta) and grad J(theta) are known
exactly, with the policy of tests/test_exact.py (at the default --seed 0: the same MDPs and J), every choice
of Phi_t in (8) estimates the gradient from many independent batches of whole episodes, collected by nppg's
own code. For each one the table shows

    bias      E[g_hat] - grad J along grad J, in % of |grad J|, with a 95% confidence interval;
    max|z|    the largest |E[g_hat] - grad J| / standard error over all coordinates: an unbiased
              estimator stays below ~4, a biased one grows without bound as batches are added;
    tr Var    the total variance sum_i Var[g_hat_i] of one batch's estimate;
    cos       the cosine between the mean estimate and grad J.

The exact V is V^pi of the exact state (with the steps left, on the gridworld); the fitted V is
nppg's ValueFunction V_phi(s) fit by regression (9) on a separate batch: it cannot see the
time, so on the gridworld it is inexact, and GAE with lam < 1 shows the bias that this costs.
With --out PATH it also draws the variance against the batch size into PATH (needs matplotlib);
without it, it writes nothing.

    python examples/estimator_variance.py [--episodes 20000] [--batch 10] [--seed 0] [--out PATH]
"""
import argparse
import time

import numpy as np

import nppg
from nppg.algorithm import fit_value
from nppg.checks import exact


def fitted_value(mdp, policy, envs, rng, per_copy=2, iters=300):
    """V_phi(s): regression (9) of R_hat_t on onehot(s_t), full-batch Adam, on episodes of its own."""
    batch = exact.episodes(envs, policy, per_copy, rng)
    value_fn = nppg.ValueFunction(mdp.S, (16,), rng=rng)
    fit_value(value_fn, nppg.Adam(value_fn.params, lr=1e-2), batch.obs, exact.Phi_of(batch, "reward-to-go"), iters)
    return value_fn


def estimators(mdp, batch, V, value_fn):
    """Every row of the table: its name, with its equation, and Phi_t (M,) for the batch."""
    v_exact = exact.step_values(mdp, V, batch)       # V^pi(x_t), (M,)
    v_fit = value_fn.predict(batch.obs)              # V_phi(s_t), (M,)
    rows = {("R(tau)", "4"): exact.Phi_of(batch, "return"),
            ("R_hat_t", "6"): exact.Phi_of(batch, "reward-to-go"),
            ("R_hat_t - V, exact V", "7"): exact.Phi_of(batch, "baseline", v_exact),
            ("R_hat_t - V, fitted V", "7"): exact.Phi_of(batch, "baseline", v_fit)}
    for n in (1, 2, 4, 8):
        rows[f"n-step n={n}, exact V", "13"] = exact.Phi_of(batch, "nstep", v_exact, n=n)
    for n in (1, 2, 4, 8):
        rows[f"n-step n={n}, fitted V", "13"] = exact.Phi_of(batch, "nstep", v_fit, n=n)
    for lam in (1.0, 0.5, 0.0):
        rows[f"GAE lam={lam:.1f}, exact V", "12"] = exact.Phi_of(batch, "gae", v_exact, lam)
    for lam in (1.0, 0.9, 0.5, 0.0):
        rows[f"GAE lam={lam:.1f}, fitted V", "12"] = exact.Phi_of(batch, "gae", v_fit, lam)
    return {f"{name:24s} {f'({eq})':>5s}": Phi for (name, eq), Phi in rows.items()}


def summary(G, g):
    """G (K, P): K independent estimates g_hat; g (P,) the exact gradient."""
    K, u = len(G), g / np.linalg.norm(g)
    mean, se = G.mean(axis=0), G.std(axis=0, ddof=1) / np.sqrt(K)   # (P,), (P,)
    along = (G - g) @ u / np.linalg.norm(g) * 100                     # (K,) bias along grad J, in %
    ci = 1.96 * along.std(ddof=1) / np.sqrt(K)
    seen = se > 0  # a parameter no sampled state reaches (the goal's row of W0) has g_hat = grad J = 0
    z = np.abs(mean - g)[seen] / se[seen]
    cos = mean @ u / np.linalg.norm(mean)
    return along.mean(), ci, z.max(), G.var(axis=0, ddof=1).sum(), cos


def run(name, mdp, args):
    policy = exact.generic_policy(mdp, np.random.default_rng(args.seed))  # tests/test_exact.py's policy, at seed 0
    rng = np.random.default_rng(args.seed)                                 # the episodes' actions and the fit
    V, _, _ = exact.solve(mdp, exact.probs(mdp, policy))
    g = exact.flat(exact.exact_gradient(mdp, policy))
    envs = exact.make_envs(mdp, 100)
    batch = exact.episodes(envs, policy, args.episodes // 100, rng, seed=args.seed)
    value_fn = fitted_value(mdp, policy, envs, rng)
    E = len(batch.starts)
    print(f"\n{name}: J = {exact.J(mdp, policy):.3f}, |grad J| = {np.linalg.norm(g):.3f} ({len(g)} parameters); "
          f"{E} episodes, mean length {len(batch.rew) / E:.1f}, as {E // args.batch} batches of |D| = {args.batch}")
    print(f"{'Phi_t':30s} {'bias along grad J (95% CI)':>27s} {'max|z|':>7s} {'tr Var':>10s} {'cos':>6s}")
    variances = {}
    for label, Phi in estimators(mdp, batch, V, value_fn).items():
        G = exact.g_hats(policy, batch, Phi, args.batch)            # (E // batch, P), one g_hat per batch
        bias, ci, zmax, var, cos = summary(G, g)
        print(f"{label:30s} {bias:+7.1f}% ({bias - ci:+6.1f}, {bias + ci:+6.1f})% {zmax:7.1f} {var:10.3f} {cos:6.3f}")
        # g_hat of m batches together is the mean of their g_hat: (8) is an average over D
        variances[label] = [(m * args.batch, G.reshape(-1, m, len(g)).mean(axis=1).var(axis=0, ddof=1).sum())
                            for m in (1, 2, 5, 10, 20) if len(G) // m >= 50]
    envs.close()
    return variances


def plot(results, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"\nno plot: matplotlib is not installed (pip install 'nppg[plot]'); {path} not written")
        return
    fig, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results) + 3, 4.5), squeeze=False)
    for ax, (name, variances) in zip(axes[0], results.items()):
        for i, (label, points) in enumerate(variances.items()):
            B, var = zip(*points)
            ax.loglog(B, var, marker="o", ms=3, color=plt.cm.tab20(i), ls="--" if "fitted" in label else "-",
                      label=label.rsplit("(", 1)[0].strip())
        ax.set(title=name, xlabel="batch size |D| (episodes)", ylabel="total variance of g_hat")
        ax.grid(alpha=0.3, which="both")
    axes[0, -1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"\nwrote {path}: every line falls as 1/|D|; the order between them is the table's")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    p.add_argument("--episodes", type=int, default=20000, help="episodes per MDP (a multiple of 100 and of --batch)")
    p.add_argument("--batch", type=int, default=10, help="episodes per batch |D| in the table")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="a picture file of variance against batch size; none if not given")
    args = p.parse_args()
    if args.episodes % 100 or args.episodes % args.batch:
        raise SystemExit("--episodes must be a multiple of 100 and of --batch")
    start = time.perf_counter()
    results = {name: run(name, mdp, args) for name, mdp in (("chain", exact.chain()), ("gridworld", exact.gridworld()))}
    if args.out is not None:
        plot(results, args.out)
    print(f"({time.perf_counter() - start:.0f} s)")
