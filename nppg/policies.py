"""Stochastic policies pi_theta(a|s) and the value function V_phi(s), each an MLP plus closed-form scores.

A policy's ``params`` is one dict (the MLP's ``W0, b0, ...``, plus ``log_std`` for the
Gaussian) that optimizers update in place. ``grad_log_prob(obs, act, weights)`` is the
gradient of ``sum_i weights[i] * log pi(act[i] | obs[i])``: the closed-form score of the
distribution with respect to its parameters (14, 16), then backpropagation through the MLP.
"""
import math

import numpy as np

from . import distributions as dist
from .nn import MLP


def _obs(obs, obs_dim, name="obs"):
    obs = np.asarray(obs, dtype=np.float64)
    if obs.ndim != 2 or obs.shape[1] != obs_dim:
        raise ValueError(f"{name} must have shape (N, {obs_dim}); got shape {obs.shape}")
    return obs


def _per_row(x, n, name, what="obs"):
    x = np.asarray(x)
    if x.ndim == 0 or x.shape[0] != n:
        raise ValueError(f"{name} must have one row per row of {what} ({n}); got shape {x.shape}")
    return x


def _floats(x, n, name):
    """One float per row of obs, as a 1-d float64 array."""
    x = np.asarray(_per_row(x, n, name), dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"{name} must be 1-d, one per row of obs ({n}); got shape {x.shape}")
    return x


def _weights(weights, n):
    return _floats(weights, n, "weights")


def _targets(targets, n):
    """The value loss's R_hat, for at least one row (the loss is a mean)."""
    if n == 0:
        raise ValueError("obs must have at least one row; got shape (0, ...)")
    return _floats(targets, n, "targets")


class CategoricalPolicy:
    """pi(a|s) = softmax(z(s))_a over ``n_actions`` actions, logits z(s) from an MLP."""

    def __init__(self, obs_dim, n_actions, hidden_sizes=(64, 64), activation="tanh", rng=None):
        self.obs_dim, self.n_actions = obs_dim, n_actions
        self.net = MLP((obs_dim, *hidden_sizes, n_actions), activation, rng, out_gain=0.01)
        self.params = self.net.params

    def _actions(self, act, n):
        act = _per_row(act, n, "act")
        if act.ndim != 1 or not np.issubdtype(act.dtype, np.integer):
            raise ValueError(f"act must be a 1-d array of integer actions; got shape {act.shape}, dtype {act.dtype}")
        if act.size and (act.min() < 0 or act.max() >= self.n_actions):
            raise ValueError(f"act must lie in [0, {self.n_actions}); got values from {act.min()} to {act.max()}")
        return act

    def logits(self, obs):
        return self.net.forward(_obs(obs, self.obs_dim))[0]                # (N, K)

    def sample(self, obs, rng):
        return dist.categorical_sample(self.logits(obs), rng)              # (N,)

    def mode(self, obs):
        return self.logits(obs).argmax(axis=-1)                            # (N,)

    def log_prob(self, obs, act):
        z = self.logits(obs)
        return dist.categorical_log_prob(z, self._actions(act, len(z)))    # (N,)

    def entropy(self, obs):
        return dist.categorical_entropy(self.logits(obs))                  # (N,)

    def grad_log_prob(self, obs, act, weights):
        """Gradient of sum_i weights[i] log pi(act[i]|obs[i]): (14), then backprop."""
        z, cache = self.net.forward(_obs(obs, self.obs_dim))
        act, weights = self._actions(act, len(z)), _weights(weights, len(z))
        dz = weights[:, None] * dist.categorical_score(z, act)             # (N, K)
        return self.net.backward(dz, cache, input_grad=False)[0]

    def grad_entropy(self, obs, weights=None):
        """Gradient of sum_i weights[i] H(pi(.|obs[i])) (weights default to ones): (17), then backprop."""
        z, cache = self.net.forward(_obs(obs, self.obs_dim))
        dz = dist.categorical_entropy_grad(z)                              # (N, K)
        if weights is not None:
            dz *= _weights(weights, len(z))[:, None]
        return self.net.backward(dz, cache, input_grad=False)[0]


