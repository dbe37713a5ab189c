"""The checks of distributions.py's exercises, categorical (15, 16) and gaussian (17, 18), in the order of the module: each check
registered under its exercise with ``@check``, its hints beside the property it tests."""
import numpy as np

from ... import distributions as R_dist
from .common import (Fail, call, check, close, copies, diagnose, expect, floats, fmt, grad_error, ints, prop, rng_of,
                     side_by_side, unchanged, TOL)

LOG_2PI = np.log(2.0 * np.pi)


def onehot_every_row(z, a):
    """The score with onehot(a) indexed [:, a]: +1 in column a_n of every row."""
    dz = -np.exp(R_dist.log_softmax(z))
    dz[:, a] += 1.0
    return dz


@check('categorical', 'contract', 'shapes, inputs; each row a distribution; logits of 1,000')
def categorical_contract(S):
    d = S.distributions
    z, a = np.random.default_rng(0).standard_normal((3, 4)), np.array([0, 3, 1])
    before, inputs = copies(z, a), fmt(z=z, a=a)
    logp = call("log_softmax", d.log_softmax, z, inputs=inputs, errors=[(
        "broadcast", "the logsumexp without keepdims: summed over axis=-1 it is (N,), which does not broadcast against "
        "z (N, K); keepdims=True keeps it (N, 1), one per row")])
    expect("log_softmax(z)", logp, (3, 4), inputs, "log_softmax keeps z's shape (N, K): one log-probability per "
           "action and row")
    sums = np.exp(logp).sum(axis=-1)
    if not close(sums, np.ones(3), 1e-9):
        raise Fail(f"exp(log_softmax(z)) sums to {fmt(sums=sums)} along each row, not 1, on {inputs}",
                   diagnose(logp, [(z - np.log(np.exp(z).sum(axis=0, keepdims=True)),
                                    "normalised along the wrong axis: axis=0 runs over the batch's rows; the "
                                    "logsumexp of (15) is over each row's K actions, axis=-1 with keepdims=True"),
                                   (z - np.log(np.exp(z).sum()), "normalised over the whole batch: the logsumexp "
                                    "of (15) is over each row's K actions (axis=-1, keepdims=True), not every entry")],
                            "log pi(.|s) = z - logsumexp(z) along each row (axis=-1): every row is a distribution"),
                   "15")
    expect("categorical_log_prob(z, a)", call("categorical_log_prob", d.categorical_log_prob, z, a, inputs=inputs),
           (3,), inputs, "log pi(a|s) picks row n's own action a_n: log_softmax(z)[np.arange(N), a] is (N,); "
           "log_softmax(z)[:, a] is an (N, N) table of every row at every row's action")
    expect("categorical_score(z, a)", call("categorical_score", d.categorical_score, z, a, inputs=inputs, errors=[(
        "out of bounds", "onehot(a) indexed by rows: dz[a] picks whole rows a_n; row n's own action is dz[np.arange(N), "
        "a]")]), (3, 4), inputs)
    unchanged("the categorical functions", before, [z, a], inputs)
    z = np.array([[1000.0, 0.0, -1000.0, 3.0], [1000.0, 1000.0, 999.0, -5.0], [-1000.0, -1000.0, -1000.0, -1000.0]])
    inputs = fmt(z=z, a=a)
    for name in ("log_softmax", "categorical_log_prob", "categorical_score"):
        f = getattr(d, name)
        out = np.asarray(call(name, f, *((z,) if name == "log_softmax" else (z, a)), inputs=inputs), dtype=np.float64)
        sums = np.exp(out).sum(axis=-1) if name == "log_softmax" else np.ones(3)
        if not np.all(np.isfinite(out)) or not close(sums, np.ones(3), 1e-9):
            underflow = np.any(np.isneginf(out)) and not np.any(np.isnan(out) | np.isposinf(out))
            ref = R_dist.log_softmax(z)
            if name == "log_softmax" and np.array_equal(np.isfinite(out), np.isfinite(z - z.max() - np.log(
                    np.exp(z - z.max()).sum(axis=-1, keepdims=True)))):
                raise Fail(f"{name} gives {fmt(out=out)}, not {fmt(want=ref)}, on logits of 1,000: {inputs}",
                           "the max taken over the whole batch (z.max()), not each row's: a row far below the "
                           "batch's max underflows; subtract z.max(axis=-1, keepdims=True), each row's own (15)", "15")
            raise Fail(f"{name} gives {fmt(out=out)} on logits of 1,000: {inputs}",
                       "the log of the softmax: exp(z - max) underflows to 0 for a logit far below the max "
                       "(exp(-2000)), and log(0) = -inf; never log(softmax(z)): compute z - max - log(sum exp(z - max))"
                       " (15)"
                       if underflow else
                       "softmax without subtracting the max: exp(1000) overflows to inf (and inf / inf is nan); "
                       "subtract max(z) along each row first, as (15) does", "15")


