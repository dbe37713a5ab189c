"""The checks of optim.py's exercises, adam (23), in the order of the module: each check
registered under its exercise with ``@check``, its hints beside the property it tests."""
import numpy as np

from ... import optim as R_optim
from .common import (Fail, call, check, close, copies, diagnose, first_difference, floats, fmt, ints, prop, rng_of,
                     side_by_side, unchanged)


def adam_steps(opt_class, params, grads_list, **kw):
    params = {k: p.copy() for k, p in params.items()}
    opt = opt_class(params, **kw)
    for g in grads_list:
        call("Adam.step", opt.step, g, inputs=fmt(**g))
    return params


def adam_reference(params, grads_list, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, bias=True, count=True, slip=None):
    """(23) step by step, with the usual mistakes as switches (for the hints)."""
    p = {k: v.copy() for k, v in params.items()}
    m, v = {k: np.zeros_like(x) for k, x in p.items()}, {k: np.zeros_like(x) for k, x in p.items()}
    b1, b2 = (beta2, beta1) if slip == "swapped" else (beta1, beta2)
    w1 = 1.0 if slip == "no 1 - beta1" else 1 - b1
    c1 = beta2 if slip == "m by beta2" else beta1
    steps = 0
    for t, g in enumerate(grads_list, 1):
        t = t if count else 1
        for k in p:
            steps += 1
            t = steps if slip == "per key" else t
            m[k] = b1 * m[k] + w1 * g[k]
            v[k] = b2 * v[k] + (1 - b2) * (g[k] if slip == "v of g" else g[k] ** 2)
            if slip == "eps inside":
                p[k] = p[k] - lr * (m[k] / (1 - beta1**t)) / np.sqrt(v[k] / (1 - beta2**t) + eps)
                continue
            mh, vh = (m[k] / (1 - c1**t), v[k] / (1 - beta2**t)) if bias else (m[k], v[k])
            p[k] = p[k] - lr * mh / (np.sqrt(vh) + eps)
    return p


def adam_hint(S, params, grads_list, **kw):
    got = adam_steps(S.optim.Adam, params, grads_list, **kw)
    flat = lambda p: np.concatenate([np.ravel(p[k]) for k in params])  # noqa: E731
    g = flat(got)
    if not np.all(np.isfinite(g)):
        positive = [{k: np.abs(x) + 0.1 for k, x in gs.items()} for gs in grads_list]
        if np.all(np.isfinite(flat(adam_steps(S.optim.Adam, params, positive, **kw)))):   # nan only where g < 0
            return ("v averages g, not g^2: with negative gradients v goes negative and sqrt(v_hat) is nan; "
                    "v_t = beta2 v + (1 - beta2) g^2 (23)")
        return ("the step is not finite (nan or inf): the bias correction divides by 1 - beta^t, which is 0 when t "
                "is still 0; increment t first, once per step, so that the first step has t = 1 (23)")
    return diagnose(g, [(flat(adam_reference(params, grads_list, bias=False, **kw)), "Adam without bias correction: "
                         "m and v start at 0, so divide by (1 - beta1^t) and (1 - beta2^t); uncorrected, the first step "
                         "is lr (1 - beta1) / sqrt(1 - beta2), about 3.2 lr"),
                        (flat(adam_reference(params, grads_list, count=False, **kw)), "t does not count the steps: "
                         "increment t once per step, before the bias correction"),
                        (2 * flat(params) - flat(adam_reference(params, grads_list, **kw)), "the step climbs: theta_t = "
                         "theta_(t-1) - lr m_hat / (sqrt(v_hat) + eps); an optimizer descends (pass the gradient of -J "
                         "to ascend J)"),
                        (flat(adam_reference(params, grads_list, slip="per key", **kw)), "t counted once per parameter "
                         "array: t counts the steps, so self.t += 1 goes once per step, before the loop over the keys"),
                        (flat(adam_reference(params, grads_list, slip="v of g", **kw)), "v averages g, not g^2: "
                         "v_t = beta2 v + (1 - beta2) g^2, the squared gradient (its square root is the scale)"),
                        (flat(adam_reference(params, grads_list, slip="swapped", **kw)), "beta1 and beta2 swapped: "
                         "beta1 (0.9) averages the gradient into m, beta2 (0.999) its square into v"),
                        (flat(adam_reference(params, grads_list, slip="no 1 - beta1", **kw)), "m without its (1 - "
                         "beta1): m_t = beta1 m + (1 - beta1) g, an average of the gradients, not their sum"),
                        (flat(adam_reference(params, grads_list, slip="m by beta2", **kw)), "m's bias corrected with "
                         "beta2: m_hat = m_t / (1 - beta1^t), v_hat = v_t / (1 - beta2^t), each by its own beta"),
                        (flat(adam_reference(params, grads_list, slip="eps inside", **kw)), "eps inside the square "
                         "root: (23) divides by sqrt(v_hat) + eps")],
                    "m_t = beta1 m + (1 - beta1) g, v_t = beta2 v + (1 - beta2) g^2, m_hat = m_t / (1 - beta1^t), "
                    "v_hat = v_t / (1 - beta2^t), theta -= lr m_hat / (sqrt(v_hat) + eps) (23)")


