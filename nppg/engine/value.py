"""A faster value fit: ``FastValueFunction`` is ``ValueFunction`` with (22) in row blocks, on threads,
in float64 or float32. Training spends most of an epoch here (80 passes over the batch).

The loss (22) is a sum over rows, so its gradient is the sum of the gradients of row blocks. The
batch is cut into the fewest equal blocks of at most ``block`` rows (the widest array 1 MB: 2,048
rows of 64 float64s), and at least two, one for each of two threads; a thread pool computes them at
once (NumPy lets go of Python's lock inside its loops), and they are added up in order, so a run is
the same to the bit with any number of threads. Each block goes through the network in place: no
gradient for the input (nobody needs it), the bias and tanh written into the product's own array.
With one block of every row, in float64, every number is the same as ``ValueFunction.grad_mse``'s
(a test pins it). docs/performance.md has the measurements behind each choice.
"""
import math

import numpy as np

from ..policies import ValueFunction, _rows


class FastValueFunction(ValueFunction):
    """``ValueFunction`` with the same initial draws, rounded to ``dtype``; ``pool``: threads for the blocks."""

    def __init__(self, obs_dim, hidden_sizes=(64, 64), activation="tanh", rng=None, dtype=np.float64, pool=None):
        super().__init__(obs_dim, hidden_sizes, activation, rng)
        self.dtype, self.pool = np.dtype(dtype), pool
        for k, p in self.params.items():
            self.params[k] = p.astype(self.dtype, copy=False)
        self.block = max(1, 2**20 // (max(self.net.sizes) * self.dtype.itemsize))  # most rows in one block
        self._normalized = (None, None, None)

    def _input(self, obs):
        obs = np.asarray(obs)
        if obs.ndim != 2 or obs.shape[1] != self.obs_dim:
            raise ValueError(f"input must have shape (N, {self.obs_dim}); got shape {obs.shape}")
        stats = self.net.obs_stats
        if stats is None:
            return obs
        # (25), as MLP.forward does; the fit passes one batch 80 times under statistics frozen for the epoch,
        # so it is normalised once (the cache holds the array itself, and the statistics' count)
        if self._normalized[0] is not obs or self._normalized[1] != stats.N:
            self._normalized = (obs, stats.N, stats.normalize(obs))
        return self._normalized[2]

    def _forward(self, x):
        """x (B, D) -> V (B, 1) in ``dtype``, and the cache: each layer's input and, after tanh, its output."""
        h, cache, last = np.asarray(x, dtype=self.dtype), [], self.net.n_layers - 1
        for i in range(self.net.n_layers):
            y = h @ self.params[f"W{i}"]
            y += self.params[f"b{i}"]                        # in place: no second (B, H) array
            act = None
            if i < last:
                if self.net.activation == "tanh":
                    act = np.tanh(y, out=y)
                else:
                    act = y > 0
                    y *= act
            cache.append((h, act))
            h = y
        return h, cache

    def _backward(self, dy, cache):
        """The gradients of the parameters only (the first layer's dx is skipped); tanh's derivative (21),
        dy (1 - y^2), computed in one array instead of three."""
        grads, dh = {}, np.asarray(dy, dtype=self.dtype)
        for i in reversed(range(self.net.n_layers)):
            x, act = cache[i]
            if act is not None and self.net.activation == "tanh":
                g = act * act
                np.subtract(1, g, out=g)
                g *= dh
                dh = g
            elif act is not None:
                dh = dh * act
            grads[f"W{i}"], grads[f"b{i}"] = x.T @ dh, dh.sum(axis=0)
            if i > 0:
                dh = dh @ self.params[f"W{i}"].T
        return grads

    def predict(self, obs):
        return self._forward(self._input(obs))[0][:, 0]                       # (N,) in dtype

    def _share(self, obs, R_hat, n):
        """These rows' share of (22) in a batch of M = n rows: sum_t (V(s_t) - R_hat_t)^2 / M, and its gradient."""
        v, cache = self._forward(obs)
        err = v[:, 0] - R_hat                                                  # (B,) float64
        return float(err @ err) / n, self._backward((2 / n) * err[:, None], cache)

    def grad_mse(self, obs, R_hat, block=None):
        """(22) and its gradient, as ``ValueFunction.grad_mse``, a ``block`` of rows at a time (default above)."""
        obs = self._input(obs)
        n = len(obs)
        if n == 0:
            raise ValueError("obs must have at least one row; got shape (0, ...)")
        R_hat = _rows(R_hat, n, "R_hat", np.float64, 1)
        block = math.ceil(n / max(2, math.ceil(n / self.block))) if block is None else block
        if isinstance(block, bool) or not (isinstance(block, (int, np.integer)) and block >= 1):
            raise ValueError(f"block must be a whole number >= 1 (or None for the default blocks); got {block!r}")

        def share(i):  # rows i .. i + block
            return self._share(obs[i:i + block], R_hat[i:i + block], n)

        starts = range(0, n, block)
        parts = map(share, starts) if self.pool is None else self.pool.map(share, starts)
        loss, grads = next(parts)
        for loss_i, g in parts:
            loss += loss_i
            for k in grads:
                grads[k] += g[k]
        return loss, grads
