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
from nppg.algorithm import closing_values, episode_stats, fit_value, make_policy
from nppg.engine import mpi
from nppg.engine.threads import get_threads, set_threads
from nppg.normalize import RunningStats
from nppg.optim import Adam
from nppg.policies import ValueFunction
from nppg.rollout import Batch


def flat(params):
    return np.concatenate([np.ravel(p).astype(np.float64) for p in params.values()])


def engine_check(dp, env, hp):
    """nppg.train under MPI: after each epoch, is everything that must agree the same on every rank, and is
    the record the whole batch's (rebuilt here from every rank's own record and episodes)?"""
    epochs, local = [], {}
    globalize = mpi.each_epoch

    def keep_local(dp_, record, s):  # the record as this rank's loop made it, before it is made global
        local.update(record=dict(record), episodes=s.rollout.episodes, n=dp_.n_local)
        return globalize(dp_, record, s)
    mpi.each_epoch = keep_local

    def gather_state(record, s):
        mine = [flat(s.policy.params), flat(s.value_fn.params), flat(s.pi_opt.m), flat(s.pi_opt.v),
                flat(s.vf_opt.m), flat(s.vf_opt.v), np.array([s.epoch, s.env_steps, s.pi_opt.t, s.vf_opt.t], float)]
        for stats in (s.obs_stats, s.ret_stats):
            if stats is not None:
                mine.append(np.concatenate([[stats.N], np.ravel(stats.mean), np.ravel(stats.M2)]))
        every = dp.comm.allgather(mine)
        same = all(np.array_equal(a, b) for other in every[1:] for a, b in zip(every[0], other))
        locals_ = dp.comm.allgather(local)
        n = sum(x["n"] for x in locals_)
        R, L = (np.concatenate([x["episodes"][i] for x in locals_]) for i in (0, 1))
        expected = {**{k: sum(x["n"] * x["record"][k] for x in locals_) / n for k in mpi.MEANS + ("mean_value",)},
                    **episode_stats(R, L)}
        gap = max(abs(record[k] - v) for k, v in expected.items() if not (np.isnan(v) and np.isnan(record[k])))
        epochs.append({"identical": bool(same), "env_steps": record["env_steps"], "local_sizes": [x["n"] for x in locals_],
                       "episodes": record["episodes"], "record_gap": float(gap), "blas_threads": get_threads()})

    try:
        s = nppg.train(env, callback=gather_state, **hp)
    finally:
        mpi.each_epoch = globalize
    own = dp.comm.allgather((s.rng.bit_generator.state["state"]["state"], s.rollout.obs.tobytes()))
    return {"epochs": epochs, "threads": s.value_fn.pool is None,
            "own_rng_and_envs": len({o[0] for o in own}) == len({o[1] for o in own}) == dp.size}


