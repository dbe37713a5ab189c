"""The checks of policies.py's exercises, gaussian_policy (8, 18) and value_loss (22), in the order of the module: each check
registered under its exercise with ``@check``, its hints beside the property it tests."""
import numpy as np

from ... import distributions as R_dist
from ... import policies as R_pol
from ...checks.gradcheck import check_grads
from .common import (Fail, call, check, close, copies, diagnose, expect, first_difference, fmt, grad_error, ints,
                     prop, rng_of, side_by_side, unchanged, TOL)


def gpolicy_setup(S, rng, M, obs_dim=3, act_dim=2):
    policy = S.policies.GaussianPolicy(obs_dim, act_dim, (4,), "tanh", -0.5, rng)
    for k, p in policy.params.items():
        p[...] = rng.standard_normal(p.shape) / np.sqrt(p.shape[0]) if k.startswith("W") else 0.3 * rng.standard_normal(p.shape)
    obs, act = rng.standard_normal((M, obs_dim)), rng.standard_normal((M, act_dim))
    Phi = rng.standard_normal(M) * rng.uniform(0.5, 2.0)   # never all ones: every row its own weight
    return policy, obs, act, Phi


PHI_ERRORS = [("broadcast", "Phi (M,) against dmu (M, act_dim): Phi * dmu does not broadcast row by row; Phi[:, None] "
                            "* dmu gives each row its own weight Phi_t"),
              ("shape", "Phi (M,) weighs the rows of dmu (M, act_dim): Phi[:, None] * dmu, then self.net.backward")]


@check('gaussian_policy', 'contract', 'grads keyed and shaped like params; inputs and parameters untouched')
def gpolicy_contract(S):
    policy, obs, act, Phi = gpolicy_setup(S, np.random.default_rng(0), 4)
    before, params = copies(obs, act, Phi), {k: p.copy() for k, p in policy.params.items()}
    inputs = fmt(obs=obs, act=act, Phi=Phi)
    grads = call("GaussianPolicy.grad_log_prob", policy.grad_log_prob, obs, act, Phi, inputs=inputs, errors=PHI_ERRORS)
    if not isinstance(grads, dict) or {k: np.shape(g) for k, g in grads.items()} != \
            {k: p.shape for k, p in policy.params.items()}:
        shapes = {k: np.shape(g) for k, g in grads.items()} if isinstance(grads, dict) else type(grads).__name__
        raise Fail(f"grad_log_prob returned {shapes}, not a gradient keyed and shaped like params "
                   f"{({k: p.shape for k, p in policy.params.items()})}",
                   "the MLP's gradients come from self.net.backward(...)[0]; add grads['log_std'] of shape (act_dim,)",
                   "8, 18")
    for k, g in grads.items():
        expect(f"grad_log_prob's {k}", np.asarray(g) if np.isscalar(g) else g, policy.params[k].shape, inputs)
    unchanged("grad_log_prob", before, [obs, act, Phi], inputs)
    unchanged("grad_log_prob (the parameters)", list(params.values()), list(policy.params.values()), inputs)


