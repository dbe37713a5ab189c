"""Stochastic policies pi_theta(a|s) and the value function V_phi(s), each an MLP plus closed-form math.

A policy's ``params`` is one dict (the MLP's ``W0, b0, ...``, plus the Gaussian's ``log_std``) that
optimizers update in place. ``grad_log_prob(obs, act, Phi)`` is the gradient of the sum inside (8),
``sum_t Phi_t log pi(a_t|s_t)``: the distribution's closed-form score (16, 18), then backpropagation."""
import numpy as np

from . import distributions as dist
from .nn import MLP


def _rows(x, n, name, dtype=None, ndim=None):
    """``x`` as an array with one row per row of obs (and ``ndim`` dimensions, if given)."""
    x = np.asarray(x, dtype=dtype)
    if x.shape[:1] != (n,):
        raise ValueError(f"{name} must have one row per row of obs ({n}); got shape {x.shape}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-d, one per row of obs ({n}); got shape {x.shape}")
    return x


class CategoricalPolicy:
    """pi(a|s) = softmax(z(s))_a over ``n_actions`` actions, logits z(s) from an MLP."""
    kind = "categorical"

    def __init__(self, obs_dim, n_actions, hidden_sizes=(64, 64), activation="tanh", rng=None):
        self.obs_dim, self.n_actions = obs_dim, n_actions
        self.net = MLP((obs_dim, *hidden_sizes, n_actions), activation, rng, out_gain=0.01)
        self.params = self.net.params

    def _actions(self, act, n):
        act = _rows(act, n, "act")
        if act.ndim != 1 or not np.issubdtype(act.dtype, np.integer):
            raise ValueError(f"act must be a 1-d array of integer actions; got shape {act.shape}, dtype {act.dtype}")
        if act.size and (act.min() < 0 or act.max() >= self.n_actions):
            raise ValueError(f"act must lie in [0, {self.n_actions}); got values from {act.min()} to {act.max()}")
        return act

    def logits(self, obs):
        return self.net.forward(obs)[0]                # (N, K)

    def sample(self, obs, rng):
        return dist.categorical_sample(self.logits(obs), rng)              # (N,)

    def mode(self, obs):
        return self.logits(obs).argmax(axis=-1)                            # (N,)

    def log_prob(self, obs, act):
        z = self.logits(obs)
        return dist.categorical_log_prob(z, self._actions(act, len(z)))    # (N,)

    def entropy(self, obs):
        return dist.categorical_entropy(self.logits(obs))                  # (N,)

    def grad_log_prob(self, obs, act, Phi):
        """Gradient of sum_t Phi_t log pi(a_t|s_t): (16), then backprop."""
        z, cache = self.net.forward(obs)
        act, Phi = self._actions(act, len(z)), _rows(Phi, len(z), "Phi", np.float64, 1)
        dz = Phi[:, None] * dist.categorical_score(z, act)                 # (N, K)
        return self.net.backward(dz, cache)[0]


class GaussianPolicy:
    """pi(a|s) = N(mu(s), diag(sigma^2)): mean from an MLP, a state-independent ``log_std`` (act_dim,)."""
    kind = "gaussian"

    def __init__(self, obs_dim, act_dim, hidden_sizes=(64, 64), activation="tanh", log_std_init=-0.5, rng=None):
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.net = MLP((obs_dim, *hidden_sizes, act_dim), activation, rng, out_gain=0.01)
        self.params = self.net.params  # one dict: the MLP reads W_i, b_i and ignores log_std
        self.params["log_std"] = np.full(act_dim, float(log_std_init))

    def _actions(self, act, n):
        act = _rows(act, n, "act", np.float64)
        if act.shape != (n, self.act_dim):
            raise ValueError(f"act must have shape ({n}, {self.act_dim}); got shape {act.shape}")
        return act

    def mean(self, obs):
        return self.net.forward(obs)[0]                # (N, d_a)

    mode = mean

    def sample(self, obs, rng):
        return dist.gaussian_sample(self.mean(obs), self.params["log_std"], rng)  # (N, d_a)

    def log_prob(self, obs, act):
        mu = self.mean(obs)
        return dist.gaussian_log_prob(mu, self.params["log_std"], self._actions(act, len(mu)))  # (N,)

    def entropy(self, obs):
        return dist.gaussian_entropy(self.params["log_std"], len(obs))     # (N,): the same for every state

    def grad_log_prob(self, obs, act, Phi):
        """Gradient of sum_t Phi_t log pi(a_t|s_t): (18), then backprop for mu."""
        mu, cache = self.net.forward(obs)
        act, Phi = self._actions(act, len(mu)), _rows(Phi, len(mu), "Phi", np.float64, 1)
        dmu, dlog_std = dist.gaussian_score(mu, self.params["log_std"], act)  # (N, d_a), (N, d_a)
        grads = self.net.backward(Phi[:, None] * dmu, cache)[0]
        grads["log_std"] = Phi @ dlog_std                                  # (d_a,)
        return grads


class ValueFunction:
    """V_phi(s): an MLP with one output, fit by regression (9) on the rewards-to-go, bootstrapped by (14)."""

    def __init__(self, obs_dim, hidden_sizes=(64, 64), activation="tanh", rng=None):
        self.obs_dim = obs_dim
        self.net = MLP((obs_dim, *hidden_sizes, 1), activation, rng, out_gain=1.0)
        self.params = self.net.params

    def predict(self, obs):
        return self.net.forward(obs)[0][:, 0]          # (N,)

    def grad_mse(self, obs, R_hat):
        """(22) L = 1/M sum_t (V(s_t) - R_hat_t)^2,  dL/dV(s_t) = 2 (V(s_t) - R_hat_t) / M.  -> (L, grads)."""
        v, cache = self.net.forward(obs)
        M = len(v)
        if M == 0:
            raise ValueError("obs must have at least one row; got shape (0, ...)")
        err = v[:, 0] - _rows(R_hat, M, "R_hat", np.float64, 1)            # (M,)
        return float(err @ err) / M, self.net.backward((2 / M) * err[:, None], cache)[0]
