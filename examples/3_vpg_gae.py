"""Step 3: VPG, with a learned value function V_phi as baseline (7) and GAE-lambda advantages (10)-(11).

    g_hat = 1/|D| sum_{tau in D} sum_t grad log pi_theta(a_t|s_t) Phi_t                                  (8)
    Phi_t = A_t = sum_{l >= 0} (gamma lam)^l delta_{t+l},   delta_t = r_t + gamma V(s_{t+1}) - V(s_t)     (11), (10)
    phi <- argmin_phi 1/N sum_t (V_phi(s_t) - R_hat_t)^2                                                  (9), (20)

Step 2 plus a discount gamma and a critic: V_phi(s_t) estimates the discounted reward-to-go R_hat_t (6),
and is fit to it after each policy step (9). Subtracting any b(s_t) from R_hat_t keeps g_hat unbiased (7);
GAE then sums TD residuals with weights (gamma lam)^l: a little bias (where V is wrong) for lower variance.
Each whole episode is closed by (12): V(s_T) = 0 if it terminated, the critic's value of its true final
observation if it was truncated (CartPole-v1 truncates at 500 steps). nppg.vpg runs this same loop, with
several environment copies and episodes cut at the batch's end (examples/5_one_call.py).

Measured on CartPole-v1 with `time OPENBLAS_NUM_THREADS=1 python <this file> --seed S` on a 2-core machine,
S = 0, 1, 2, from a mean return of 22 at epoch 1 (~2,000 steps an epoch, about 6 s for the 50 epochs):
    mean return >= 475 first at epoch 34, 34, 37 (~71,000-77,000 steps); at epoch 50: 500, 500, 500,
    and 500 in 8, 9, 8 of the last 10 epochs.

    python examples/3_vpg_gae.py [--seed S] [--epochs E]
"""
import argparse

import gymnasium as gym
import numpy as np

from nppg import Adam, CategoricalPolicy, ValueFunction, discount_cumsum, gae


def reward_to_go(rew, last_value, gamma):
    """(6) R_hat_t = r_t + gamma R_hat_{t+1}, with R_hat_T = last_value (12): the targets of (9)."""
    return discount_cumsum(np.append(rew, last_value), gamma)[:-1]     # (T,)


def collect(env, policy, value_fn, batch_size, gamma, lam, rng):
    """Whole episodes with pi_theta until the batch holds at least batch_size steps (the last one is finished)."""
    obs, act, adv, R_hat, ep_returns, ep_lengths = [], [], [], [], [], []
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
        rew = np.array(rew)                                             # (T,)
        val = value_fn.predict(np.array(obs[-len(rew):]))               # (T,) V(s_t), with the current phi
        last_value = 0.0 if terminated else value_fn.predict(s[None])[0]  # (12) V(s_T): s is the final observation
        adv += list(gae(rew, val, last_value, gamma, lam))              # (10), (11) Phi_t = A_t
        R_hat += list(reward_to_go(rew, last_value, gamma))             # (6)
        ep_returns.append(rew.sum())
        ep_lengths.append(len(rew))
    obs, act, adv, R_hat = np.array(obs, dtype=np.float64), np.array(act), np.array(adv), np.array(R_hat)  # (N, ...)
    return obs, act, adv, R_hat, ep_returns, ep_lengths


def update(policy, opt, obs, act, Phi):
    """One Adam step up g_hat (8), i.e. down the loss L = -1/N sum_t Phi_t log pi_theta(a_t|s_t)."""
    N = len(Phi)
    # 1/N over steps, as in Spinning Up's code, where (8) has 1/|D| over episodes: the same direction
    opt.step(policy.grad_log_prob(obs, act, -Phi / N))                  # (8) grad of L, then (21) Adam


def fit_value(value_fn, opt, obs, R_hat, iters):
    """(9) by iters full-batch Adam steps on (20) L_V = 1/N sum_t (V_phi(s_t) - R_hat_t)^2; returns L_V before."""
    loss_v = value_fn.grad_mse(obs, R_hat)[0]
    for _ in range(iters):
        opt.step(value_fn.grad_mse(obs, R_hat)[1])                      # (20) dL_V/dphi, then (21) Adam
    return loss_v


def train(env_name="CartPole-v1", hidden=(32,), pi_lr=1e-2, vf_lr=1e-3, train_v_iters=80, gamma=0.99, lam=0.97,
          epochs=50, batch_size=2000, seed=0):
    """Steps 1-2's network and pi_lr; the critic's Adam lr 1e-3 and 80 steps an epoch, gamma 0.99 and lam 0.97
    are Spinning Up's; batches of 2,000 steps are nppg.vpg's default (steps_per_epoch), as in 5_one_call.py."""
    rng = np.random.default_rng(seed)
    env = gym.make(env_name)
    env.reset(seed=seed)                                                # seeds the env; later resets go on from it
    policy = CategoricalPolicy(env.observation_space.shape[0], env.action_space.n, hidden, "tanh", rng)
    value_fn = ValueFunction(policy.obs_dim, hidden, "tanh", rng)
    pi_opt, vf_opt = Adam(policy.params, pi_lr), Adam(value_fn.params, vf_lr)
    steps = 0
    for epoch in range(1, epochs + 1):
        obs, act, adv, R_hat, ep_returns, ep_lengths = collect(env, policy, value_fn, batch_size, gamma, lam, rng)
        # advantages normalised over the batch: one scale for the policy step whatever the size of the returns
        Phi = (adv - adv.mean()) / (adv.std() + 1e-8)                   # (N,)
        update(policy, pi_opt, obs, act, Phi)
        loss_v = fit_value(value_fn, vf_opt, obs, R_hat, train_v_iters)
        steps += len(Phi)
        print(f"epoch {epoch:3d}   steps {steps:7d}   mean return {np.mean(ep_returns):6.1f}   "
              f"mean ep_len {np.mean(ep_lengths):6.1f}   value loss {loss_v:9.2f}")
    env.close()
    return policy, value_fn


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=50)
    args = p.parse_args()
    train(seed=args.seed, epochs=args.epochs)
