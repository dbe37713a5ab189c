"""Vanilla Policy Gradient: Spinning Up's pseudocode, one visible line of ``vpg`` per step.

    1: input: initial policy parameters theta_0, initial value function parameters phi_0  -> start
    2: for k = 0, 1, 2, ... do
    3:   collect trajectories D_k by running pi_k = pi(theta_k) in the environment       -> Rollout.collect
    4:   compute rewards-to-go R_hat_t                                                    -> batch_weights (6)
    5:   compute advantage estimates A_t with the current value function V_phi_k         -> batch_weights (7, 11, 22)
    6:   estimate the policy gradient g_k = 1/|D_k| sum_tau sum_t grad log pi(a_t|s_t) A_t -> update_policy (8)
    7:   compute the policy update with Adam                                              -> update_policy (21)
    8:   fit the value function by regression on mean-squared error, with Adam            -> fit_value (9, 20)
"""
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

from .advantages import WEIGHTS, batch_weights
from .optim import Adam
from .policies import CategoricalPolicy, GaussianPolicy, ValueFunction
from .rollout import Rollout, obs_dim_of


@dataclass
class VPGConfig:
    """The algorithm's settings; ``nppg train --help`` shows each as a flag."""
    env: str = "CartPole-v1"     # a gymnasium id, or module:EnvName-v0 for an environment registered on import
    seed: int = 0                # seeds the networks' initialisation, the action sampling and the resets
    epochs: int = 50             # policy updates (k in the pseudocode), >= 1
    steps_per_epoch: int = 2000  # |D_k| in steps (the last vector step may add up to num_envs - 1 more)
    num_envs: int = 8            # environment copies stepped together, 1 <= num_envs <= steps_per_epoch
    weights: str = "gae"         # Phi_t (8): "return" (4), "reward-to-go" (6), "baseline" (7), "nstep" (22), "gae" (11)
    gamma: float = 0.99          # discount, in (0, 1]
    lam: float = 0.97            # GAE lambda (11), in [0, 1]: 0 gives delta_t (10), 1 gives R_hat_t - V(s_t)
    n_step: int = 5              # n of "nstep" (22), >= 1: rewards summed before V(s_{t+n}) stands in for the rest
    pi_lr: float = 1e-2          # the policy's Adam step size (Spinning Up: 3e-4 with 4,000 steps; docs/results.md)
    vf_lr: float = 1e-3          # the value function's Adam step size
    train_v_iters: int = 80      # full-batch Adam steps on the value loss (20) per epoch, >= 0
    hidden: tuple = (64, 64)     # hidden widths of both networks; () is a linear model
    activation: str = "tanh"     # "tanh" or "relu"
    normalize_adv: bool = True   # shift and scale Phi_t to mean 0, std 1 over the batch before the policy step
    log_std_init: float = -0.5   # the Gaussian policy's initial log sigma (Box actions)

    def __post_init__(self):
        self.hidden = tuple(self.hidden)
        whole = lambda x, low: isinstance(x, (int, np.integer)) and not isinstance(x, bool) and x >= low  # noqa: E731
        checks = [
            (whole(self.seed, 0), "seed", "a whole number >= 0"),
            (whole(self.epochs, 1), "epochs", "a whole number >= 1"),
            (whole(self.steps_per_epoch, 1), "steps_per_epoch", "a whole number >= 1"),
            (whole(self.num_envs, 1), "num_envs", "a whole number >= 1"),
            (self.weights in WEIGHTS, "weights", f"one of {list(WEIGHTS)}"),
            (0 < self.gamma <= 1, "gamma", "in (0, 1]"),
            (0 <= self.lam <= 1, "lam", "in [0, 1]"),
            (0 < self.pi_lr < np.inf, "pi_lr", "> 0 and finite"),
            (0 < self.vf_lr < np.inf, "vf_lr", "> 0 and finite"),
            (whole(self.n_step, 1), "n_step", "a whole number >= 1"),
            (whole(self.train_v_iters, 0), "train_v_iters", "a whole number >= 0"),
            (all(whole(h, 1) for h in self.hidden), "hidden", "widths >= 1 (or none)"),
            (self.activation in ("tanh", "relu"), "activation", '"tanh" or "relu"'),
            (np.isfinite(self.log_std_init), "log_std_init", "finite"),
        ]
        for ok, name, expected in checks:
            if not ok:
                raise ValueError(f"{name} must be {expected}; got {getattr(self, name)!r}")
        if self.num_envs > self.steps_per_epoch:
            raise ValueError(f"num_envs ({self.num_envs}) must not exceed steps_per_epoch ({self.steps_per_epoch})")
        self.hidden = tuple(int(h) for h in self.hidden)


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
    """Step 1: theta_0 and phi_0, their Adam optimizers, and the environments, all from ``cfg.seed``.
    The three constructors can be replaced by drop-ins with the same interface (``nppg.engine`` does)."""
    rng = np.random.default_rng(cfg.seed)
    envs = make_env(cfg.env, cfg.num_envs)
    try:
        obs_space, act_space = envs.single_observation_space, envs.single_action_space
        policy = make_policy(obs_space, act_space, cfg.hidden, cfg.activation, cfg.log_std_init, rng)
        value_fn = ValueFunction(policy.obs_dim, cfg.hidden, cfg.activation, rng)
        return State(cfg, policy, value_fn, Adam(policy.params, cfg.pi_lr), Adam(value_fn.params, cfg.vf_lr),
                     Rollout(envs, seed=cfg.seed), rng)
    except BaseException:
        envs.close()
        raise


