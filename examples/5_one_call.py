"""Step 5: step 3 in one library call, nppg.vpg: the same loop of (8), GAE (11), the critic's fit (9) and Adam (21).

    state = nppg.vpg("CartPole-v1", weights="gae", seed=seed, epochs=50, callback=print_epoch)

Where it differs from examples/3_vpg_gae.py, each a field of nppg.VPGConfig with its default: 8 environment
copies stepped together (num_envs), batches of 2,000 steps that cut the last episodes at the batch's end and
close them with V(s_T) (12) instead of finishing them (steps_per_epoch), two hidden layers of 64 (hidden).
weights="return" or "reward-to-go" gives the weights of steps 1 and 2 (discounted by gamma, and normalised
unless normalize_adv=False). The returned State holds the policy, the value function and every epoch's record.

Measured on CartPole-v1 with `time OPENBLAS_NUM_THREADS=1 python <this file> --seed S` on a 2-core machine,
S = 0, 1, 2, from a mean return of 22 at epoch 1 (~2,000 steps an epoch, about 17 s for the 50 epochs):
    mean return >= 475 first at epoch 15, 16, 25 (30,000-50,000 steps); at epoch 50: 500, 500, 500,
    and 500 in 10, 8, 3 of the last 10 epochs (the others 403-477).

    python examples/5_one_call.py [--seed S] [--epochs E]
"""
import argparse

import nppg


def print_epoch(record, state):
    """vpg's callback, called after every epoch with its record and the State; returning True would stop there."""
    print(f"epoch {record['epoch']:3d}   steps {record['env_steps']:7d}   mean return {record['mean_return']:6.1f}   "
          f"mean ep_len {record['mean_ep_len']:6.1f}   value loss {record['loss_v']:9.2f}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=50)
    args = p.parse_args()
    # nppg.train(...) takes the same arguments and runs the same loop with the engine's faster pieces
    # (nppg/engine: threads, row blocks, checks); it is what `nppg train` on the command line uses.
    state = nppg.vpg("CartPole-v1", weights="gae", seed=args.seed, epochs=args.epochs, callback=print_epoch)
