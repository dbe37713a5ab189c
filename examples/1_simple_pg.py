"""Step 1: the simplest policy gradient (4), with Phi_t = R(tau) = sum_t r_t, the return of the whole episode.

    g_hat = 1/|D| sum_{tau in D} sum_t grad log pi_theta(a_t|s_t) Phi_t                                  (4), (8)

The whole algorithm in its smallest form: collect a batch D of whole episodes with pi_theta, weight
each step by Phi_t, take one Adam step up g_hat, repeat. No discount, no value function, one plain
environment. From nppg it takes only the policy (log pi and its closed-form score, (15)-(16)) and Adam (23).
An episode that CartPole truncates at 500 steps is weighed by its own rewards, like any other: this step
optimises the capped return (1), not the task without its time limit (README, (14)).

Measured on CartPole-v1 with `time OPENBLAS_NUM_THREADS=1 python <this file> --seed S` on a 2-core AMD EPYC
(OpenBLAS Haswell kernels, another job sharing the machine),
S = 0, 1, 2, from a mean return of 22 at epoch 1 (~5,000 steps an epoch; the 50 epochs took 9.7, 8.3, 7.4 s):
    mean return >= 475 first at epoch 43, 47, never (best 454.5); at epoch 50: 362, 398, 418.

    python examples/1_simple_pg.py [--seed S] [--epochs E] [--lr LR] [--batch-size B] [--out DIR]   (--help: all)
"""
import gymnasium as gym
import numpy as np

from nppg import Adam, CategoricalPolicy
from progress import Progress, flags  # plumbing: the command line and progress.csv

WEIGHTS = "example 1: R(tau)"  # the label nppg plot gives this run


def collect(env, policy, batch_size, rng):
    """Whole episodes with pi_theta until the batch holds at least batch_size steps (the last one is finished)."""
    obs, act, Phi, ep_returns, ep_lengths = [], [], [], [], []
    while len(obs) < batch_size:
        s, _ = env.reset()
        rew, done = [], False
        while not done:
            a = policy.sample(s[None], rng)[0]                          # a_t ~ pi_theta(.|s_t)
            obs.append(s)
            act.append(a)
            s, r, terminated, truncated, _ = env.step(a)
            rew.append(r)
            done = terminated or truncated
        Phi += [sum(rew)] * len(rew)                                    # (4) Phi_t = R(tau), at every step of tau
        ep_returns.append(sum(rew))
        ep_lengths.append(len(rew))
    obs, act, Phi = np.array(obs, dtype=np.float64), np.array(act), np.array(Phi)  # (M, obs_dim), (M,), (M,)
    return obs, act, Phi, ep_returns, ep_lengths


def update(policy, opt, obs, act, Phi):
    """One Adam step up g_hat (4), i.e. down the loss L = -1/M sum_t Phi_t log pi_theta(a_t|s_t), M steps."""
    M = len(Phi)
    # 1/M over steps, as in Spinning Up's code, where (4) has 1/|D| over episodes: the same direction
    opt.step(policy.grad_log_prob(obs, act, -Phi / M))                  # (4) grad of L, then (23) Adam


def train(env_name="CartPole-v1", hidden=(32,), lr=1e-2, epochs=50, batch_size=5000, seed=0, out=None):
    """Spinning Up's settings for this step: one hidden layer of 32 tanh units, Adam lr 1e-2, 5,000 steps a batch.
    ``out``: a folder for progress.csv and config.json, or None to write nothing."""
    settings = dict(hidden=hidden, lr=lr, epochs=epochs, batch_size=batch_size, seed=seed)
    rng = np.random.default_rng(seed)
    env = gym.make(env_name)
    env.reset(seed=seed)                                                # seeds the env; later resets go on from it
    policy = CategoricalPolicy(env.observation_space.shape[0], env.action_space.n, hidden, "tanh", rng)
    opt = Adam(policy.params, lr)
    # Phi is not normalised: Adam divides each step by a running root-mean-square of the gradient, so the scale
    # of Phi matters far less than with plain SGD. Subtracting the batch's mean of Phi would not be a baseline (7):
    # the mean depends on this batch's actions, a bias of about 1/|D| (docs/theory.md); step 3 learns V instead.
    steps, progress = 0, Progress(out, {"env": env_name, "weights": WEIGHTS, **settings})
    for epoch in range(1, epochs + 1):
        obs, act, Phi, ep_returns, ep_lengths = collect(env, policy, batch_size, rng)
        update(policy, opt, obs, act, Phi)
        steps += len(Phi)
        print(f"epoch {epoch:3d}   steps {steps:7d}   mean return {np.mean(ep_returns):6.1f}   "
              f"mean ep_len {np.mean(ep_lengths):6.1f}")
        progress.write(ep_returns, ep_lengths, epoch=epoch, env_steps=steps)
    env.close()
    progress.close()
    return policy


if __name__ == "__main__":
    train(**flags(train, __doc__))
