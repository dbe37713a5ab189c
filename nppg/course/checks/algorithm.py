"""The checks of algorithm.py's exercises, closing_values (14), policy_step (8) and vpg (7, 8, 9), in the order of the module: each check
registered under its exercise with ``@check``, its hints beside the property it tests."""
import numpy as np

from ... import advantages as R_adv
from ... import algorithm as R_alg
from ... import optim as R_optim
from ... import policies as R_pol
from ...checks import exact
from ...rollout import Batch
from .common import (Fail, call, check, close, copies, diagnose, expect, first_difference, fmt, ints, one, prop,
                     rng_of, side_by_side, unchanged, Z_MAX)


class LinearValue:
    """A stand-in V(s) = s w + 1 whose values are easy to tell apart."""

    def __init__(self, w):
        self.w = w

    def predict(self, obs):
        return np.asarray(obs, dtype=np.float64) @ self.w + 1.0


def make_batch(rng, S_, d=3):
    lens = rng.integers(1, 4, S_)
    stops = np.cumsum(lens)
    M = int(stops[-1])
    return Batch(obs=rng.standard_normal((M, d)), act=rng.integers(0, 2, M), rew=rng.standard_normal(M),
                 starts=np.append(0, stops[:-1]), stops=stops, terminated=rng.random(S_) < 0.5,
                 final_obs=rng.standard_normal((S_, d)), ep_returns=np.zeros(0), ep_lengths=np.zeros(0, dtype=np.int64),
                 G=np.zeros(M))


@check('closing_values', 'contract', 'shape and inputs')
def closing_contract(S):
    rng = np.random.default_rng(0)
    batch, vf = make_batch(rng, 4), LinearValue(rng.standard_normal(3))
    before = copies(batch.obs, batch.terminated, batch.final_obs)
    inputs = fmt(terminated=batch.terminated, final_obs=batch.final_obs)
    expect("closing_values", call("closing_values", S.algorithm.closing_values, batch, vf, inputs=inputs), (4,),
           inputs, "one closing value per segment (S,)")
    unchanged("closing_values", before, [batch.obs, batch.terminated, batch.final_obs], inputs)


@check('closing_values', 'math', '0 after a termination, V(final_obs) otherwise')
def closing_math(S):
    rng = np.random.default_rng(4)
    batch, vf = make_batch(rng, 4), LinearValue(rng.standard_normal(3))
    batch.terminated[:] = [True, False, True, False]                         # both kinds first
    closing_one(S, batch, vf)

    def test(draw):
        rng, S_ = rng_of(draw), ints(draw, 1, 6)
        batch, vf = make_batch(rng, S_), LinearValue(rng.standard_normal(3))
        closing_one(S, batch, vf)
    prop(15)(test)


def closing_one(S, batch, vf):
    """The student's closing values of ``batch`` against (14), the usual slips named."""
    S_ = len(batch.starts)
    inputs = fmt(terminated=batch.terminated, final_obs=batch.final_obs)
    got = np.asarray(call("closing_values", S.algorithm.closing_values, batch, vf, inputs=inputs))
    want = np.where(batch.terminated, 0.0, vf.predict(batch.final_obs))
    if not close(got, want):
        raise Fail(f"closing_values = {fmt(got=got)}, not {fmt(want=want)}, on {inputs} (V(s) = s w + 1)",
                   diagnose(got, [(np.zeros(S_), "a truncation closed with 0: only a terminated episode closes with "
                                   "0; a truncated or cut segment is closed by V(s_T) of its true final observation"),
                                  (vf.predict(batch.final_obs), "a termination closed with V(s_T): nothing follows a "
                                   "true ending, so its closing value is 0"),
                                  (np.where(batch.terminated, vf.predict(batch.final_obs), 0.0), "terminated and "
                                   "truncated swapped: 0 after a termination, V(s_T) otherwise"),
                                  (np.where(batch.terminated, 0.0, vf.predict(batch.obs[batch.stops - 1])),
                                   "bootstrapped from the last step's own observation s_(T-1): s_T is final_obs, "
                                   "the observation that followed it (never a reset one)"),
                                  (np.where(batch.terminated, 0.0, vf.predict(batch.obs[batch.starts])),
                                   "V of the segment's first observation: the closing value is V(s_T) of "
                                   "final_obs, the observation after the segment's last step")],
                            "V(s_T) = 0 if terminated, else V_phi(final_obs) (14)"), "14")


