"""What every check module shares: a failure (``Fail``) and a blank (``NotYet``), the ``check`` decorator that
registers a check under its exercise, and the helpers that call the student's functions and compare and format
arrays. hypothesis draws the shapes and seeds (derandomized, so every run checks the same examples).

Each exercise's checks come in three kinds, in this order, and the first that fails ends the exercise: the
contract (shapes, dtypes, inputs left as they were, no overflow), the math as properties that need no solution
(gradients against finite differences, the derivation's identities and invariants, an unbiased estimate on an
exact MDP), and last, agreement with nppg's own function. A failure says what failed on which input, the
equation, and a hint naming the misconception most likely behind it: where the student's output equals a known
mistake's, that mistake is named."""
import numpy as np

from ...checks.gradcheck import numerical_grad, rel_error

TOL = 1e-6      # relative error of a gradient against finite differences
CLOSE = 1e-8    # identities and agreement: rtol = atol
Z_MAX = 5.0     # the exact-MDP check: max |z| over the coordinates of an unbiased estimate stays below ~4


class Fail(Exception):
    def __init__(self, what, hint, eq=None):
        super().__init__(what)
        self.what, self.hint, self.eq = what, hint, eq


class NotYet(Exception):
    pass


# ---- the registry: each check module registers its exercises' checks, in the order they are defined -------------

CHECKS = {}   # exercise name -> [(kind, what, function)], kind one of KINDS
KINDS = ("contract", "math", "agreement")


def check(exercise, kind, what):
    """Register the decorated ``function(S)`` as one of ``exercise``'s checks; ``S`` is the package to grade."""
    if kind not in KINDS:
        raise ValueError(f"a check's kind is one of {KINDS}, not {kind!r}")

    def register(function):
        CHECKS.setdefault(exercise, []).append((kind, what, function))
        return function
    return register


# ---- helpers -------------------------------------------------------------------------------------

def one(x):
    if isinstance(x, np.ndarray):
        return np.array2string(x, precision=4, threshold=24, max_line_width=10**6, separator=", ").replace("\n", "")
    if isinstance(x, (float, np.floating)):
        return f"{float(x):.6g}"
    return repr(x)


def fmt(**named):
    return ", ".join(f"{k}={one(v)}" for k, v in named.items())


def call(label, f, *args, inputs="", errors=()):
    """f(*args); a blank raises NotYet, any other exception becomes a failure that names the input. ``errors`` are
    (words of the error's message, hint) pairs: the hint of the first whose words the message holds names the
    likely slip (a shape that does not fit, ...); else the hint says to read the error."""
    try:
        return f(*args)
    except NotImplementedError as e:
        raise NotYet(str(e)) from None
    except Exception as e:  # the student's code: report it, not a traceback
        hint = next((h for words, h in errors if words in str(e)),
                    "read the error: it points at a shape or an index that does not fit the docstring")
        raise Fail(f"{label} raised {type(e).__name__}: {e}, on {inputs}", hint) from None


def close(a, b, tol=CLOSE):
    try:
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return a.shape == b.shape and bool(np.all(np.isfinite(a) == np.isfinite(b))) and \
        np.allclose(a, b, rtol=tol, atol=tol, equal_nan=True)


def diagnose(out, mistakes, default):
    """The hint of the first known mistake whose output equals the student's, else ``default``. A mistake whose
    output is not finite names nothing (two different slips both give nan)."""
    for value, hint in mistakes:
        finite = np.all(np.isfinite(np.asarray(value, dtype=np.float64)))
        if finite and close(out, value, 1e-6):
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
                       "an input changed in place: a function of the algorithm never writes into its inputs; compute "
                       "into a new array (x -= ... or x[...] = ... on an argument changes the caller's data)")


def first_difference(got, want, tol=CLOSE, at=""):
    """Where ``got`` first differs from ``want``: (where, got's entry, want's entry), or None. ``where`` is an
    index or key written as Python reads it (``[2]``, ``['W0'][1, 0]``), or what differs ("shape", "keys")."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return (f"{at} type", type(got).__name__, "dict")
        if set(got) != set(want):
            return (f"{at} keys", sorted(got), sorted(want))
        for k in want:
            d = first_difference(got[k], want[k], tol, f"{at}[{k!r}]")
            if d is not None:
                return d
        return None
    try:
        g, w = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    except (TypeError, ValueError):
        return (f"{at} value", got, want)
    if g.shape != w.shape:
        return (f"{at} shape", g.shape, w.shape)
    bad = ~(np.isclose(g, w, rtol=tol, atol=tol, equal_nan=True) & (np.isfinite(g) == np.isfinite(w)))
    if not bad.any():
        return None
    if not g.ndim:
        return (at, float(g), float(w))
    i = np.unravel_index(int(np.flatnonzero(bad)[0]), g.shape)
    return (f"{at}[{', '.join(str(int(j)) for j in i)}]", g[i], w[i])


def side_by_side(label, got, want, inputs, tol=CLOSE):
    """An agreement failure's message: the input, then yours and nppg's side by side at the first entry (index or
    key) that differs, then the whole arrays."""
    where, a, b = first_difference(got, want, tol) or ("", got, want)
    show = ""
    if not isinstance(want, dict) and np.ndim(want):
        show = f"; yours {one(np.asarray(got))}, nppg's {one(np.asarray(want))}"
    return (f"{label} differs from nppg's on {inputs}: {label}{where} is {one(a)} (yours), {one(b)} (nppg's)"
            f"{show}")


def grad_error(f, x, got):
    """rel_error of ``got`` against finite differences of f in x, less the differences' own rounding noise."""
    num = numerical_grad(f, x)
    if np.shape(got) != num.shape:
        return np.inf, num
    return rel_error(got, num, noise=10.0 * np.spacing(abs(f())) / 1e-3), num


def copies(*xs):
    return [np.array(x, copy=True) for x in xs]


SEED = None   # set by the grader: None draws the same examples every run; a number, fresh ones from that seed


def prop(n=15):
    """Run ``test(draw)`` on ``n`` derandomized hypothesis examples (or drawn from ``SEED``); ``draw`` is
    hypothesis's data object. The first failing example is reported as drawn: shapes are at most 8 or so, and a
    failing check takes no time."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
    from hypothesis import strategies as st

    def run(test):
        runner = given(st.data())(settings(max_examples=n, derandomize=SEED is None, database=None, deadline=None,
                                           phases=(Phase.explicit, Phase.generate),  # no shrinking: inputs are small
                                           verbosity=Verbosity.quiet, report_multiple_bugs=False, print_blob=False,
                                           suppress_health_check=list(HealthCheck))(test))
        (runner if SEED is None else seed(SEED)(runner))()
    return run


def ints(draw, lo, hi):
    from hypothesis import strategies as st
    return draw.draw(st.integers(lo, hi))


def floats(draw, lo, hi):
    from hypothesis import strategies as st
    return draw.draw(st.floats(lo, hi, allow_nan=False))


def rng_of(draw):
    return np.random.default_rng(ints(draw, 0, 2**32 - 1))
