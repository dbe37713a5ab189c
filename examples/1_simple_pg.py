"""Step 1: the simplest policy gradient, Phi_t = R(tau)  (README equation 4).

    grad J(theta) = E_tau[ sum_t grad log pi_theta(a_t|s_t) R(tau) ]

Every action in an episode is made more likely in proportion to the return of the whole
episode, rewards before the action included. It is unbiased, and the noisiest of the
weights: examples/estimator_variance.py measures its variance against the exact gradient.
On CartPole, with advantages normalised, it still solves the task (seed 0: 30,058 steps to
a mean return of 475, against 32,051 for reward-to-go), so see the variance there, not here.

    python examples/1_simple_pg.py [seed]
"""
import sys

import nppg
from nppg.logger import RunLogger

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
result = nppg.vpg("CartPole-v1", weights="return", seed=seed, epochs=50, callback=RunLogger())
solved = [r["env_steps"] for r in result.history if r["mean_return"] >= 475]
print(f"R(tau) weights: first epoch with mean return >= 475 after {solved[0] if solved else 'no'} env steps")