@check('closing_values', 'agreement', "nppg's closing_values")
def closing_agree(S):
    def test(draw):
        rng = rng_of(draw)
        batch, vf = make_batch(rng, ints(draw, 1, 8)), LinearValue(rng.standard_normal(3))
        inputs = fmt(terminated=batch.terminated, final_obs=batch.final_obs) + " (V(s) = s w + 1)"
        got, ref = call("closing_values", S.algorithm.closing_values, batch, vf, inputs=inputs), \
            R_alg.closing_values(batch, vf)
        if not close(got, ref):
            raise Fail(side_by_side("closing_values", got, ref, inputs),
                       "right on the batches above but not on this one: V(s_T) = 0 if terminated, else "
                       "value_fn.predict(final_obs), one per segment (14)", "14")
    prop(15)(test)


# ---- 14. policy_step (8) --------------------------------------------------------------------------

def policy_setup(rng, M, obs_dim=3, K=3):
    policy = R_pol.CategoricalPolicy(obs_dim, K, (4,), "tanh", rng)
    for k, p in policy.params.items():
        p[...] = rng.standard_normal(p.shape) / np.sqrt(p.shape[0]) if k.startswith("W") else 0.1 * rng.standard_normal(p.shape)
    return policy, rng.standard_normal((M, obs_dim)), rng.integers(0, K, M), rng.standard_normal(M)


def one_step(S, policy, obs, act, Phi, lr=0.1):
    """The student's step with plain SGD, from and back to the same parameters: (delta theta, info)."""
    before = {k: p.copy() for k, p in policy.params.items()}
    info = call("update_policy", S.algorithm.update_policy, policy, R_optim.SGD(policy.params, lr), obs, act, Phi,
                inputs=fmt(obs=obs, act=act, Phi=Phi))
    delta = {k: policy.params[k] - before[k] for k in before}
    for k in before:
        policy.params[k][...] = before[k]
    return delta, info


@check('policy_step', 'contract', 'diagnostics, inputs, a step taken')
def policy_contract(S):
    policy, obs, act, Phi = policy_setup(np.random.default_rng(0), 5)
    before, inputs = copies(obs, act, Phi), fmt(obs=obs, act=act, Phi=Phi)
    delta, info = one_step(S, policy, obs, act, Phi)
    unchanged("update_policy", before, [obs, act, Phi], inputs)
    keys = {"loss_pi", "delta_loss_pi", "kl", "entropy"}
    if not isinstance(info, dict) or set(info) != keys or not all(isinstance(v, float) for v in info.values()):
        raise Fail(f"update_policy returned {info!r}", f"return the diagnostics {sorted(keys)} as floats", "8")
    if all(np.all(d == 0) for d in delta.values()):
        raise Fail(f"update_policy did not change the parameters, on {inputs}", "call opt.step(grads) once", "8")


@check('policy_step', 'math', 'the step is +lr/M sum Phi grad log pi; loss_pi')
def policy_math(S):
    def test(draw):
        M, rng = ints(draw, 1, 8), rng_of(draw)
        policy, obs, act, Phi = policy_setup(rng, M)
        inputs, lr = fmt(obs=obs, act=act, Phi=Phi), 0.1
        logp_old = policy.log_prob(obs, act)
        delta, info = one_step(S, policy, obs, act, Phi, lr)
        g = policy.grad_log_prob(obs, act, Phi)
        flat = lambda p: np.concatenate([np.ravel(p[k]) for k in g])  # noqa: E731
        got, up = flat(delta), lr * flat(g) / M
        Phi_n = (Phi - Phi.mean()) / (Phi.std() + 1e-8)
        normalised = lr * flat(policy.grad_log_prob(obs, act, Phi_n)) / M
        if not close(got, up, 1e-9):
            raise Fail(f"the policy step (SGD, lr = {lr}) is {fmt(step=got)}, not +lr/M sum_t Phi_t grad log "
                       f"pi(a_t|s_t) = {fmt(want=up)}, on {inputs}",
                       diagnose(got, [(-up, "the sign: the optimizer descends, so update_policy gives it the gradient of "
                                       "the loss -J, grad_log_prob(obs, act, -Phi / M); with +Phi it descends J"),
                                      (M * up, "the sum where the mean belongs: (8) is averaged over the M steps of the "
                                       "batch (1/M)"),
                                      (-M * up, "the sum where the mean belongs (1/M), and the sign (-Phi)"),
                                      (up / M, "1/M applied twice"),
                                      (normalised, "Phi normalised inside update_policy: vpg normalises Phi over the "
                                       "batch (normalize_adv) before the step; update_policy takes Phi as given")],
                                "one optimizer step on the gradient of L = -1/M sum_t log pi(a_t|s_t) Phi_t (8)"), "8")
        if not close(info.get("loss_pi"), -np.mean(logp_old * Phi), 1e-9):
            raise Fail(f"loss_pi = {info.get('loss_pi')!r}, not -1/M sum_t log pi(a_t|s_t) Phi_t = "
                       f"{-np.mean(logp_old * Phi):.6g} before the step, on {inputs}",
                       "loss_pi is L_pi before the step, with the minus sign", "8")
    prop(15)(test)