@check('gaussian_policy', 'math', 'against finite differences of sum_t Phi_t log pi, Phi not all ones')
def gpolicy_math(S):
    def test(draw):
        M, rng = ints(draw, 1, 6), rng_of(draw)
        policy, obs, act, Phi = gpolicy_setup(S, rng, M, ints(draw, 1, 3), ints(draw, 1, 3))
        inputs = fmt(obs=obs, act=act, Phi=Phi, log_std=policy.params["log_std"])
        grads = call("GaussianPolicy.grad_log_prob", policy.grad_log_prob, obs, act, Phi, inputs=inputs,
                     errors=PHI_ERRORS)
        f = lambda: float(Phi @ R_dist.gaussian_log_prob(policy.net.forward(obs)[0], policy.params["log_std"], act))  # noqa: E731
        mu = policy.net.forward(obs)[0]
        dmu, dlog_std = R_dist.gaussian_score(mu, policy.params["log_std"], act)
        for k in ["log_std"] + [k for k in policy.params if k != "log_std"]:
            got = np.asarray(grads[k], dtype=np.float64)
            err, num = grad_error(f, policy.params[k], got)
            if err <= TOL:
                continue
            if k == "log_std":
                hint = diagnose(got, [(dlog_std.sum(axis=0), "log sigma's gradient without Phi: it is sum_t Phi_t "
                                       "d log pi(a_t|s_t)/d log sigma = Phi @ dlog_std; the score summed alone has "
                                       "expectation 0 (5), so sigma would take a random walk"),
                                      (-(Phi @ dlog_std), "a sign flipped in log sigma's gradient: + Phi @ dlog_std"),
                                      (Phi @ dlog_std / M, "1/M where (8)'s sum has none: grad_log_prob is the gradient "
                                       "of the sum; update_policy divides by M")],
                                "log sigma is shared by every row: its gradient is Phi @ dlog_std, summed over the rows "
                                "with each row's weight (8, 18)")
            else:
                hint = diagnose(got, [(R_pol.GaussianPolicy.grad_log_prob(policy, obs, act, np.ones(M))[k],
                                       "the mean's gradient without Phi: backpropagate Phi_t dmu_t, each row weighed by "
                                       "its Phi_t (8)"),
                                      (R_pol.GaussianPolicy.grad_log_prob(policy, obs, act, Phi)[k] / M,
                                       "1/M where (8)'s sum has none: grad_log_prob is the gradient of the sum; "
                                       "update_policy divides by M"),
                                      (-R_pol.GaussianPolicy.grad_log_prob(policy, obs, act, Phi)[k],
                                       "a sign flipped in the mean's gradient: dmu = (a - mu) / sigma^2")],
                                "backpropagate Phi[:, None] * dmu through the network: dmu = (a - mu) / sigma^2 (18)")
            raise Fail(f"grad_log_prob's {k} = {fmt(got=got)} disagrees with finite differences of sum_t Phi_t log "
                       f"pi(a_t|s_t) {fmt(num=num)}, on {inputs}", hint, "8, 18")
    prop(12)(test)


@check('gaussian_policy', 'agreement', "nppg's GaussianPolicy.grad_log_prob")
def gpolicy_agree(S):
    def test(draw):
        M, rng = ints(draw, 1, 8), rng_of(draw)
        policy, obs, act, Phi = gpolicy_setup(S, rng, M, ints(draw, 1, 4), ints(draw, 1, 3))
        inputs = fmt(obs=obs, act=act, Phi=Phi)
        got = call("GaussianPolicy.grad_log_prob", policy.grad_log_prob, obs, act, Phi, inputs=inputs,
                   errors=PHI_ERRORS)
        ref = R_pol.GaussianPolicy.grad_log_prob(policy, obs, act, Phi)
        if first_difference(got, ref) is not None:
            raise Fail(side_by_side("grad_log_prob", got, ref, inputs),
                       "right on the properties above but not with these sizes (M, obs_dim, act_dim): Phi[:, None] * "
                       "dmu back through the network, Phi @ dlog_std for log_std (8, 18)", "8, 18")
    prop(10)(test)


# ---- 9. value_loss (22) -----------------------------------------------------------------------------

def value_setup(S, rng, M, d, hidden=(5,)):
    vf = S.policies.ValueFunction(d, hidden, "tanh", rng)
    for k, p in vf.params.items():
        p[...] = rng.standard_normal(p.shape) / np.sqrt(p.shape[0]) if k.startswith("W") else 0.1 * rng.standard_normal(p.shape)
    return vf, rng.standard_normal((M, d)), rng.standard_normal(M)


VALUE_ERRORS = [(words, "the network's output is (M, 1): V(s_t) is v[:, 0]; v - R_hat broadcasts (M, 1) against (M,) "
                         "to an (M, M) table, and its gradient (M, M) no longer fits the network's output (M, 1)")
                for words in ("matmul", "broadcast", "shape")]


def broadcast_mse(vf, obs, R_hat):
    """The loss with V (M, 1) minus R_hat (M,) broadcast to (M, M)."""
    v = vf.net.forward(obs)[0]
    return float(np.mean((v - R_hat) ** 2))


@check('value_loss', 'contract', '(L, grads), inputs and parameters untouched')
def value_contract(S):
    vf, obs, R_hat = value_setup(S, np.random.default_rng(0), 4, 3)
    before, params, inputs = copies(obs, R_hat), {k: p.copy() for k, p in vf.params.items()}, fmt(obs=obs, R_hat=R_hat)
    out = call("grad_mse", vf.grad_mse, obs, R_hat, inputs=inputs, errors=VALUE_ERRORS)
    if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict)):
        raise Fail(f"ValueFunction.grad_mse returned {type(out).__name__}, not (L, grads)", "return L, grads", "22")
    L, grads = out
    if not isinstance(L, float):
        raise Fail(f"grad_mse's L is a {type(L).__name__}, not a float", "return the loss as float(...)", "22")
    if {k: np.shape(g) for k, g in grads.items()} != {k: p.shape for k, p in vf.params.items()}:
        raise Fail(f"grad_mse's grads have keys and shapes {({k: np.shape(g) for k, g in grads.items()})}, not those of "
                   f"params", "the gradients come from self.net.backward(...)[0], keyed like params", "22")
    unchanged("grad_mse", before, [obs, R_hat], inputs)
    unchanged("grad_mse (the parameters)", list(params.values()), list(vf.params.values()), inputs)