@check('categorical', 'math', 'softmax sums to 1; the score against finite differences; E[score] = 0')
def categorical_math(S):
    d = S.distributions

    def test(draw):
        N, K, rng, scale = ints(draw, 1, 5), ints(draw, 2, 6), rng_of(draw), floats(draw, 0.1, 10.0)
        z, a, w = scale * rng.standard_normal((N, K)), rng.integers(0, K, N), rng.standard_normal(N)
        inputs = fmt(z=z, a=a)
        logp = call("log_softmax", d.log_softmax, z, inputs=inputs)
        if not close(np.exp(logp).sum(axis=-1), np.ones(N), 1e-10):
            raise Fail(f"exp(log_softmax(z)) sums to {fmt(s=np.exp(logp).sum(axis=-1))} over the actions, not 1, on "
                       f"{inputs}", diagnose(logp, [(np.log(np.exp(z) / np.exp(z).sum()), "the softmax normalised over "
                                                     "the whole batch: logsumexp is taken along each row (axis=-1)")],
                                             "log pi = z - logsumexp(z) along each row: every row is a distribution"),
                       "15")
        lp = call("categorical_log_prob", d.categorical_log_prob, z, a, inputs=inputs)
        if not close(lp, R_dist.log_softmax(z)[np.arange(N), a]):
            raise Fail(f"categorical_log_prob(z, a) = {fmt(lp=np.asarray(lp))} is not log_softmax(z) at each row's own "
                       f"action, on {inputs}", "log pi(a|s) picks row n's entry a_n: log_softmax(z)[arange(N), a]", "15")
        score = call("categorical_score", d.categorical_score, z, a, inputs=inputs)
        err, num = grad_error(lambda: float(w @ R_dist.categorical_log_prob(z, a)), z,
                              w[:, None] * np.asarray(score, dtype=np.float64))
        if err > TOL:
            ref = R_dist.categorical_score(z, a)
            raise Fail(f"categorical_score = {fmt(score=np.asarray(score))} is not the gradient of log pi(a|s) "
                       f"(finite differences: {fmt(num=num / np.where(w == 0, 1, w)[:, None])}), on {inputs}",
                       diagnose(score, [(-ref, "a sign flipped in the score: d log pi(a|s)/dz = onehot(a) - softmax(z), "
                                         "not softmax(z) - onehot(a)"),
                                        (np.eye(K)[a], "the softmax term is missing: logsumexp(z) depends on every "
                                         "logit, so d log pi/dz = onehot(a) - softmax(z)"),
                                        (np.eye(K)[a] - z, "softmax(z), not z: d logsumexp(z)/dz = softmax(z)"),
                                        (np.eye(K)[a] - R_dist.log_softmax(z), "log_softmax(z) where softmax(z) "
                                         "belongs: the score is onehot(a) - softmax(z), softmax = exp(log_softmax(z))"),
                                        (onehot_every_row(z, a), "onehot(a) indexed [:, a] adds 1 in every row: row "
                                         "n gets +1 at its own action only, dz[np.arange(N), a] += 1")],
                                "d log pi(a|s)/dz = onehot(a) - softmax(z), in closed form (16)"), "16")
        pi = np.exp(R_dist.log_softmax(z))
        mean = sum(pi[:, [k]] * np.asarray(d.categorical_score(z, np.full(N, k))) for k in range(K))
        if not close(mean, np.zeros((N, K)), 1e-10):
            raise Fail(f"sum_a pi(a|s) score(z, a) = {fmt(mean=mean)} is not 0 (5), on {fmt(z=z)}",
                       "the expected score is 0 (EGLP, (5)): onehot(a) - softmax(z) averages to 0 under pi", "16")
    prop(15)(test)


