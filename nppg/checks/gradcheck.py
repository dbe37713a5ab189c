"""Check an analytic gradient against centred finite differences, in float64.

    >>> f = lambda: float(np.sum(policy.log_prob(obs, act) * w))
    >>> num = numerical_grad(f, policy.params["W0"])      # perturbs the array in place
    >>> rel_error(policy.grad_log_prob(obs, act, w)["W0"], num) < 1e-6
"""
import numpy as np


def numerical_grad(f, x, eps=1e-3):
    """d f / d x for every entry i of ``x``, by the fourth-order centred difference

        (-f(x + 2 eps e_i) + 8 f(x + eps e_i) - 8 f(x - eps e_i) + f(x - 2 eps e_i)) / (12 eps),

    whose error is O(eps^4): the textbook two-point (f(x + eps) - f(x - eps)) / (2 eps) errs by
    O(eps^2), too much to demand 1e-6 relative error on small entries of a deep tanh network.
    eps = 1e-3 balances that truncation error (~1e-12) against rounding (~ulp(f) / eps).
    ``f()`` takes no arguments and reads ``x`` (a float64 array) wherever it lives, so the
    same call checks a network's parameter in place; ``x`` is restored exactly afterwards.
    """
    if x.dtype != np.float64:
        raise ValueError(f"x must be float64 for a meaningful check; got {x.dtype}")
    if not x.flags.c_contiguous:
        raise ValueError("x must be C-contiguous, so that perturbing its entries perturbs the array f reads")
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)  # views: writing flat[i] writes x
    for i in range(flat.size):
        old = flat[i]
        f_at = []
        for step in (2.0, 1.0, -1.0, -2.0):
            flat[i] = old + step * eps
            f_at.append(f())
        flat[i] = old
        # differences first: where f does not change (a dead ReLU unit) this is exactly 0, whereas
        # -f_at[0] + 8 f_at[1] - ... rounds 7 f to the nearest float and leaves ~ulp(f) / eps behind
        gflat[i] = (8.0 * (f_at[1] - f_at[2]) - (f_at[0] - f_at[3])) / (12.0 * eps)
    return grad


def rel_error(a, n, floor=1e-8, noise=0.0):
    """max_i max(0, |a_i - n_i| - noise) / max(floor, |a_i| + |n_i|): below 1e-6 means they agree.

    Where the true gradient is exactly zero (a dead ReLU unit), ``numerical_grad`` reads exactly
    zero too, since f does not change at all. If some f is not bit-stable there, its finite
    difference reads about ulp(f) / eps instead; ``floor=1e-5`` accepts such entries (an
    absolute error of 1e-11) without loosening the relative test anywhere else.
    ``noise`` is the absolute error the numerical gradient may carry from rounding alone
    (``check_grads`` passes it); a disagreement below it says nothing about ``a``.
    """
    a, n = np.asarray(a, dtype=np.float64), np.asarray(n, dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(f"shapes differ: {a.shape} and {n.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.maximum(0.0, np.abs(a - n) - noise) / np.maximum(floor, np.abs(a) + np.abs(n))))


def check_grads(f, params, grads, eps=1e-3, floor=1e-8):
    """rel_error of ``grads[k]`` against the numerical gradient of ``f`` for every key: {key: error}.

    Each f(x +- eps e_i) is rounded to about ulp(f), so the centred difference of numerical_grad
    carries an error of about ulp(f) / eps whatever the true gradient is: 2e-13 for f = 1 at eps =
    1e-3, which is a relative error of 1e-6 on an entry of 1e-7. Ten times that is passed to
    rel_error as ``noise``, so that entries too small for finite differences to resolve do not fail.
    (An f near 0 that is a difference of large terms rounds like its terms: pass a larger ``floor``.)
    """
    noise = 10.0 * np.spacing(abs(f())) / eps
    return {k: rel_error(grads[k], numerical_grad(f, params[k], eps), floor, noise) for k in grads}