@check('policy_step', 'math', 'the diagnostics: loss_pi before the step; delta_loss_pi, kl and entropy after it')
def policy_diagnostics(S):
    policy, obs, act, Phi = policy_setup(np.random.default_rng(2), 6)
    inputs = fmt(obs=obs, act=act, Phi=Phi)
    logp_old, H_old = policy.log_prob(obs, act), float(np.mean(policy.entropy(obs)))
    delta, info = one_step(S, policy, obs, act, Phi, 0.5)
    before = {k: p.copy() for k, p in policy.params.items()}
    for k in before:
        policy.params[k] += delta[k]
    logp_new, H_new = policy.log_prob(obs, act), float(np.mean(policy.entropy(obs)))
    for k in before:
        policy.params[k][...] = before[k]
    loss_old, loss_new = -float(np.mean(logp_old * Phi)), -float(np.mean(logp_new * Phi))
    want = {"loss_pi": loss_old, "delta_loss_pi": loss_new - loss_old, "kl": float(np.mean(logp_old - logp_new)),
            "entropy": H_new}
    hints = {"loss_pi": [(loss_new, "loss_pi is L_pi before the step: measured after it, it is the new policy's")],
             "delta_loss_pi": [(loss_old - loss_new, "delta_loss_pi reversed: it is L_pi after the step minus L_pi "
                                "before it (negative when the step lowered the loss)"),
                               (0.0, "delta_loss_pi measured before the step is 0: it is L_pi after the step minus "
                                "L_pi before it")],
             "kl": [(-want["kl"], "kl with its sign flipped: kl estimates KL(pi_old || pi_new) = mean over the batch "
                     "of log pi_old - log pi_new, the log-probabilities before and after the step"),
                    (0.0, "kl measured before the step is 0: it is the mean of log pi_old - log pi_new, log pi_new "
                     "measured after the step")],
             "entropy": [(H_old, "entropy measured before the step: like kl, it is measured after the step, the "
                          "new policy's mean entropy over the batch's states"),
                         (H_new * len(obs), "the entropy summed where the mean belongs: the batch mean of the "
                          "policy's entropy, np.mean(policy.entropy(obs))")]}
    for key, w in want.items():
        got = info.get(key)
        if not close(got, w, 1e-9):
            raise Fail(f"update_policy's {key} = {got!r}, not {w:.6g}, on {inputs} (plain SGD, lr = 0.5; before the "
                       f"step: L_pi = {loss_old:.6g}, entropy = {H_old:.6g}; after it: L_pi = {loss_new:.6g}, "
                       f"entropy = {H_new:.6g})", diagnose(got, hints[key], f"{key}: see update_policy's docstring"),
                       "8")


