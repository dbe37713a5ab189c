"""The checks of algorithm.py's exercises, closing_values (14), policy_step (8) and vpg (7, 8, 9), in the order of the module: each check
registered under its exercise with ``@check``, its hints beside the property it tests."""
import numpy as np

from ... import advantages as R_adv
from ... import algorithm as R_alg
from ... import optim as R_optim
from ... import policies as R_pol
from ...checks import exact
from ...rollout import Batch
from .common import (Fail, call, check, close, copies, diagnose, expect, floats, fmt, ints, prop, rng_of, unchanged,
                     Z_MAX)


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
    def test(draw):
        rng, S_ = rng_of(draw), ints(draw, 1, 6)
        batch, vf = make_batch(rng, S_), LinearValue(rng.standard_normal(3))
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
                                       "the observation that followed it (never a reset one)")],
                                "V(s_T) = 0 if terminated, else V_phi(final_obs) (14)"), "14")
    prop(15)(test)


@check('closing_values', 'agreement', "nppg's closing_values")
def closing_agree(S):
    def test(draw):
        rng = rng_of(draw)
        batch, vf = make_batch(rng, ints(draw, 1, 8)), LinearValue(rng.standard_normal(3))
        if not close(call("closing_values", S.algorithm.closing_values, batch, vf, inputs=""),
                     R_alg.closing_values(batch, vf)):
            raise Fail(f"closing_values differs from nppg's on {fmt(terminated=batch.terminated)}", "compare with (14)",
                       "14")
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
        if not close(got, up, 1e-9):
            raise Fail(f"the policy step (SGD, lr = {lr}) is {fmt(step=got)}, not +lr/M sum_t Phi_t grad log "
                       f"pi(a_t|s_t) = {fmt(want=up)}, on {inputs}",
                       diagnose(got, [(-up, "the sign: the optimizer descends, so update_policy gives it the gradient of "
                                       "the loss -J, grad_log_prob(obs, act, -Phi / M); with +Phi it descends J"),
                                      (M * up, "the sum where the mean belongs: (8) is averaged over the M steps of the "
                                       "batch (1/M)"),
                                      (-M * up, "the sum where the mean belongs (1/M), and the sign (-Phi)"),
                                      (up / M, "1/M applied twice")],
                                "one optimizer step on the gradient of L = -1/M sum_t log pi(a_t|s_t) Phi_t (8)"), "8")
        if not close(info.get("loss_pi"), -np.mean(logp_old * Phi), 1e-9):
            raise Fail(f"loss_pi = {info.get('loss_pi')!r}, not -1/M sum_t log pi(a_t|s_t) Phi_t = "
                       f"{-np.mean(logp_old * Phi):.6g} before the step, on {inputs}",
                       "loss_pi is L_pi before the step, with the minus sign", "8")
    prop(15)(test)


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
        if not all(close(params[k] + delta[k], policy.params[k]) for k in params) or \
                not all(close(info.get(k), v) for k, v in ref.items()):
            raise Fail(f"update_policy differs from nppg's on {fmt(obs=obs, act=act, Phi=Phi)}", "compare with (8)", "8")
    prop(10)(test)


# ---- 15. vpg (7, 8, 9) -------------------------------------------------------------------------------

VPG_SETTINGS = dict(epochs=2, steps_per_epoch=120, num_envs=2, hidden=(8,), train_v_iters=5, seed=3)


def vpg_by_hand(mistake=None, **settings):
    """Two epochs of the pseudocode with nppg's own pieces, from the same seed, or with a known ``mistake``."""
    cfg = R_alg.VPGConfig(env="CartPole-v1", **{**VPG_SETTINGS, **settings})
    s = R_alg.start(cfg)
    try:
        for k in range(cfg.epochs):
            batch = s.rollout.collect(s.policy, cfg.steps_per_epoch, s.rng)                     # 3
            if mistake == "value after fit":                                                   # phi_(k+1) first
                segments = zip(batch.starts, batch.stops, R_alg.closing_values(batch, s.value_fn))
                R_hat = R_adv.batch_weights(batch.rew, s.value_fn.predict(batch.obs), segments, cfg.weights,
                                            cfg.gamma, cfg.lam, cfg.n_step)[1]
                R_alg.fit_value(s.value_fn, s.vf_opt, batch.obs, R_hat, cfg.train_v_iters)
            val = s.value_fn.predict(batch.obs)
            segments = zip(batch.starts, batch.stops, R_alg.closing_values(batch, s.value_fn))  # (14)
            Phi, R_hat = R_adv.batch_weights(batch.rew, val, segments, cfg.weights, cfg.gamma, cfg.lam, cfg.n_step)
            if mistake == "per segment":
                for a, b in zip(batch.starts, batch.stops):
                    Phi[a:b] = (Phi[a:b] - Phi[a:b].mean()) / (Phi[a:b].std() + 1e-8)
            elif mistake != "not normalised":
                Phi = (Phi - Phi.mean()) / (Phi.std() + 1e-8)                                  # over the batch
            for _ in range(2 if mistake == "two steps" else 1):
                R_alg.update_policy(s.policy, s.pi_opt, batch.obs, batch.act, Phi)             # 6-7
            if mistake != "value after fit":
                R_alg.fit_value(s.value_fn, s.vf_opt, batch.obs, R_hat, cfg.train_v_iters)     # 8
            s.epoch, s.env_steps = k + 1, s.env_steps + len(batch.rew)
    finally:
        s.rollout.envs.close()
    return s


