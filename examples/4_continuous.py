"""Step 4: continuous actions, with a diagonal Gaussian policy pi(a|s) = N(mu(s), sigma^2) (17)-(18), on Pendulum-v1.

    log pi(a|s) = -1/2 (d_a log 2pi + sum_i [(a_i - mu_i)^2 / sigma_i^2 + 2 log sigma_i])                 (17)
    d log pi / d mu_i = (a_i - mu_i) / sigma_i^2,   d log pi / d log sigma_i = (a_i - mu_i)^2 / sigma_i^2 - 1  (18)

Step 3 with GaussianPolicy in place of CategoricalPolicy: the network outputs the mean mu(s), log sigma is
one learned vector, and nothing else in the algorithm changes. The environment is given the action clipped
to its bounds [-2, 2]; the batch keeps it as sampled, since log pi(a_t|s_t) is of that a_t. Pendulum has no
terminal state: every episode is truncated at 200 steps and closed with V(s_T) (14), so it optimises the task
without the time limit (--truncation end closes it with 0 instead, as if the 200th step were an ending). gamma = 0.9 (a horizon of about 10 steps), lam = 0.95 and lr 1e-2 are settings with
which nppg.vpg learns Pendulum; the other changes from step 3 are listed in ``train``'s docstring.
The printed value loss is the critic's before its fit in that epoch.

Measured on Pendulum-v1 with `time OPENBLAS_NUM_THREADS=1 python <this file> --seed S` on a 2-core AMD EPYC
(OpenBLAS Haswell kernels, another job sharing the machine), S = 0, 1, 2, from a mean return of -1,325, -1,222,
-1,072 at epoch 1 (2,000 steps = 10 episodes an epoch; the 250 epochs took 127, 115, 118 s):
    mean return >= -700 first at epoch 107, 102, never (best -776); >= -300 first at epoch 128, 117, never;
    mean of the last 10 epochs -203, -623, -947 (best single epoch -93, -92, -776); sigma 0.61 -> 0.43, 0.36, 0.67.
Seed 1 swings up and falls back late; seed 2 has not swung up by epoch 250 (an earlier measurement on another CPU,
whose BLAS kernels differ in the last bits, had it swing up after ~400,000 steps): try --epochs 500.

    python examples/4_continuous.py [--seed S] [--epochs E] [--gamma G] [--lr LR] [--truncation end] [--out DIR]
                                                                                                   (--help: all)
"""
import gymnasium as gym
import numpy as np

from nppg import Adam, GaussianPolicy, ValueFunction, gae, reward_to_go
from progress import Progress, flags  # plumbing: the command line and progress.csv

WEIGHTS = "example 4: GAE, Gaussian"  # the label nppg plot gives this run


def collect(env, policy, value_fn, batch_size, gamma, lam, truncation, rng):
    """Whole episodes with pi_theta until the batch holds at least batch_size steps (the last one is finished)."""
    obs, act, adv, R_hat, ep_returns, ep_lengths = [], [], [], [], [], []
    while len(obs) < batch_size:
        s, _ = env.reset()
        rew, done = [], False
        while not done:
            a = policy.sample(s[None], rng)[0]                          # (act_dim,) a_t ~ N(mu(s_t), sigma^2)
            obs.append(s)
            act.append(a)                                               # stored as sampled: log pi is of this a_t
            s, r, terminated, truncated, _ = env.step(np.clip(a, env.action_space.low, env.action_space.high))
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


def train(env_name="Pendulum-v1", hidden=(64, 64), lr=1e-2, vf_lr=1e-3, train_v_iters=80, gamma=0.9, lam=0.95,
          log_std_init=-0.5, epochs=250, batch_size=2000, seed=0, truncation="bootstrap", out=None):
    """Step 3's settings except two hidden layers of 64 (nppg.vpg's default), gamma 0.9 and lam 0.95, and
    log sigma starting at -0.5 (sigma 0.61, nppg.vpg's default), 250 epochs. truncation: "bootstrap" (close
    a truncated episode with V(s_T)) or "end" (close it with 0). ``out``: a folder for progress.csv."""
    if truncation not in ("bootstrap", "end"):
        raise SystemExit(f"--truncation must be bootstrap or end; got {truncation!r}")
    settings = dict(hidden=hidden, lr=lr, vf_lr=vf_lr, train_v_iters=train_v_iters, gamma=gamma, lam=lam,
                    log_std_init=log_std_init, epochs=epochs, batch_size=batch_size, seed=seed, truncation=truncation)
    rng = np.random.default_rng(seed)
    env = gym.make(env_name)
    env.reset(seed=seed)                                                # seeds the env; later resets go on from it
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    policy = GaussianPolicy(obs_dim, act_dim, hidden, "tanh", log_std_init, rng)
    value_fn = ValueFunction(obs_dim, hidden, "tanh", rng)
    pi_opt, vf_opt = Adam(policy.params, lr), Adam(value_fn.params, vf_lr)
    steps, progress = 0, Progress(out, {"env": env_name, "weights": WEIGHTS, **settings})
    for epoch in range(1, epochs + 1):
        obs, act, adv, R_hat, ep_returns, ep_lengths = collect(env, policy, value_fn, batch_size, gamma, lam,
                                                               truncation, rng)
        # advantages normalised over the batch: one scale for the policy step whatever the size of the returns
        Phi = (adv - adv.mean()) / (adv.std() + 1e-8)                   # (M,)
        update(policy, pi_opt, obs, act, Phi)
        loss_v = fit_value(value_fn, vf_opt, obs, R_hat, train_v_iters)
        steps += len(Phi)
        print(f"epoch {epoch:3d}   steps {steps:7d}   mean return {np.mean(ep_returns):7.1f}   "
              f"value loss before the fit {loss_v:9.2f}   sigma {np.exp(policy.params['log_std']).round(3)}")
        progress.write(ep_returns, ep_lengths, epoch=epoch, env_steps=steps, loss_v=loss_v,
                       entropy=float(policy.entropy(obs[:1])[0]))
    env.close()
    progress.close()
    return policy, value_fn


if __name__ == "__main__":
    train(**flags(train, __doc__))