@check('policy_step', 'math', 'unbiased for grad J on an exact MDP')
def policy_unbiased(S):
    """On the exact chain MDP, g_hat = step * M / (lr |D|) from the student's update_policy has mean grad J."""
    mdp = exact.chain()
    policy = exact.generic_policy(mdp, np.random.default_rng(0))
    envs = exact.make_envs(mdp, 20)
    try:
        batch = exact.episodes(envs, policy, 40, np.random.default_rng(0), seed=0)   # 800 whole episodes
    finally:
        envs.close()
    Phi, size = exact.Phi_of(batch, "reward-to-go"), 10
    first, last = batch.starts[::size], batch.stops[size - 1::size]
    G = []
    for i, j in zip(first, last):
        delta, _ = one_step(S, policy, batch.obs[i:j], batch.act[i:j], Phi[i:j], lr=1.0)
        G.append({k: d * (j - i) / size for k, d in delta.items()})
    g = exact.exact_gradient(mdp, policy)
    G = np.array([np.concatenate([np.ravel(d[k]) for k in g]) for d in G])
    g = exact.flat(g)
    mean, se = G.mean(0), G.std(0, ddof=1) / np.sqrt(len(G))
    z = float(np.max(np.abs(mean - g)[se > 0] / se[se > 0]))
    if z > Z_MAX:
        raise Fail(f"on the exact chain MDP (nppg/checks/exact.py), 80 batches of 10 episodes: the mean of "
                   f"g_hat = step M / (lr |D|) is {z:.1f} standard errors from the exact grad J (at most {Z_MAX:g} "
                   "allowed)", "an estimate biased by a sign or by a scale that changes with the batch (the sum where "
                   "the mean belongs): (8) is +1/M sum_t Phi_t grad log pi(a_t|s_t)", "8")


@check('policy_step', 'agreement', "nppg's update_policy")
def policy_agree(S):
    def test(draw):
        M, rng = ints(draw, 1, 8), rng_of(draw)
        policy, obs, act, Phi = policy_setup(rng, M)
        delta, info = one_step(S, policy, obs, act, Phi)
        params = {k: p.copy() for k, p in policy.params.items()}
        ref = R_alg.update_policy(policy, R_optim.SGD(policy.params, 0.1), obs, act, Phi)
        inputs = fmt(obs=obs, act=act, Phi=Phi)
        mine = {k: params[k] + delta[k] for k in params}
        for name, got, want in (("the parameters after the step", mine, policy.params), ("the diagnostics", info, ref)):
            if first_difference(got, want, 1e-8) is not None:
                raise Fail(side_by_side(name, got, want, inputs),
                           f"right on the properties above but not on these {M} rows: one SGD step on the gradient of "
                           "L_pi = -1/M sum_t log pi(a_t|s_t) Phi_t, diagnostics as update_policy's docstring says (8)",
                           "8")
    prop(10)(test)


# ---- 15. vpg (7, 8, 9) -------------------------------------------------------------------------------

VPG_SETTINGS = dict(epochs=2, steps_per_epoch=120, num_envs=2, hidden=(8,), train_v_iters=5, seed=3)
RECORD_KEYS = ("epoch", "episodes", "mean_return", "std_return", "min_return", "max_return", "mean_ep_len", "loss_pi",
               "delta_loss_pi", "kl", "entropy", "loss_v", "delta_loss_v", "env_steps", "mean_value")

# the settings vpg is redone by hand in, and the mistakes that each could show (their hints below)
VPG_CASES = ((dict(), ("value after fit", "per segment", "not normalised", "two steps", "V fitted to Phi")),
             (dict(normalize_obs=True, scale_rewards=True, lr_decay=True, epochs=3),
              ("obs stats before", "obs stats never", "returns of rew", "scale ignored", "lr_decay ignored",
               "value after fit", "per segment", "not normalised")),
             (dict(weights="return", normalize_adv=False), ("normalised anyway",)))
VPG_HINTS = {
    "value after fit": "V fitted before the advantages are computed: step 5 uses V_phi_k, the value function before "
                       "this batch's fit; fit on R_hat_t afterwards (step 8), or the baseline has seen the R_hat_t of "
                       "the action it judges (7, 12)",
    "per segment": "Phi normalised per episode (segment): normalise over the whole batch, one mean and one std; per "
                   "episode every episode's weights average 0, good or bad (7)",
    "not normalised": "Phi not normalised: with normalize_adv (the default) Phi goes to mean 0, std 1 over the batch",
    "normalised anyway": "Phi normalised though normalize_adv is False: normalise only when cfg.normalize_adv",
    "two steps": "more than one policy step on a batch: (8) holds at theta_k, the policy that sampled it",
    "V fitted to Phi": "V fitted to Phi: the value function's targets are R_hat_t, the rewards-to-go (9), which "
                       "batch_weights returns beside Phi",
    "obs stats before": "normalize_obs: the observation statistics are updated with the batch's observations once "
                        "per epoch, after the value fit (the next epoch sees them); updated anywhere earlier, this "
                        "epoch's V(s_t), closing values, Phi or steps see statistics that already include the batch "
                        "(25)",
    "scale_rewards": "scale_rewards: s.ret_stats.update(batch.G), then rew / sqrt(s.ret_stats.var() + 1e-8) before "
                     "batch_weights, so Phi and R_hat are of the scaled rewards (26)",
    "lr_decay": "lr_decay: at the start of epoch k both optimizers' lr = lr_0 (1 - k / K), K = cfg.epochs (28)",
    "obs stats never": "normalize_obs: s.obs_stats.update(batch.obs) once per epoch, after the value fit (24, 25)",
    "returns of rew": "scale_rewards: ret_stats is updated with batch.G, the discounted returns so far G_t (26), not "
                      "the rewards; the rewards are then divided by sqrt(ret_stats.var() + 1e-8)",
    "scale ignored": "scale_rewards ignored: with it, s.ret_stats.update(batch.G) and rew / sqrt(var + 1e-8) before "
                     "batch_weights (26)",
    "lr_decay ignored": "lr_decay ignored: with it, at the start of epoch k both optimizers' lr = lr_0 (1 - k / K), "
                        "K = cfg.epochs (28)",
}


