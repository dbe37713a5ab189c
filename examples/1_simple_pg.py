"""Step 1: the simplest policy gradient, Phi_t = R(tau)  (README equation 4).

    grad J(theta) = E_tau[ sum_t grad log pi_theta(a_t|s_t) R(tau) ]

Every action in an episode is made more likely in proportion to the return of the whole
episode, rewards before the action included. It is unbiased, and noisy: compare the
number of epochs it needs with 2_reward_to_go.py.

    python examples/1_simple_pg.py [seed]
"""
import sys

import nppg
from nppg.logger import RunLogger

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
result = nppg.vpg("CartPole-v1", weights="return", seed=seed, epochs=50, callback=RunLogger())
solved = [r["env_steps"] for r in result.history if r["mean_return"] >= 475]
print(f"R(tau) weights: first epoch with mean return >= 475 after {solved[0] if solved else 'no'} env steps")