@check('categorical', 'agreement', "nppg's functions")
def categorical_agree(S):
    d = S.distributions
    eqs = {"log_softmax": "15", "categorical_log_prob": "15", "categorical_score": "16"}

    def test(draw):
        N, K, rng = ints(draw, 1, 6), ints(draw, 2, 6), rng_of(draw)
        z, a = 10 * rng.standard_normal((N, K)), rng.integers(0, K, N)
        inputs = fmt(z=z, a=a)
        for name in ("log_softmax", "categorical_log_prob", "categorical_score"):
            args = (z,) if name == "log_softmax" else (z, a)
            got, ref = call(name, getattr(d, name), *args, inputs=inputs), getattr(R_dist, name)(*args)
            if not close(got, ref):
                raise Fail(side_by_side(name, got, ref, inputs),
                           f"{name} is right on the properties above but not on these logits (large, or {N} row(s) of "
                           f"{K}): look at the entry shown ({eqs[name]})", eqs[name])
    prop(15)(test)


# ---- 3. gaussian (17, 18) -------------------------------------------------------------------------

@check('gaussian', 'contract', 'shapes and inputs')
def gaussian_contract(S):
    d, rng = S.distributions, np.random.default_rng(0)
    mu, log_std, a = rng.standard_normal((3, 2)), np.array([-0.5, 0.3]), rng.standard_normal((3, 2))
    before, inputs = copies(mu, log_std, a), fmt(mu=mu, log_std=log_std, a=a)
    expect("gaussian_log_prob", call("gaussian_log_prob", d.gaussian_log_prob, mu, log_std, a, inputs=inputs), (3,),
           inputs, "one log-density per row: sum over the action dimensions (axis=-1)")
    out = call("gaussian_score", d.gaussian_score, mu, log_std, a, inputs=inputs)
    if not (isinstance(out, tuple) and len(out) == 2):
        raise Fail(f"gaussian_score returned {type(out).__name__}, not a pair (dmu, dlog_std)", "return dmu, dlog_std",
                   "18")
    expect("gaussian_score's dmu", out[0], (3, 2), inputs)
    expect("gaussian_score's dlog_std", out[1], (3, 2), inputs, "dlog_std has one row per sample (N, d_a)")
    unchanged("the Gaussian functions", before, [mu, log_std, a], inputs)


def gaussian_mistakes(mu, ls, a):
    """The 1-d log-density at ``a`` with the usual slips, each with its hint."""
    ref, sigma = R_dist.gaussian_log_prob(mu, ls, a), np.exp(ls)
    u_ls = (a - mu) / ls[None, :]     # log_std used as sigma
    return [(-0.5 * (LOG_2PI + (u_ls ** 2 + 2 * np.log(np.abs(ls))).sum(axis=-1)), LOG_STD_AS_SIGMA),
            (-0.5 * (LOG_2PI + (u_ls ** 2 + 2 * ls).sum(axis=-1)), LOG_STD_AS_SIGMA),
            (-0.5 * (LOG_2PI + (u_ls ** 2).sum(axis=-1)) - np.log(np.abs(ls)).sum(), LOG_STD_AS_SIGMA),
            (ref - 0.5 * (len(mu) - 1) * LOG_2PI, "the constant counted once per row: d_a is the number of action "
             "dimensions, mu.shape[1], not the number of rows mu.shape[0] (17)"),
            (ref + 0.5 * LOG_2PI, "the normaliser's log 2pi is missing: -1/2 d_a log 2pi belongs to the log-density "
             "(17), or it does not integrate to 1"),
            (ref + ls.sum() - np.exp(ls).sum(), "sigma where log sigma belongs in the normaliser: it is 2 log sigma_i "
             "= 2 log_std_i, not 2 sigma_i (17)"),
            (ref + 0.5 * ls.sum(), "log sigma without its factor 2: inside the -1/2 the normaliser is 2 log sigma_i, "
             "i.e. -log sigma_i outside (17)"),
            (ref - ls.sum(), "log sigma with the wrong sign: the normaliser is -log sigma_i (17)"),
            (-0.5 * (LOG_2PI + (((a - mu) / sigma ** 2) ** 2 + 2 * ls).sum(axis=-1)),
             "u divided by the variance: u_i = (a_i - mu_i) / sigma_i, divided by sigma once (17)"),
            (2 * ref, "the -1/2 is missing on part of (17): log pi = -1/2 (d_a log 2pi + sum_i [u_i^2 + "
             "2 log sigma_i])")]