def vpg_by_hand(mistake=None, **settings):
    """The epochs of the pseudocode with nppg's own pieces, from the same seed, or with a known ``mistake``.
    Returns the State, each epoch's record in its history as vpg's."""
    cfg = R_alg.VPGConfig(env="CartPole-v1", **{**VPG_SETTINGS, **settings})
    s = R_alg.start(cfg)
    try:
        for k in range(cfg.epochs):
            if cfg.lr_decay and mistake != "lr_decay ignored":                                # (28)
                s.pi_opt.lr, s.vf_opt.lr = (lr * (1 - k / cfg.epochs) for lr in (cfg.pi_lr, cfg.vf_lr))
            batch = s.rollout.collect(s.policy, cfg.steps_per_epoch, s.rng)                     # 3
            if cfg.normalize_obs and mistake == "obs stats before":
                s.obs_stats.update(batch.obs)
            rew = batch.rew
            if cfg.scale_rewards and mistake != "scale ignored":                              # (26)
                s.ret_stats.update(batch.rew if mistake == "returns of rew" else batch.G)
                rew = rew / np.sqrt(s.ret_stats.var() + 1e-8)
            if mistake == "value after fit":                                                   # phi_(k+1) first
                segments = zip(batch.starts, batch.stops, R_alg.closing_values(batch, s.value_fn))
                R_hat = R_adv.batch_weights(rew, s.value_fn.predict(batch.obs), segments, cfg.weights,
                                            cfg.gamma, cfg.lam, cfg.n_step)[1]
                R_alg.fit_value(s.value_fn, s.vf_opt, batch.obs, R_hat, cfg.train_v_iters)
            val = s.value_fn.predict(batch.obs)
            segments = zip(batch.starts, batch.stops, R_alg.closing_values(batch, s.value_fn))  # (14)
            Phi, R_hat = R_adv.batch_weights(rew, val, segments, cfg.weights, cfg.gamma, cfg.lam, cfg.n_step)
            if mistake == "per segment":
                for a, b in zip(batch.starts, batch.stops):
                    Phi[a:b] = (Phi[a:b] - Phi[a:b].mean()) / (Phi[a:b].std() + 1e-8)
            elif (cfg.normalize_adv and mistake != "not normalised") or mistake == "normalised anyway":
                Phi = (Phi - Phi.mean()) / (Phi.std() + 1e-8)                                  # over the batch
            record = {"epoch": k + 1, **R_alg.episode_stats(batch.ep_returns, batch.ep_lengths)}
            for _ in range(2 if mistake == "two steps" else 1):
                record.update(R_alg.update_policy(s.policy, s.pi_opt, batch.obs, batch.act, Phi))  # 6-7
            if mistake != "value after fit":
                record.update(R_alg.fit_value(s.value_fn, s.vf_opt, batch.obs,                        # 8
                                              Phi if mistake == "V fitted to Phi" else R_hat, cfg.train_v_iters))
            if cfg.normalize_obs and mistake not in ("obs stats before", "obs stats never"):
                s.obs_stats.update(batch.obs)                                                   # (24)
            s.epoch, s.env_steps = k + 1, s.env_steps + len(batch.rew)
            s.history.append({**record, "env_steps": s.env_steps, "mean_value": float(np.mean(val))})
    finally:
        s.rollout.envs.close()
    return s


