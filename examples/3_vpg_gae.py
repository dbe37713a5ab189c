"""Step 3: a learned baseline and GAE (README equations 7, 9, 10, 11).

Subtracting any b(s_t) keeps the gradient unbiased (7); b = V_phi(s_t), fit by regression
on the returns (9), cuts the variance further: Phi_t = R_hat_t - V(s_t) ("baseline").
GAE (11) goes one step further: it sums TD residuals delta_t = r_t + gamma V(s_{t+1}) - V(s_t)
with weights (gamma lam)^l, trading a little bias (where V is wrong) for lower variance.
This script trains with both and prints how quickly each reached a mean return of 475.

    python examples/3_vpg_gae.py [seed]
"""
import sys

import nppg
from nppg.logger import RunLogger

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
for weights in ("baseline", "gae"):
    print(f"--- weights={weights}")
    result = nppg.vpg("CartPole-v1", weights=weights, seed=seed, epochs=50, callback=RunLogger())
    solved = [r["env_steps"] for r in result.history if r["mean_return"] >= 475]
    print(f"{weights}: first epoch with mean return >= 475 after {solved[0] if solved else 'no'} env steps")