LOG_STD_AS_SIGMA = ("log_std used as sigma: log_std is log sigma, so sigma = np.exp(log_std) (exp(log_std)) and "
                    "u_i = (a_i - mu_i) / sigma_i = (a_i - mu_i) exp(-log_std_i); the normaliser is 2 log sigma_i = "
                    "2 log_std_i (17)")


@check('gaussian', 'math', 'the 1-d log-density; it integrates to 1; factorises; the scores against finite differences')
def gaussian_math(S):
    d = S.distributions
    # one dimension, a few points, log_std > 0 so that a slip with log_std as sigma stays finite and shows
    mu, ls = np.array([[0.3], [0.3], [-1.0], [0.5]]), np.array([0.7])
    a = np.array([[0.3], [1.9], [0.2], [-2.0]])
    inputs = fmt(mu=mu[:, 0], log_std=ls, a=a[:, 0])
    got = np.asarray(call("gaussian_log_prob", d.gaussian_log_prob, mu, ls, a, inputs=inputs), dtype=np.float64)
    want = R_dist.gaussian_log_prob(mu, ls, a)
    if not close(got, want):
        raise Fail(f"gaussian_log_prob = {fmt(logp=got)}, not log N(a; mu, sigma^2) = {fmt(want=want)} in one "
                   f"dimension, on {inputs}",
                   diagnose(got, gaussian_mistakes(mu, ls, a), "log pi(a|s) = -1/2 (log 2pi + u^2 + 2 log sigma) in "
                            "one dimension, u = (a - mu) / sigma, sigma = exp(log_std) (17)"), "17")
    # a density integrates to 1: d_a = 1 on a fine grid
    for mu0, ls0 in ((0.3, -0.2), (-1.0, 0.7)):
        grid = np.linspace(mu0 - 12 * np.exp(ls0), mu0 + 12 * np.exp(ls0), 6001)[:, None]
        logp = call("gaussian_log_prob", d.gaussian_log_prob, np.full_like(grid, mu0), np.array([ls0]), grid,
                    inputs=fmt(mu=mu0, log_std=ls0))
        total = float(np.sum(np.exp(logp)) * (grid[1, 0] - grid[0, 0]))
        if abs(total - 1) > 1e-6:
            raise Fail(f"exp(gaussian_log_prob) integrates to {total:.6g}, not 1, at mu = {mu0}, log_std = {ls0}",
                       "a density integrates to 1: check the constant -1/2 d_a log 2pi, the -log sigma_i term "
                       "(2 log sigma_i inside the 1/2) and u_i = (a_i - mu_i) / sigma_i (17)", "17")

    def test(draw):
        N, n, rng = ints(draw, 1, 5), ints(draw, 1, 3), rng_of(draw)
        mu, log_std = rng.standard_normal((N, n)), rng.uniform(-1.0, 0.5, n)
        a, w = mu + np.exp(log_std) * rng.standard_normal((N, n)), rng.standard_normal(N)
        inputs = fmt(mu=mu, log_std=log_std, a=a)
        lp = call("gaussian_log_prob", d.gaussian_log_prob, mu, log_std, a, inputs=inputs)
        parts = sum(R_dist.gaussian_log_prob(mu[:, [i]], log_std[[i]], a[:, [i]]) for i in range(n))
        if not close(lp, parts):
            raise Fail(f"gaussian_log_prob = {fmt(lp=np.asarray(lp))} is not the sum of the {n} dimensions' "
                       f"log-densities {fmt(parts=parts)}, on {inputs}",
                       diagnose(lp, [(parts + 0.5 * (n - 1) * LOG_2PI, "log 2pi counted once: the constant is "
                                      "d_a/2 log 2pi, once per action dimension (mu.shape[1] of them) (17)")],
                                "a diagonal Gaussian's log-density is a sum over the action dimensions, each with its "
                                "own sigma_i; the constant is d_a/2 log 2pi (17)"), "17")
        dmu, dls = call("gaussian_score", d.gaussian_score, mu, log_std, a, inputs=inputs)
        f = lambda: float(w @ R_dist.gaussian_log_prob(mu, log_std, a))  # noqa: E731
        rmu, rls = R_dist.gaussian_score(mu, log_std, a)
        u, sigma = (a - mu) / np.exp(log_std), np.exp(log_std)
        if np.shape(dmu) != (N, n) or grad_error(f, mu, w[:, None] * dmu)[0] > TOL:
            raise Fail(f"gaussian_score's dmu = {fmt(dmu=np.asarray(dmu))} is not d log pi / d mu {fmt(rmu=rmu)}, on "
                       f"{inputs}", diagnose(dmu, [(-rmu, "a sign flipped in the score: d/d mu = (a - mu) / sigma^2"),
                                                   (u, "(a - mu) / sigma^2: divide by sigma twice, not once"),
                                                   (a - mu, "(a - mu) / sigma^2: the 1/sigma^2 is missing")],
                                             "d log pi / d mu_i = (a_i - mu_i) / sigma_i^2 (18)"), "18")
        if np.shape(dls) != (N, n) or grad_error(f, log_std, w @ np.asarray(dls))[0] > TOL:
            raise Fail(f"gaussian_score's dlog_std = {fmt(dlog_std=np.asarray(dls))} is not d log pi / d log sigma "
                       f"{fmt(rls=rls)}, on {inputs}",
                       diagnose(dls, [(u * u, "the -1 is missing: d log pi / d log sigma = u^2 - 1; the -1 comes from "
                                       "the -log sigma of the normaliser, and without it E[score] is 1, not 0 (5)"),
                                      (-rls, "a sign flipped: d log pi / d log sigma = u^2 - 1"),
                                      (u * u / sigma - 1, "the score is with respect to log sigma, not sigma: "
                                       "u^2 - 1 (chain rule through sigma = exp(log sigma))"),
                                      ((u / sigma) ** 2 - 1, "u divided by the variance: u_i = (a_i - mu_i) / sigma_i "
                                       "(once), and d log pi / d log sigma_i = u_i^2 - 1; d/d mu_i is u_i / sigma_i")],
                                "d log pi / d log sigma_i = u_i^2 - 1 with u_i = (a_i - mu_i) / sigma_i (18)"), "18")
    prop(15)(test)