def student_vpg(S, setup=R_alg.start, stop_after=None, **settings):
    """The student's vpg on CartPole with ``settings``: (State, the records its callback was given, the call)."""
    kw = {**VPG_SETTINGS, **settings}
    records = []

    def callback(record, state):
        records.append(dict(record))
        return stop_after is not None and len(records) >= stop_after
    inputs = "vpg('CartPole-v1', " + ", ".join(f"{k}={v!r}" for k, v in kw.items()) + ")"
    s = call("vpg", lambda: S.algorithm.vpg("CartPole-v1", callback=callback, setup=setup, **kw), inputs=inputs)
    return s, records, inputs


def params_of(s):
    return {"policy": dict(s.policy.params), "value_fn": dict(s.value_fn.params)}


def resumed_at(epoch, env_steps):
    """A setup that starts where a checkpoint would: epochs and steps already done."""
    def setup(cfg):
        s = R_alg.start(cfg)
        s.epoch, s.env_steps = epoch, env_steps
        return s
    return setup


@check('vpg', 'contract', "the State; each epoch's record and its keys; the callback's stop; lr_decay; a resumed state")
def vpg_contract(S):
    s, records, inputs = student_vpg(S, stop_after=2, epochs=3, lr_decay=True)
    if not all(hasattr(s, k) for k in ("policy", "value_fn", "pi_opt", "vf_opt", "epoch", "env_steps", "history")):
        raise Fail(f"vpg returned a {type(s).__name__}, not the State, on {inputs}", "return the State s", "8")
    if len(records) == 3:
        raise Fail(f"a callback that returns True after the second epoch, on {inputs}: {len(records)} epochs ran",
                   "when callback(record, s) returns True, training stops there", "8")
    if s.epoch != 2 or len(records) != 2 or len(s.history) != 2:
        raise Fail(f"after two epochs of {inputs} (the callback stops it there): state.epoch = {s.epoch!r}, the "
                   f"callback was called {len(records)} times, {len(s.history)} records in history",
                   "one epoch per k in range(s.epoch, cfg.epochs): count s.epoch, append each epoch's record to "
                   "s.history and pass it to callback(record, s)", "8")
    missing = [k for k in RECORD_KEYS if k not in records[0]]
    if missing:
        raise Fail(f"the epoch record lacks {', '.join(map(repr, missing))}: it has {sorted(records[0])}, on {inputs}",
                   f"the record misses {', '.join(missing)}: each epoch's record holds epoch, the episode statistics "
                   "(episode_stats), update_policy's and fit_value's diagnostics, and env_steps (transitions so far) "
                   "and mean_value (the batch mean of V(s_t) before the fit), as vpg's docstring lists", "8")
    lrs = {"pi_opt": (s.pi_opt.lr, R_alg.VPGConfig.pi_lr), "vf_opt": (s.vf_opt.lr, R_alg.VPGConfig.vf_lr)}
    for name, (lr, lr0) in lrs.items():
        if not close(lr, lr0 * (1 - 1 / 3), 1e-12):
            raise Fail(f"with lr_decay, after epochs k = 0 and 1 of 3, state.{name}.lr = {lr!r}, not lr_0 (1 - 1/3) "
                       f"= {lr0 * 2 / 3:.6g}, on {inputs}",
                       VPG_HINTS["lr_decay ignored"] if close(lr, lr0, 1e-12) else
                       "lr_decay: alpha_k = alpha_0 (1 - k / K), k the epoch about to run (0 for the first), K = "
                       "cfg.epochs, set on both optimizers before the epoch's steps (28)", "28")
    s, records, inputs = student_vpg(S, setup=resumed_at(2, 500), epochs=3)
    if len(records) == 1 and s.epoch == 3 and records[0].get("epoch") == 2:
        raise Fail(f"given by setup a State that has done 2 of 3 epochs, {inputs} ran one epoch, recorded as epoch 2",
                   "the record's epoch is k + 1, the epochs completed (the first epoch's record says 1)", "8")
    if len(records) != 1 or s.epoch != 3 or records[0].get("epoch") != 3:
        raise Fail(f"given by setup a State that has done 2 of 3 epochs (state.epoch = 2), {inputs} ran "
                   f"{len(records)} epochs, numbered {[r.get('epoch') for r in records]}, and ended at state.epoch = "
                   f"{s.epoch!r}",
                   "a resumed state restarted at epoch 0: the loop runs k from s.epoch, the epochs the State has done "
                   "(a checkpoint's), to cfg.epochs: for k in range(s.epoch, cfg.epochs)", "8")
    if s.env_steps <= 500 or records[0].get("env_steps") != s.env_steps:
        raise Fail(f"given a State that has collected 500 transitions, {inputs} ends at state.env_steps = "
                   f"{s.env_steps!r}", "env_steps goes on from the State's: s.env_steps + len(batch.rew)", "8")


