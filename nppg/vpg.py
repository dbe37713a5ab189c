"""Vanilla Policy Gradient (Spinning Up's pseudocode, one visible step of ours per line).

    1: input: initial policy parameters theta_0, initial value function parameters phi_0
    2: for k = 0, 1, 2, ... do
    3:   collect trajectories D_k by running pi_k = pi(theta_k) in the environment   -> Rollout.collect
    4:   compute rewards-to-go R_hat_t                                                -> batch_weights (6)
    5:   compute advantage estimates A_t with the current value function V_phi_k     -> batch_weights (7, 11)
    6:   estimate the policy gradient g_k = 1/|D_k| sum_tau sum_t grad log pi(a_t|s_t) A_t   -> update_policy (8)
    7:   compute the policy update with Adam                                            -> update_policy (21)
    8:   fit the value function by regression on mean-squared error, with Adam          -> fit_value (9, 20)
"""
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

from .advantages import WEIGHTS, batch_weights
from .optim import Adam
from .policies import CategoricalPolicy, GaussianPolicy, ValueFunction
from .rollout import Rollout, make_env, obs_dim_of
from .checkpoint import restore_train_state
from .memory import keep_freed_memory
from .threads import set_threads


@dataclass
class VPGConfig:
    env: str = "CartPole-v1"
    """A gymnasium id, or ``module:EnvName-v0`` for a user environment registered on import."""
    seed: int = 0
    """Seeds the networks' initialisation, the action sampling and the environments' resets."""
    epochs: int = 50
    """Number of policy updates (k in the pseudocode); >= 1."""
    steps_per_epoch: int = 2000
    """Transitions collected per epoch, |D_k| in steps (the last vector step may add up to num_envs - 1 more)."""
    num_envs: int = 8
    """Environment copies stepped together (gymnasium vector API); 1 <= num_envs <= steps_per_epoch."""
    weights: str = "gae"
    """Phi_t in (8): "return" R(tau) (4), "reward-to-go" R_hat_t (6), "baseline" R_hat_t - V(s_t) (7), "gae" (11)."""
    gamma: float = 0.99
    """Discount, in (0, 1]."""
    lam: float = 0.97
    """GAE lambda, in [0, 1]: 0 is the one-step TD residual, 1 is R_hat_t - V(s_t). Used by weights="gae"."""
    pi_lr: float = 1e-2
    """Adam step size for the policy, > 0 (Spinning Up uses 3e-4 with 4000-step epochs; see the README)."""
    vf_lr: float = 1e-3
    """Adam step size for the value function, > 0."""
    train_v_iters: int = 80
    """Full-batch Adam steps on the value loss per epoch, >= 0."""
    hidden: tuple = (64, 64)
    """Hidden layer widths of both the policy and the value network; () is a linear model."""
    activation: str = "tanh"
    """Hidden activation: "tanh" or "relu"."""
    normalize_adv: bool = True
    """Shift and scale Phi_t to mean 0, std 1 over the batch before the policy step."""
    log_std_init: float = -0.5
    """Initial log sigma of the Gaussian policy (Box action spaces only)."""
    vf_dtype: str = "float64"
    """Precision of the value network: "float64", or "float32", which makes the value fit (most of an
    epoch's time) about 1.8 times faster; see the README's Performance section. The policy is always float64."""
    vectorization: str = None
    """gymnasium's vectorization mode: None (the environment's own vector version if it has one,
    else "sync"), "sync", or "async" (subprocesses; pays off only for slow environments, see README)."""
    threads: int = 2
    """Threads that compute the value fit's row blocks at once (``ValueFunction.grad_mse_blocks``); results
    are the same to the bit with any number >= 1. While training, each of NumPy's matrix products runs
    on one BLAS thread, the fastest for these small products, and the previous count is put back
    afterwards (``nppg.threads``). 0: one thread, and NumPy's BLAS setting left alone (more BLAS threads
    can change the last bits of a product). README, Performance."""

    def __post_init__(self):
        self.hidden = tuple(self.hidden)
        checks = [
            (isinstance(self.seed, int) and self.seed >= 0, "seed", "a whole number >= 0"),
            (isinstance(self.epochs, int) and self.epochs >= 1, "epochs", "a whole number >= 1"),
            (isinstance(self.steps_per_epoch, int) and self.steps_per_epoch >= 1, "steps_per_epoch", "a whole number >= 1"),
            (isinstance(self.num_envs, int) and 1 <= self.num_envs, "num_envs", "a whole number >= 1"),
            (self.weights in WEIGHTS, "weights", f"one of {sorted(WEIGHTS)}"),
            (0 < self.gamma <= 1, "gamma", "in (0, 1]"),
            (0 <= self.lam <= 1, "lam", "in [0, 1]"),
            (0 < self.pi_lr < np.inf, "pi_lr", "> 0 and finite"),
            (0 < self.vf_lr < np.inf, "vf_lr", "> 0 and finite"),
            (isinstance(self.train_v_iters, int) and self.train_v_iters >= 0, "train_v_iters", "a whole number >= 0"),
            (all(isinstance(h, (int, np.integer)) and h >= 1 for h in self.hidden), "hidden", "widths >= 1 (or none)"),
            (self.activation in ("tanh", "relu"), "activation", '"tanh" or "relu"'),
            (np.isfinite(self.log_std_init), "log_std_init", "finite"),
            (self.vf_dtype in ("float64", "float32"), "vf_dtype", '"float64" or "float32"'),
            (self.vectorization in (None, "sync", "async"), "vectorization", 'None, "sync" or "async"'),
            (isinstance(self.threads, int) and self.threads >= 0, "threads", "a whole number >= 0"),
        ]
        for ok, name, expected in checks:
            if not ok:
                raise ValueError(f"{name} must be {expected}; got {getattr(self, name)!r}")
        if self.num_envs > self.steps_per_epoch:
            raise ValueError(f"num_envs ({self.num_envs}) must not exceed steps_per_epoch ({self.steps_per_epoch})")
        self.hidden = tuple(int(h) for h in self.hidden)


