"""Step 4: continuous actions, with the diagonal Gaussian policy (README equations 15, 16).

pi(a|s) = N(mu(s), diag(sigma^2)): the network outputs the mean, log sigma is one learned
vector, and the score is (a - mu) / sigma^2 for the mean and u^2 - 1 for log sigma. Nothing
else in VPG changes. The settings are the ones measured in the README's Results section.

    python examples/4_continuous.py                              # Pendulum-v1
    python examples/4_continuous.py --env InvertedPendulum-v5    # needs: pip install ".[mujoco]"
"""
import argparse

import nppg
from nppg.logger import RunLogger

SETTINGS = {
    # gamma 0.9: whether the swing-up works shows within tens of steps; 0.99 blurs it (see README)
    "Pendulum-v1": dict(epochs=500, steps_per_epoch=2000, gamma=0.9, lam=0.95, pi_lr=1e-2),
    "InvertedPendulum-v5": dict(epochs=75, steps_per_epoch=4000, pi_lr=3e-3),
}

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--env", default="Pendulum-v1", choices=sorted(SETTINGS))
p.add_argument("--seed", type=int, default=0)
args = p.parse_args()
try:
    result = nppg.vpg(args.env, seed=args.seed, callback=RunLogger(), **SETTINGS[args.env])
except ValueError as e:
    raise SystemExit(f"examples/4_continuous.py: {e}")
best = max(r["mean_return"] for r in result.history)
print(f"{args.env}: best epoch mean return {best:.1f}, final log sigma {result.policy.params['log_std']}")
