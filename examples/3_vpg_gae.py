"""Step 3: VPG, with a learned value function V_phi as baseline (7) and GAE-lambda advantages (11)-(12).

    g_hat = 1/|D| sum_{tau in D} sum_t grad log pi_theta(a_t|s_t) Phi_t                                  (8)
    Phi_t = A_t = sum_{l >= 0} (gamma lam)^l delta_{t+l},   delta_t = r_t + gamma V(s_{t+1}) - V(s_t)     (12), (11)
    phi_{k+1} = argmin_phi 1/M sum_t (V_phi(s_t) - R_hat_t)^2                                             (9), (22)

What changes from step 2, every item of it (each a flag, so a lab can undo one at a time):
  1. a critic V_phi(s_t), fit after each policy step to the discounted reward-to-go R_hat_t (10), (9);
  2. Phi_t is GAE (12) instead of R_hat_t, with a discount gamma = 0.99 and lam = 0.97: a little bias, where V
     is wrong, for lower variance (--gamma 1 --lam 1 --truncation end gives R_hat_t - V(s_t), the baseline (7)
     alone; without --truncation end a truncated episode gets R_hat_t + V(s_T) - V(s_t), biased where V is wrong);
  3. an episode that CartPole truncates at 500 steps is closed with the critic's value of its true final
     observation (14), so this step optimises the task as if it had no time limit (--truncation end: with 0,
     as steps 1-2 in effect do); a terminated one is closed with 0;
  4. Phi_t is normalised to mean 0 and std 1 over the batch: a bias of about 1/|D| (the batch's mean depends
     on its actions; |D| the batch's episodes) and a random scale, kept so that one step size fits
     (--no-normalize-adv turns it off);
  5. batches of 2,000 steps instead of 5,000 (--batch-size 5000 restores them), nppg.vpg's default.
nppg.vpg runs this same loop, with several environment copies and episodes cut at the batch's end
(examples/5_one_call.py). The printed value loss is the critic's before its fit in that epoch.

Measured on CartPole-v1 with `time OPENBLAS_NUM_THREADS=1 python <this file> --seed S` on a 2-core AMD EPYC
(OpenBLAS Haswell kernels, another job sharing the machine),
S = 0, 1, 2, from a mean return of 22 at epoch 1 (~2,000 steps an epoch; the 50 epochs took 9.1, 7.6, 7.1 s):
    mean return >= 475 first at epoch 34, 34, 37 (~71,000-77,000 steps); at epoch 50: 500, 500, 500,
    and 500 in 8, 9, 8 of the last 10 epochs.

    python examples/3_vpg_gae.py [--seed S] [--gamma G] [--lam L] [--truncation end] [--out DIR]   (--help: all)
"""
import gymnasium as gym
import numpy as np

from nppg import Adam, CategoricalPolicy, ValueFunction, gae, reward_to_go
from progress import Progress, flags  # plumbing: the command line and progress.csv

WEIGHTS = "example 3: GAE"  # the label nppg plot gives this run


def collect(env, policy, value_fn, batch_size, gamma, lam, truncation, rng):
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
        bootstrap = truncated and not terminated and truncation == "bootstrap"
        last_value = value_fn.predict(s[None])[0] if bootstrap else 0.0  # (14) V(s_T): s is the final observation
        adv += list(gae(rew, val, last_value, gamma, lam))              # (11), (12) Phi_t = A_t
        R_hat += list(reward_to_go(rew, last_value, gamma))             # (10), the targets of (9)
        ep_returns.append(rew.sum())
        ep_lengths.append(len(rew))
    obs, act, adv, R_hat = np.array(obs, dtype=np.float64), np.array(act), np.array(adv), np.array(R_hat)  # (M, ...)
    return obs, act, adv, R_hat, ep_returns, ep_lengths


def update(policy, opt, obs, act, Phi):
    """One Adam step up g_hat (8), i.e. down the loss L = -1/M sum_t Phi_t log pi_theta(a_t|s_t), M steps."""
    M = len(Phi)
    # 1/M over steps, as in Spinning Up's code, where (8) has 1/|D| over episodes: the same direction
    opt.step(policy.grad_log_prob(obs, act, -Phi / M))                  # (8) grad of L, then (23) Adam


def fit_value(value_fn, opt, obs, R_hat, iters):
    """(9) by iters full-batch Adam steps on (22) L_V = 1/M sum_t (V_phi(s_t) - R_hat_t)^2; returns L_V before."""
    loss_v = value_fn.grad_mse(obs, R_hat)[0]
    for _ in range(iters):
        opt.step(value_fn.grad_mse(obs, R_hat)[1])                      # (22) dL_V/dphi, then (23) Adam
    return loss_v


def train(env_name="CartPole-v1", hidden=(32,), lr=1e-2, vf_lr=1e-3, train_v_iters=80, gamma=0.99, lam=0.97,
          epochs=50, batch_size=2000, seed=0, truncation="bootstrap", normalize_adv=True, out=None):
    """Steps 1-2's network and policy lr; the critic's Adam lr 1e-3 and 80 steps an epoch, gamma 0.99 and lam 0.97
    are Spinning Up's; batches of 2,000 steps are nppg.vpg's default (steps_per_epoch), as in 5_one_call.py.
    truncation: "bootstrap" (close with V(s_T)) or "end" (close with 0). ``out``: a folder for progress.csv."""
    if truncation not in ("bootstrap", "end"):
        raise SystemExit(f"--truncation must be bootstrap or end; got {truncation!r}")
    settings = dict(hidden=hidden, lr=lr, vf_lr=vf_lr, train_v_iters=train_v_iters, gamma=gamma, lam=lam,
                    epochs=epochs, batch_size=batch_size, seed=seed, truncation=truncation, normalize_adv=normalize_adv)
    rng = np.random.default_rng(seed)
    env = gym.make(env_name)
    env.reset(seed=seed)                                                # seeds the env; later resets go on from it
    policy = CategoricalPolicy(env.observation_space.shape[0], env.action_space.n, hidden, "tanh", rng)
    value_fn = ValueFunction(policy.obs_dim, hidden, "tanh", rng)
    pi_opt, vf_opt = Adam(policy.params, lr), Adam(value_fn.params, vf_lr)
    steps, progress = 0, Progress(out, {"env": env_name, "weights": WEIGHTS, **settings})
    for epoch in range(1, epochs + 1):
        obs, act, adv, R_hat, ep_returns, ep_lengths = collect(env, policy, value_fn, batch_size, gamma, lam,
                                                               truncation, rng)
        # advantages normalised over the batch: one scale for the policy step whatever the size of the returns
        Phi = (adv - adv.mean()) / (adv.std() + 1e-8) if normalize_adv else adv  # (M,)
        update(policy, pi_opt, obs, act, Phi)
        loss_v = fit_value(value_fn, vf_opt, obs, R_hat, train_v_iters)
        steps += len(Phi)
        print(f"epoch {epoch:3d}   steps {steps:7d}   mean return {np.mean(ep_returns):6.1f}   "
              f"mean ep_len {np.mean(ep_lengths):6.1f}   value loss before the fit {loss_v:9.2f}")
        progress.write(ep_returns, ep_lengths, epoch=epoch, env_steps=steps, loss_v=loss_v)
    env.close()
    progress.close()
    return policy, value_fn


if __name__ == "__main__":
    train(**flags(train, __doc__))
