"""nppg exercise check: grade a workspace (``exercise.py``), one exercise at a time, in ladder order.

Each exercise's checks come in three kinds, in this order, and the first that fails ends the exercise:
the contract (shapes, dtypes, inputs left as they were, no overflow), the math as properties that need no
solution (gradients against finite differences, the derivation's identities and invariants, an unbiased
estimate on an exact MDP), and last, agreement with nppg's own function. A failure says what failed on which
input, the equation, and a hint naming the misconception most likely behind it: where the student's output
equals a known mistake's, that mistake is named. hypothesis draws the shapes and seeds (derandomized, so
every run checks the same examples); it is imported only here."""
import json
import warnings

import gymnasium as gym
import numpy as np

from .. import advantages as R_adv
from .. import algorithm as R_alg
from .. import distributions as R_dist
from .. import nn as R_nn
from .. import normalize as R_norm
from .. import optim as R_optim
from .. import policies as R_pol
from .. import rollout as R_roll
from ..checks import exact
from ..checks.gradcheck import check_grads, numerical_grad, rel_error
from ..rollout import Batch
from .exercise import BY_NAME, LADDER, load

TOL = 1e-6      # relative error of a gradient against finite differences
CLOSE = 1e-8    # identities and agreement: rtol = atol
Z_MAX = 5.0     # the exact-MDP check: max |z| over the coordinates of an unbiased estimate stays below ~4


class Fail(Exception):
    def __init__(self, what, hint, eq=None):
        super().__init__(what)
        self.what, self.hint, self.eq = what, hint, eq


class NotYet(Exception):
    pass


# ---- helpers -------------------------------------------------------------------------------------

def fmt(**named):
    def one(x):
        if isinstance(x, np.ndarray):
            return np.array2string(x, precision=4, threshold=24, max_line_width=10**6, separator=", ").replace("\n", "")
        if isinstance(x, float):
            return f"{x:.4g}"
        return repr(x)
    return ", ".join(f"{k}={one(v)}" for k, v in named.items())


def call(label, f, *args, inputs=""):
    """f(*args); a blank raises NotYet, any other exception becomes a failure that names the input."""
    try:
        return f(*args)
    except NotImplementedError as e:
        raise NotYet(str(e)) from None
    except Exception as e:  # the student's code: report it, not a traceback
        raise Fail(f"{label} raised {type(e).__name__}: {e}, on {inputs}",
                   "read the error: it points at a shape or an index that does not fit the docstring") from None


def close(a, b, tol=CLOSE):
    try:
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return a.shape == b.shape and bool(np.all(np.isfinite(a) == np.isfinite(b))) and \
        np.allclose(a, b, rtol=tol, atol=tol, equal_nan=True)


def diagnose(out, mistakes, default):
    """The hint of the first known mistake whose output equals the student's, else ``default``."""
    for value, hint in mistakes:
        if close(out, value, 1e-6):
            return hint
    return default


def expect(label, out, shape, inputs, hint=None):
    if not isinstance(out, np.ndarray):
        raise Fail(f"{label} returned a {type(out).__name__}, not a NumPy array, on {inputs}",
                   hint or "return an np.ndarray of the shape the docstring gives")
    if out.shape != shape:
        raise Fail(f"{label} returned shape {out.shape}, expected {shape}, on {inputs}",
                   hint or "check which axis you sum over, and the shapes in the docstring")
    if out.dtype != np.float64:
        raise Fail(f"{label} returned dtype {out.dtype}, expected float64, on {inputs}",
                   "the algorithm is float64 throughout: keep float64 inputs float64")


def unchanged(label, before, after, inputs):
    for k, (b, a) in enumerate(zip(before, after)):
        if not np.array_equal(b, a):
            raise Fail(f"{label} changed its input #{k + 1} in place, on {inputs}",
                       "a function of the algorithm never writes into its inputs: compute into a new array "
                       "(x -= ... or x[...] = ... on an argument changes the caller's data)")


def grad_error(f, x, got):
    """rel_error of ``got`` against finite differences of f in x, less the differences' own rounding noise."""
    num = numerical_grad(f, x)
    if np.shape(got) != num.shape:
        return np.inf, num
    return rel_error(got, num, noise=10.0 * np.spacing(abs(f())) / 1e-3), num


def copies(*xs):
    return [np.array(x, copy=True) for x in xs]