class GaussianPolicy:
    """pi(a|s) = N(mu(s), diag(sigma^2)): mean from an MLP, a state-independent ``log_std`` (act_dim,)."""

    def __init__(self, obs_dim, act_dim, hidden_sizes=(64, 64), activation="tanh", log_std_init=-0.5, rng=None):
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.net = MLP((obs_dim, *hidden_sizes, act_dim), activation, rng, out_gain=0.01)
        self.params = self.net.params  # one dict: the MLP reads W_i, b_i and ignores log_std
        self.params["log_std"] = np.full(act_dim, float(log_std_init))

    def _actions(self, act, n):
        act = np.asarray(_per_row(act, n, "act"), dtype=np.float64)
        if act.shape != (n, self.act_dim):
            raise ValueError(f"act must have shape ({n}, {self.act_dim}); got shape {act.shape}")
        return act

    def mean(self, obs):
        return self.net.forward(_obs(obs, self.obs_dim))[0]                # (N, n)

    mode = mean

    def sample(self, obs, rng):
        return dist.gaussian_sample(self.mean(obs), self.params["log_std"], rng)  # (N, n)

    def log_prob(self, obs, act):
        mu = self.mean(obs)
        return dist.gaussian_log_prob(mu, self.params["log_std"], self._actions(act, len(mu)))  # (N,)

    def entropy(self, obs):
        return dist.gaussian_entropy(self.params["log_std"], len(_obs(obs, self.obs_dim)))  # (N,)

    def grad_log_prob(self, obs, act, weights):
        """Gradient of sum_i weights[i] log pi(act[i]|obs[i]): (16), then backprop for mu."""
        mu, cache = self.net.forward(_obs(obs, self.obs_dim))
        act, weights = self._actions(act, len(mu)), _weights(weights, len(mu))
        dmu, dlog_std = dist.gaussian_score(mu, self.params["log_std"], act)  # (N, n), (N, n)
        grads = self.net.backward(weights[:, None] * dmu, cache, input_grad=False)[0]
        grads["log_std"] = weights @ dlog_std                              # (n,)
        return grads

    def grad_entropy(self, obs, weights=None):
        """Gradient of sum_i weights[i] H: zero for the network, sum_i weights[i] for each log sigma (17)."""
        n = len(_obs(obs, self.obs_dim))
        total = float(n if weights is None else _weights(weights, n).sum())
        grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        grads["log_std"][:] = total
        return grads


class ValueFunction:
    """V_phi(s): an MLP with one output, fit by regression on returns (9).

    ``dtype=np.float32`` runs the network's passes in single precision (the value fit is most of
    an epoch's time; README, Performance, has the measurements). Losses and targets stay float64.
    """

    def __init__(self, obs_dim, hidden_sizes=(64, 64), activation="tanh", rng=None, dtype=np.float64):
        self.obs_dim = obs_dim
        self.net = MLP((obs_dim, *hidden_sizes, 1), activation, rng, out_gain=1.0, dtype=dtype)
        self.params = self.net.params
        # most rows per block in grad_mse_blocks: the widest array 1 MB (2048 rows of 64 float64s), large
        # enough that two threads computing blocks at once seldom wait for each other on Python's lock,
        # small enough to stay in the CPU's cache (README, Performance, has the measurements)
        self.block = max(1, 2**20 // (max(self.net.sizes) * self.net.dtype.itemsize))

    def predict(self, obs):
        return self.net.forward(_obs(obs, self.obs_dim))[0][:, 0]          # (N,)

    def mse(self, obs, targets):
        """(20) L = mean_i (V(s_i) - R_hat_i)^2, without its gradient."""
        v = self.predict(obs)
        err = v - _targets(targets, len(v))  # refuses an empty batch
        return float(err @ err) / len(err)

    def grad_mse(self, obs, targets):
        """(20) L = mean_i (V(s_i) - R_hat_i)^2,  dL/dV(s_i) = 2 (V(s_i) - R_hat_i) / N.  -> (L, grads).

        One pass over the whole batch. ``grad_mse_blocks`` is the same sum, faster: training uses it.
        """
        obs = _obs(obs, self.obs_dim)
        return self._share(obs, _targets(targets, len(obs)), len(obs))  # refuses an empty batch

    def _share(self, obs, targets, n):
        """These rows' share of (20) in a batch of n rows: sum_i (V(s_i) - R_hat_i)^2 / n, and its gradient."""
        v, cache = self.net.forward(obs)
        err = v[:, 0] - targets                                              # (B,)
        return float(err @ err) / n, self.net.backward((2.0 / n) * err[:, None], cache, input_grad=False)[0]

    def grad_mse_blocks(self, obs, targets, block=None, pool=None):
        """``grad_mse``, with the batch going through the network ``block`` rows at a time.

        L is a sum over rows, so its gradient is the sum of the gradients of row blocks. By default
        the batch is cut into the fewest equal blocks of at most ``self.block`` rows, and at least two,
        one for each of two threads (README, Performance); a test pins the sum to ``grad_mse``.
        ``pool``, a ``concurrent.futures`` executor, computes the blocks in its threads at once (NumPy
        lets go of Python's lock inside its loops); they are added up in the same order, so the result
        is the same to the last bit.
        """
        obs = _obs(obs, self.obs_dim)
        targets, n = _targets(targets, len(obs)), len(obs)  # refuses an empty batch
        block = math.ceil(n / max(2, math.ceil(n / self.block))) if block is None else block
        if not (isinstance(block, (int, np.integer)) and block >= 1):
            raise ValueError(f"block must be a whole number >= 1 (or None for the default blocks); got {block!r}")

        def share(i):  # rows i .. i + block
            return self._share(obs[i:i + block], targets[i:i + block], n)

        starts = range(0, n, block)
        parts = map(share, starts) if pool is None else pool.map(share, starts)
        loss, grads = next(parts)
        for loss_i, g in parts:
            loss += loss_i
            for k in grads:
                grads[k] += g[k]
        return loss, grads