@check('gaussian', 'agreement', "nppg's functions")
def gaussian_agree(S):
    d = S.distributions

    def test(draw):
        N, n, rng = ints(draw, 1, 6), ints(draw, 1, 4), rng_of(draw)
        mu, log_std, a = rng.standard_normal((N, n)), rng.uniform(-2, 1, n), 2 * rng.standard_normal((N, n))
        inputs = fmt(mu=mu, log_std=log_std, a=a)
        got, ref = call("gaussian_log_prob", d.gaussian_log_prob, mu, log_std, a, inputs=inputs), \
            R_dist.gaussian_log_prob(mu, log_std, a)
        if not close(got, ref):
            raise Fail(side_by_side("gaussian_log_prob", got, ref, inputs),
                       diagnose(got, gaussian_mistakes(mu, log_std, a) if n == 1 else [],
                                "right on the properties above but not here (log_std down to -2, actions far from "
                                "mu): look at the row shown (17)"), "17")
        got = call("gaussian_score", d.gaussian_score, mu, log_std, a, inputs=inputs)
        for name, g, r in zip(("dmu", "dlog_std"), got, R_dist.gaussian_score(mu, log_std, a)):
            if not close(g, r):
                raise Fail(side_by_side(f"gaussian_score's {name}", g, r, inputs),
                           "right on the properties above but not here (log_std down to -2, actions far from mu): "
                           "dmu = (a - mu) / sigma^2, dlog_std = u^2 - 1 (18)", "18")
    prop(15)(test)