def prop(n=15):
    """Run ``test(draw)`` on ``n`` derandomized hypothesis examples; ``draw`` is hypothesis's data object. The
    first failing example is reported as drawn: shapes are at most 8 or so, and a failing check takes no time."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import strategies as st

    def run(test):
        given(st.data())(settings(max_examples=n, derandomize=True, database=None, deadline=None,
                                  phases=(Phase.explicit, Phase.generate),  # no shrinking: inputs are small already
                                  verbosity=Verbosity.quiet, report_multiple_bugs=False, print_blob=False,
                                  suppress_health_check=list(HealthCheck))(test))()
    return run


def ints(draw, lo, hi):
    from hypothesis import strategies as st
    return draw.draw(st.integers(lo, hi))


def floats(draw, lo, hi):
    from hypothesis import strategies as st
    return draw.draw(st.floats(lo, hi, allow_nan=False))


def rng_of(draw):
    return np.random.default_rng(ints(draw, 0, 2**32 - 1))


# ---- 1. backprop (20, 21) ------------------------------------------------------------------------

def backprop_contract(S):
    rng = np.random.default_rng(0)
    x, W, dy = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal((3, 2))
    before, inputs = copies(x, W, dy), fmt(x=x, W=W, dy=dy)
    out = call("linear_backward", S.nn.linear_backward, dy, (x, W), inputs=inputs)
    if not (isinstance(out, tuple) and len(out) == 3):
        raise Fail(f"linear_backward returned {type(out).__name__}, not a tuple (dx, dW, db)", "return dx, dW, db", "20")
    for name, o, shape, hint in (("dx", out[0], (3, 4), "dx = dy W^T has x's shape (N, D)"),
                                 ("dW", out[1], (4, 2), "dW = x^T dy has W's shape (D, H); dy^T x is its transpose"),
                                 ("db", out[2], (2,), "db = 1^T dy sums dy over the N rows: shape (H,)")):
        expect(f"linear_backward's {name}", o, shape, inputs, hint)
    unchanged("linear_backward", before, [x, W, dy], inputs)
    y, up = np.tanh(x), rng.standard_normal((3, 4))
    before, inputs = copies(up, y), fmt(dy=up, y=y)
    expect("tanh_backward", call("tanh_backward", S.nn.tanh_backward, up, y, inputs=inputs), (3, 4), inputs)
    unchanged("tanh_backward", before, [up, y], inputs)


def backprop_gradients(S):
    def test(draw):
        N, D, H, rng = ints(draw, 1, 5), ints(draw, 1, 5), ints(draw, 1, 5), rng_of(draw)
        x, W, b, dy = rng.standard_normal((N, D)), rng.standard_normal((D, H)), rng.standard_normal(H), \
            rng.standard_normal((N, H))
        inputs = fmt(x=x, W=W, dy=dy)
        dx, dW, db = call("linear_backward", S.nn.linear_backward, dy, (x.copy(), W.copy()), inputs=inputs)
        f = lambda: float(np.sum(dy * (x @ W + b)))  # noqa: E731  a random upstream gradient dy
        for name, got, at, mistakes, default in (
                ("dx", dx, x, [(dy @ W.T * 0, "dx is zero: dx = dy W^T")], "dx = dy W^T: each input gets dy through "
                 "the weights it multiplied"),
                ("dW", dW, W, [(x.T @ dy / N, "the mean where a sum belongs: dW = x^T dy sums over the N rows")],
                 "dW = x^T dy"),
                ("db", db, b, [(dy.mean(axis=0), "the mean where a sum belongs: db = 1^T dy sums dy over the N rows "
                                "(every row adds b)")], "db = 1^T dy, the sum of dy over the rows")):
            err, num = grad_error(f, at, got)
            if err > TOL:
                raise Fail(f"linear_backward's {name} = {fmt(got=np.asarray(got))} disagrees with finite differences "
                           f"{fmt(num=num)}, on {inputs}", diagnose(got, mistakes, default), "20")
        y, up = np.tanh(x), rng.standard_normal((N, D))
        got = call("tanh_backward", S.nn.tanh_backward, up, y, inputs=fmt(dy=up, y=y))
        err, num = grad_error(lambda: float(np.sum(up * np.tanh(x))), x, got)
        if err > TOL:
            raise Fail(f"tanh_backward(dy, y) = {fmt(got=np.asarray(got))} disagrees with finite differences "
                       f"{fmt(num=num)}, on {fmt(dy=up, y=y)}",
                       diagnose(got, [(up * (1 - np.tanh(y) ** 2), "tanh applied twice: tanh_backward receives y = "
                                       "tanh(x), the forward's output, so dx = dy (1 - y^2), not 1 - tanh(y)^2"),
                                      (up * (1 - y), "1 - y^2, not 1 - y: d tanh(x)/dx = 1 - tanh(x)^2"),
                                      (-up * (1 - y ** 2), "a sign flipped: dx = dy (1 - y^2)")],
                                "d tanh(x)/dx = 1 - tanh(x)^2 = 1 - y^2, times the upstream dy"), "21")
    prop(12)(test)


def backprop_mlp(S):
    rng = np.random.default_rng(1)
    net = S.nn.MLP((3, 4, 4, 2), "tanh", rng)
    x, dy = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    for k, p in net.params.items():
        p[...] = rng.standard_normal(p.shape) / np.sqrt(p.shape[0]) if k.startswith("W") else 0.1 * rng.standard_normal(p.shape)
    y, cache = call("MLP.forward", net.forward, x, inputs="x (5, 3)")
    grads = call("MLP.backward", net.backward, dy, cache, inputs="dy (5, 2)")[0]
    errors = check_grads(lambda: float(np.sum(dy * net.forward(x)[0])), net.params, grads)
    if max(errors.values()) > TOL:
        raise Fail(f"through an MLP (3, 4, 4, 2) with tanh, the gradients disagree with finite differences: relative "
                   f"errors {fmt(**{k: float(v) for k, v in errors.items()})}",
                   "each layer passes on dx to the layer below: check that linear_backward's dx and tanh_backward "
                   "chain (20, 21)", "20, 21")


def backprop_agree(S):
    def test(draw):
        N, D, H, rng = ints(draw, 1, 6), ints(draw, 1, 6), ints(draw, 1, 6), rng_of(draw)
        x, W, dy = rng.standard_normal((N, D)), rng.standard_normal((D, H)), rng.standard_normal((N, H))
        inputs = fmt(x=x, W=W, dy=dy)
        got = call("linear_backward", S.nn.linear_backward, dy, (x, W), inputs=inputs)
        for g, r, name in zip(got, R_nn.linear_backward(dy, (x, W)), ("dx", "dW", "db")):
            if not close(g, r):
                raise Fail(f"linear_backward's {name} differs from nppg's on {inputs}", "compare with (20)", "20")
        y = np.tanh(rng.standard_normal((N, H)))
        if not close(call("tanh_backward", S.nn.tanh_backward, dy, y, inputs=inputs), R_nn.tanh_backward(dy, y)):
            raise Fail(f"tanh_backward differs from nppg's on {fmt(dy=dy, y=y)}", "compare with (21)", "21")
    prop(15)(test)


# ---- 2. categorical (15, 16) ------------------------------------------------------------------------

def categorical_contract(S):
    d = S.distributions
    z, a = np.random.default_rng(0).standard_normal((3, 4)), np.array([0, 3, 1])
    before, inputs = copies(z, a), fmt(z=z, a=a)
    expect("log_softmax(z)", call("log_softmax", d.log_softmax, z, inputs=inputs), (3, 4), inputs)
    expect("categorical_log_prob(z, a)", call("categorical_log_prob", d.categorical_log_prob, z, a, inputs=inputs),
           (3,), inputs)
    expect("categorical_score(z, a)", call("categorical_score", d.categorical_score, z, a, inputs=inputs), (3, 4), inputs)
    unchanged("the categorical functions", before, [z, a], inputs)
    z = np.array([[1000.0, 0.0, -1000.0, 3.0], [1000.0, 1000.0, 999.0, -5.0], [-1000.0, -1000.0, -1000.0, -1000.0]])
    inputs = fmt(z=z, a=a)
    for name in ("log_softmax", "categorical_log_prob", "categorical_score"):
        f = getattr(d, name)
        out = call(name, f, *((z,) if name == "log_softmax" else (z, a)), inputs=inputs)
        sums = np.exp(out).sum(axis=-1) if name == "log_softmax" else np.ones(3)
        if not np.all(np.isfinite(out)) or not close(sums, np.ones(3), 1e-9):
            raise Fail(f"{name} gives {fmt(out=np.asarray(out))} on logits of 1,000: {inputs}",
                       "softmax without subtracting the max: exp(1000) overflows to inf (and inf / inf is nan); "
                       "subtract max(z) along each row first, as (15) does", "15")


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
                                        (np.eye(K)[a] - z, "softmax(z), not z: d logsumexp(z)/dz = softmax(z)")],
                                "d log pi(a|s)/dz = onehot(a) - softmax(z), in closed form (16)"), "16")
        pi = np.exp(R_dist.log_softmax(z))
        mean = sum(pi[:, [k]] * np.asarray(d.categorical_score(z, np.full(N, k))) for k in range(K))
        if not close(mean, np.zeros((N, K)), 1e-10):
            raise Fail(f"sum_a pi(a|s) score(z, a) = {fmt(mean=mean)} is not 0 (5), on {fmt(z=z)}",
                       "the expected score is 0 (EGLP, (5)): onehot(a) - softmax(z) averages to 0 under pi", "16")
    prop(15)(test)


def categorical_agree(S):
    d = S.distributions

    def test(draw):
        N, K, rng = ints(draw, 1, 6), ints(draw, 2, 6), rng_of(draw)
        z, a = 10 * rng.standard_normal((N, K)), rng.integers(0, K, N)
        inputs = fmt(z=z, a=a)
        for name in ("log_softmax", "categorical_log_prob", "categorical_score"):
            args = (z,) if name == "log_softmax" else (z, a)
            if not close(call(name, getattr(d, name), *args, inputs=inputs), getattr(R_dist, name)(*args)):
                raise Fail(f"{name} differs from nppg's on {inputs}", "compare with (15, 16)", "15, 16")
    prop(15)(test)


# ---- 3. gaussian (17, 18) -------------------------------------------------------------------------

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


def gaussian_math(S):
    d = S.distributions
    # a density integrates to 1: d_a = 1 on a fine grid
    for mu0, ls in ((0.3, -0.2), (-1.0, 0.7)):
        grid = np.linspace(mu0 - 12 * np.exp(ls), mu0 + 12 * np.exp(ls), 6001)[:, None]
        logp = call("gaussian_log_prob", d.gaussian_log_prob, np.full_like(grid, mu0), np.array([ls]), grid,
                    inputs=fmt(mu=mu0, log_std=ls))
        total = float(np.sum(np.exp(logp)) * (grid[1, 0] - grid[0, 0]))
        if abs(total - 1) > 1e-6:
            raise Fail(f"exp(gaussian_log_prob) integrates to {total:.6g}, not 1, at mu = {mu0}, log_std = {ls}",
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
                       "a diagonal Gaussian's log-density is a sum over the action dimensions, each with its own "
                       "sigma_i; the constant is d_a/2 log 2pi (17)", "17")
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
                                       "u^2 - 1 (chain rule through sigma = exp(log sigma))")],
                                "d log pi / d log sigma_i = u_i^2 - 1 with u_i = (a_i - mu_i) / sigma_i (18)"), "18")
    prop(15)(test)


def gaussian_agree(S):
    d = S.distributions

    def test(draw):
        N, n, rng = ints(draw, 1, 6), ints(draw, 1, 4), rng_of(draw)
        mu, log_std, a = rng.standard_normal((N, n)), rng.uniform(-2, 1, n), 2 * rng.standard_normal((N, n))
        inputs = fmt(mu=mu, log_std=log_std, a=a)
        if not close(call("gaussian_log_prob", d.gaussian_log_prob, mu, log_std, a, inputs=inputs),
                     R_dist.gaussian_log_prob(mu, log_std, a)):
            raise Fail(f"gaussian_log_prob differs from nppg's on {inputs}", "compare with (17)", "17")
        got = call("gaussian_score", d.gaussian_score, mu, log_std, a, inputs=inputs)
        if not all(close(g, r) for g, r in zip(got, R_dist.gaussian_score(mu, log_std, a))):
            raise Fail(f"gaussian_score differs from nppg's on {inputs}", "compare with (18)", "18")
    prop(15)(test)


# ---- 4. reward_to_go (6, 10) ------------------------------------------------------------------------

def rtg_mistakes(rew, last_value, gamma):
    T, ref = len(rew), R_adv.reward_to_go
    return [(ref(rew, last_value, 1.0), "a missing gamma: R_hat_t = r_t + gamma R_hat_{t+1} (10); gamma = 1 is (6)"),
            (ref(rew, last_value, gamma**2), "the discount applied twice: each step back multiplies by gamma once"),
            (ref(rew, 0.0, gamma), "the closing value is missing: the tail is V(s_T) = last_value (14), "
             "R_hat_{T-1} = r_{T-1} + gamma V(s_T)"),
            (ref(rew, 0.0, gamma) + np.append(np.zeros(T - 1), last_value) if T else rew,
             "last_value enters discounted: R_hat_{T-1} = r_{T-1} + gamma V(s_T), not + V(s_T)"),
            (np.cumsum(rew * gamma ** np.arange(T)), "summed forwards: the reward-to-go sums the rewards from t to the "
             "end (t' >= t), a backward recursion"),
            (np.full(T, ref(rew, last_value, gamma)[0]) if T else rew, "every step weighed by the whole return R(tau) "
             "(4): the reward-to-go keeps only the rewards from t on (6)")]


def rtg_contract(S):
    a = S.advantages
    x = np.array([1.0, -2.0, 0.5, 3.0, 0.0])
    before, inputs = copies(x), fmt(x=x, discount=0.9)
    expect("discount_cumsum(x, 0.9)", call("discount_cumsum", a.discount_cumsum, x, 0.9, inputs=inputs), (5,), inputs)
    expect("discount_cumsum of nothing", call("discount_cumsum", a.discount_cumsum, np.zeros(0), 0.9,
                                              inputs="x=[]"), (0,), "x=[]")
    expect("reward_to_go(rew, 2.0, 0.9)", call("reward_to_go", a.reward_to_go, x, 2.0, 0.9, inputs=inputs), (5,),
           inputs)
    expect("reward_to_go of one step", call("reward_to_go", a.reward_to_go, x[:1], 2.0, 0.9, inputs="rew=[1.0]"),
           (1,), "rew=[1.0]")
    unchanged("discount_cumsum and reward_to_go", before, [x], inputs)


def rtg_math(S):
    a = S.advantages

    def test(draw):
        T, rng, gamma, last = ints(draw, 1, 8), rng_of(draw), floats(draw, 0.5, 0.99), floats(draw, -5, 5)
        rew = np.round(rng.standard_normal(T) * 3, 2)
        # segments are independent: the next episode's reward-to-go does not depend on the one before
        rew2 = np.round(rng.standard_normal(ints(draw, 1, 6)) * 3, 2)
        alone = np.asarray(call("reward_to_go", a.reward_to_go, rew2, 0.0, gamma, inputs=fmt(rew=rew2)))
        call("reward_to_go", a.reward_to_go, rew, last, gamma, inputs=fmt(rew=rew))
        after = np.asarray(call("reward_to_go", a.reward_to_go, rew2, 0.0, gamma, inputs=fmt(rew=rew2)))
        if not close(alone, after):
            raise Fail(f"reward_to_go of the segment {fmt(rew=rew2)} gives {fmt(first=alone)} alone and {fmt(then=after)} "
                       f"after the segment {fmt(rew=rew)}",
                       "reward-to-go summed across an episode boundary: each segment is summed on its own and closed "
                       "by its own last_value; nothing may carry over from one call (episode) to the next", "6, 10")
        y = np.asarray(call("discount_cumsum", a.discount_cumsum, rew, gamma, inputs=fmt(x=rew, discount=gamma)))
        want = R_adv.discount_cumsum(rew, gamma)
        if not close(y, want):
            raise Fail(f"discount_cumsum(x, {gamma:.4g}) = {fmt(y=y)} breaks y_t = x_t + discount y_(t+1), "
                       f"y_(T-1) = x_(T-1), on {fmt(x=rew)}", diagnose(y, [(m, h) for m, h in rtg_mistakes(rew, 0.0, gamma)],
                                                                     "y_t = x_t + discount y_(t+1), backwards from the end"),
                       "10")
        R = np.asarray(call("reward_to_go", a.reward_to_go, rew, last, gamma,
                            inputs=fmt(rew=rew, last_value=last, gamma=gamma)))
        if R.shape != (T,) or not close(R[-1], rew[-1] + gamma * last) or not close(R[:-1], rew[:-1] + gamma * R[1:]):
            raise Fail(f"reward_to_go = {fmt(R_hat=R)} breaks R_hat_t = r_t + gamma R_hat_(t+1) closed by "
                       f"R_hat_(T-1) = r_(T-1) + gamma last_value, on {fmt(rew=rew, last_value=last, gamma=gamma)}",
                       diagnose(R, rtg_mistakes(rew, last, gamma), "R_hat_t = r_t + gamma R_hat_(t+1), and the tail "
                                "R_hat_T = V(s_T) = last_value (14)"), "6, 10")
    prop(20)(test)


def rtg_agree(S):
    a = S.advantages

    def test(draw):
        T, rng, gamma, last = ints(draw, 0, 10), rng_of(draw), floats(draw, 0.0, 1.0), floats(draw, -10, 10)
        rew = rng.standard_normal(T)
        inputs = fmt(rew=rew, last_value=last, gamma=gamma)
        if not close(call("discount_cumsum", a.discount_cumsum, rew, gamma, inputs=inputs),
                     R_adv.discount_cumsum(rew, gamma)):
            raise Fail(f"discount_cumsum differs from nppg's on {inputs}", "compare with (10)", "10")
        if not close(call("reward_to_go", a.reward_to_go, rew, last, gamma, inputs=inputs),
                     R_adv.reward_to_go(rew, last, gamma)):
            raise Fail(f"reward_to_go differs from nppg's on {inputs}", "compare with (10)", "6, 10")
    prop(20)(test)


# ---- 5. gae (11, 12) and 6. nstep (13) ---------------------------------------------------------------

def segment(draw, Tmax=8):
    T, rng = ints(draw, 1, Tmax), rng_of(draw)
    rew, val = np.round(3 * rng.standard_normal(T), 2), np.round(3 * rng.standard_normal(T), 2)
    last, gamma = float(np.round(3 * rng.standard_normal() + 2, 2)), floats(draw, 0.5, 0.99)
    return rew, val, last, gamma


def seg_contract(S, name, extra, eq):
    f = getattr(S.advantages, name)
    rew, val = np.array([1.0, 0.0, -1.0, 2.0]), np.array([0.5, 0.2, -0.3, 1.0])
    before, inputs = copies(rew, val), fmt(rew=rew, val=val, last_value=2.0, gamma=0.9)
    expect(name, call(name, f, rew, val, 2.0, 0.9, *extra, inputs=inputs), (4,), inputs)
    expect(f"{name} of one step", call(name, f, rew[:1], val[:1], 2.0, 0.9, *extra, inputs=inputs), (1,), inputs)
    unchanged(name, before, [rew, val], inputs)


def gae_contract(S):
    seg_contract(S, "td_residual", (), "11")
    seg_contract(S, "gae", (0.95,), "12")


def gae_math(S):
    a = S.advantages

    def test(draw):
        rew, val, last, gamma = segment(draw)
        lam = floats(draw, 0.0, 1.0)
        inputs = fmt(rew=rew, val=val, last_value=last, gamma=gamma)
        delta = R_adv.td_residual(rew, val, last, gamma)
        got = np.asarray(call("td_residual", a.td_residual, rew, val, last, gamma, inputs=inputs))
        if not close(got, delta):
            nxt = np.append(val[1:], last)
            raise Fail(f"td_residual = {fmt(delta=got)} is not r_t + gamma V(s_(t+1)) - V(s_t) = {fmt(want=delta)}, on "
                       f"{inputs}", diagnose(got, [
                           (R_adv.td_residual(rew, val, 0.0, gamma), "a truncation closed with 0: after the segment's "
                            "last step V(s_T) is last_value (14), which is 0 only when the episode terminated"),
                           (rew + nxt - val, "a missing gamma: delta_t = r_t + gamma V(s_(t+1)) - V(s_t)"),
                           (-delta, "a sign flipped: delta_t = r_t + gamma V(s_(t+1)) - V(s_t)"),
                           (rew + gamma * val - np.append(val[1:], last), "V(s_(t+1)) and V(s_t) swapped")],
                           "delta_t = r_t + gamma V(s_(t+1)) - V(s_t), with V(s_T) = last_value (11)"), "11")
        for lam_, want, what in ((0.0, delta, "delta_t (11)"),
                                 (1.0, R_adv.reward_to_go(rew, last, gamma) - val, "R_hat_t - V(s_t) (10)")):
            A = np.asarray(call("gae", a.gae, rew, val, last, gamma, lam_, inputs=inputs))
            if not close(A, want):
                raise Fail(f"gae at lam = {lam_:g} is {fmt(A=A)}, not {what} = {fmt(want=want)}, on {inputs}",
                           gae_hint(A, rew, val, last, gamma, lam_), "12")
        A = np.asarray(call("gae", a.gae, rew, val, last, gamma, lam, inputs=inputs))
        if A.shape != delta.shape or not close(A[-1], delta[-1]) or not close(A[:-1], delta[:-1] + gamma * lam * A[1:]):
            raise Fail(f"gae at lam = {lam:.4g} is {fmt(A=A)}: it breaks A_t = delta_t + gamma lam A_(t+1), "
                       f"A_(T-1) = delta_(T-1), on {inputs}", gae_hint(A, rew, val, last, gamma, lam), "12")
    prop(20)(test)


def gae_hint(A, rew, val, last, gamma, lam):
    delta = R_adv.td_residual(rew, val, last, gamma)
    return diagnose(A, [(R_adv.discount_cumsum(delta, lam), "a missing gamma: GAE discounts by gamma * lam, not lam"),
                        (R_adv.gae(rew, val, 0.0, gamma, lam), "a truncation closed with 0: V(s_T) is last_value (14)"),
                        (R_adv.discount_cumsum(delta, gamma), "lam is missing: A_t = sum_l (gamma lam)^l delta_(t+l)")],
                    "A_t = sum_l (gamma lam)^l delta_(t+l) (12): a discounted sum of the TD residuals")


def gae_agree(S):
    def test(draw):
        rew, val, last, gamma = segment(draw, 10)
        lam, inputs = floats(draw, 0.0, 1.0), fmt(rew=rew, val=val, last_value=last, gamma=gamma)
        if not close(call("td_residual", S.advantages.td_residual, rew, val, last, gamma, inputs=inputs),
                     R_adv.td_residual(rew, val, last, gamma)):
            raise Fail(f"td_residual differs from nppg's on {inputs}", "compare with (11)", "11")
        if not close(call("gae", S.advantages.gae, rew, val, last, gamma, lam, inputs=inputs),
                     R_adv.gae(rew, val, last, gamma, lam)):
            raise Fail(f"gae differs from nppg's on {inputs}, lam={lam:.4g}", "compare with (12)", "12")
    prop(20)(test)


def nstep_by_definition(rew, val, last, gamma, n):
    T, v = len(rew), np.append(val, last)
    out = np.empty(T)
    for t in range(T):
        m = min(n, T - t)
        out[t] = sum(gamma**k * rew[t + k] for k in range(m)) + gamma**m * v[t + m] - val[t]
    return out


def nstep_contract(S):
    seg_contract(S, "nstep_advantages", (3,), "13")


def nstep_math(S):
    a = S.advantages

    def test(draw):
        rew, val, last, gamma = segment(draw)
        T, n, lam = len(rew), ints(draw, 1, 10), floats(draw, 0.0, 0.99)
        inputs = fmt(rew=rew, val=val, last_value=last, gamma=gamma)
        f = lambda n: np.asarray(call("nstep_advantages", a.nstep_advantages, rew, val, last, gamma, n,  # noqa: E731
                                      inputs=f"{inputs}, n={n}"))
        for n_, want, what in ((1, R_adv.td_residual(rew, val, last, gamma), "delta_t (11)"),
                               (T, R_adv.reward_to_go(rew, last, gamma) - val, "R_hat_t - V(s_t) (10)"),
                               (n, nstep_by_definition(rew, val, last, gamma, n), "its definition")):
            A = f(n_)
            if not close(A, want):
                raise Fail(f"nstep_advantages with n = {n_} is {fmt(A=A)}, not {what} = {fmt(want=want)}, on {inputs}",
                           diagnose(A, [(nstep_by_definition(rew, val, 0.0, gamma, n_), "a truncation closed with 0: "
                                         "V(s_T) is last_value (14)"),
                                        (nstep_by_definition(rew, val, last, 1.0, n_), "a missing gamma: gamma^k on the "
                                         "k-th reward and gamma^m on the bootstrap V(s_(t+m))")],
                                    "A_t^(n) = sum_(k<m) gamma^k r_(t+k) + gamma^m V(s_(t+m)) - V(s_t), m = min(n, T - t):"
                                    " past the segment's end the sum stops, and V(s_T) = last_value closes it (13)"),
                           "13")
        # GAE is the lambda-average of the n-step advantages: (1 - lam) sum_n lam^(n-1) A^(n), n >= T all alike
        avg = (1 - lam) * sum(lam ** (k - 1) * f(k) for k in range(1, T)) + lam ** (T - 1) * f(T)
        if not close(avg, R_adv.gae(rew, val, last, gamma, lam)):
            raise Fail(f"(1 - lam) sum_n lam^(n-1) A^(n) = {fmt(avg=avg)} is not GAE at lam = {lam:.4g}, on {inputs}",
                       "GAE averages the n-step advantages with weights (1 - lam) lam^(n-1): check n between 1 and T",
                       "12, 13")
    prop(15)(test)


def nstep_agree(S):
    def test(draw):
        rew, val, last, gamma = segment(draw, 10)
        n, inputs = ints(draw, 1, 12), fmt(rew=rew, val=val, last_value=last, gamma=gamma)
        if not close(call("nstep_advantages", S.advantages.nstep_advantages, rew, val, last, gamma, n, inputs=inputs),
                     R_adv.nstep_advantages(rew, val, last, gamma, n)):
            raise Fail(f"nstep_advantages differs from nppg's on {inputs}, n={n}", "compare with (13)", "13")
    prop(20)(test)


# ---- 7. batch_weights (8) ---------------------------------------------------------------------------

def bw_segments(rng, n_seg, max_len=4):
    """(start, stop, last_value) triples of ``n_seg`` segments of 1 to ``max_len`` steps that tile [0, M)."""
    stops = np.cumsum(rng.integers(1, max_len + 1, n_seg))
    return [(int(a), int(b), float(v)) for a, b, v in zip(np.append(0, stops[:-1]), stops, rng.standard_normal(n_seg))]


def bw_definition(kind, rew, val, segs, gamma, lam, n):
    """Phi, R_hat by the definitions, one segment at a time with nppg's own pieces."""
    Phi, R_hat = np.empty(len(rew)), np.empty(len(rew))
    for a, b, last in segs:
        r, v = rew[a:b], val[a:b]
        R_hat[a:b] = R_adv.reward_to_go(r, last, gamma)
        Phi[a:b] = {"return": lambda: np.full(b - a, R_hat[a]), "reward-to-go": lambda: R_hat[a:b],
                    "baseline": lambda: R_hat[a:b] - v, "nstep": lambda: R_adv.nstep_advantages(r, v, last, gamma, n),
                    "gae": lambda: R_adv.gae(r, v, last, gamma, lam)}[kind]()
    return Phi, R_hat


