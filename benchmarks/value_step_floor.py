"""The floor under the value fit: one value step's matrix products and element-wise passes, timed alone.

    python benchmarks/value_step_floor.py [--rows 2000] [--obs-dim 4] [--hidden 64 64] [--steps 80]

``nppg bench``'s limit counts an epoch's matrix products only. A value step also makes element-wise
passes that no BLAS does for it: the bias additions and tanh of the forward pass, tanh's derivative,
the output layer's outer product and the bias gradients' column sums of the backward pass
(``FastValueFunction``, nppg/engine/value.py). This times each of them, and each product, on one block of
``rows`` rows (what one of its two threads computes), one BLAS thread, best of 7; then
``FastValueFunction.grad_mse`` itself on those rows (one block).
Prints milliseconds per call, the two sums, and what ``steps`` value steps on twice the rows (both
threads' blocks) cost per epoch if two threads halved everything and Python cost nothing.
"""
import argparse
import timeit

import numpy as np

from nppg.engine.threads import set_threads
from nppg.engine.value import FastValueFunction


def value_step_ops(params, obs, n_layers):
    """(name, kind, flops, call) for every NumPy call of one forward and backward pass over ``obs``,
    in the order ``FastValueFunction``'s forward and backward make them (no gradient for the input). Each call writes
    into an array of its own, so it can be timed again and again on the same inputs."""
    ops, ys, x, n = [], [], obs, len(obs)
    for i in range(n_layers):  # forward: y = x W (product), y += b, y = tanh(y)
        W, b = params[f"W{i}"], params[f"b{i}"]
        y = x @ W + b
        ops.append((f"x @ W{i}", "product", 2 * n * W.size, lambda x=x, W=W: x @ W))
        ops.append((f"+= b{i}", "elementwise", 0, lambda y=y, b=b, out=np.empty_like(y): np.add(y, b, out=out)))
        if i < n_layers - 1:
            ops.append((f"tanh {i}", "elementwise", 0, lambda y=y, out=np.empty_like(y): np.tanh(y, out=out)))
            y = np.tanh(y)
        ys.append((x, y))
        x = y
    dy = np.ones((n, 1)) / n
    for i in reversed(range(n_layers)):  # backward: tanh', dW = x^T dy, db = sum dy, dx = dy W^T
        (x, y), W = ys[i], params[f"W{i}"]
        if i < n_layers - 1:
            def tanh_backward(dy=dy, y=y, out=np.empty_like(y)):
                np.multiply(y, y, out=out)
                np.subtract(1.0, out, out=out)
                return np.multiply(out, dy, out=out)
            ops.append((f"tanh' {i} (3 passes)", "elementwise", 0, tanh_backward))
            dy = dy * (1 - y * y)
        ops.append((f"dW{i} = x^T dy", "product", 2 * n * W.size, lambda x=x, dy=dy: x.T @ dy))
        ops.append((f"db{i} = sum dy", "elementwise", 0, lambda dy=dy: dy.sum(axis=0)))
        if i > 0:
            name = f"dx{i} = dy W{i}^T" + (" (outer)" if W.shape[1] == 1 else "")
            ops.append((name, "product", 2 * n * W.size, lambda dy=dy, W=W: dy @ W.T))
            dy = dy @ W.T
    return ops


def best_ms(f, number=50, repeat=7):
    return 1e3 * min(timeit.repeat(f, number=number, repeat=repeat)) / number


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    p.add_argument("--rows", type=int, default=2000)
    p.add_argument("--obs-dim", type=int, default=4)
    p.add_argument("--hidden", type=int, nargs="+", default=[64, 64])
    p.add_argument("--steps", type=int, default=80)
    args = p.parse_args(argv)
    set_threads(1)
    rng = np.random.default_rng(0)
    vf = FastValueFunction(args.obs_dim, tuple(args.hidden), rng=rng)
    obs, targets = rng.standard_normal((args.rows, args.obs_dim)), rng.standard_normal(args.rows)
    total = {"product": 0.0, "elementwise": 0.0}
    print(f"one block of {args.rows} rows, ms per call:")
    for name, kind, _, call in value_step_ops(vf.params, obs, vf.net.n_layers):
        ms = best_ms(call)
        total[kind] += ms
        print(f"  {name:24s} {kind:12s} {ms:7.3f}")
    whole = best_ms(lambda: vf.grad_mse(obs, targets, block=args.rows))
    print(f"products {total['product']:.3f} ms, element-wise passes {total['elementwise']:.3f} ms, "
          f"grad_mse {whole:.3f} ms (the rest, {whole - sum(total.values()):.3f} ms, is Python and the loss)")
    floor = args.steps * sum(total.values()) / 1e3
    print(f"{args.steps} value steps on {2 * args.rows} rows with two threads, if they halved everything and "
          f"Python cost nothing: {floor:.3f} s per epoch, of which products {args.steps * total['product'] / 1e3:.3f} s")


if __name__ == "__main__":
    main()
