"""Step 2: reward-to-go, Phi_t = R_hat_t = sum_{t' >= t} gamma^(t'-t) r_t'  (README equation 6).

An action cannot change the rewards that came before it, so their terms have zero mean
(the EGLP lemma, equation 5) and only add noise. Dropping them keeps the gradient
unbiased and lowers its variance: the one change from step 1 is ``weights="reward-to-go"``.

    python examples/2_reward_to_go.py [seed]
"""
import sys

import nppg
from nppg.logger import RunLogger

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
result = nppg.vpg("CartPole-v1", weights="reward-to-go", seed=seed, epochs=50, callback=RunLogger())
solved = [r["env_steps"] for r in result.history if r["mean_return"] >= 475]
print(f"reward-to-go weights: first epoch with mean return >= 475 after {solved[0] if solved else 'no'} env steps")
