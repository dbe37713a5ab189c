"""Descent steps on a dict of arrays, in place. To ascend J, pass the gradient of -J."""
import numpy as np


def _check(params, grads):
    if not isinstance(grads, dict):
        raise ValueError(f"grads must be a dict keyed like params; got {type(grads).__name__}")
    for k, g in grads.items():
        if k not in params:
            raise ValueError(f"grads has key {k!r} that params does not have (params has {sorted(params)})")
        if np.shape(g) != params[k].shape:
            raise ValueError(f"grads[{k!r}] must have shape {params[k].shape}; got shape {np.shape(g)}")


class SGD:
    """theta <- theta - lr * g."""

    def __init__(self, params, lr=1e-2):
        if not lr > 0:
            raise ValueError(f"lr must be positive; got {lr}")
        self.params, self.lr = params, lr

    def step(self, grads):
        _check(self.params, grads)
        for k, g in grads.items():
            self.params[k] -= self.lr * g


class Adam:
    """(23) Adam (Kingma & Ba, 2015, Algorithm 1), with bias correction.

    m_t = beta1 m_{t-1} + (1 - beta1) g_t          v_t = beta2 v_{t-1} + (1 - beta2) g_t^2
    m_hat = m_t / (1 - beta1^t)                     v_hat = v_t / (1 - beta2^t)
    theta_t = theta_{t-1} - lr m_hat / (sqrt(v_hat) + eps)
    """

    def __init__(self, params, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        if not lr > 0:
            raise ValueError(f"lr must be positive; got {lr}")
        if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
            raise ValueError(f"beta1 and beta2 must lie in [0, 1); got {beta1}, {beta2}")
        self.params, self.lr, self.beta1, self.beta2, self.eps = params, lr, beta1, beta2, eps
        self.m = {k: np.zeros_like(p) for k, p in params.items()}
        self.v = {k: np.zeros_like(p) for k, p in params.items()}
        self.t = 0

    def step(self, grads):
        _check(self.params, grads)
        self.t += 1
        for k, g in grads.items():
            self.m[k] = self.beta1 * self.m[k] + (1.0 - self.beta1) * g
            self.v[k] = self.beta2 * self.v[k] + (1.0 - self.beta2) * g * g
            m_hat = self.m[k] / (1.0 - self.beta1 ** self.t)
            v_hat = self.v[k] / (1.0 - self.beta2 ** self.t)
            self.params[k] -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
