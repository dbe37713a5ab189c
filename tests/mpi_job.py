"""Run under mpiexec by test_mpi.py: ``mpiexec -n N python -m mpi4py tests/mpi_job.py OUT.json ENV [k=v ...]``.

Two checks of data-parallel VPG, written by rank 0 to OUT.json:

- "engine": ``nppg.train`` (the command line's engine) under MPI, with every rank's parameters, Adam moments,
  normalisers' statistics and step counts gathered after every epoch: are they the same on every rank?
- "single": one epoch of ``vpg`` with the data-parallel pieces, then the same epoch computed by one process on
  the ranks' batches put together (the plain layer only): the averaged policy gradient, the parameters after
  the policy step and the value fit, and the observation statistics, compared.
"""
import ast
import json
import sys
from dataclasses import fields

import numpy as np

import nppg
from nppg.advantages import batch_weights
from nppg.algorithm import closing_values, fit_value, make_policy
from nppg.engine import mpi
from nppg.engine.threads import get_threads
from nppg.normalize import RunningStats
from nppg.optim import Adam
from nppg.policies import ValueFunction
from nppg.rollout import Batch


def flat(params):
    return np.concatenate([np.ravel(p).astype(np.float64) for p in params.values()])


def engine_check(dp, env, hp):
    """nppg.train under MPI: after each epoch, is everything that must agree the same on every rank?"""
    epochs = []

    def gather_state(record, s):
        mine = [flat(s.policy.params), flat(s.value_fn.params), flat(s.pi_opt.m), flat(s.vf_opt.v),
                np.array([s.epoch, s.env_steps, s.pi_opt.t, s.vf_opt.t], dtype=np.float64)]
        for stats in (s.obs_stats, s.ret_stats):
            if stats is not None:
                mine.append(np.concatenate([[stats.N], np.ravel(stats.mean), np.ravel(stats.M2)]))
        every = dp.comm.allgather(mine)
        same = all(np.array_equal(a, b) for other in every[1:] for a, b in zip(every[0], other))
        sizes = dp.comm.allgather(dp.n_local)
        epochs.append({"identical": bool(same), "env_steps": record["env_steps"], "local_sizes": sizes,
                       "episodes": record["episodes"], "blas_threads": get_threads()})

    s = nppg.train(env, callback=gather_state, **hp)
    return {"epochs": epochs, "threads": s.value_fn.pool is None}


def single_check(dp, env, hp):
    """One data-parallel epoch against the plain loop's epoch on the gathered batch."""
    seen = {}

    def setup(cfg):
        s = mpi.start(cfg, dp)
        seen["theta0"] = {k: v.copy() for k, v in s.policy.params.items()}
        seen["phi0"] = {k: v.copy() for k, v in s.value_fn.params.items()}
        collect, average = s.rollout.collect, s.pi_opt.average

        def collect_and_keep(*args):
            seen["batch"] = collect(*args)
            return seen["batch"]

        def average_and_keep(grads):
            seen["g"] = average(grads)
            return seen["g"]
        s.rollout.collect, s.pi_opt.average = collect_and_keep, average_and_keep
        return s

    s = nppg.vpg(env, setup=setup, **{**hp, "epochs": 1})
    b = seen["batch"]
    mine = {f.name: getattr(b, f.name) for f in fields(Batch)}
    batches = dp.comm.gather(mine, root=0)
    if dp.rank:
        return None
    cfg = s.cfg
    # one process, the plain layer: theta_0 and phi_0, every rank's segments closed with V_phi0 (12)
    policy = make_policy(s.rollout.envs.single_observation_space, s.rollout.envs.single_action_space, cfg.hidden,
                         cfg.activation, cfg.log_std_init)
    value_fn = ValueFunction(policy.obs_dim, cfg.hidden, cfg.activation)
    for params, saved in ((policy.params, seen["theta0"]), (value_fn.params, seen["phi0"])):
        for k in params:
            params[k][...] = saved[k]
    if cfg.normalize_obs:
        policy.net.obs_stats = value_fn.net.obs_stats = RunningStats(policy.obs_dim)
    ret = RunningStats()
    if cfg.scale_rewards:
        ret.update(np.concatenate([bb["G"] for bb in batches]))
    Phis, R_hats = [], []
    for bb in batches:
        bb = Batch(**bb)
        rew = bb.rew / np.sqrt(ret.var() + 1e-8) if cfg.scale_rewards else bb.rew
        segments = zip(bb.starts, bb.stops, closing_values(bb, value_fn))
        Phi, R_hat = batch_weights(rew, value_fn.predict(bb.obs), segments, cfg.weights, cfg.gamma, cfg.lam)
        Phis.append(Phi)
        R_hats.append(R_hat)
    obs, act = (np.concatenate([bb[k] for bb in batches]) for k in ("obs", "act"))
    Phi, R_hat = np.concatenate(Phis), np.concatenate(R_hats)
    Phi = (Phi - Phi.mean()) / (Phi.std() + 1e-8)
    g = policy.grad_log_prob(obs, act, -Phi / len(Phi))                  # the gradient of L_pi on all of D_k
    Adam(policy.params, cfg.pi_lr).step(g)
    fit_value(value_fn, Adam(value_fn.params, cfg.vf_lr), obs, R_hat, cfg.train_v_iters)
    rel = lambda a, b: float(np.max(np.abs(a - b)) / np.max(np.abs(b)))  # noqa: E731
    out = {"grad": rel(flat(seen["g"]), flat(g)), "theta": rel(flat(s.policy.params), flat(policy.params)),
           "phi": rel(flat(s.value_fn.params), flat(value_fn.params)), "rows": len(obs),
           "ranks_rows": [len(bb["rew"]) for bb in batches]}
    if cfg.normalize_obs:
        whole = RunningStats(policy.obs_dim)
        whole.update(obs)
        out["obs_stats"] = rel(np.concatenate([s.obs_stats.mean, s.obs_stats.M2]),
                               np.concatenate([whole.mean, whole.M2]))
    return out


if __name__ == "__main__":
    path, env = sys.argv[1], sys.argv[2]
    hp = {k: ast.literal_eval(v) for k, v in (a.split("=", 1) for a in sys.argv[3:])}
    dp = mpi.world()
    engine_hp = dict(hp)
    report = {"size": dp.size, "engine": engine_check(dp, env, engine_hp)}
    hp.pop("vf_dtype", None)
    hp.pop("threads", None)
    single = single_check(dp, env, hp)
    if dp.rank == 0:
        report["single"] = single
        with open(path, "w") as f:
            json.dump(report, f)
