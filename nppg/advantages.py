"""The weights Phi_t that multiply grad log pi(a_t|s_t) in the policy gradient (8), each computed one
*segment* at a time (consecutive steps of one episode in one batch) and closed by ``last_value``, the
V(s_T) of (14) (``algorithm.closing_values``)."""
import numpy as np

WEIGHTS = ("return", "reward-to-go", "baseline", "nstep", "gae")  # the choices of Phi_t (VPGConfig.weights)


def discount_cumsum(x, discount):
    """y[t] = sum_l discount^l x[t+l], by the backward recursion y[t] = x[t] + discount y[t+1]."""
    y, running = np.empty(len(x)), 0.0
    for t in reversed(range(len(x))):
        running = x[t] + discount * running
        y[t] = running
    return y


def reward_to_go(rew, last_value, gamma):
    """(10) R_hat_t = sum_{t' >= t} gamma^(t'-t) r_t' ((6) at gamma = 1), the tail closed by last_value (14)."""
    return discount_cumsum(np.append(rew, last_value), gamma)[:-1]


def td_residual(rew, val, last_value, gamma):
    """(11) delta_t = r_t + gamma V(s_{t+1}) - V(s_t), for one segment: rew, val (T,), V(s_T) = last_value."""
    return rew + gamma * np.append(val[1:], last_value) - val


def gae(rew, val, last_value, gamma, lam):
    """(12) A_t = sum_l (gamma lam)^l delta_{t+l}: lam = 0 gives delta_t, lam = 1 gives R_hat_t - V(s_t)."""
    return discount_cumsum(td_residual(rew, val, last_value, gamma), gamma * lam)


def nstep_advantages(rew, val, last_value, gamma, n):
    """(13) A_t^(n) = r_t + gamma r_{t+1} + ... + gamma^(n_t-1) r_{t+n_t-1} + gamma^n_t V(s_{t+n_t}) - V(s_t)
    = sum_{l<n_t} gamma^l delta_{t+l}, n_t = min(n, T - t): past the segment's end the sum stops, and V(s_T) is
    last_value. n = 1 gives delta_t; n >= T - t gives R_hat_t - V(s_t)."""
    t = np.arange(len(rew))
    n_t = np.minimum(min(n, len(rew)), len(rew) - t)                           # (T,) terms in each sum
    tail = np.append(discount_cumsum(td_residual(rew, val, last_value, gamma), gamma), 0.0)  # (T+1,) tail_T = 0
    return tail[t] - gamma**n_t * tail[t + n_t]                               # the first n_t terms of tail_t


def batch_weights(rew, val, segments, weights, gamma, lam, n=1):
    """Phi_t (8), one of ``WEIGHTS``, and the value targets R_hat_t (9) for a whole batch, one segment at a
    time. rew, val (M,): r_t and V(s_t); segments: ``(start, stop, last_value)`` triples that tile [0, M).
    "return" weighs every step by the discounted return from its segment's first step, closed by (14):
    R(tau) (4) for a whole terminated episode at gamma = 1; one that goes on from the last batch, or is cut at
    this batch's end, counts only its own steps' rewards (and V(s_T) for the rest)."""
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {list(WEIGHTS)}; got {weights!r}")
    Phi, R_hat = np.empty(len(rew)), np.empty(len(rew))
    for start, stop, last_value in segments:
        s = slice(start, stop)
        R_hat[s] = reward_to_go(rew[s], last_value, gamma)                # (10), also the targets of (9)
        if weights == "return":
            Phi[s] = R_hat[s][:1]                                         # (4) R_hat at the segment's start
        elif weights == "reward-to-go":
            Phi[s] = R_hat[s]                                             # (6), (10)
        elif weights == "baseline":
            Phi[s] = R_hat[s] - val[s]                                    # (7)
        elif weights == "nstep":
            Phi[s] = nstep_advantages(rew[s], val[s], last_value, gamma, n)  # (13)
        else:
            Phi[s] = gae(rew[s], val[s], last_value, gamma, lam)          # (12)
    return Phi, R_hat
