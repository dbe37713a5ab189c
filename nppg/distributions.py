"""The two action distributions as pure functions of their parameters: categorical over K actions with
logits ``z`` (N, K); diagonal Gaussian over R^d_a with mean ``mu`` (N, d_a) and ``log_std`` (d_a,). Each
log-likelihood has its gradient (the *score*) written in closed form beside it."""
import numpy as np

LOG_2PI = np.log(2.0 * np.pi)


# ---- categorical ----------------------------------------------------------------------

def log_softmax(z):
    """(15) log pi(.|s) = z - logsumexp(z), with the max subtracted so exp never overflows."""
    z_max = z.max(axis=-1, keepdims=True)                                    # (N, 1)
    return z - z_max - np.log(np.exp(z - z_max).sum(axis=-1, keepdims=True))  # (N, K)


def categorical_sample(z, rng):
    """One action per row, by inverting the cumulative distribution function."""
    cdf = np.cumsum(np.exp(log_softmax(z)), axis=-1)        # (N, K)
    u = rng.random((z.shape[0], 1))                          # (N, 1)
    return np.minimum((cdf < u).sum(axis=-1), z.shape[1] - 1)  # (N,), guard cdf[-1] < 1 by rounding


def categorical_log_prob(z, a):
    """(15) log pi(a|s) = z_a - logsumexp(z).  z (N, K), a (N,) -> (N,)."""
    return log_softmax(z)[np.arange(len(a)), a]


def categorical_score(z, a):
    """(16) d log pi(a|s) / dz = onehot(a) - softmax(z).  -> (N, K)."""
    dz = -np.exp(log_softmax(z))
    dz[np.arange(len(a)), a] += 1.0
    return dz


def categorical_entropy(z):
    """(19) H = -sum_a pi(a|s) log pi(a|s).  -> (N,)."""
    logp = log_softmax(z)
    return -(np.exp(logp) * logp).sum(axis=-1)


# ---- diagonal Gaussian ----------------------------------------------------------------

def gaussian_sample(mu, log_std, rng):
    return mu + np.exp(log_std) * rng.standard_normal(mu.shape)


def gaussian_log_prob(mu, log_std, a):
    """(17) log pi(a|s) = -1/2 (d_a log 2pi + sum_i [(a_i - mu_i)^2 / sigma_i^2 + 2 log sigma_i]).  -> (N,)."""
    u = (a - mu) * np.exp(-log_std)                          # (N, d_a) standardised action
    return -0.5 * (mu.shape[1] * LOG_2PI + (u * u + 2.0 * log_std).sum(axis=-1))


def gaussian_score(mu, log_std, a):
    """(18) d log pi / d mu_i = (a_i - mu_i) / sigma_i^2;  d log pi / d log sigma_i = u_i^2 - 1.

    Returns dmu (N, d_a) and dlog_std (N, d_a), one row per sample.
    """
    u = (a - mu) * np.exp(-log_std)                          # (N, d_a)
    return u * np.exp(-log_std), u * u - 1.0


def gaussian_entropy(log_std, n_rows):
    """(19) H = sum_i log sigma_i + d_a/2 (1 + log 2pi), the same for every state.  -> (N,)."""
    H = log_std.sum() + 0.5 * log_std.shape[0] * (1.0 + LOG_2PI)
    return np.full(n_rows, H)
