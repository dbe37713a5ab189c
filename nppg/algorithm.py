"""Vanilla Policy Gradient: Spinning Up's pseudocode, one visible line of ``vpg`` per step.

    1: input: initial policy parameters theta_0, initial value function parameters phi_0  -> start
    2: for k = 0, 1, 2, ... do
    3:   collect trajectories D_k by running pi_k = pi(theta_k) in the environment       -> Rollout.collect
    4:   compute rewards-to-go R_hat_t                                                    -> batch_weights (10)
    5:   compute advantage estimates A_t with the current value function V_phi_k         -> batch_weights (7, 12, 13)
    6:   estimate g_k = 1/|D_k| sum_tau sum_t grad log pi(a_t|s_t) A_t (nppg: 1/M, M steps) -> update_policy (8)
    7:   compute the policy update with Adam                                              -> update_policy (23)
    8:   fit phi_{k+1} by regression on mean-squared error, with Adam (V_phi_k is used above) -> fit_value (9, 22)
"""
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

from .advantages import batch_weights
from .normalize import RunningStats
from .optim import Adam
from .policies import CategoricalPolicy, GaussianPolicy, ValueFunction
from .rollout import Rollout, obs_dim_of


@dataclass
class VPGConfig:
    """The algorithm's settings; ``nppg train --help`` shows each as a flag."""
    env: str = "CartPole-v1"     # a gymnasium id, or module:EnvName-v0 for an environment registered on import
    seed: int = 0                # seeds the networks' initialisation, the action sampling and the resets
    epochs: int = 50             # policy updates (k in the pseudocode), >= 1
    steps_per_epoch: int = 2000  # M, steps a batch (|D_k| counts its trajectories); + up to num_envs - 1
    num_envs: int = 8            # environment copies stepped together, 1 <= num_envs <= steps_per_epoch
    weights: str = "gae"         # Phi_t (8): "return" (4), "reward-to-go" (6), "baseline" (7), "nstep" (13), "gae" (12)
    gamma: float = 0.99          # discount, in (0, 1]
    lam: float = 0.97            # GAE lambda (12), in [0, 1]: 0 gives delta_t (11), 1 gives R_hat_t - V(s_t)
    n_step: int = 5              # n of "nstep" (13), >= 1: rewards summed before V(s_{t+n}) stands in for the rest
    pi_lr: float = 1e-2          # the policy's Adam step size (Spinning Up: 3e-4 with 4,000 steps; docs/results.md)
    vf_lr: float = 1e-3          # the value function's Adam step size
    train_v_iters: int = 80      # full-batch Adam steps on the value loss (22) per epoch, >= 0
    hidden: tuple = (64, 64)     # hidden widths of both networks; () is a linear model
    activation: str = "tanh"     # "tanh" or "relu"
    normalize_adv: bool = True   # Phi_t to mean 0, std 1 over the batch: a bias ~ 1/|D|, a random scale (docs/theory.md)
    log_std_init: float = -0.5   # the Gaussian policy's initial log sigma (Box actions)
    lr_decay: bool = False       # (28) both Adam step sizes fall linearly from their value at k = 0 towards 0
    normalize_obs: bool = False  # observations enter both networks normalised by running statistics (25)
    scale_rewards: bool = False  # rewards divided by the running std of the discounted return (26)

    def __post_init__(self):
        self.hidden = tuple(self.hidden)  # the ranges in the comments are the caller's to keep; nppg train checks them


@dataclass
class State:
    """Everything training changes: what ``vpg`` returns, and what a checkpoint saves to go on from."""
    cfg: VPGConfig
    policy: object              # pi_theta
    value_fn: ValueFunction     # V_phi
    pi_opt: Adam
    vf_opt: Adam
    rollout: Rollout            # the environments, and the episodes still running in them
    rng: np.random.Generator    # action sampling
    obs_stats: RunningStats     # (24) of the observations, or None
    ret_stats: RunningStats     # (24) of the discounted returns G_t, or None
    epoch: int = 0              # k: epochs completed
    env_steps: int = 0          # transitions collected
    history: list = field(default_factory=list)  # one record per epoch of this call, the columns of progress.csv


def make_policy(obs_space, act_space, hidden=(64, 64), activation="tanh", log_std_init=-0.5, rng=None):
    """A categorical policy for Discrete actions, a diagonal Gaussian for 1-d Box actions."""
    if isinstance(act_space, gym.spaces.Discrete):
        return CategoricalPolicy(obs_dim_of(obs_space), int(act_space.n), hidden, activation, rng)
    if isinstance(act_space, gym.spaces.Box) and len(act_space.shape) == 1:
        return GaussianPolicy(obs_dim_of(obs_space), act_space.shape[0], hidden, activation, log_std_init, rng)
    raise ValueError(f"action space must be Discrete or a 1-d Box; got {act_space}")


def start(cfg, make_env=gym.make_vec, ValueFunction=ValueFunction, Rollout=Rollout):
    """Step 1: theta_0 and phi_0, their Adam optimizers, and the environments, all from ``cfg.seed``; each of
    the three constructors can be replaced by another with the same interface."""
    rng, envs = np.random.default_rng(cfg.seed), make_env(cfg.env, cfg.num_envs)
    try:
        obs_space, act_space = envs.single_observation_space, envs.single_action_space
        policy = make_policy(obs_space, act_space, cfg.hidden, cfg.activation, cfg.log_std_init, rng)
        value_fn = ValueFunction(policy.obs_dim, cfg.hidden, cfg.activation, rng)
        policy.net.obs_stats = value_fn.net.obs_stats = RunningStats(policy.obs_dim) if cfg.normalize_obs else None
        return State(cfg, policy, value_fn, Adam(policy.params, cfg.pi_lr), Adam(value_fn.params, cfg.vf_lr),
                     Rollout(envs, seed=cfg.seed, gamma=cfg.gamma), rng, policy.net.obs_stats,
                     RunningStats() if cfg.scale_rewards else None)
    except BaseException:
        envs.close()
        raise