@check('adam', 'contract', 'in place, gradients untouched')
def adam_contract(S):
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    grads = {k: rng.standard_normal(p.shape) for k, p in params.items()}
    arrays, before, inputs = dict(params), copies(*grads.values()), fmt(**grads)
    opt = S.optim.Adam(params, lr=0.01)
    call("Adam.step", opt.step, grads, inputs=inputs)
    unchanged("Adam.step (the gradients)", before, list(grads.values()), inputs)
    for k in params:
        if params[k] is not arrays[k]:
            raise Fail(f"Adam.step replaced params[{k!r}] by a new array", "update the parameters in place "
                       "(self.params[k] -= ...): the network reads the same arrays", "23")
        if params[k].shape != arrays[k].shape or params[k].dtype != np.float64:
            raise Fail(f"Adam.step changed params[{k!r}]'s shape or dtype", "a step keeps each array's shape", "23")


@check('adam', 'math', 'the first step has size lr; scale invariance; (23) step by step')
def adam_math(S):
    def test(draw):
        rng, lr = rng_of(draw), floats(draw, 1e-4, 1e-1)
        shape = (ints(draw, 1, 4), ints(draw, 1, 3))
        params = {"W": rng.standard_normal(shape), "b": rng.standard_normal(shape[1])}
        g = {k: rng.choice([-1, 1], p.shape) * rng.uniform(0.1, 10, p.shape) for k, p in params.items()}
        inputs = fmt(**g)
        after = adam_steps(S.optim.Adam, params, [g], lr=lr)
        for k in params:
            step = after[k] - params[k]
            if not close(step, -lr * np.sign(g[k]), 1e-5):
                raise Fail(f"Adam's first step on params[{k!r}] is {fmt(step=step)}, not -lr sign(g) = "
                           f"{fmt(want=-lr * np.sign(g[k]))} (lr = {lr:.4g}), on gradients {inputs}",
                           adam_hint(S, params, [g], lr=lr), "23")
        grads = [{k: rng.standard_normal(p.shape) for k, p in params.items()} for _ in range(4)]
        c = floats(draw, 0.01, 100.0)
        a1 = adam_steps(S.optim.Adam, params, grads, lr=lr)
        a2 = adam_steps(S.optim.Adam, params, [{k: c * x for k, x in gg.items()} for gg in grads], lr=lr)
        if not all(close(a1[k], a2[k], 1e-5) for k in params):
            raise Fail(f"4 Adam steps differ when every gradient is scaled by c = {c:.4g}, on {fmt(**grads[0])}, ...",
                       "Adam's step is invariant to the gradient's scale: m_hat / sqrt(v_hat), with v the average of "
                       "g^2 (squared), not of g", "23")
        want = adam_reference(params, grads, lr=lr)
        if not all(close(a1[k], want[k], 1e-9) for k in params):
            raise Fail(f"4 Adam steps do not follow (23) step by step, on {fmt(**grads[0])}, ...",
                       adam_hint(S, params, grads, lr=lr), "23")
    prop(15)(test)


@check('adam', 'agreement', "nppg's Adam")
def adam_agree(S):
    def test(draw):
        rng, lr = rng_of(draw), floats(draw, 1e-4, 1e-1)
        b1, b2 = floats(draw, 0.0, 0.99), floats(draw, 0.5, 0.9999)
        params = {"W": rng.standard_normal((ints(draw, 1, 4), 3)), "log_std": rng.standard_normal(2)}
        grads = [{k: rng.standard_normal(p.shape) for k, p in params.items()} for _ in range(3)]
        a = adam_steps(S.optim.Adam, params, grads, lr=lr, beta1=b1, beta2=b2)
        r = adam_steps(R_optim.Adam, params, grads, lr=lr, beta1=b1, beta2=b2)
        if first_difference(a, r) is not None:
            raise Fail(side_by_side("the parameters", a, r, f"3 Adam steps (lr={lr:.4g}, beta1={b1:.4g}, "
                                    f"beta2={b2:.4g}) from {fmt(**params)} on gradients {fmt(**grads[0])}, ..."),
                       adam_hint(S, params, grads, lr=lr, beta1=b1, beta2=b2), "23")
    prop(15)(test)
