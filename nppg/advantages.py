"""The weights Phi_t that multiply grad log pi(a_t|s_t) in the policy gradient (8).

Every weight is computed one *segment* at a time: a run of consecutive steps of one episode inside
one batch, closed by ``last_value`` (12): 0 if the episode terminated, else V(s_T) of the observation
that follows its last step (a time-limit truncation, or the batch's end).
"""
import numpy as np

WEIGHTS = ("return", "reward-to-go", "baseline", "nstep", "gae")  # the choices of Phi_t (VPGConfig.weights)


def discount_cumsum(x, discount):
    """y[t] = sum_k discount^k x[t+k], by the backward recursion y[t] = x[t] + discount y[t+1]."""
    y = np.empty(len(x))
    running = 0.0
    for t in reversed(range(len(x))):
        running = x[t] + discount * running
        y[t] = running
    return y


def reward_to_go(rew, last_value, gamma):
    """(6) R_hat_t = sum_{t' >= t} gamma^(t'-t) r_t', with the tail beyond the segment closed by last_value (12)."""
    return discount_cumsum(np.append(rew, last_value), gamma)[:-1]


def gae(rew, val, last_value, gamma, lam):
    """(10) delta_t = r_t + gamma V(s_{t+1}) - V(s_t);  (11) A_t = sum_l (gamma lam)^l delta_{t+l}.

    rew, val (T,): r_t and V(s_t) for one segment; last_value closes it (12).
    lam = 0 gives delta_t; lam = 1 gives R_hat_t - V(s_t).
    """
    val_next = np.append(val[1:], last_value)                       # V(s_{t+1}), (T,)
    delta = rew + gamma * val_next - val                            # (T,)
    return discount_cumsum(delta, gamma * lam)


def nstep_advantages(rew, val, last_value, gamma, n):
    """(22) A_t^(n) = r_t + gamma r_{t+1} + ... + gamma^(m-1) r_{t+m-1} + gamma^m V(s_{t+m}) - V(s_t),
    m = min(n, T - t): past the segment's end the sum stops and last_value (12) stands in for V(s_T).
    n = 1 gives delta_t (10); n >= T - t gives R_hat_t - V(s_t)."""
    t = np.arange(len(rew))
    m = np.minimum(n, len(rew) - t)                                      # (T,) real rewards in each sum
    R_hat = np.append(reward_to_go(rew, last_value, gamma), last_value)  # (T+1,) R_hat_T = V(s_T)
    V = np.append(val, last_value)                                       # (T+1,) V(s_0) .. V(s_T)
    # the m rewards from t on sum to R_hat_t - gamma^m R_hat_{t+m}
    return R_hat[t] - gamma**m * R_hat[t + m] + gamma**m * V[t + m] - val


def batch_weights(rew, val, segments, weights, gamma, lam, n=1):
    """Phi_t (8), one of ``WEIGHTS``, and the value targets R_hat_t (9) for a whole batch, one segment at a
    time. rew, val (N,): r_t and V(s_t); segments: ``(start, stop, last_value)`` triples that tile [0, N).

    "return" weighs every step by the discounted return from its segment's first step, closed by (12):
    exactly R(tau) (4) for a segment that is a whole episode; a segment that goes on from the last batch,
    or is cut at this batch's end, counts only its own steps' rewards (and V(s_T) for the rest).
    """
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {list(WEIGHTS)}; got {weights!r}")
    Phi, R_hat = np.empty(len(rew)), np.empty(len(rew))
    for start, stop, last_value in segments:
        s = slice(start, stop)
        R_hat[s] = reward_to_go(rew[s], last_value, gamma)                # (6), also the targets of (9)
        if weights == "return":
            Phi[s] = R_hat[s][:1]                                         # (4) R_hat at the segment's start
        elif weights == "reward-to-go":
            Phi[s] = R_hat[s]                                             # (6)
        elif weights == "baseline":
            Phi[s] = R_hat[s] - val[s]                                    # (7)
        elif weights == "nstep":
            Phi[s] = nstep_advantages(rew[s], val[s], last_value, gamma, n)  # (22)
        else:
            Phi[s] = gae(rew[s], val[s], last_value, gamma, lam)          # (11)
    return Phi, R_hat