def bw_across(kind, rew, val, segs, gamma, lam, n):
    """The mistake: reward-to-go over the rest of the batch, closed only by the batch's last value."""
    Phi, R_hat = bw_definition(kind, rew, val, segs, gamma, lam, n)
    for a, b, _ in segs:
        R_hat[a:b] = R_adv.reward_to_go(rew[a:], segs[-1][2], gamma)[:b - a]
        if kind in ("return", "reward-to-go", "baseline"):
            Phi[a:b] = {"return": R_hat[a], "reward-to-go": R_hat[a:b], "baseline": R_hat[a:b] - val[a:b]}[kind]
    return Phi, R_hat


def bw_call(S, rew, val, segs, kind, gamma, lam, n, inputs):
    """The student's batch_weights, given the segments as a one-pass iterator (vpg gives it a zip)."""
    out = call("batch_weights", S.advantages.batch_weights, rew, val, iter(list(segs)), kind, gamma, lam, n,
               inputs=inputs)
    if not (isinstance(out, tuple) and len(out) == 2):
        raise Fail(f"batch_weights returned {type(out).__name__}, not a pair (Phi, R_hat), on {inputs}",
                   "return Phi, R_hat", "8")
    return out


def bw_contract(S):
    rng = np.random.default_rng(0)
    segs = bw_segments(rng, 3)
    M = segs[-1][1]
    rew, val = rng.standard_normal(M), rng.standard_normal(M)
    for kind in R_adv.WEIGHTS:
        before, inputs = copies(rew, val), fmt(rew=rew, val=val, segments=segs, weights=kind)
        Phi, R_hat = bw_call(S, rew, val, segs, kind, 0.9, 0.8, 2, inputs)
        expect("batch_weights's Phi", Phi, (M,), inputs, "one Phi_t per step of the batch (M,)")
        expect("batch_weights's R_hat", R_hat, (M,), inputs, "one R_hat_t per step of the batch (M,)")
        unchanged("batch_weights", before, [rew, val], inputs)


