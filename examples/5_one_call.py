"""Step 5: step 3 in one library call, nppg.vpg: the same loop of (8), GAE (12), the critic's fit (9) and Adam (23).

    state = nppg.vpg("CartPole-v1", weights="gae", seed=seed, epochs=50, callback=print_epoch)

Where it differs from examples/3_vpg_gae.py, each a field of nppg.VPGConfig with its default: 8 environment
copies stepped together (num_envs), batches of 2,000 steps that cut the last episodes at the batch's end and
close them with V(s_T) (14) instead of finishing them (steps_per_epoch), two hidden layers of 64 (hidden).
weights="return" or "reward-to-go" are not quite the weights of steps 1 and 2: vpg discounts them by gamma
(pass gamma=1), normalises them (normalize_adv=False) and closes each segment that a truncation or the batch's
end cuts with V(s_T) (14), where steps 1 and 2 weigh whole episodes by their own rewards. The returned State
holds the policy, the value function and every epoch's record.
The printed value loss is the critic's before its fit in that epoch.

Measured on CartPole-v1 with `time OPENBLAS_NUM_THREADS=1 python <this file> --seed S` on a 2-core AMD EPYC
(OpenBLAS Haswell kernels, another job sharing the machine),
S = 0, 1, 2, from a mean return of 22 at epoch 1 (~2,000 steps an epoch; the 50 epochs took 24.3, 26.8, 23.5 s):
    mean return >= 475 first at epoch 15, 16, 25 (30,000-50,000 steps); at epoch 50: 500, 500, 500,
    and 500 in 10, 8, 4 of the last 10 epochs (the others 403-477).

    python examples/5_one_call.py [--seed S] [--weights W] [--gamma G] [--lam L] [--out DIR]   (--help: all)
"""
import nppg
from progress import Progress, flags  # plumbing: the command line and progress.csv


def train(env_name="CartPole-v1", weights="gae", gamma=0.99, lam=0.97, lr=1e-2, batch_size=2000, num_envs=8,
          epochs=50, seed=0, out=None):
    """nppg.vpg with these settings (the rest at VPGConfig's defaults); ``out``: a folder for progress.csv."""
    progress = Progress(out, dict(env=env_name, weights=weights, gamma=gamma, lam=lam, lr=lr, batch_size=batch_size,
                                  num_envs=num_envs, epochs=epochs, seed=seed))

    def print_epoch(record, state):
        """vpg's callback, called after every epoch with its record and the State; returning True would stop there."""
        print(f"epoch {record['epoch']:3d}   steps {record['env_steps']:7d}   mean return {record['mean_return']:6.1f}   "
              f"mean ep_len {record['mean_ep_len']:6.1f}   value loss before the fit {record['loss_v']:9.2f}")
        progress.write(**record)

    # nppg.train(...) takes the same arguments and runs the same loop with the engine's faster pieces
    # (nppg/engine: threads, row blocks, checks); it is what `nppg train` on the command line uses.
    state = nppg.vpg(env_name, weights=weights, gamma=gamma, lam=lam, pi_lr=lr, steps_per_epoch=batch_size,
                     num_envs=num_envs, seed=seed, epochs=epochs, callback=print_epoch)
    progress.close()
    return state


if __name__ == "__main__":
    train(**flags(train, __doc__))