@check('value_loss', 'math', 'L is the MSE; its gradient against finite differences')
def value_math(S):
    def test(draw):
        M, d, rng = ints(draw, 1, 6), ints(draw, 1, 4), rng_of(draw)
        vf, obs, R_hat = value_setup(S, rng, M, d)
        inputs = fmt(obs=obs, R_hat=R_hat)
        L, grads = call("grad_mse", vf.grad_mse, obs, R_hat, inputs=inputs, errors=VALUE_ERRORS)
        err = vf.predict(obs) - R_hat
        if not close(L, np.mean(err**2), 1e-10):
            raise Fail(f"grad_mse's L = {L:.6g} is not 1/M sum_t (V(s_t) - R_hat_t)^2 = {np.mean(err ** 2):.6g}, on "
                       f"{inputs}", diagnose(L, [(np.sum(err**2), "the sum where the mean belongs: L = 1/M sum_t "
                                                  "(V(s_t) - R_hat_t)^2"),
                                                 (np.mean(err**2) / 2, "a factor 1/2 in L: (22) is the plain mean of "
                                                  "the squares"),
                                                 (np.mean(err) ** 2, "the square of the mean error: L is the mean of "
                                                  "the squares, 1/M sum_t (V(s_t) - R_hat_t)^2"),
                                                 (broadcast_mse(vf, obs, R_hat), VALUE_ERRORS[0][1])],
                                             "L = 1/M sum_t (V(s_t) - R_hat_t)^2"), "22")
        errors = check_grads(lambda: float(np.mean((vf.predict(obs) - R_hat) ** 2)), vf.params, grads)
        if max(errors.values()) > TOL:
            ref = R_pol.ValueFunction.grad_mse(vf, obs, R_hat)[1]
            got = np.concatenate([np.ravel(grads[k]) for k in ref])
            flat = np.concatenate([np.ravel(g) for g in ref.values()])
            raise Fail(f"grad_mse's gradients disagree with finite differences of L (relative errors "
                       f"{fmt(**{k: float(v) for k, v in errors.items()})}), on {inputs}",
                       diagnose(got, [(M * flat, "the sum where the mean belongs: dL/dV(s_t) = 2 (V(s_t) - R_hat_t) / M"),
                                      (flat / 2, "the factor 2 of d/dV (V - R_hat)^2 = 2 (V - R_hat) is missing"),
                                      (-flat, "a sign flipped: dL/dV = 2 (V - R_hat) / M; with 2 (R_hat - V) / M "
                                       "Adam climbs the loss"),
                                      (flat / M, "1/M applied twice")],
                                "dL/dV(s_t) = 2 (V(s_t) - R_hat_t) / M, then back through the network (22)"), "22")
    prop(10)(test)


@check('value_loss', 'agreement', "nppg's grad_mse")
def value_agree(S):
    def test(draw):
        M, d, rng = ints(draw, 1, 8), ints(draw, 1, 4), rng_of(draw)
        vf, obs, R_hat = value_setup(S, rng, M, d, (4, 3))
        inputs = fmt(obs=obs, R_hat=R_hat)
        L, grads = call("grad_mse", vf.grad_mse, obs, R_hat, inputs=inputs, errors=VALUE_ERRORS)
        Lr, gr = R_pol.ValueFunction.grad_mse(vf, obs, R_hat)
        for name, got, ref in (("L", L, Lr), ("grads", grads, gr)):
            if first_difference(got, ref) is not None:
                raise Fail(side_by_side(f"grad_mse's {name}", got, ref, inputs),
                           "right on the properties above but not with these sizes (M, obs_dim, two hidden layers): "
                           "L = 1/M sum_t (V(s_t) - R_hat_t)^2, dL/dV(s_t) = 2 (V(s_t) - R_hat_t) / M (22)", "22")
    prop(10)(test)