def bw_math(S):
    def test(draw):
        rng, kind = rng_of(draw), R_adv.WEIGHTS[ints(draw, 0, len(R_adv.WEIGHTS) - 1)]
        segs = bw_segments(rng, ints(draw, 2, 5))
        M, gamma, lam, n = segs[-1][1], floats(draw, 0.5, 0.99), floats(draw, 0.0, 1.0), ints(draw, 1, 4)
        rew, val = rng.standard_normal(M), rng.standard_normal(M)
        inputs = fmt(rew=rew, val=val, segments=segs, weights=kind, gamma=gamma, lam=lam, n=n)
        got = bw_call(S, rew, val, segs, kind, gamma, lam, n, inputs)
        want, across = bw_definition(kind, rew, val, segs, gamma, lam, n), bw_across(kind, rew, val, segs, gamma, lam, n)
        # each segment on its own: the student's own batch_weights, called with that segment alone
        alone = [bw_call(S, rew[a:b], val[a:b], [(0, b - a, last)], kind, gamma, lam, n, inputs) for a, b, last in segs]
        for i, name in ((1, "R_hat"), (0, "Phi")):
            g = np.asarray(got[i], dtype=np.float64)
            for (a, b, last), own in zip(segs, alone):
                if not close(g[a:b], own[i]):
                    raise Fail(f"batch_weights's {name} on the segment [{a}, {b}) of the batch is {fmt(got=g[a:b])}, but "
                               f"{fmt(alone=np.asarray(own[i]))} when that segment is given alone, on {inputs}",
                               diagnose(g, [(across[i], "reward-to-go summed across segment boundaries: R_hat_t sums "
                                             "only its own segment's rewards, closed by that segment's last_value (14); "
                                             "the next episode's rewards in the batch were not caused by a_t")],
                                        "a weight depends on other segments: compute each segment from its own "
                                        "rew[start:stop], val[start:stop] and last_value, and nothing else (8)"), "8")
            if not close(g, want[i]):
                hints = {"return": "\"return\" weighs every step of a segment by R_hat at the segment's first step (4)",
                         "reward-to-go": "\"reward-to-go\" is Phi_t = R_hat_t (6, 10)",
                         "baseline": "\"baseline\" is Phi_t = R_hat_t - V(s_t) (7)",
                         "nstep": "\"nstep\" is nstep_advantages(rew, val, last_value, gamma, n) of the segment (13)",
                         "gae": "\"gae\" is gae(rew, val, last_value, gamma, lam) of the segment (12)"}
                raise Fail(f"batch_weights's {name} = {fmt(got=g)}, not {fmt(want=want[i])}, on {inputs}",
                           diagnose(g, [(want[1], "Phi_t is R_hat_t whatever the weights: each kind has its own Phi"),
                                        (want[0], "R_hat_t, the value targets (9), is the reward-to-go (10), whatever "
                                         "the weights")],
                                    "R_hat_t is reward_to_go of the segment, closed by its last_value (10)"
                                    if name == "R_hat" else hints[kind]), "8")
    prop(20)(test)


def bw_agree(S):
    def test(draw):
        rng, kind = rng_of(draw), R_adv.WEIGHTS[ints(draw, 0, len(R_adv.WEIGHTS) - 1)]
        segs = bw_segments(rng, ints(draw, 1, 6), 6)
        M, gamma, lam, n = segs[-1][1], floats(draw, 0.5, 1.0), floats(draw, 0.0, 1.0), ints(draw, 1, 8)
        rew, val = rng.standard_normal(M), rng.standard_normal(M)
        inputs = fmt(rew=rew, val=val, segments=segs, weights=kind, gamma=gamma, lam=lam, n=n)
        got, ref = bw_call(S, rew, val, segs, kind, gamma, lam, n, inputs), R_adv.batch_weights(rew, val, segs, kind,
                                                                                                gamma, lam, n)
        if not (close(got[0], ref[0]) and close(got[1], ref[1])):
            raise Fail(f"batch_weights differs from nppg's on {inputs}", "compare with (8)", "8")
    prop(15)(test)


# ---- 8. gaussian_policy (8, 18) -----------------------------------------------------------------------

def gpolicy_setup(S, rng, M, obs_dim=3, act_dim=2):
    policy = S.policies.GaussianPolicy(obs_dim, act_dim, (4,), "tanh", -0.5, rng)
    for k, p in policy.params.items():
        p[...] = rng.standard_normal(p.shape) / np.sqrt(p.shape[0]) if k.startswith("W") else 0.3 * rng.standard_normal(p.shape)
    obs, act = rng.standard_normal((M, obs_dim)), rng.standard_normal((M, act_dim))
    Phi = rng.standard_normal(M) * rng.uniform(0.5, 2.0)   # never all ones: every row its own weight
    return policy, obs, act, Phi


def gpolicy_contract(S):
    policy, obs, act, Phi = gpolicy_setup(S, np.random.default_rng(0), 4)
    before, params = copies(obs, act, Phi), {k: p.copy() for k, p in policy.params.items()}
    inputs = fmt(obs=obs, act=act, Phi=Phi)
    grads = call("GaussianPolicy.grad_log_prob", policy.grad_log_prob, obs, act, Phi, inputs=inputs)
    if not isinstance(grads, dict) or {k: np.shape(g) for k, g in grads.items()} != \
            {k: p.shape for k, p in policy.params.items()}:
        shapes = {k: np.shape(g) for k, g in grads.items()} if isinstance(grads, dict) else type(grads).__name__
        raise Fail(f"grad_log_prob returned {shapes}, not a gradient keyed and shaped like params "
                   f"{({k: p.shape for k, p in policy.params.items()})}",
                   "the MLP's gradients come from self.net.backward(...)[0]; add grads['log_std'] of shape (act_dim,)",
                   "8, 18")
    for k, g in grads.items():
        expect(f"grad_log_prob's {k}", np.asarray(g) if np.isscalar(g) else g, policy.params[k].shape, inputs)
    unchanged("grad_log_prob", before, [obs, act, Phi], inputs)
    unchanged("grad_log_prob (the parameters)", list(params.values()), list(policy.params.values()), inputs)


def gpolicy_math(S):
    def test(draw):
        M, rng = ints(draw, 1, 6), rng_of(draw)
        policy, obs, act, Phi = gpolicy_setup(S, rng, M, ints(draw, 1, 3), ints(draw, 1, 3))
        inputs = fmt(obs=obs, act=act, Phi=Phi, log_std=policy.params["log_std"])
        grads = call("GaussianPolicy.grad_log_prob", policy.grad_log_prob, obs, act, Phi, inputs=inputs)
        f = lambda: float(Phi @ R_dist.gaussian_log_prob(policy.net.forward(obs)[0], policy.params["log_std"], act))  # noqa: E731
        mu = policy.net.forward(obs)[0]
        dmu, dlog_std = R_dist.gaussian_score(mu, policy.params["log_std"], act)
        for k in ["log_std"] + [k for k in policy.params if k != "log_std"]:
            got = np.asarray(grads[k], dtype=np.float64)
            err, num = grad_error(f, policy.params[k], got)
            if err <= TOL:
                continue
            if k == "log_std":
                hint = diagnose(got, [(dlog_std.sum(axis=0), "log sigma's gradient without Phi: it is sum_t Phi_t "
                                       "d log pi(a_t|s_t)/d log sigma = Phi @ dlog_std; the score summed alone has "
                                       "expectation 0 (5), so sigma would take a random walk"),
                                      (-(Phi @ dlog_std), "a sign flipped in log sigma's gradient: + Phi @ dlog_std"),
                                      (Phi @ dlog_std / M, "1/M where (8)'s sum has none: grad_log_prob is the gradient "
                                       "of the sum; update_policy divides by M")],
                                "log sigma is shared by every row: its gradient is Phi @ dlog_std, summed over the rows "
                                "with each row's weight (8, 18)")
            else:
                hint = diagnose(got, [(R_pol.GaussianPolicy.grad_log_prob(policy, obs, act, np.ones(M))[k],
                                       "the mean's gradient without Phi: backpropagate Phi_t dmu_t, each row weighed by "
                                       "its Phi_t (8)")],
                                "backpropagate Phi[:, None] * dmu through the network: dmu = (a - mu) / sigma^2 (18)")
            raise Fail(f"grad_log_prob's {k} = {fmt(got=got)} disagrees with finite differences of sum_t Phi_t log "
                       f"pi(a_t|s_t) {fmt(num=num)}, on {inputs}", hint, "8, 18")
    prop(12)(test)


def gpolicy_agree(S):
    def test(draw):
        M, rng = ints(draw, 1, 8), rng_of(draw)
        policy, obs, act, Phi = gpolicy_setup(S, rng, M, ints(draw, 1, 4), ints(draw, 1, 3))
        inputs = fmt(obs=obs, act=act, Phi=Phi)
        got = call("GaussianPolicy.grad_log_prob", policy.grad_log_prob, obs, act, Phi, inputs=inputs)
        ref = R_pol.GaussianPolicy.grad_log_prob(policy, obs, act, Phi)
        if not all(close(got.get(k), g) for k, g in ref.items()):
            raise Fail(f"GaussianPolicy.grad_log_prob differs from nppg's on {inputs}", "compare with (8, 18)", "8, 18")
    prop(10)(test)


# ---- 9. value_loss (22) -----------------------------------------------------------------------------

def value_setup(S, rng, M, d, hidden=(5,)):
    vf = S.policies.ValueFunction(d, hidden, "tanh", rng)
    for k, p in vf.params.items():
        p[...] = rng.standard_normal(p.shape) / np.sqrt(p.shape[0]) if k.startswith("W") else 0.1 * rng.standard_normal(p.shape)
    return vf, rng.standard_normal((M, d)), rng.standard_normal(M)


def value_contract(S):
    vf, obs, R_hat = value_setup(S, np.random.default_rng(0), 4, 3)
    before, params, inputs = copies(obs, R_hat), {k: p.copy() for k, p in vf.params.items()}, fmt(obs=obs, R_hat=R_hat)
    out = call("grad_mse", vf.grad_mse, obs, R_hat, inputs=inputs)
    if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict)):
        raise Fail(f"ValueFunction.grad_mse returned {type(out).__name__}, not (L, grads)", "return L, grads", "22")
    L, grads = out
    if not isinstance(L, float):
        raise Fail(f"grad_mse's L is a {type(L).__name__}, not a float", "return the loss as float(...)", "22")
    if {k: np.shape(g) for k, g in grads.items()} != {k: p.shape for k, p in vf.params.items()}:
        raise Fail(f"grad_mse's grads have keys and shapes {({k: np.shape(g) for k, g in grads.items()})}, not those of "
                   f"params", "the gradients come from self.net.backward(...)[0], keyed like params", "22")
    unchanged("grad_mse", before, [obs, R_hat], inputs)
    unchanged("grad_mse (the parameters)", list(params.values()), list(vf.params.values()), inputs)


