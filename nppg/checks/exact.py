"""Finite MDPs whose J(theta) and grad J(theta) are known exactly, to check the estimators against.

A ``FiniteMDP`` has states s (S of them), actions a (A), transitions P(s'|s, a), rewards
r(s, a, s') plus Gaussian noise, start distribution rho_0, terminal states, and optionally a
time limit H. The objective is undiscounted, J(theta) = E_tau[sum_t r_t] (1): every episode ends,
at a terminal state or at the time limit, so the sum is finite. With gamma < 1 (the ``gamma``
arguments), ``J`` and ``exact_gradient`` give the discounted J_gamma = E[sum_t gamma^t r_t] and its
gradient, which weighs step t by gamma^t; ``discounted_estimator_mean`` gives what the usual
estimator with discounted weights (10)-(13) estimates instead, without that gamma^t.

The time limit is part of the task: J counts at most H steps, so the value of a state depends
on the steps left. The exact state is therefore x = (t, s), numbered x = t S + s, and (t = H, s)
is terminal: the environment reports the H-th step as *terminated*, and (14) closes it with 0.
(A gymnasium TimeLimit would report it truncated, and nppg would close it with V(s_H): right for
a task that goes on past the limit, which this J does not.) Without a time limit, x = s. The
policy sees s only: pi_theta(a|s) = softmax(MLP(onehot(s))), nppg's own CategoricalPolicy.

On x, V^pi solves the linear Bellman equation V = r_pi + P_pi V (V = 0 at terminal x), and
the policy gradient theorem gives grad J in closed form (``exact_gradient``).
"""
import copy

import gymnasium as gym
import numpy as np

from ..advantages import batch_weights
from ..policies import CategoricalPolicy
from ..engine.evaluate import episodes  # noqa: F401  (whole episodes, a fixed count per env copy)


class FiniteMDP:
    """P (S, A, S) = P(s'|s, a); R (S, A, S) = mean reward r(s, a, s'); rho0 (S,); terminal (S,) bool.

    Built on x = (t, s): ``self.P`` (X, A, X), ``self.r`` (X, A) = E[r | x, a], ``self.rho0``,
    ``self.terminal`` (X,) and ``self.s_of`` (X,), where X = T S and T = H + 1 (or 1 without a limit).
    """

    def __init__(self, P, R, rho0, terminal, horizon=None, reward_std=0.0):
        self.S, self.A = R.shape[:2]
        self.horizon, self.reward_std, self.R = horizon, reward_std, R
        self.T = 1 if horizon is None else horizon + 1
        Px = np.zeros((self.T, self.S, self.A, self.T, self.S))
        for t in range(self.T):                                    # (t, s) -> (t + 1, s'), time stops at T - 1
            Px[t, :, :, min(t + 1, self.T - 1)] = P
        X = self.T * self.S
        self.P = Px.reshape(X, self.A, X)                          # (X, A, X)
        self.cdf = np.cumsum(self.P, axis=-1)                      # (X, A, X), for sampling x'
        self.r = np.tile((P * R).sum(-1), (self.T, 1))            # (X, A)  E[r | s, a]
        self.rho0 = np.concatenate([rho0, np.zeros(X - self.S)])   # (X,)  episodes start at t = 0
        self.terminal = np.tile(terminal, self.T)                  # (X,)
        if horizon is not None:
            self.terminal[horizon * self.S:] = True                # no steps left: the episode ends
        self.s_of = np.arange(X) % self.S                          # (X,)  what the policy sees

    def x_of(self, s, t):
        """The exact state of s observed at step t of its episode."""
        return np.minimum(t, self.T - 1) * self.S + s


def bandit(means=(0.2, 0.5, 1.0, 0.0), reward_std=1.0, horizon=1):
    """One state: arm a pays means[a] plus N(0, reward_std^2) noise; every episode lasts exactly ``horizon`` pulls."""
    A = len(means)
    P = np.ones((1, A, 1))
    R = np.asarray(means, dtype=np.float64).reshape(1, A, 1)
    return FiniteMDP(P, R, np.ones(1), np.zeros(1, dtype=bool), horizon=horizon, reward_std=reward_std)