def single_check(dp, env, hp, epochs=3):
    """``epochs`` data-parallel epochs against the plain loop's epochs on the gathered batches, epoch by epoch:
    the averaged policy gradient, the parameters after the policy step and the value fit, the statistics."""
    seen = {"batches": [], "g": [], "after": []}

    def setup(cfg):
        s = mpi.start(cfg, dp)
        seen["theta0"] = {k: v.copy() for k, v in s.policy.params.items()}
        seen["phi0"] = {k: v.copy() for k, v in s.value_fn.params.items()}
        collect, average = s.rollout.collect, s.pi_opt.average

        def collect_and_keep(*args):
            batch = collect(*args)
            seen["batches"].append({f.name: getattr(batch, f.name) for f in fields(Batch)})
            return batch

        def average_and_keep(grads):  # the policy's optimizer averages once an epoch
            seen["g"].append(average(grads))
            return seen["g"][-1]
        s.rollout.collect, s.pi_opt.average = collect_and_keep, average_and_keep
        return s

    def after(record, s):
        stats = s.obs_stats
        seen["after"].append((flat(s.policy.params), flat(s.value_fn.params),
                              None if stats is None else np.concatenate([stats.mean, stats.M2])))

    s = nppg.vpg(env, setup=setup, callback=after, **{**hp, "epochs": epochs})
    batches = dp.comm.gather(seen["batches"], root=0)          # [rank][epoch]
    if dp.rank:
        return None
    cfg = s.cfg
    # one process, the plain layer, from theta_0 and phi_0: each epoch on every rank's batch of that epoch
    policy = make_policy(s.rollout.envs.single_observation_space, s.rollout.envs.single_action_space, cfg.hidden,
                         cfg.activation, cfg.log_std_init)
    value_fn = ValueFunction(policy.obs_dim, cfg.hidden, cfg.activation)
    for params, saved in ((policy.params, seen["theta0"]), (value_fn.params, seen["phi0"])):
        for k in params:
            params[k][...] = saved[k]
    if cfg.normalize_obs:
        policy.net.obs_stats = value_fn.net.obs_stats = RunningStats(policy.obs_dim)
    pi_opt, vf_opt, ret = Adam(policy.params, cfg.pi_lr), Adam(value_fn.params, cfg.vf_lr), RunningStats()
    rel = lambda a, b: float(np.max(np.abs(a - b)) / np.max(np.abs(b)))  # noqa: E731
    out = {"grad": 0.0, "theta": 0.0, "phi": 0.0, "obs_stats": 0.0, "epochs": epochs,
           "ranks_rows": [len(b[0]["rew"]) for b in batches]}
    for e in range(epochs):
        parts = [Batch(**b[e]) for b in batches]
        if cfg.scale_rewards:
            ret.update(np.concatenate([bb.G for bb in parts]))
        Phis, R_hats = [], []
        for bb in parts:
            rew = bb.rew / np.sqrt(ret.var() + 1e-8) if cfg.scale_rewards else bb.rew
            segments = zip(bb.starts, bb.stops, closing_values(bb, value_fn))
            Phi, R_hat = batch_weights(rew, value_fn.predict(bb.obs), segments, cfg.weights, cfg.gamma, cfg.lam)
            Phis.append(Phi)
            R_hats.append(R_hat)
        obs, act = np.concatenate([bb.obs for bb in parts]), np.concatenate([bb.act for bb in parts])
        Phi, R_hat = np.concatenate(Phis), np.concatenate(R_hats)
        Phi = (Phi - Phi.mean()) / (Phi.std() + 1e-8)
        g = policy.grad_log_prob(obs, act, -Phi / len(Phi))             # the gradient of L_pi on all of D_k
        pi_opt.step(g)
        fit_value(value_fn, vf_opt, obs, R_hat, cfg.train_v_iters)
        if cfg.normalize_obs:
            policy.net.obs_stats.update(obs)
        theta, phi, stats = seen["after"][e]
        out["grad"] = max(out["grad"], rel(flat(seen["g"][e]), flat(g)))
        out["theta"] = max(out["theta"], rel(theta, flat(policy.params)))
        out["phi"] = max(out["phi"], rel(phi, flat(value_fn.params)))
        if cfg.normalize_obs:
            whole = policy.net.obs_stats
            out["obs_stats"] = max(out["obs_stats"], rel(stats, np.concatenate([whole.mean, whole.M2])))
    out["rows"] = sum(len(b[0]["rew"]) for b in batches)
    return out


def stop_and_settings_check(dp, env):
    """A callback that stops on one rank only stops every rank after that epoch; ranks given different
    settings are refused on every rank."""
    s = nppg.train(env, epochs=5, steps_per_epoch=400, hidden=(8,), train_v_iters=2,
                   callback=lambda record, s: dp.rank == dp.size - 1 and record["epoch"] == 2)
    stopped = dp.comm.allgather(s.epoch)
    try:
        nppg.train(env, epochs=1, steps_per_epoch=400, hidden=(8,), seed=dp.rank)
        refused = None
    except ValueError as e:
        refused = str(e)
    undone = []
    try:  # the last rank fails; the others made something, which they undo
        dp.together(lambda: 1 / 0 if dp.rank == dp.size - 1 else f"made on {dp.rank}", undo=undone.append)
        raised = None
    except (ZeroDivisionError, mpi.PeerError) as e:
        raised = f"{type(e).__name__}: {e}"
    return {"stopped_at": stopped, "refused": dp.comm.allgather(refused),
            "together": dp.comm.allgather((raised, undone))}


if __name__ == "__main__":
    path, env = sys.argv[1], sys.argv[2]
    hp = {k: ast.literal_eval(v) for k, v in (a.split("=", 1) for a in sys.argv[3:])}
    dp = mpi.world()
    set_threads(1)  # the plain vpg below leaves BLAS alone; its default threads on every rank would crowd the cores
    engine_hp = dict(hp)
    report = {"size": dp.size, "engine": engine_check(dp, env, engine_hp)}
    hp.pop("vf_dtype", None)
    hp.pop("threads", None)
    single = single_check(dp, env, hp)
    report.update(dp.comm.bcast(stop_and_settings_check(dp, env), root=0))
    if dp.rank == 0:
        report["single"] = single
        with open(path, "w") as f:
            json.dump(report, f)