def value_math(S):
    def test(draw):
        M, d, rng = ints(draw, 1, 6), ints(draw, 1, 4), rng_of(draw)
        vf, obs, R_hat = value_setup(S, rng, M, d)
        inputs = fmt(obs=obs, R_hat=R_hat)
        L, grads = call("grad_mse", vf.grad_mse, obs, R_hat, inputs=inputs)
        err = vf.predict(obs) - R_hat
        if not close(L, np.mean(err**2), 1e-10):
            raise Fail(f"grad_mse's L = {L:.6g} is not 1/M sum_t (V(s_t) - R_hat_t)^2 = {np.mean(err ** 2):.6g}, on "
                       f"{inputs}", diagnose(L, [(np.sum(err**2), "the sum where the mean belongs: L = 1/M sum_t "
                                                  "(V(s_t) - R_hat_t)^2")], "L = 1/M sum_t (V(s_t) - R_hat_t)^2"), "22")
        errors = check_grads(lambda: float(np.mean((vf.predict(obs) - R_hat) ** 2)), vf.params, grads)
        if max(errors.values()) > TOL:
            ref = R_pol.ValueFunction.grad_mse(vf, obs, R_hat)[1]
            got = np.concatenate([np.ravel(grads[k]) for k in ref])
            flat = np.concatenate([np.ravel(g) for g in ref.values()])
            raise Fail(f"grad_mse's gradients disagree with finite differences of L (relative errors "
                       f"{fmt(**{k: float(v) for k, v in errors.items()})}), on {inputs}",
                       diagnose(got, [(M * flat, "the sum where the mean belongs: dL/dV(s_t) = 2 (V(s_t) - R_hat_t) / M"),
                                      (flat / 2, "the factor 2 of d/dV (V - R_hat)^2 = 2 (V - R_hat) is missing"),
                                      (-flat, "a sign flipped: dL/dV = 2 (V - R_hat) / M; with 2 (R_hat - V) / M "
                                       "Adam climbs the loss"),
                                      (flat / M, "1/M applied twice")],
                                "dL/dV(s_t) = 2 (V(s_t) - R_hat_t) / M, then back through the network (22)"), "22")
    prop(10)(test)


def value_agree(S):
    def test(draw):
        M, d, rng = ints(draw, 1, 8), ints(draw, 1, 4), rng_of(draw)
        vf, obs, R_hat = value_setup(S, rng, M, d, (4, 3))
        L, grads = call("grad_mse", vf.grad_mse, obs, R_hat, inputs=fmt(obs=obs, R_hat=R_hat))
        Lr, gr = R_pol.ValueFunction.grad_mse(vf, obs, R_hat)
        if not close(L, Lr) or not all(close(grads.get(k), g) for k, g in gr.items()):
            raise Fail(f"grad_mse differs from nppg's on {fmt(obs=obs, R_hat=R_hat)}", "compare with (22)", "22")
    prop(10)(test)


# ---- 10. adam (23) ----------------------------------------------------------------------------------

def adam_steps(opt_class, params, grads_list, **kw):
    params = {k: p.copy() for k, p in params.items()}
    opt = opt_class(params, **kw)
    for g in grads_list:
        call("Adam.step", opt.step, g, inputs=fmt(**g))
    return params


def adam_reference(params, grads_list, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, bias=True, count=True):
    """(23) step by step, with two of the usual mistakes as switches (for the hints)."""
    p = {k: v.copy() for k, v in params.items()}
    m, v = {k: np.zeros_like(x) for k, x in p.items()}, {k: np.zeros_like(x) for k, x in p.items()}
    for t, g in enumerate(grads_list, 1):
        t = t if count else 1
        for k in p:
            m[k] = beta1 * m[k] + (1 - beta1) * g[k]
            v[k] = beta2 * v[k] + (1 - beta2) * g[k] ** 2
            mh, vh = (m[k] / (1 - beta1**t), v[k] / (1 - beta2**t)) if bias else (m[k], v[k])
            p[k] = p[k] - lr * mh / (np.sqrt(vh) + eps)
    return p


def adam_hint(S, params, grads_list, **kw):
    got = adam_steps(S.optim.Adam, params, grads_list, **kw)
    flat = lambda p: np.concatenate([np.ravel(p[k]) for k in params])  # noqa: E731
    g = flat(got)
    return diagnose(g, [(flat(adam_reference(params, grads_list, bias=False, **kw)), "Adam without bias correction: "
                         "m and v start at 0, so divide by (1 - beta1^t) and (1 - beta2^t); uncorrected, the first step "
                         "is lr (1 - beta1) / sqrt(1 - beta2), about 3.2 lr"),
                        (flat(adam_reference(params, grads_list, count=False, **kw)), "t does not count the steps: "
                         "increment t once per step, before the bias correction"),
                        (2 * flat(params) - flat(adam_reference(params, grads_list, **kw)), "the step climbs: theta_t = "
                         "theta_(t-1) - lr m_hat / (sqrt(v_hat) + eps); an optimizer descends (pass the gradient of -J "
                         "to ascend J)")],
                    "m_t = beta1 m + (1 - beta1) g, v_t = beta2 v + (1 - beta2) g^2, m_hat = m_t / (1 - beta1^t), "
                    "v_hat = v_t / (1 - beta2^t), theta -= lr m_hat / (sqrt(v_hat) + eps) (23)")


def adam_contract(S):
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    grads = {k: rng.standard_normal(p.shape) for k, p in params.items()}
    arrays, before, inputs = dict(params), copies(*grads.values()), fmt(**grads)
    opt = S.optim.Adam(params, lr=0.01)
    call("Adam.step", opt.step, grads, inputs=inputs)
    unchanged("Adam.step (the gradients)", before, list(grads.values()), inputs)
    for k in params:
        if params[k] is not arrays[k]:
            raise Fail(f"Adam.step replaced params[{k!r}] by a new array", "update the parameters in place "
                       "(self.params[k] -= ...): the network reads the same arrays", "23")
        if params[k].shape != arrays[k].shape or params[k].dtype != np.float64:
            raise Fail(f"Adam.step changed params[{k!r}]'s shape or dtype", "a step keeps each array's shape", "23")


def adam_math(S):
    def test(draw):
        rng, lr = rng_of(draw), floats(draw, 1e-4, 1e-1)
        shape = (ints(draw, 1, 4), ints(draw, 1, 3))
        params = {"W": rng.standard_normal(shape), "b": rng.standard_normal(shape[1])}
        g = {k: rng.choice([-1, 1], p.shape) * rng.uniform(0.1, 10, p.shape) for k, p in params.items()}
        inputs = fmt(**g)
        after = adam_steps(S.optim.Adam, params, [g], lr=lr)
        for k in params:
            step = after[k] - params[k]
            if not close(step, -lr * np.sign(g[k]), 1e-5):
                raise Fail(f"Adam's first step on params[{k!r}] is {fmt(step=step)}, not -lr sign(g) = "
                           f"{fmt(want=-lr * np.sign(g[k]))} (lr = {lr:.4g}), on gradients {inputs}",
                           adam_hint(S, params, [g], lr=lr), "23")
        grads = [{k: rng.standard_normal(p.shape) for k, p in params.items()} for _ in range(4)]
        c = floats(draw, 0.01, 100.0)
        a1 = adam_steps(S.optim.Adam, params, grads, lr=lr)
        a2 = adam_steps(S.optim.Adam, params, [{k: c * x for k, x in gg.items()} for gg in grads], lr=lr)
        if not all(close(a1[k], a2[k], 1e-5) for k in params):
            raise Fail(f"4 Adam steps differ when every gradient is scaled by c = {c:.4g}, on {fmt(**grads[0])}, ...",
                       "Adam's step is invariant to the gradient's scale: m_hat / sqrt(v_hat), with v the average of "
                       "g^2 (squared), not of g", "23")
        want = adam_reference(params, grads, lr=lr)
        if not all(close(a1[k], want[k], 1e-9) for k in params):
            raise Fail(f"4 Adam steps do not follow (23) step by step, on {fmt(**grads[0])}, ...",
                       adam_hint(S, params, grads, lr=lr), "23")
    prop(15)(test)


def adam_agree(S):
    def test(draw):
        rng, lr = rng_of(draw), floats(draw, 1e-4, 1e-1)
        b1, b2 = floats(draw, 0.0, 0.99), floats(draw, 0.5, 0.9999)
        params = {"W": rng.standard_normal((ints(draw, 1, 4), 3)), "log_std": rng.standard_normal(2)}
        grads = [{k: rng.standard_normal(p.shape) for k, p in params.items()} for _ in range(3)]
        a = adam_steps(S.optim.Adam, params, grads, lr=lr, beta1=b1, beta2=b2)
        r = adam_steps(R_optim.Adam, params, grads, lr=lr, beta1=b1, beta2=b2)
        if not all(close(a[k], r[k]) for k in params):
            raise Fail(f"3 Adam steps differ from nppg's (lr={lr:.4g}, beta1={b1:.4g}, beta2={b2:.4g}) on "
                       f"{fmt(**grads[0])}, ...", "compare with (23)", "23")
    prop(15)(test)


# ---- 11. running_stats (24) ----------------------------------------------------------------------------

def stats_contract(S):
    x = np.random.default_rng(0).standard_normal((5, 3))
    before, inputs = copies(x), fmt(x=x)
    rs = S.normalize.RunningStats((3,))
    call("RunningStats.update", rs.update, x, inputs=inputs)
    unchanged("RunningStats.update", before, [x], inputs)
    if rs.N != 5 or np.shape(rs.mean) != (3,) or np.shape(rs.M2) != (3,):
        raise Fail(f"after one update with 5 rows of 3: N = {rs.N!r}, mean shape {np.shape(rs.mean)}, M2 shape "
                   f"{np.shape(rs.M2)}; expected 5, (3,), (3,)", "N counts rows; mean and M2 have one entry per column",
                   "24")


def stats_math(S):
    def test(draw):
        n, d, rng = ints(draw, 2, 12), ints(draw, 1, 3), rng_of(draw)
        k = ints(draw, 1, n - 1)
        x = floats(draw, -5, 5) + rng.standard_normal((n, d)) * floats(draw, 0.1, 5)
        rs = S.normalize.RunningStats((d,))
        inputs = fmt(first=x[:k], then=x[k:])
        call("RunningStats.update", rs.update, x[:k], inputs=inputs)
        call("RunningStats.update", rs.update, x[k:], inputs=inputs)
        m1, m2 = x[:k].mean(0), x[k:].mean(0)
        if rs.N != n:
            raise Fail(f"after merging {k} rows and {n - k} rows, N = {rs.N!r}, not {n}", "N' = N + N_b", "24")
        if not close(rs.mean, x.mean(0), 1e-9):
            raise Fail(f"merging the halves of a batch gives mean {fmt(m=np.asarray(rs.mean))}, not the whole's "
                       f"{fmt(m=x.mean(0))}, on {inputs}",
                       diagnose(rs.mean, [(mm, "the mean of the two means where the count-weighted mean belongs: "
                                           "m' = m + delta N_b / N'") for mm in ((m1 + m2) / 2, (m1 / 2 + m2) / 2)],
                                "m' = m + delta N_b / N' with delta = m_b - m (24)"), "24")
        var = np.asarray(rs.M2) / n
        if not close(var, x.var(0), 1e-9):
            M2a, M2b = ((x[:k] - m1) ** 2).sum(0), ((x[k:] - m2) ** 2).sum(0)
            raise Fail(f"merging the halves of a batch gives var = M2 / N = {fmt(var=var)}, not the whole's "
                       f"{fmt(var=x.var(0))}, on {inputs}",
                       diagnose(var, [((M2a + M2b) / n, "the delta^2 N N_b / N' term of M2' is missing: the halves' "
                                       "means differ, and that spread is part of the whole's variance"),
                                      ((M2a + M2b + (m2 - m1) ** 2) / n, "delta^2 must be weighted by N N_b / N'")],
                                "M2' = M2 + M2_b + delta^2 N N_b / N', M2_b the batch's summed squared deviations from "
                                "its own mean (24)"), "24")
    prop(20)(test)


