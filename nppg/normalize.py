"""Running statistics for the normalisers (24-26), standard tricks that Spinning Up's VPG leaves out."""
import numpy as np


class RunningStats:
    """(24) The count N, mean m and summed squared deviations M2 of every row seen, merged batch by batch
    (Chan et al.): delta = m_b - m, N' = N + N_b, m' = m + delta N_b / N', M2' = M2 + M2_b + delta^2 N N_b / N'."""

    def __init__(self, shape=()):
        self.N, self.mean, self.M2 = 0, np.zeros(shape), np.zeros(shape)

    def update(self, x):
        N_b, m_b = len(x), np.mean(x, axis=0)                                # a batch of N_b rows
        delta, N = m_b - self.mean, self.N + N_b
        self.M2 = self.M2 + np.sum((x - m_b) ** 2, axis=0) + delta**2 * self.N * N_b / N
        self.mean, self.N = self.mean + delta * N_b / N, N

    def var(self):
        return self.M2 / self.N if self.N else np.ones_like(self.M2)        # nothing seen yet: scale 1

    def normalize(self, s, clip=10.0, eps=1e-8):
        """(25) clip((s - m) / sqrt(var + eps), -c, c): what the networks see of an observation s."""
        return np.clip((s - self.mean) / np.sqrt(self.var() + eps), -clip, clip)