class DivergedError(ValueError):
    """Training produced NaN or infinite parameters."""


@dataclass
class Result:
    """What a run produced, and everything needed to continue it (``checkpoint.save_train_state``)."""
    policy: object
    value_fn: ValueFunction
    config: VPGConfig
    obs_space: gym.Space
    act_space: gym.Space
    # one dict per epoch this call ran, the columns of progress.csv (after a resume, the earlier epochs
    # are in the run directory's progress.csv, not here)
    history: list = field(default_factory=list)
    pi_opt: Adam = None
    vf_opt: Adam = None
    rng: np.random.Generator = None
    rollout: Rollout = None
    epoch: int = 0          # epochs completed
    env_steps: int = 0      # transitions collected
    time_s: float = 0.0     # training time so far
    stopping: bool = False  # stop() asked to end the run after this epoch

    def __iter__(self):  # policy, value_fn, history = vpg(...)
        return iter((self.policy, self.value_fn, self.history))


def make_policy(obs_space, act_space, cfg, rng):
    """A categorical policy for Discrete actions, a diagonal Gaussian for Box actions."""
    obs_dim = obs_dim_of(obs_space)
    if isinstance(act_space, gym.spaces.Discrete):
        return CategoricalPolicy(obs_dim, int(act_space.n), cfg.hidden, cfg.activation, rng)
    if isinstance(act_space, gym.spaces.Box) and len(act_space.shape) == 1:
        return GaussianPolicy(obs_dim, act_space.shape[0], cfg.hidden, cfg.activation, cfg.log_std_init, rng)
    raise ValueError(f"action space must be Discrete or a 1-d Box; got {act_space}")


def update_policy(policy, opt, obs, act, phi):
    """Steps 6-7: one Adam step on L_pi = -mean_t(log pi(a_t|s_t) Phi_t), i.e. ascent on (8).

    The mean is over the batch's N steps, where (8) divides by its |D| episodes, as Spinning Up's code
    does too. Adam's step is the same for any constant factor; |D|/N drifts as episodes lengthen,
    which is all of the difference that reaches the steps (README, "Three conventions").
    Diagnostics are measured on the same batch after the step (the KL and the loss change
    would read 0 before it): kl ~= mean(log pi_old - log pi_new), the sample estimate of
    KL(pi_old || pi_new).
    """
    n = len(phi)
    logp_old = policy.log_prob(obs, act)                          # (N,)
    opt.step(policy.grad_log_prob(obs, act, -phi / n))            # gradient of L_pi
    logp_new = policy.log_prob(obs, act)                          # (N,)
    loss_old, loss_new = -float(np.mean(logp_old * phi)), -float(np.mean(logp_new * phi))
    return {"loss_pi": loss_old, "delta_loss_pi": loss_new - loss_old,
            "kl": float(np.mean(logp_old - logp_new)), "entropy": float(np.mean(policy.entropy(obs)))}


def fit_value(value_fn, opt, obs, rtg, iters, pool=None):
    """Step 8: (9) phi = argmin mean_t (V_phi(s_t) - R_hat_t)^2, by ``iters`` full-batch Adam steps
    (``pool``: threads for the gradient's row blocks, see ``ValueFunction.grad_mse_blocks``)."""
    loss_old = value_fn.mse(obs, rtg)
    for _ in range(iters):
        opt.step(value_fn.grad_mse_blocks(obs, rtg, pool=pool)[1])
    return {"loss_v": loss_old, "delta_loss_v": value_fn.mse(obs, rtg) - loss_old}


def closing_values(batch, value_fn):
    """(12) The value that closes each segment: 0 if its episode terminated (even on the batch's
    last step), else V(s_T) of the true next observation (time-limit truncation or batch cut)."""
    return np.where(batch.terminated, 0.0, value_fn.predict(batch.final_obs))