def stats_agree(S):
    def test(draw):
        d, rng = ints(draw, 1, 3), rng_of(draw)
        sizes = [ints(draw, 1, 6) for _ in range(ints(draw, 1, 4))]
        rs, rr = S.normalize.RunningStats((d,)), R_norm.RunningStats((d,))
        for n in sizes:
            x = rng.standard_normal((n, d)) * 3 + 1
            call("RunningStats.update", rs.update, x, inputs=fmt(x=x))
            rr.update(x)
        if rs.N != rr.N or not close(rs.mean, rr.mean) or not close(rs.M2, rr.M2):
            raise Fail(f"after batches of {sizes} rows the statistics differ from nppg's", "compare with (24)", "24")
    prop(15)(test)


# ---- 12. rollout (14) ------------------------------------------------------------------------------

class Clock(gym.Env):
    """Observation [t, k, copy]: t counts the steps of the current episode, k the episodes, copy which of the vector's
    copies it is; the reward for acting at time t is 1 + t (never 0, so gymnasium's reset step, whose reward is 0,
    shows if it is stored). It terminates after ``terminate_at`` steps when that is set; a TimeLimit truncates it."""
    observation_space = gym.spaces.Box(-np.inf, np.inf, (3,), dtype=np.float64)
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), dtype=np.float64)

    def __init__(self, copy, terminate_at=None):
        self.copy, self.terminate_at, self.t, self.k, self.received = copy, terminate_at, 0, -1, []

    def _obs(self):
        return np.array([self.t, self.k, self.copy], dtype=np.float64)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.k = 0, self.k + 1
        return self._obs(), {}

    def step(self, action):
        self.received.append(float(np.asarray(action).ravel()[0]))
        reward, self.t = 1.0 + self.t, self.t + 1
        return self._obs(), reward, self.terminate_at is not None and self.t >= self.terminate_at, False, {}


# copy 0 is truncated by its time limit after 4 steps; copy 1 terminates after 3 (its limit, 5, is never reached)
CLOCK_ENDS = {0: (4, False), 1: (3, True)}   # copy: (episode length, terminated)
CLOCK_GAMMA = 0.9


def clock_envs():
    return gym.vector.SyncVectorEnv([lambda: gym.wrappers.TimeLimit(Clock(0), 4),
                                     lambda: gym.wrappers.TimeLimit(Clock(1, terminate_at=3), 5)])


class ClockPolicy:
    """a = 0.9 t - 1.2: beyond the action bounds [-1, 1] at t = 0 (-1.2) and t = 3 (1.5)."""

    @staticmethod
    def action(obs):
        return 0.9 * np.asarray(obs, dtype=np.float64)[:, :1] - 1.2

    def sample(self, obs, rng):
        return self.action(obs)


def clock_batches(Rollout, steps=(11, 9)):
    """Two consecutive batches of ``Rollout`` on the clocks, and what each copy's environment received."""
    envs = clock_envs()
    try:
        ro = Rollout(envs, seed=0, gamma=CLOCK_GAMMA)
        batches = [ro.collect(ClockPolicy(), n, np.random.default_rng(0)) for n in steps]
        received = [e.unwrapped.received for e in envs.envs]
    finally:
        envs.close()
    return batches, received


def student_batches(S):
    return call("Rollout.collect", lambda: clock_batches(S.rollout.Rollout), inputs="the clock environments (two "
                "copies: one truncated by a time limit of 4 steps, one terminating after 3)")


def rollout_contract(S):
    (b1, b2), _ = student_batches(S)
    for i, (b, n) in enumerate(((b1, 11), (b2, 9)), 1):
        where = f"batch {i} of collect(policy, {n}) on the clocks"
        if not all(hasattr(b, f) for f in Batch.__dataclass_fields__):
            raise Fail(f"collect returned a {type(b).__name__}, not a Batch, on {where}", "to_batch returns a Batch", "14")
        M, S_ = len(b.rew), len(b.starts)
        if not (n <= M < n + 2):
            raise Fail(f"{where} holds {M} transitions", f"collect steps until at least {n} transitions are stored "
                       "(one vector step stores up to num_envs)", "14")
        for name, shape in (("obs", (M, 3)), ("act", (M, 1)), ("rew", (M,)), ("final_obs", (S_, 3)), ("G", (M,))):
            expect(f"the Batch's {name}", getattr(b, name), shape, where)
        if not (np.shape(b.stops) == (S_,) and np.shape(b.terminated) == (S_,) and S_ and b.starts[0] == 0
                and b.stops[-1] == M and np.array_equal(b.starts[1:], b.stops[:-1]) and np.all(b.stops > b.starts)):
            raise Fail(f"the segments {fmt(starts=np.asarray(b.starts), stops=np.asarray(b.stops))} do not tile [0, {M}) "
                       f"in order, on {where}", "starts and stops: one pair per segment, each segment non-empty, "
                       "consecutive, from 0 to M", "14")
        if np.asarray(b.terminated).dtype != bool:
            raise Fail(f"the Batch's terminated has dtype {np.asarray(b.terminated).dtype}, not bool, on {where}",
                       "one bool per segment", "14")


def rollout_math(S):
    (b1, b2), received = student_batches(S)
    for i, b in enumerate((b1, b2), 1):
        where = f"batch {i} on the clocks (observation [t, k, copy]; copy 0 truncated after 4 steps, copy 1 " \
                f"terminating after 3)"
        obs, rew = np.asarray(b.obs), np.asarray(b.rew)
        t, k, c = obs[:, 0], obs[:, 1], obs[:, 2].astype(int)
        bad = np.flatnonzero((rew != 1.0 + t) | (t >= np.where(c == 0, 4, 3)))
        if len(bad):
            j = bad[0]
            raise Fail(f"step {j} of the batch is s = {fmt(s=obs[j])} with r = {rew[j]:g}, which no transition of the "
                       f"clocks gives (r = 1 + t, t < the episode's length), on {where}",
                       "the autoreset step stored as a transition: gymnasium resets a copy on the step after its "
                       "episode ended; that step ignores the action, returns reward 0 and the new episode's first "
                       "observation; it is no transition and is never stored (valid = not resetting)", "14")
        for a, z in zip(b.starts, b.stops):
            if not (np.all(np.diff(t[a:z]) == 1) and np.all(k[a:z] == k[a]) and np.all(c[a:z] == c[a])):
                raise Fail(f"the segment [{a}, {z}) holds {fmt(obs=obs[a:z])}: not consecutive steps of one episode of "
                           f"one copy, on {where}", "a segment is consecutive steps of one episode in one copy", "14")
        last = obs[np.asarray(b.stops) - 1]
        length = np.array([CLOCK_ENDS[int(x)][0] for x in last[:, 2]])
        ended = last[:, 0] + 1 == length
        terminated = ended & np.array([CLOCK_ENDS[int(x)][1] for x in last[:, 2]])
        got = np.asarray(b.terminated, dtype=bool)
        if not np.array_equal(got, terminated):
            truncated = ended & ~terminated
            hint = ("a truncation marked as a termination: a time limit (truncated) is no true ending, so its segment "
                    "is closed by V(s_T) (14); only terminated closes with 0" if np.any(got & truncated) else
                    "a termination not marked: terminated is the environment's terminated of the segment's last step"
                    if np.any(~got & terminated) else "a segment cut by the batch's end is not terminated")
            raise Fail(f"terminated = {fmt(got=got)}, not {fmt(want=terminated)}, for the segments ending at "
                       f"{fmt(s_last=last)}, on {where}", hint, "14")
        want = last + np.array([1.0, 0.0, 0.0])
        fo = np.asarray(b.final_obs, dtype=np.float64)
        if not close(fo, want):
            reset = np.column_stack([np.zeros(len(last)), last[:, 1] + 1, last[:, 2]])
            rows = ~np.all(np.isclose(fo, want), axis=1)
            hint = ("s_T from the reset observation: the step that ends an episode returns the true final observation "
                    "s_T; the observation of the step after it (the autoreset step) is the new episode's first, "
                    "[0, k + 1], and V of it would bootstrap a truncation from a fresh start"
                    if np.any(np.all(np.isclose(fo[rows], reset[rows]), axis=1)) else
                    "s_T taken as the last step's own observation s_(T-1): final_obs is the observation that followed it"
                    if np.any(np.all(np.isclose(fo[rows], last[rows]), axis=1)) else
                    "final_obs is s_T, the observation returned by the segment's last step (never a reset one)")
            raise Fail(f"final_obs = {fmt(got=fo)}, not s_T = {fmt(want=want)}, for the segments ending at "
                       f"{fmt(s_last=last)}, on {where}", hint, "14")
        act = np.asarray(b.act, dtype=np.float64)
        sampled = ClockPolicy.action(obs)
        if not close(act, sampled):
            raise Fail(f"the stored actions are {fmt(act=act[:, 0])}, not those sampled {fmt(sampled=sampled[:, 0])}, "
                       f"on {where} (the policy samples a = 0.9 t - 1.2)",
                       diagnose(act, [(np.clip(sampled, -1, 1), "the clipped action stored: log pi and its score are "
                                       "evaluated at the action as sampled; the environment gets the clipped one "
                                       "(env_action), the batch keeps a")],
                                "act[t] is the action the policy sampled at s_t"), "8, 14")
        G = np.array([sum(CLOCK_GAMMA ** (int(tt) - s) * (1 + s) for s in range(int(tt) + 1)) for tt in t])
        if not close(b.G, G):
            raise Fail(f"G = {fmt(got=np.asarray(b.G))}, not the discounted return of the episode so far "
                       f"{fmt(want=G)} (gamma = {CLOCK_GAMMA}), on {where}",
                       "G_t = r_t + gamma G_(t-1), from 0 at each episode's start, carried over between batches (26)",
                       "26")
        pairs = sorted(zip(np.asarray(b.ep_lengths).tolist(), np.asarray(b.ep_returns).tolist()))
        want_pairs = sorted((int(L), float(L * (L + 1) / 2)) for L in length[ended])
        if pairs != want_pairs:
            raise Fail(f"(ep_lengths, ep_returns) = {pairs}, not {want_pairs}, on {where}",
                       "each episode that ended in this batch, with its undiscounted return and length: the rewards "
                       "of its transitions only, carried over from the last batch", "14")
    got = np.array(received[0] + received[1])
    if np.any(np.abs(got) > 1.0):
        raise Fail(f"the environments received the actions {fmt(received=got)}, beyond the bounds [-1, 1]",
                   "the environment is given env_action(action_space, a), the action clipped to its bounds; the batch "
                   "keeps a as sampled", "14")


def rollout_agree(S):
    mine, _ = student_batches(S)
    ref, _ = clock_batches(R_roll.Rollout)
    for i, (b, r) in enumerate(zip(mine, ref), 1):
        for name in Batch.__dataclass_fields__:
            if not close(getattr(b, name), getattr(r, name)):
                raise Fail(f"the Batch's {name} differs from nppg's, in batch {i} on the clocks: "
                           f"{fmt(got=np.asarray(getattr(b, name)), nppg=np.asarray(getattr(r, name)))}",
                           "compare with (14) and rollout.py's docstring", "14")


