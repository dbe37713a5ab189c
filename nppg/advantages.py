"""The weights Phi_t that multiply grad log pi(a_t|s_t) in the policy gradient (8).

Every weight is computed one *segment* at a time: a run of consecutive steps of one
episode inside one batch. ``last_value`` closes the segment (12):

    last_value = 0            if the episode terminated (a true ending: no reward follows);
    last_value = V(s_T)       if it was truncated by a time limit, or cut at the end of the
                              batch, where s_T is the true observation that follows the last step.

All four weights share one signature, ``phi(rew, val, last_value, gamma, lam) -> (T,)``,
and ``WEIGHTS[name]`` picks one: going from R(tau) to reward-to-go is a one-word change.
"""
import numpy as np


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


# ---- the weights Phi_t (8) -------------------------------------------------------------

def phi_return(rew, val, last_value, gamma, lam):
    """(4) Phi_t = R(tau): every step of the segment weighted by the segment's whole return, closed
    by (12); for a segment that continues an episode from the last batch, its return from here on."""
    R = discount_cumsum(np.append(rew, last_value), gamma)[0]  # R_hat_0, defined even when T = 0
    return np.full(len(rew), R)


def phi_reward_to_go(rew, val, last_value, gamma, lam):
    """(6) Phi_t = R_hat_t: only rewards that follow a_t."""
    return reward_to_go(rew, last_value, gamma)


def phi_baseline(rew, val, last_value, gamma, lam):
    """(7) Phi_t = R_hat_t - V(s_t)."""
    return reward_to_go(rew, last_value, gamma) - val


def phi_gae(rew, val, last_value, gamma, lam):
    """(11) Phi_t = A_t^GAE(gamma, lam)."""
    return gae(rew, val, last_value, gamma, lam)


WEIGHTS = {"return": phi_return, "reward-to-go": phi_reward_to_go, "baseline": phi_baseline, "gae": phi_gae}


def batch_weights(rew, val, segments, weights, gamma, lam):
    """Phi_t and the value targets R_hat_t (9) for a whole batch, one segment at a time.

    rew, val (N,); segments: ``(start, stop, last_value)`` triples that tile [0, N).
    """
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {sorted(WEIGHTS)}; got {weights!r}")
    phi, rtg = np.empty(len(rew)), np.empty(len(rew))
    for start, stop, last_value in segments:
        s = slice(start, stop)
        phi[s] = WEIGHTS[weights](rew[s], val[s], last_value, gamma, lam)
        rtg[s] = reward_to_go(rew[s], last_value, gamma)
    return phi, rtg