def chain(n=5, slip=0.1, goal_reward=10.0, reward_std=0.0):
    """States 0 .. n-1 on a line, start at 0, goal n-1 terminal. Actions left (0), right (1); with
    probability ``slip`` the move goes the other way; a wall at 0. r = -1 a step, + goal_reward on arrival."""
    P = np.zeros((n, 2, n))
    for s in range(n):
        left, right = max(s - 1, 0), min(s + 1, n - 1)
        P[s, 0, left] += 1 - slip
        P[s, 0, right] += slip
        P[s, 1, right] += 1 - slip
        P[s, 1, left] += slip
    R = np.full((n, 2, n), -1.0)
    R[:, :, n - 1] += goal_reward
    terminal = np.arange(n) == n - 1
    return FiniteMDP(P, R, np.eye(n)[0], terminal, reward_std=reward_std)


def gridworld(size=3, slip=0.2, horizon=8, reward_std=0.5):
    """A size x size grid, start top-left, goal bottom-right (terminal), a puddle in the middle:

        S . .     actions up, down, left, right; with probability ``slip`` a uniformly random
        . P .     direction instead; walls stop the move. r = -1 a step, -4 more for entering
        . . G     the puddle, +5 for entering the goal; at most ``horizon`` steps.
    """
    S, moves = size * size, ((-1, 0), (1, 0), (0, -1), (0, 1))
    step = np.array([[min(max(s // size + di, 0), size - 1) * size + min(max(s % size + dj, 0), size - 1)
                      for di, dj in moves] for s in range(S)])        # (S, 4) cell reached by each move
    P = np.zeros((S, 4, S))
    for s in range(S):
        for a in range(4):
            P[s, a, step[s, a]] += 1 - slip
            for b in range(4):
                P[s, a, step[s, b]] += slip / 4
    goal, puddle = S - 1, S // 2
    R = np.full((S, 4, S), -1.0)
    R[:, :, puddle] -= 4.0
    R[:, :, goal] += 5.0
    return FiniteMDP(P, R, np.eye(S)[0], np.arange(S) == goal, horizon, reward_std)


# ---- exact J, V^pi, Q^pi and grad J --------------------------------------------------

def generic_policy(mdp, rng, hidden=(8,), scale=1.0):
    """pi_theta(a|s) = softmax(MLP(onehot(s))). nppg starts a policy near uniform; ``scale`` > 0 adds
    N(0, scale^2 / fan_in) noise to the output layer's weights: a generic policy, where no term cancels by symmetry."""
    policy = CategoricalPolicy(mdp.S, mdp.A, hidden, "tanh", rng)
    W = policy.params[f"W{len(hidden)}"]
    W[...] += scale * rng.standard_normal(W.shape) / np.sqrt(W.shape[0])
    return policy


def probs(mdp, policy):
    """pi(a|s) for every state: (S, A)."""
    return np.exp(policy.log_prob(np.repeat(np.eye(mdp.S), mdp.A, axis=0), np.tile(np.arange(mdp.A), mdp.S))
                  ).reshape(mdp.S, mdp.A)


def solve(mdp, pi, gamma=1.0):
    """V^pi (X,), Q^pi (X, A) and the visits d(x) = sum_t gamma^t Pr(x_t = x) (X,), for pi (S, A).

    V = r_pi + gamma P_pi V is linear in V: (I - gamma P_pi) V = r_pi on the non-terminal states (V = 0
    at the terminal ones). Visits solve d = rho_0 + gamma P_pi^T d, the same matrix transposed. With
    gamma < 1, V^pi and Q^pi are of the discounted rewards-to-go (10), and d counts visits at step t as gamma^t.
    """
    pi_x = pi[mdp.s_of]                                             # (X, A)
    live = ~mdp.terminal
    P_pi = np.einsum("xa,xay->xy", pi_x, mdp.P)[np.ix_(live, live)]  # (L, L)
    r_pi = (pi_x * mdp.r).sum(axis=1)[live]                         # (L,)
    I_P = np.eye(len(r_pi)) - gamma * P_pi
    V, d = np.zeros(len(pi_x)), np.zeros(len(pi_x))
    V[live] = np.linalg.solve(I_P, r_pi)
    d[live] = np.linalg.solve(I_P.T, mdp.rho0[live])
    Q = np.where(live[:, None], mdp.r + gamma * mdp.P @ V, 0.0)     # (X, A)  Q(x, a) = r(x, a) + gamma E[V(x')]
    return V, Q, d


def J(mdp, policy, gamma=1.0):
    """(1) J(theta) = sum_x rho_0(x) V^pi(x); with gamma < 1, the discounted J_gamma = E[sum_t gamma^t r_t]."""
    return float(mdp.rho0 @ solve(mdp, probs(mdp, policy), gamma)[0])


def expected_score(mdp, policy, Phi, gamma=1.0):
    """E_tau[ sum_t gamma^t grad log pi(a_t|s_t) Phi(x_t, a_t) ] = sum_x d(x) sum_a pi(a|s) Phi(x, a) grad log pi(a|s),
    exactly, for a table Phi (X, A). A dict keyed like ``policy.params``: the score (16) backpropagated.
    Phi = 1 gives E[grad log P(tau|theta)] = 0 (3, 5); Phi = b(x), any baseline, gives 0 too (7)."""
    pi = probs(mdp, policy)
    d = solve(mdp, pi, gamma)[2]
    w = d[:, None] * pi[mdp.s_of] * Phi                             # (X, A)
    w = w.reshape(mdp.T, mdp.S, mdp.A).sum(axis=0)                  # (S, A): pi sees s, not t
    obs = np.repeat(np.eye(mdp.S), mdp.A, axis=0)                   # (S A, S) every (s, a) once
    return policy.grad_log_prob(obs, np.tile(np.arange(mdp.A), mdp.S), w.ravel())


def exact_gradient(mdp, policy, gamma=1.0):
    """The policy gradient theorem: (8) with Phi = Q^pi(x_t, a_t), in expectation, is grad J(theta). With
    gamma < 1 it is grad J_gamma, which weighs step t by gamma^t: Phi_t = gamma^t Q^pi_gamma(x_t, a_t)."""
    return expected_score(mdp, policy, solve(mdp, probs(mdp, policy), gamma)[1], gamma)


def discounted_estimator_mean(mdp, policy, gamma):
    """What (8) with the discounted reward-to-go (10), GAE (12) or n-step (13) weights estimates when V is
    exact: E[sum_t grad log pi(a_t|s_t) Q^pi_gamma(x_t, a_t)], every step weighed 1, not gamma^t. For
    gamma < 1 this is neither grad J nor grad J_gamma (Nota and Thomas, 2020, "Is the policy gradient a gradient?")."""
    return expected_score(mdp, policy, solve(mdp, probs(mdp, policy), gamma)[1], 1.0)


def centred_mean(mdp, policy, weights, size):
    """E[g_hat] (8) when every Phi_t of a batch of |D| = ``size`` episodes is shifted by the batch's mean,
    Phi_t - 1/M sum_i Phi_i, as ``normalize_adv`` does (before it divides by the standard deviation), for
    ``weights`` "return" (4) or "reward-to-go" (6). Exact for an MDP whose episodes all last H = mdp.horizon
    steps, so that M = |D| H is fixed (checked: no state is terminal before the time limit).

    By (5), the other episodes' Phi_i are independent of this episode's actions and shift nothing; its own do:
    every Phi_i of an episode depends on its actions, so E[g_hat] = grad J - 1/(|D| H) grad E[sum_i Phi_i], where
    sum_i Phi_i = sum_t w_t r_t with w_t = H for R(tau) and w_t = t + 1 for R_hat_t. Its gradient is grad J of
    the same MDP with r_t scaled by w_t. The bias is thus of order 1/|D|, not 1/M. -> (P,)"""
    assert not mdp.terminal[:mdp.horizon * mdp.S].any(), "episodes of unequal lengths: M would be random"
    w = {"return": np.full(mdp.T, float(mdp.horizon)), "reward-to-go": np.arange(1.0, mdp.T + 1)}[weights]
    weighted = copy.copy(mdp)
    weighted.r = mdp.r * w[np.arange(len(mdp.s_of)) // mdp.S, None]         # (X, A)  w_t E[r | x, a]
    g, g_w = flat(exact_gradient(mdp, policy)), flat(exact_gradient(weighted, policy))
    return g - g_w / (size * mdp.horizon)


def flat(grads):
    """A gradient dict as one vector (P,), keys in the policy's order."""
    return np.concatenate([np.ravel(g) for g in grads.values()])


# ---- sampling episodes with nppg's own code ---------------------------------------------

class TabularEnv(gym.Env):
    """A FiniteMDP as a gymnasium environment: observation s (Discrete: one-hot in nppg's rollout)."""

    def __init__(self, mdp):
        self.mdp = mdp
        self.observation_space, self.action_space = gym.spaces.Discrete(mdp.S), gym.spaces.Discrete(mdp.A)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x = int(np.searchsorted(np.cumsum(self.mdp.rho0), self.np_random.random(), side="right"))
        return self.x % self.mdp.S, {}

    def step(self, action):
        m, s = self.mdp, self.x % self.mdp.S
        u = self.np_random.random()
        self.x = min(int(np.searchsorted(m.cdf[self.x, action], u, side="right")), len(m.s_of) - 1)
        r = m.R[s, action, self.x % m.S] + m.reward_std * self.np_random.standard_normal()
        return self.x % m.S, float(r), bool(m.terminal[self.x]), False, {}


def make_envs(mdp, n):
    """``n`` copies, stepped together by gymnasium (autoreset NEXT_STEP, its default)."""
    return gym.vector.SyncVectorEnv([lambda: TabularEnv(mdp) for _ in range(n)])


def step_values(mdp, V, batch):
    """V(x_t) at every step of a batch of whole episodes, for a table V (X,): t counts from each start."""
    t = np.arange(len(batch.rew)) - np.repeat(batch.starts, batch.stops - batch.starts)  # (M,)
    return V[mdp.x_of(batch.obs.argmax(axis=1), t)]


def Phi_of(batch, name, val=None, lam=1.0, n=1, gamma=1.0):
    """Phi_t (8) by nppg's ``batch_weights``; every episode here terminated, so (14) closes each with 0.
    ``val`` (M,) is V(s_t) for "baseline", "nstep" and "gae"."""
    assert batch.terminated.all(), "whole episodes of these MDPs always end at a terminal state"
    segments = [(start, stop, 0.0) for start, stop in zip(batch.starts, batch.stops)]
    val = np.zeros(len(batch.rew)) if val is None else val
    return batch_weights(batch.rew, val, segments, name, gamma, lam, n)[0]


def normalised(batch, Phi, size, scale=True):
    """Phi_t as ``vpg`` normalises it (``normalize_adv``) within each run of ``size`` consecutive episodes, the
    batches of ``g_hats``: minus their mean, then (``scale``) divided by their standard deviation. -> (M,)"""
    out = Phi.copy()
    for i, j in zip(batch.starts[::size][:len(batch.starts) // size], batch.stops[size - 1::size]):
        out[i:j] = Phi[i:j] - Phi[i:j].mean()
        if scale:
            out[i:j] /= np.sqrt(np.mean(out[i:j] ** 2)) + 1e-8
    return out


def g_hats(policy, batch, Phi, size):
    """(8) g_hat = 1/|D| sum_{tau in D} sum_t grad log pi(a_t|s_t) Phi_t for each run of ``size``
    consecutive episodes of ``batch``: independent batches D, |D| = size. -> (episodes // size, P).
    g_hat is linear in Phi, and its terms depend only on the pair (s_t, a_t), of which a finite MDP has few:
    ``grad_log_prob`` gives grad log pi(a|s) once for each pair seen, summed with each batch's Phi_t."""
    first = batch.starts[::size][:len(batch.starts) // size]          # (K,) first row of each D
    last = batch.stops[size - 1::size]                                # (K,) one past its last row
    _, row, pair = np.unique(np.column_stack([batch.obs, batch.act]), axis=0, return_index=True, return_inverse=True)
    scores = np.array([flat(policy.grad_log_prob(batch.obs[i:i + 1], batch.act[i:i + 1], np.ones(1))) for i in row])
    W = np.zeros((len(first), len(row)))                              # (K, U) sum of Phi_t over each pair, per D
    rows = np.concatenate([np.arange(i, j) for i, j in zip(first, last)] + [np.zeros(0, np.int64)])
    np.add.at(W, (np.repeat(np.arange(len(first)), last - first), pair.ravel()[rows]), Phi[rows])
    return W @ scores / size


# e.g. nppg.vpg("nppg.checks.exact:nppg/Bandit-v0") or  nppg train --env nppg.checks.exact:nppg/Gridworld-v0
for _name, _mdp in (("Bandit", bandit), ("Chain", chain), ("Gridworld", gridworld)):
    gym.register(f"nppg/{_name}-v0", entry_point=TabularEnv, kwargs={"mdp": _mdp()})