def closing_values(batch, value_fn):
    """(14) The value that closes each segment: 0 if its episode terminated (even on the batch's last
    step), else V(s_T) of the true next observation (a time-limit truncation, or the batch's end)."""
    return np.where(batch.terminated, 0.0, value_fn.predict(batch.final_obs))


def update_policy(policy, opt, obs, act, Phi):
    """Steps 6-7: one Adam step on L_pi = -1/M sum_t log pi(a_t|s_t) Phi_t, i.e. ascent on (8), 1/M over steps
    as in Spinning Up's code (docs/theory.md, "Three conventions"). The diagnostics are measured after the
    step: kl, the batch mean of log pi_old - log pi_new, estimates KL(pi_old || pi_new) and can be < 0 (cli.md)."""
    M = len(Phi)
    logp_old = policy.log_prob(obs, act)                          # (M,)
    opt.step(policy.grad_log_prob(obs, act, -Phi / M))            # gradient of L_pi
    logp_new = policy.log_prob(obs, act)                          # (M,)
    loss_old, loss_new = -float(np.mean(logp_old * Phi)), -float(np.mean(logp_new * Phi))
    return {"loss_pi": loss_old, "delta_loss_pi": loss_new - loss_old,
            "kl": float(np.mean(logp_old - logp_new)), "entropy": float(np.mean(policy.entropy(obs)))}


def fit_value(value_fn, opt, obs, R_hat, iters):
    """Step 8: (9) phi_{k+1} = argmin 1/M sum_t (V_phi(s_t) - R_hat_t)^2, iters Adam steps on (22); R_hat_t closed by (14)."""
    loss_old, grads = value_fn.grad_mse(obs, R_hat)                    # (22) at phi before the fit
    loss = loss_old
    for _ in range(iters):
        opt.step(grads)
        loss, grads = value_fn.grad_mse(obs, R_hat)                    # (22) after this step
    return {"loss_v": loss_old, "delta_loss_v": loss - loss_old}


def episode_stats(returns, lengths):
    """Statistics of the episodes that ended (undiscounted returns); NaN when none did."""
    stat = lambda f, x: float(f(x)) if len(x) else np.nan  # noqa: E731
    return {"episodes": len(returns), "mean_return": stat(np.mean, returns), "std_return": stat(np.std, returns),
            "min_return": stat(np.min, returns), "max_return": stat(np.max, returns),
            "mean_ep_len": stat(np.mean, lengths)}


def vpg(env="CartPole-v1", *, callback=None, setup=start, **hyperparameters):
    """Train a policy with Vanilla Policy Gradient; every hyperparameter is a ``VPGConfig`` field. Returns the
    final ``State``. ``callback(record, state)`` is called after every epoch with its diagnostics; when it
    returns True, training stops there. ``setup(cfg)`` makes the starting ``State`` (step 1)."""
    cfg = VPGConfig(env=env, **hyperparameters)
    s = setup(cfg)                                                                             # 1
    try:
        for k in range(s.epoch, cfg.epochs):                                                   # 2
            if cfg.lr_decay:                                          # (28) alpha_k = alpha_0 (1 - k / K)
                s.pi_opt.lr, s.vf_opt.lr = (lr * (1 - k / cfg.epochs) for lr in (cfg.pi_lr, cfg.vf_lr))
            batch = s.rollout.collect(s.policy, cfg.steps_per_epoch, s.rng)                     # 3
            rew, val = batch.rew, s.value_fn.predict(batch.obs)                                 # r_t, V(s_t)
            if cfg.scale_rewards:
                s.ret_stats.update(batch.G)          # (24) this batch first: no network sees it; epoch 1 needs a var
                rew = rew / np.sqrt(s.ret_stats.var() + 1e-8)                                   # (26)
            segments = zip(batch.starts, batch.stops, closing_values(batch, s.value_fn))         # (14)
            Phi, R_hat = batch_weights(rew, val, segments, cfg.weights, cfg.gamma, cfg.lam, cfg.n_step)  # 4-5
            if cfg.normalize_adv:                                     # to mean 0 and std 1 over the batch
                mu = batch.mean(Phi)
                Phi = (Phi - mu) / (np.sqrt(batch.mean((Phi - mu) ** 2)) + 1e-8)
            record = {"epoch": k + 1, **episode_stats(batch.ep_returns, batch.ep_lengths)}
            record.update(update_policy(s.policy, s.pi_opt, batch.obs, batch.act, Phi))          # 6-7
            record.update(fit_value(s.value_fn, s.vf_opt, batch.obs, R_hat, cfg.train_v_iters))  # 8
            if cfg.normalize_obs:
                s.obs_stats.update(batch.obs)     # (24) after the step and fit: both saw the s that pi acted on
            s.epoch, s.env_steps = k + 1, s.env_steps + len(batch.rew)
            record.update(env_steps=s.env_steps, mean_value=float(batch.mean(val)))
            s.history.append(record)
            if callback is not None and callback(record, s):
                break
    finally:
        s.rollout.envs.close()
    return s