def epoch_stats(batch):
    """Return statistics of the episodes that ended in this batch; NaN when none did."""
    R, L = batch.ep_returns, batch.ep_lengths
    if len(R) == 0:
        return {"episodes": 0, "mean_return": np.nan, "std_return": np.nan,
                "min_return": np.nan, "max_return": np.nan, "mean_ep_len": np.nan}
    return {"episodes": len(R), "mean_return": float(R.mean()), "std_return": float(R.std()),
            "min_return": float(R.min()), "max_return": float(R.max()), "mean_ep_len": float(L.mean())}


def check_finite(epoch, **networks):
    """Stop with a clear message if an update left a NaN or infinite parameter."""
    for net_name, params in networks.items():
        for k, p in params.items():
            if not np.isfinite(p).all():
                raise DivergedError(f"training diverged in epoch {epoch}: {net_name} parameter {k} is not finite "
                                    f"(try a smaller learning rate)")


def vpg(env="CartPole-v1", *, callback=None, stop=None, resume=None, **hyperparameters):
    """Train a policy with Vanilla Policy Gradient; every hyperparameter is a ``VPGConfig`` field.

    ``callback(record, result)`` is called after every epoch with that epoch's diagnostics and
    the ``Result`` so far (the command line uses it to print, write progress.csv and save
    checkpoints: see ``logger.RunLogger``). ``stop()``, if given, is asked after each epoch and
    ends the run early when it returns True (the command line's Ctrl-C). ``resume``, a state
    from ``checkpoint.load_train_state``, continues a run exactly where it was saved. Returns
    ``Result``, whose ``policy, value_fn, history`` also unpack as a tuple.

    Two settings of the process change while it runs: NumPy's BLAS threads (put back when it returns)
    and glibc's malloc (``memory.keep_freed_memory``, which lasts until the process exits).
    """
    cfg = VPGConfig(env=env, **hyperparameters)
    keep_freed_memory()  # the value fit's blocks (up to 1 MB) reuse memory, not fault it in (nppg.memory)
    rng = np.random.default_rng(cfg.seed)
    envs = make_env(cfg.env, cfg.num_envs, cfg.vectorization)
    threads_before, pool = None, None
    try:
        threads_before = set_threads(1) if cfg.threads else None
        pool = ThreadPoolExecutor(cfg.threads, thread_name_prefix="nppg-fit") if cfg.threads > 1 else None
        policy = make_policy(envs.single_observation_space, envs.single_action_space, cfg, rng)
        value_fn = ValueFunction(policy.obs_dim, cfg.hidden, cfg.activation, rng, np.dtype(cfg.vf_dtype))
        pi_opt, vf_opt = Adam(policy.params, cfg.pi_lr), Adam(value_fn.params, cfg.vf_lr)
        rollout = Rollout(envs, seed=cfg.seed)
        result = Result(policy, value_fn, cfg, envs.single_observation_space, envs.single_action_space,
                        pi_opt=pi_opt, vf_opt=vf_opt, rng=rng, rollout=rollout)
        if resume is not None:
            restore_train_state(result, resume)
        env_steps, start = result.env_steps, time.perf_counter() - result.time_s
        for epoch in range(result.epoch, cfg.epochs):
            t0 = time.perf_counter()
            batch = rollout.collect(policy, cfg.steps_per_epoch, rng)                          # 3
            val = value_fn.predict(batch.obs)                                                  # V(s_t)
            segments = zip(batch.starts, batch.stops, closing_values(batch, value_fn))          # (12)
            phi, rtg = batch_weights(batch.rew, val, segments, cfg.weights, cfg.gamma, cfg.lam)  # 4-5
            if cfg.normalize_adv:
                phi = (phi - phi.mean()) / (phi.std() + 1e-8)
            record = {"epoch": epoch + 1}
            record.update(epoch_stats(batch))
            record.update(update_policy(policy, pi_opt, batch.obs, batch.act, phi))            # 6-7
            record.update(fit_value(value_fn, vf_opt, batch.obs, rtg, cfg.train_v_iters, pool))  # 8
            check_finite(epoch + 1, policy=policy.params, value_function=value_fn.params)
            env_steps += len(batch.rew)
            dt = time.perf_counter() - t0
            record.update({"env_steps": env_steps, "mean_value": float(val.mean()),
                           "time_s": time.perf_counter() - start, "steps_per_s": len(batch.rew) / dt})
            result.history.append(record)
            result.epoch, result.env_steps, result.time_s = epoch + 1, env_steps, record["time_s"]
            result.stopping = stop is not None and stop()  # asked once, so the callback saves what ends the run
            if callback is not None:
                callback(record, result)
            if result.stopping:
                break
        return result
    finally:
        try:
            envs.close()
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
            if threads_before is not None:
                set_threads(threads_before)