# ---- 13. closing_values (14) ----------------------------------------------------------------------

class LinearValue:
    """A stand-in V(s) = s w + 1 whose values are easy to tell apart."""

    def __init__(self, w):
        self.w = w

    def predict(self, obs):
        return np.asarray(obs, dtype=np.float64) @ self.w + 1.0


def make_batch(rng, S_, d=3):
    lens = rng.integers(1, 4, S_)
    stops = np.cumsum(lens)
    M = int(stops[-1])
    return Batch(obs=rng.standard_normal((M, d)), act=rng.integers(0, 2, M), rew=rng.standard_normal(M),
                 starts=np.append(0, stops[:-1]), stops=stops, terminated=rng.random(S_) < 0.5,
                 final_obs=rng.standard_normal((S_, d)), ep_returns=np.zeros(0), ep_lengths=np.zeros(0, dtype=np.int64),
                 G=np.zeros(M))


def closing_contract(S):
    rng = np.random.default_rng(0)
    batch, vf = make_batch(rng, 4), LinearValue(rng.standard_normal(3))
    before = copies(batch.obs, batch.terminated, batch.final_obs)
    inputs = fmt(terminated=batch.terminated, final_obs=batch.final_obs)
    expect("closing_values", call("closing_values", S.algorithm.closing_values, batch, vf, inputs=inputs), (4,),
           inputs, "one closing value per segment (S,)")
    unchanged("closing_values", before, [batch.obs, batch.terminated, batch.final_obs], inputs)


def closing_math(S):
    def test(draw):
        rng, S_ = rng_of(draw), ints(draw, 1, 6)
        batch, vf = make_batch(rng, S_), LinearValue(rng.standard_normal(3))
        inputs = fmt(terminated=batch.terminated, final_obs=batch.final_obs)
        got = np.asarray(call("closing_values", S.algorithm.closing_values, batch, vf, inputs=inputs))
        want = np.where(batch.terminated, 0.0, vf.predict(batch.final_obs))
        if not close(got, want):
            raise Fail(f"closing_values = {fmt(got=got)}, not {fmt(want=want)}, on {inputs} (V(s) = s w + 1)",
                       diagnose(got, [(np.zeros(S_), "a truncation closed with 0: only a terminated episode closes with "
                                       "0; a truncated or cut segment is closed by V(s_T) of its true final observation"),
                                      (vf.predict(batch.final_obs), "a termination closed with V(s_T): nothing follows a "
                                       "true ending, so its closing value is 0"),
                                      (np.where(batch.terminated, vf.predict(batch.final_obs), 0.0), "terminated and "
                                       "truncated swapped: 0 after a termination, V(s_T) otherwise"),
                                      (np.where(batch.terminated, 0.0, vf.predict(batch.obs[batch.stops - 1])),
                                       "bootstrapped from the last step's own observation s_(T-1): s_T is final_obs, "
                                       "the observation that followed it (never a reset one)")],
                                "V(s_T) = 0 if terminated, else V_phi(final_obs) (14)"), "14")
    prop(15)(test)


def closing_agree(S):
    def test(draw):
        rng = rng_of(draw)
        batch, vf = make_batch(rng, ints(draw, 1, 8)), LinearValue(rng.standard_normal(3))
        if not close(call("closing_values", S.algorithm.closing_values, batch, vf, inputs=""),
                     R_alg.closing_values(batch, vf)):
            raise Fail(f"closing_values differs from nppg's on {fmt(terminated=batch.terminated)}", "compare with (14)",
                       "14")
    prop(15)(test)


# ---- 14. policy_step (8) --------------------------------------------------------------------------

def policy_setup(rng, M, obs_dim=3, K=3):
    policy = R_pol.CategoricalPolicy(obs_dim, K, (4,), "tanh", rng)
    for k, p in policy.params.items():
        p[...] = rng.standard_normal(p.shape) / np.sqrt(p.shape[0]) if k.startswith("W") else 0.1 * rng.standard_normal(p.shape)
    return policy, rng.standard_normal((M, obs_dim)), rng.integers(0, K, M), rng.standard_normal(M)


def one_step(S, policy, obs, act, Phi, lr=0.1):
    """The student's step with plain SGD, from and back to the same parameters: (delta theta, info)."""
    before = {k: p.copy() for k, p in policy.params.items()}
    info = call("update_policy", S.algorithm.update_policy, policy, R_optim.SGD(policy.params, lr), obs, act, Phi,
                inputs=fmt(obs=obs, act=act, Phi=Phi))
    delta = {k: policy.params[k] - before[k] for k in before}
    for k in before:
        policy.params[k][...] = before[k]
    return delta, info


def policy_contract(S):
    policy, obs, act, Phi = policy_setup(np.random.default_rng(0), 5)
    before, inputs = copies(obs, act, Phi), fmt(obs=obs, act=act, Phi=Phi)
    delta, info = one_step(S, policy, obs, act, Phi)
    unchanged("update_policy", before, [obs, act, Phi], inputs)
    keys = {"loss_pi", "delta_loss_pi", "kl", "entropy"}
    if not isinstance(info, dict) or set(info) != keys or not all(isinstance(v, float) for v in info.values()):
        raise Fail(f"update_policy returned {info!r}", f"return the diagnostics {sorted(keys)} as floats", "8")
    if all(np.all(d == 0) for d in delta.values()):
        raise Fail(f"update_policy did not change the parameters, on {inputs}", "call opt.step(grads) once", "8")


def policy_math(S):
    def test(draw):
        M, rng = ints(draw, 1, 8), rng_of(draw)
        policy, obs, act, Phi = policy_setup(rng, M)
        inputs, lr = fmt(obs=obs, act=act, Phi=Phi), 0.1
        logp_old = policy.log_prob(obs, act)
        delta, info = one_step(S, policy, obs, act, Phi, lr)
        g = policy.grad_log_prob(obs, act, Phi)
        flat = lambda p: np.concatenate([np.ravel(p[k]) for k in g])  # noqa: E731
        got, up = flat(delta), lr * flat(g) / M
        if not close(got, up, 1e-9):
            raise Fail(f"the policy step (SGD, lr = {lr}) is {fmt(step=got)}, not +lr/M sum_t Phi_t grad log "
                       f"pi(a_t|s_t) = {fmt(want=up)}, on {inputs}",
                       diagnose(got, [(-up, "the sign: the optimizer descends, so update_policy gives it the gradient of "
                                       "the loss -J, grad_log_prob(obs, act, -Phi / M); with +Phi it descends J"),
                                      (M * up, "the sum where the mean belongs: (8) is averaged over the M steps of the "
                                       "batch (1/M)"),
                                      (-M * up, "the sum where the mean belongs (1/M), and the sign (-Phi)"),
                                      (up / M, "1/M applied twice")],
                                "one optimizer step on the gradient of L = -1/M sum_t log pi(a_t|s_t) Phi_t (8)"), "8")
        if not close(info.get("loss_pi"), -np.mean(logp_old * Phi), 1e-9):
            raise Fail(f"loss_pi = {info.get('loss_pi')!r}, not -1/M sum_t log pi(a_t|s_t) Phi_t = "
                       f"{-np.mean(logp_old * Phi):.6g} before the step, on {inputs}",
                       "loss_pi is L_pi before the step, with the minus sign", "8")
    prop(15)(test)


def policy_unbiased(S):
    """On the exact chain MDP, g_hat = step * M / (lr |D|) from the student's update_policy has mean grad J."""
    mdp = exact.chain()
    policy = exact.generic_policy(mdp, np.random.default_rng(0))
    envs = exact.make_envs(mdp, 20)
    try:
        batch = exact.episodes(envs, policy, 40, np.random.default_rng(0), seed=0)   # 800 whole episodes
    finally:
        envs.close()
    Phi, size = exact.Phi_of(batch, "reward-to-go"), 10
    first, last = batch.starts[::size], batch.stops[size - 1::size]
    G = []
    for i, j in zip(first, last):
        delta, _ = one_step(S, policy, batch.obs[i:j], batch.act[i:j], Phi[i:j], lr=1.0)
        G.append({k: d * (j - i) / size for k, d in delta.items()})
    g = exact.exact_gradient(mdp, policy)
    G = np.array([np.concatenate([np.ravel(d[k]) for k in g]) for d in G])
    g = exact.flat(g)
    mean, se = G.mean(0), G.std(0, ddof=1) / np.sqrt(len(G))
    z = float(np.max(np.abs(mean - g)[se > 0] / se[se > 0]))
    if z > Z_MAX:
        raise Fail(f"on the exact chain MDP (nppg/checks/exact.py), 80 batches of 10 episodes: the mean of "
                   f"g_hat = step M / (lr |D|) is {z:.1f} standard errors from the exact grad J (at most {Z_MAX:g} "
                   "allowed)", "an estimate biased by a sign or by a scale that changes with the batch (the sum where "
                   "the mean belongs): (8) is +1/M sum_t Phi_t grad log pi(a_t|s_t)", "8")


def policy_agree(S):
    def test(draw):
        M, rng = ints(draw, 1, 8), rng_of(draw)
        policy, obs, act, Phi = policy_setup(rng, M)
        delta, info = one_step(S, policy, obs, act, Phi)
        params = {k: p.copy() for k, p in policy.params.items()}
        ref = R_alg.update_policy(policy, R_optim.SGD(policy.params, 0.1), obs, act, Phi)
        if not all(close(params[k] + delta[k], policy.params[k]) for k in params) or \
                not all(close(info.get(k), v) for k, v in ref.items()):
            raise Fail(f"update_policy differs from nppg's on {fmt(obs=obs, act=act, Phi=Phi)}", "compare with (8)", "8")
    prop(10)(test)


# ---- 15. vpg (7, 8, 9) -------------------------------------------------------------------------------

VPG_SETTINGS = dict(epochs=2, steps_per_epoch=120, num_envs=2, hidden=(8,), train_v_iters=5, seed=3)


def vpg_by_hand(mistake=None, **settings):
    """Two epochs of the pseudocode with nppg's own pieces, from the same seed, or with a known ``mistake``."""
    cfg = R_alg.VPGConfig(env="CartPole-v1", **{**VPG_SETTINGS, **settings})
    s = R_alg.start(cfg)
    try:
        for k in range(cfg.epochs):
            batch = s.rollout.collect(s.policy, cfg.steps_per_epoch, s.rng)                     # 3
            if mistake == "value after fit":                                                   # phi_(k+1) first
                segments = zip(batch.starts, batch.stops, R_alg.closing_values(batch, s.value_fn))
                R_hat = R_adv.batch_weights(batch.rew, s.value_fn.predict(batch.obs), segments, cfg.weights,
                                            cfg.gamma, cfg.lam, cfg.n_step)[1]
                R_alg.fit_value(s.value_fn, s.vf_opt, batch.obs, R_hat, cfg.train_v_iters)
            val = s.value_fn.predict(batch.obs)
            segments = zip(batch.starts, batch.stops, R_alg.closing_values(batch, s.value_fn))  # (14)
            Phi, R_hat = R_adv.batch_weights(batch.rew, val, segments, cfg.weights, cfg.gamma, cfg.lam, cfg.n_step)
            if mistake == "per segment":
                for a, b in zip(batch.starts, batch.stops):
                    Phi[a:b] = (Phi[a:b] - Phi[a:b].mean()) / (Phi[a:b].std() + 1e-8)
            elif mistake != "not normalised":
                Phi = (Phi - Phi.mean()) / (Phi.std() + 1e-8)                                  # over the batch
            for _ in range(2 if mistake == "two steps" else 1):
                R_alg.update_policy(s.policy, s.pi_opt, batch.obs, batch.act, Phi)             # 6-7
            if mistake != "value after fit":
                R_alg.fit_value(s.value_fn, s.vf_opt, batch.obs, R_hat, cfg.train_v_iters)     # 8
            s.epoch, s.env_steps = k + 1, s.env_steps + len(batch.rew)
    finally:
        s.rollout.envs.close()
    return s