@check('vpg', 'math', "the pseudocode redone by hand from the same seed, with normalize_obs, scale_rewards, lr_decay")
def vpg_math(S):
    for settings, mistakes in VPG_CASES:
        s, records, inputs = student_vpg(S, **settings)
        ref = vpg_by_hand(**settings)
        if first_difference(params_of(s), params_of(ref), 1e-10) is None:
            for mine, want in zip(records, ref.history):
                for key in RECORD_KEYS:
                    if not close(mine.get(key), want[key], 1e-9):
                        raise Fail(f"epoch {want['epoch']}'s record has {key} = {one(mine.get(key))}, not "
                                   f"{one(want[key])} (the parameters are right), on {inputs}", record_hint(key), "8")
            continue
        for mistake in mistakes:
            wrong = vpg_by_hand(mistake, **settings)
            if first_difference(params_of(s), params_of(wrong), 1e-10) is None or (
                    mistake == "value after fit" and first_difference(params_of(s)["policy"],
                                                                      params_of(wrong)["policy"], 1e-10) is None):
                hint = VPG_HINTS[mistake]
                break
        else:
            hint = option_at_fault(S, settings) or (
                "one epoch is the pseudocode in order: collect (3); scale the rewards (26); V(s_t) and the closing "
                "values with V_phi_k; batch_weights (4-5); Phi normalised over the batch; one update_policy (6-7); "
                "then fit_value (8); then the observation statistics (25)")
        where, a, b = first_difference(params_of(s), params_of(ref), 1e-10)
        raise Fail(f"after the epochs of {inputs}, the parameters differ from the pseudocode's redone by hand from the "
                   f"same seed with nppg's own pieces: {where} is {one(a)} (yours), {one(b)} (by hand)", hint,
                   "7, 8, 9")


def option_at_fault(S, settings):
    """The hint of the option among ``settings`` that, alone, makes the student's vpg differ from the by-hand one."""
    for option, hint in (("normalize_obs", VPG_HINTS["obs stats before"]),
                         ("scale_rewards", VPG_HINTS["scale_rewards"]), ("lr_decay", VPG_HINTS["lr_decay"])):
        if settings.get(option):
            alone = dict(epochs=settings.get("epochs", 2), **{option: True})
            if first_difference(params_of(student_vpg(S, **alone)[0]), params_of(vpg_by_hand(**alone)), 1e-10):
                return hint
    return None


def record_hint(key):
    return {"env_steps": "env_steps counts the transitions collected so far: s.env_steps + len(batch.rew) (a batch "
                         "holds up to num_envs - 1 more than steps_per_epoch)",
            "mean_value": "mean_value is the batch mean of V(s_t) before the fit, the values Phi was computed with",
            "epoch": "the record's epoch is k + 1, the epochs completed"}.get(
        key, f"the record's {key} is this epoch's, from episode_stats, update_policy or fit_value, as returned")


@check('vpg', 'agreement', "nppg's vpg, with nstep weights and every option")
def vpg_agree(S):
    settings = dict(weights="nstep", n_step=3, gamma=0.9, normalize_obs=True, scale_rewards=True, lr_decay=True)
    s, records, inputs = student_vpg(S, **settings)
    ref_records = []
    r = R_alg.vpg("CartPole-v1", callback=lambda rec, st: ref_records.append(dict(rec)), setup=R_alg.start,
                  **{**VPG_SETTINGS, **settings})
    for name, got, want in (("the parameters", params_of(s), params_of(r)),
                            ("the records", dict(enumerate(records)), dict(enumerate(ref_records)))):
        if first_difference(got, want, 1e-9) is not None:
            raise Fail(side_by_side(name, got, want, inputs),
                       "right in the settings above but not in these: every option as vpg's docstring says (7, 8, 9, "
                       "25, 26, 28)", "7, 8, 9")