def student_vpg(S, **settings):
    kw = {**VPG_SETTINGS, **settings}
    records = []

    def callback(record, state):
        records.append(dict(record))
        return bool(settings.get("_stop"))
    kw.pop("_stop", None)
    inputs = "vpg('CartPole-v1', " + ", ".join(f"{k}={v!r}" for k, v in kw.items()) + ")"
    s = call("vpg", lambda: S.algorithm.vpg("CartPole-v1", callback=callback, setup=R_alg.start, **kw), inputs=inputs)
    return s, records, inputs


def same_params(a, b, tol=1e-10):
    return all(close(a.params[k], b.params[k], tol) for k in b.params) and set(a.params) == set(b.params)


@check('vpg', 'contract', "the State, an epoch counted and recorded, the callback's stop")
def vpg_contract(S):
    s, records, inputs = student_vpg(S)
    if not all(hasattr(s, k) for k in ("policy", "value_fn", "epoch", "env_steps", "history")):
        raise Fail(f"vpg returned a {type(s).__name__}, not the State, on {inputs}", "return the State s", "8")
    if s.epoch != 2 or len(records) != 2 or len(s.history) != 2:
        raise Fail(f"after {inputs}: state.epoch = {s.epoch!r}, the callback was called {len(records)} times, "
                   f"{len(s.history)} records in history", "one epoch per k in range(s.epoch, cfg.epochs): count "
                   "s.epoch, append each epoch's record to s.history and pass it to callback(record, s)", "8")
    s, records, inputs = student_vpg(S, epochs=3, _stop=True)
    if s.epoch != 1 or len(records) != 1:
        raise Fail(f"a callback that returns True after the first epoch, on {inputs}: {len(records)} epochs ran",
                   "when callback(record, s) returns True, training stops there", "8")


@check('vpg', 'math', "two epochs redone by hand from the same seed: the pseudocode's order")
def vpg_math(S):
    s, _, inputs = student_vpg(S)
    ref = vpg_by_hand()
    if same_params(s.policy, ref.policy) and same_params(s.value_fn, ref.value_fn):
        if s.env_steps != ref.env_steps:
            raise Fail(f"state.env_steps = {s.env_steps!r}, not {ref.env_steps} transitions, on {inputs}",
                       "env_steps counts the transitions collected, len(batch.rew) per epoch", "8")
        return
    hints = {"value after fit": "V fitted before the advantages are computed: step 5 uses V_phi_k, the value function "
                                "before this batch's fit; fit on R_hat_t afterwards (step 8), or the baseline has seen "
                                "the R_hat_t of the action it judges (7, 12)",
             "per segment": "Phi normalised per episode (segment): normalise over the whole batch, one mean and one "
                            "std; per episode every episode's weights average 0, good or bad (7)",
             "not normalised": "Phi not normalised: with normalize_adv (the default) Phi goes to mean 0, std 1 over "
                               "the batch",
             "two steps": "more than one policy step on a batch: (8) holds at theta_k, the policy that sampled it"}
    for mistake, hint in hints.items():
        wrong = vpg_by_hand(mistake)
        if same_params(s.policy, wrong.policy) and (mistake == "value after fit" or same_params(s.value_fn, wrong.value_fn)):
            break
    else:
        hint = ("one epoch is the pseudocode in order: collect (3); V(s_t) and the closing values with V_phi_k; "
                "batch_weights (4-5); Phi normalised over the batch; one update_policy (6-7); then fit_value (8)")
    which = "policy's" if not same_params(s.policy, ref.policy) else "value function's"
    raise Fail(f"after two epochs of {inputs}, the {which} parameters differ from the pseudocode's redone by hand from "
               "the same seed with nppg's own pieces", hint, "7, 8, 9")


@check('vpg', 'agreement', "nppg's vpg, with normalize_obs, scale_rewards, other weights")
def vpg_agree(S):
    for settings in (dict(weights="nstep", normalize_obs=True, scale_rewards=True),
                     dict(weights="return", normalize_adv=False)):
        s, records, inputs = student_vpg(S, **settings)
        ref = []
        r = R_alg.vpg("CartPole-v1", callback=lambda rec, st: ref.append(dict(rec)), setup=R_alg.start,
                      **{**VPG_SETTINGS, **settings})
        if not (same_params(s.policy, r.policy) and same_params(s.value_fn, r.value_fn)) or \
                [sorted(x) for x in records] != [sorted(x) for x in ref] or \
                not all(close(a[k], b[k], 1e-9) for a, b in zip(records, ref) for k in b):
            raise Fail(f"vpg differs from nppg's on {inputs}", "compare with algorithm.py: every option "
                       "(normalize_obs (25), scale_rewards (26)) as nppg's vpg does it", "7, 8, 9")
