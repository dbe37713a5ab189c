"""Layers as forward/backward pairs, and a multilayer perceptron built from them, in float64.

Every ``*_forward`` returns ``(out, cache)``; the matching ``*_backward`` takes the upstream gradient ``dout``
(of some scalar loss with respect to ``out``) and that cache, and returns the gradients with respect to the
forward's inputs. The cache is the only memory: nothing is stored on objects between calls."""
import numpy as np


def linear_forward(x, W, b):
    """(20) y = x W + b.  x (N, D), W (D, H), b (H,) -> y (N, H)."""
    return x @ W + b, (x, W)


def linear_backward(dy, cache):
    """(20) dx = dy W^T, dW = x^T dy, db = 1^T dy (sum over rows).  dy (N, H) -> dx (N, D), dW (D, H), db (H,)."""
    x, W = cache
    return dy @ W.T, x.T @ dy, dy.sum(axis=0)


def tanh_forward(x):
    y = np.tanh(x)
    return y, y  # the backward needs only the output


def tanh_backward(dy, y):
    return dy * (1 - y**2)  # (21) d tanh(x)/dx = 1 - tanh(x)^2


def relu_forward(x):
    mask = x > 0
    return x * mask, mask


def relu_backward(dy, mask):
    return dy * mask  # (21) d relu(x)/dx = [x > 0]


ACTIVATIONS = {"tanh": (tanh_forward, tanh_backward), "relu": (relu_forward, relu_backward)}


def orthogonal(shape, gain, rng):
    """A (D, H) matrix with orthonormal rows or columns, scaled by ``gain``."""
    a = rng.standard_normal((max(shape), min(shape)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # make the factorisation unique, so q is uniformly distributed
    return np.ascontiguousarray(gain * (q if shape[0] >= shape[1] else q.T))


class MLP:
    """A fully connected network ``sizes = (in, hidden..., out)``: ``activation`` ("tanh" or "relu") in hidden
    layers, a linear output; ``params`` holds ``W0, b0, W1, b1, ...``, ``W_i`` of shape (sizes[i], sizes[i+1]).
    Orthogonal initial weights, zero biases; hidden gain sqrt(2), ReLU's gain (tanh's would be 5/3), for both
    activations as OpenAI Baselines does. The output gain is ``out_gain`` (policies use 0.01: every action starts
    nearly equally likely, which Andrychowicz et al., 2021, "What matters in on-policy RL", found to help most)."""

    def __init__(self, sizes, activation="tanh", rng=None, out_gain=1.0):
        sizes = tuple(sizes)
        if len(sizes) < 2 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in sizes):
            raise ValueError(f"sizes must be two or more positive integers (in, hidden..., out); got {sizes}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}; got {activation!r}")
        rng = np.random.default_rng() if rng is None else rng
        self.sizes, self.activation, self.n_layers = tuple(int(s) for s in sizes), activation, len(sizes) - 1
        self.obs_stats = None  # RunningStats: if set, inputs are normalised (25) before the first layer
        self.params = {}
        for i in range(self.n_layers):
            gain = out_gain if i == self.n_layers - 1 else np.sqrt(2.0)
            self.params[f"W{i}"] = orthogonal((sizes[i], sizes[i + 1]), gain, rng)
            self.params[f"b{i}"] = np.zeros(sizes[i + 1])

    def forward(self, x):
        """x (N, sizes[0]) -> y (N, sizes[-1]), cache (one entry per layer)."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.sizes[0]:
            raise ValueError(f"input must have shape (N, {self.sizes[0]}); got shape {x.shape}")
        x = x if self.obs_stats is None else self.obs_stats.normalize(x)
        act_forward, _ = ACTIVATIONS[self.activation]
        h, cache = x, []
        for i in range(self.n_layers):
            h, lin_cache = linear_forward(h, self.params[f"W{i}"], self.params[f"b{i}"])  # (N, sizes[i+1])
            h, act_cache = act_forward(h) if i < self.n_layers - 1 else (h, None)        # the output is linear
            cache.append((lin_cache, act_cache))
        return h, cache

    def backward(self, dy, cache):
        """dy (N, sizes[-1]) -> grads (keyed like ``params``), dx (N, sizes[0])."""
        _, act_backward = ACTIVATIONS[self.activation]
        grads, dh = {}, dy
        for i in reversed(range(self.n_layers)):
            lin_cache, act_cache = cache[i]
            if act_cache is not None:
                dh = act_backward(dh, act_cache)
            dh, grads[f"W{i}"], grads[f"b{i}"] = linear_backward(dh, lin_cache)
        return grads, dh