def closing_values(batch, value_fn):
    """(12) The value that closes each segment: 0 if its episode terminated (even on the batch's last
    step), else V(s_T) of the true next observation (a time-limit truncation, or the batch's end)."""
    return np.where(batch.terminated, 0.0, value_fn.predict(batch.final_obs))


def update_policy(policy, opt, obs, act, Phi):
    """Steps 6-7: one Adam step on L_pi = -1/N sum_t log pi(a_t|s_t) Phi_t, i.e. ascent on (8).

    1/N over the batch's steps, where (8) has 1/|D| over its episodes, as in Spinning Up's code (Adam's
    step is the same for any constant factor; docs/theory.md, "Three conventions"). The diagnostics are
    measured after the step, where the KL and the loss change are not 0: kl estimates KL(pi_old || pi_new).
    """
    N = len(Phi)
    logp_old = policy.log_prob(obs, act)                          # (N,)
    opt.step(policy.grad_log_prob(obs, act, -Phi / N))            # gradient of L_pi
    logp_new = policy.log_prob(obs, act)                          # (N,)
    loss_old, loss_new = -float(np.mean(logp_old * Phi)), -float(np.mean(logp_new * Phi))
    return {"loss_pi": loss_old, "delta_loss_pi": loss_new - loss_old,
            "kl": float(np.mean(logp_old - logp_new)), "entropy": float(np.mean(policy.entropy(obs)))}


def fit_value(value_fn, opt, obs, R_hat, iters):
    """Step 8: (9) phi = argmin_phi 1/N sum_t (V_phi(s_t) - R_hat_t)^2, by ``iters`` full-batch Adam steps on (20)."""
    loss_old = value_fn.grad_mse(obs, R_hat)[0]
    for _ in range(iters):
        opt.step(value_fn.grad_mse(obs, R_hat)[1])
    return {"loss_v": loss_old, "delta_loss_v": value_fn.grad_mse(obs, R_hat)[0] - loss_old}


def episode_stats(returns, lengths):
    """Statistics of the episodes that ended (undiscounted returns); NaN when none did."""
    some = len(returns) > 0
    stat = lambda f, x: float(f(x)) if some else np.nan  # noqa: E731
    return {"episodes": len(returns), "mean_return": stat(np.mean, returns), "std_return": stat(np.std, returns),
            "min_return": stat(np.min, returns), "max_return": stat(np.max, returns),
            "mean_ep_len": stat(np.mean, lengths)}


def vpg(env="CartPole-v1", *, callback=None, setup=start, **hyperparameters):
    """Train a policy with Vanilla Policy Gradient; every hyperparameter is a ``VPGConfig`` field.

    ``callback(record, state)``, if given, is called after every epoch with that epoch's diagnostics
    (a dict) and the ``State``; when it returns True, training stops there. ``setup(cfg)`` makes
    the starting ``State`` (step 1): ``start`` by default; ``nppg.train`` passes one with faster
    pieces, which can also continue a saved run. Returns the final ``State``.
    """
    cfg = VPGConfig(env=env, **hyperparameters)
    s = setup(cfg)                                                                             # 1
    try:
        for k in range(s.epoch, cfg.epochs):                                                   # 2
            batch = s.rollout.collect(s.policy, cfg.steps_per_epoch, s.rng)                     # 3
            val = s.value_fn.predict(batch.obs)                                                 # V(s_t)
            segments = zip(batch.starts, batch.stops, closing_values(batch, s.value_fn))         # (12)
            Phi, R_hat = batch_weights(batch.rew, val, segments, cfg.weights, cfg.gamma, cfg.lam, cfg.n_step)  # 4-5
            if cfg.normalize_adv:
                Phi = (Phi - Phi.mean()) / (Phi.std() + 1e-8)
            record = {"epoch": k + 1, **episode_stats(batch.ep_returns, batch.ep_lengths)}
            record.update(update_policy(s.policy, s.pi_opt, batch.obs, batch.act, Phi))          # 6-7
            record.update(fit_value(s.value_fn, s.vf_opt, batch.obs, R_hat, cfg.train_v_iters))  # 8
            s.epoch, s.env_steps = k + 1, s.env_steps + len(batch.rew)
            record.update(env_steps=s.env_steps, mean_value=float(val.mean()))
            s.history.append(record)
            if callback is not None and callback(record, s):
                break
    finally:
        s.rollout.envs.close()
    return s