def student_vpg(S, **settings):
    kw = {**VPG_SETTINGS, **settings}
    records = []

    def callback(record, state):
        records.append(dict(record))
        return bool(settings.get("_stop"))
    kw.pop("_stop", None)
    inputs = "vpg('CartPole-v1', " + ", ".join(f"{k}={v!r}" for k, v in kw.items()) + ")"
    s = call("vpg", lambda: S.algorithm.vpg("CartPole-v1", callback=callback, setup=R_alg.start, **kw), inputs=inputs)
    return s, records, inputs


def same_params(a, b, tol=1e-10):
    return all(close(a.params[k], b.params[k], tol) for k in b.params) and set(a.params) == set(b.params)


def vpg_contract(S):
    s, records, inputs = student_vpg(S)
    if not all(hasattr(s, k) for k in ("policy", "value_fn", "epoch", "env_steps", "history")):
        raise Fail(f"vpg returned a {type(s).__name__}, not the State, on {inputs}", "return the State s", "8")
    if s.epoch != 2 or len(records) != 2 or len(s.history) != 2:
        raise Fail(f"after {inputs}: state.epoch = {s.epoch!r}, the callback was called {len(records)} times, "
                   f"{len(s.history)} records in history", "one epoch per k in range(s.epoch, cfg.epochs): count "
                   "s.epoch, append each epoch's record to s.history and pass it to callback(record, s)", "8")
    s, records, inputs = student_vpg(S, epochs=3, _stop=True)
    if s.epoch != 1 or len(records) != 1:
        raise Fail(f"a callback that returns True after the first epoch, on {inputs}: {len(records)} epochs ran",
                   "when callback(record, s) returns True, training stops there", "8")


def vpg_math(S):
    s, _, inputs = student_vpg(S)
    ref = vpg_by_hand()
    if same_params(s.policy, ref.policy) and same_params(s.value_fn, ref.value_fn):
        if s.env_steps != ref.env_steps:
            raise Fail(f"state.env_steps = {s.env_steps!r}, not {ref.env_steps} transitions, on {inputs}",
                       "env_steps counts the transitions collected, len(batch.rew) per epoch", "8")
        return
    hints = {"value after fit": "V fitted before the advantages are computed: step 5 uses V_phi_k, the value function "
                                "before this batch's fit; fit on R_hat_t afterwards (step 8), or the baseline has seen "
                                "the R_hat_t of the action it judges (7, 12)",
             "per segment": "Phi normalised per episode (segment): normalise over the whole batch, one mean and one "
                            "std; per episode every episode's weights average 0, good or bad (7)",
             "not normalised": "Phi not normalised: with normalize_adv (the default) Phi goes to mean 0, std 1 over "
                               "the batch",
             "two steps": "more than one policy step on a batch: (8) holds at theta_k, the policy that sampled it"}
    for mistake, hint in hints.items():
        wrong = vpg_by_hand(mistake)
        if same_params(s.policy, wrong.policy) and (mistake == "value after fit" or same_params(s.value_fn, wrong.value_fn)):
            break
    else:
        hint = ("one epoch is the pseudocode in order: collect (3); V(s_t) and the closing values with V_phi_k; "
                "batch_weights (4-5); Phi normalised over the batch; one update_policy (6-7); then fit_value (8)")
    which = "policy's" if not same_params(s.policy, ref.policy) else "value function's"
    raise Fail(f"after two epochs of {inputs}, the {which} parameters differ from the pseudocode's redone by hand from "
               "the same seed with nppg's own pieces", hint, "7, 8, 9")


def vpg_agree(S):
    for settings in (dict(weights="nstep", normalize_obs=True, scale_rewards=True),
                     dict(weights="return", normalize_adv=False)):
        s, records, inputs = student_vpg(S, **settings)
        ref = []
        r = R_alg.vpg("CartPole-v1", callback=lambda rec, st: ref.append(dict(rec)), setup=R_alg.start,
                      **{**VPG_SETTINGS, **settings})
        if not (same_params(s.policy, r.policy) and same_params(s.value_fn, r.value_fn)) or \
                [sorted(x) for x in records] != [sorted(x) for x in ref] or \
                not all(close(a[k], b[k], 1e-9) for a, b in zip(records, ref) for k in b):
            raise Fail(f"vpg differs from nppg's on {inputs}", "compare with algorithm.py: every option "
                       "(normalize_obs (25), scale_rewards (26)) as nppg's vpg does it", "7, 8, 9")


CHECKS = {
    "backprop": [("contract", "shapes and inputs", backprop_contract),
                 ("math", "dx, dW, db and tanh's dx against finite differences", backprop_gradients),
                 ("math", "an MLP's gradients against finite differences", backprop_mlp),
                 ("agreement", "nppg's linear_backward and tanh_backward", backprop_agree)],
    "categorical": [("contract", "shapes, inputs, logits of 1,000", categorical_contract),
                    ("math", "softmax sums to 1; the score against finite differences; E[score] = 0", categorical_math),
                    ("agreement", "nppg's functions", categorical_agree)],
    "gaussian": [("contract", "shapes and inputs", gaussian_contract),
                 ("math", "the density integrates to 1; the scores against finite differences", gaussian_math),
                 ("agreement", "nppg's functions", gaussian_agree)],
    "reward_to_go": [("contract", "shapes and inputs", rtg_contract),
                     ("math", "the recursion, closed by last_value; segments independent", rtg_math),
                     ("agreement", "nppg's functions", rtg_agree)],
    "gae": [("contract", "shapes and inputs", gae_contract),
            ("math", "delta's definition; GAE at lam = 0 and 1; its recursion", gae_math),
            ("agreement", "nppg's functions", gae_agree)],
    "nstep": [("contract", "shapes and inputs", nstep_contract),
              ("math", "n = 1, n = T, the definition; GAE as the lambda-average", nstep_math),
              ("agreement", "nppg's function", nstep_agree)],
    "batch_weights": [("contract", "shapes and inputs, for each kind of weights", bw_contract),
                      ("math", "each segment on its own; each kind by its definition", bw_math),
                      ("agreement", "nppg's batch_weights", bw_agree)],
    "gaussian_policy": [("contract", "grads keyed and shaped like params; inputs and parameters untouched",
                         gpolicy_contract),
                        ("math", "against finite differences of sum_t Phi_t log pi, Phi not all ones", gpolicy_math),
                        ("agreement", "nppg's GaussianPolicy.grad_log_prob", gpolicy_agree)],
    "value_loss": [("contract", "(L, grads), inputs and parameters untouched", value_contract),
                   ("math", "L is the MSE; its gradient against finite differences", value_math),
                   ("agreement", "nppg's grad_mse", value_agree)],
    "adam": [("contract", "in place, gradients untouched", adam_contract),
             ("math", "the first step has size lr; scale invariance; (23) step by step", adam_math),
             ("agreement", "nppg's Adam", adam_agree)],
    "running_stats": [("contract", "N, shapes, inputs", stats_contract),
                      ("math", "merging two halves gives the whole's statistics", stats_math),
                      ("agreement", "nppg's RunningStats", stats_agree)],
    "rollout": [("contract", "a Batch whose segments tile the steps", rollout_contract),
                ("math", "no reset step stored; truncation is no termination; s_T; the action as sampled", rollout_math),
                ("agreement", "nppg's Rollout", rollout_agree)],
    "closing_values": [("contract", "shape and inputs", closing_contract),
                       ("math", "0 after a termination, V(final_obs) otherwise", closing_math),
                       ("agreement", "nppg's closing_values", closing_agree)],
    "policy_step": [("contract", "diagnostics, inputs, a step taken", policy_contract),
                    ("math", "the step is +lr/M sum Phi grad log pi; loss_pi", policy_math),
                    ("math", "unbiased for grad J on an exact MDP", policy_unbiased),
                    ("agreement", "nppg's update_policy", policy_agree)],
    "vpg": [("contract", "the State, an epoch counted and recorded, the callback's stop", vpg_contract),
            ("math", "two epochs redone by hand from the same seed: the pseudocode's order", vpg_math),
            ("agreement", "nppg's vpg, with normalize_obs, scale_rewards, other weights", vpg_agree)],
}
assert list(CHECKS) == [e.name for e in LADDER]


# ---- grading ---------------------------------------------------------------------------------------

def grade(exercise, S):
    """(passed, output lines) of one exercise: its checks in order, up to the first that fails."""
    lines = []
    for kind, what, check in CHECKS[exercise.name]:
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                check(S)
        except NotYet as e:
            lines.append(f"  not implemented yet: {e}")
            return False, lines
        except Fail as f:
            lines += [f"  FAIL [{kind}] {what}", f"    {f.what}", f"    equation ({f.eq or exercise.eqs})",
                      f"    hint: {f.hint}"]
            return False, lines
        except Exception as e:  # e.g. a student's function that returns something unusable
            lines += [f"  FAIL [{kind}] {what}", f"    {type(e).__name__}: {e}", f"    equation ({exercise.eqs})",
                      "    hint: check the types and shapes your functions return against their docstrings"]
            return False, lines
        lines.append(f"  ok   [{kind}] {what}")
    return True, lines


def run_checks(directory, names=(), json_path=None, out=print):
    """Grade the workspace in ``directory``; returns the exit status (0: every exercise checked passes)."""
    try:
        import hypothesis  # noqa: F401
    except ImportError:
        out("nppg exercise check: needs hypothesis: pip install 'nppg[course]'")
        return 1
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise ValueError(f"no exercise {', '.join(unknown)}; the exercises: {', '.join(BY_NAME)}")
    chosen = [e for e in LADDER if not names or e.name in names]
    try:
        S, broken = load(directory), None
    except ValueError:
        raise
    except Exception as e:
        S, broken = None, f"{type(e).__name__}: {e}"
    tests, passed = [], 0
    for i, e in enumerate(chosen, 1):
        ok, lines = (False, [f"  FAIL: the workspace's package does not import: {broken}"]) if S is None else grade(e, S)
        head = f"{LADDER.index(e) + 1:>2}. {e.name} ({e.eqs}): {'PASS' if ok else 'FAIL'}"
        out(head)
        for line in lines:
            out(line)
        passed += ok
        tests.append({"name": f"{LADDER.index(e) + 1}. {e.name} ({e.eqs}): {e.title}", "score": float(ok),
                      "max_score": 1.0, "output": "\n".join([head] + lines)})
    out(f"{passed} of {len(chosen)} exercises pass")
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"score": float(passed), "max_score": float(len(chosen)), "tests": tests}, f, indent=2)
    return 0 if passed == len(chosen) else 1
