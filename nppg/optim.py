"""Descent steps on a dict of arrays, in place. To ascend J, pass the gradient of -J."""
import numpy as np


def _check(params, grads):
    if not isinstance(grads, dict):
        raise ValueError(f"grads must be a dict keyed like params; got {type(grads).__name__}")
    for key, g in grads.items():
        if key not in params:
            raise ValueError(f"grads has key {key!r} that params does not have (params has {sorted(params)})")
        if np.shape(g) != params[key].shape:
            raise ValueError(f"grads[{key!r}] must have shape {params[key].shape}; got shape {np.shape(g)}")


class SGD:
    """theta <- theta - lr * g."""

    def __init__(self, params, lr=1e-2):
        if not lr > 0:
            raise ValueError(f"lr must be positive; got {lr}")
        self.params, self.lr = params, lr

    def step(self, grads):
        _check(self.params, grads)
        for key, g in grads.items():
            self.params[key] -= self.lr * g


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
        self.m = {key: np.zeros_like(p) for key, p in params.items()}
        self.v = {key: np.zeros_like(p) for key, p in params.items()}
        self.t = 0

    def step(self, grads):
        _check(self.params, grads)
        self.t += 1
        for key, g in grads.items():
            self.m[key] = self.beta1 * self.m[key] + (1.0 - self.beta1) * g
            self.v[key] = self.beta2 * self.v[key] + (1.0 - self.beta2) * g * g
            m_hat = self.m[key] / (1.0 - self.beta1 ** self.t)
            v_hat = self.v[key] / (1.0 - self.beta2 ** self.t)
            self.params[key] -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
