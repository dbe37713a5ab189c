"""The checks of nn.py's exercises, backprop (20, 21), in the order of the module: each check
registered under its exercise with ``@check``, its hints beside the property it tests."""
import numpy as np

from ... import nn as R_nn
from ...checks.gradcheck import check_grads
from .common import (Fail, call, check, close, copies, diagnose, expect, fmt, grad_error, ints, prop, rng_of,
                     side_by_side, unchanged, TOL)


LINEAR_ERRORS = [("matmul", "a product whose shapes do not fit: with x (N, D), W (D, H), dy (N, H), dx = dy W^T is "
                            "dy @ W.T (N, D) and dW = x^T dy is x.T @ dy (D, H)"),
                 ("align", "a product whose shapes do not fit: dx = dy @ W.T, dW = x.T @ dy")]


@check('backprop', 'contract', 'shapes and inputs')
def backprop_contract(S):
    rng = np.random.default_rng(0)
    x, W, dy = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal((3, 2))
    before, inputs = copies(x, W, dy), fmt(x=x, W=W, dy=dy)
    out = call("linear_backward", S.nn.linear_backward, dy, (x, W), inputs=inputs, errors=LINEAR_ERRORS)
    if not (isinstance(out, tuple) and len(out) == 3):
        raise Fail(f"linear_backward returned {type(out).__name__}, not a tuple (dx, dW, db)", "return dx, dW, db", "20")
    shapes = [np.shape(o) for o in out]
    if shapes != [(3, 4), (4, 2), (2,)] and sorted(shapes) == sorted([(3, 4), (4, 2), (2,)]):
        raise Fail(f"linear_backward returned arrays of shapes {shapes}, on {inputs}",
                   "the gradients returned in another order: return dx, dW, db, in this order ((N, D), (D, H), (H,))",
                   "20")
    for name, o, shape, hint in (("dx", out[0], (3, 4), "dx = dy W^T has x's shape (N, D)"),
                                 ("dW", out[1], (4, 2), "dW = x^T dy has W's shape (D, H); dy^T x is its transpose"),
                                 ("db", out[2], (2,), "db = 1^T dy sums dy over the N rows (axis=0): shape (H,); "
                                  "summed over axis=1 it has one entry per row (N,)")):
        expect(f"linear_backward's {name}", o, shape, inputs, hint)
    unchanged("linear_backward", before, [x, W, dy], inputs)
    y, up = np.tanh(x), rng.standard_normal((3, 4))
    before, inputs = copies(up, y), fmt(dy=up, y=y)
    expect("tanh_backward", call("tanh_backward", S.nn.tanh_backward, up, y, inputs=inputs), (3, 4), inputs)
    unchanged("tanh_backward", before, [up, y], inputs)


@check('backprop', 'math', "dx, dW, db and tanh's dx against finite differences")
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
                                      (-up * (1 - y ** 2), "a sign flipped: dx = dy (1 - y^2)"),
                                      (up * y * (1 - y), "the sigmoid's derivative y (1 - y): tanh's is 1 - y^2"),
                                      (up * (1 + y ** 2), "a sign slip: 1 - y^2, not 1 + y^2: d tanh(x)/dx = "
                                       "1 - tanh(x)^2"),
                                      (1 - y ** 2, "the upstream gradient dy is missing: the chain rule multiplies "
                                       "d tanh(x)/dx = 1 - y^2 by dy, dx = dy (1 - y^2)")],
                                "d tanh(x)/dx = 1 - tanh(x)^2 = 1 - y^2, times the upstream dy"), "21")
    prop(12)(test)


@check('backprop', 'math', "an MLP's gradients against finite differences")
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


@check('backprop', 'agreement', "nppg's linear_backward and tanh_backward")
def backprop_agree(S):
    def test(draw):
        N, D, H, rng = ints(draw, 1, 6), ints(draw, 1, 6), ints(draw, 1, 6), rng_of(draw)
        x, W, dy = rng.standard_normal((N, D)), rng.standard_normal((D, H)), rng.standard_normal((N, H))
        inputs = fmt(x=x, W=W, dy=dy)
        got = call("linear_backward", S.nn.linear_backward, dy, (x, W), inputs=inputs, errors=LINEAR_ERRORS)
        for g, r, name, what in zip(got, R_nn.linear_backward(dy, (x, W)), ("dx", "dW", "db"),
                                    ("dy W^T", "x^T dy", "the sum of dy over the rows")):
            if not close(g, r):
                raise Fail(side_by_side(f"linear_backward's {name}", g, r, inputs),
                           f"{name} = {what} (20), for any N, D, H: your {name} differs on these shapes only", "20")
        y = np.tanh(rng.standard_normal((N, H)))
        got, ref = call("tanh_backward", S.nn.tanh_backward, dy, y, inputs=inputs), R_nn.tanh_backward(dy, y)
        if not close(got, ref):
            raise Fail(side_by_side("tanh_backward", got, ref, fmt(dy=dy, y=y)),
                       "dx = dy (1 - y^2) elementwise (21), y the forward's output", "21")
    prop(15)(test)
