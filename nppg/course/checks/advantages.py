"""The checks of advantages.py's exercises, reward_to_go (6, 10), gae (11, 12), nstep (13) and batch_weights (8), in the order of the module: each check
registered under its exercise with ``@check``, its hints beside the property it tests."""
import numpy as np

from ... import advantages as R_adv
from .common import (Fail, call, check, close, copies, diagnose, expect, floats, fmt, ints, prop, rng_of,
                     side_by_side, unchanged)


DIVIDED = ("the discount divided out: y_t = sum_k discount^k x_(t+k) computed as a cumulative sum of "
           "discount^t x_t divided by discount^t breaks at discount = 0 (0 / 0) and overflows on long segments; "
           "use the backward recursion y_t = x_t + discount y_(t+1)")


def rtg_mistakes(rew, last_value, gamma):
    T, ref = len(rew), R_adv.reward_to_go
    return [(ref(rew, last_value, 1.0), "a missing gamma: R_hat_t = r_t + gamma R_hat_{t+1} (10); gamma = 1 is (6)"),
            (ref(rew, last_value, gamma**2), "the discount applied twice: each step back multiplies by gamma once"),
            (ref(rew, 0.0, gamma), "the closing value is missing: the tail is V(s_T) = last_value (14), "
             "R_hat_{T-1} = r_{T-1} + gamma V(s_T)"),
            (ref(rew, 0.0, gamma) + np.append(np.zeros(T - 1), last_value) if T else rew,
             "last_value enters discounted: R_hat_{T-1} = r_{T-1} + gamma V(s_T), not + V(s_T)"),
            (np.cumsum(rew * gamma ** np.arange(T)), "summed forwards: the reward-to-go sums the rewards from t to the "
             "end (t' >= t), a backward recursion"),
            (R_adv.discount_cumsum(rew[::-1], gamma)[::-1], "the recursion run forwards: y_t = x_t + discount y_(t+1) "
             "needs y_(t+1) first, so t runs backwards, from T-1 down to 0 (reversed(range(T)))"),
            (R_adv.discount_cumsum(np.append(rew, last_value), gamma)[1:], "shifted by one step: the sum over "
             "np.append(rew, last_value) has T + 1 entries, R_hat_0 ... R_hat_(T-1) and then last_value itself; "
             "keep [:-1], not [1:]"),
            (R_adv.discount_cumsum(rew, gamma) + gamma ** (np.arange(T)[::-1] + 1) * rew[-1] if T else rew,
             "the running sum started at the last element: y_(T-1) = x_(T-1), so the recursion starts at 0 (or "
             "at x_(T-1) from the second-to-last step), not at x_(T-1) before the last step"),
            (R_adv.discount_cumsum(rew, gamma) + gamma ** (np.arange(T) + 1) * last_value, "last_value discounted "
             "from the wrong end: at step t it is gamma^(T-t) V(s_T), T - t steps ahead, not gamma^(t+1)"),
            (np.full(T, ref(rew, last_value, gamma)[0]) if T else rew, "every step weighed by the whole return R(tau) "
             "(4): the reward-to-go keeps only the rewards from t on (6)")]


@check('reward_to_go', 'contract', 'shapes and inputs')
def rtg_contract(S):
    a = S.advantages
    x = np.array([1.0, -2.0, 0.5, 3.0, 0.0])
    before, inputs = copies(x), fmt(x=x, discount=0.9)
    expect("discount_cumsum(x, 0.9)", call("discount_cumsum", a.discount_cumsum, x, 0.9, inputs=inputs), (5,), inputs)
    expect("discount_cumsum of nothing", call("discount_cumsum", a.discount_cumsum, np.zeros(0), 0.9,
                                              inputs="x=[]"), (0,), "x=[]")
    expect("reward_to_go(rew, 2.0, 0.9)", call("reward_to_go", a.reward_to_go, x, 2.0, 0.9, inputs=inputs), (5,),
           inputs)
    expect("reward_to_go of one step", call("reward_to_go", a.reward_to_go, x[:1], 2.0, 0.9, inputs="rew=[1.0]"),
           (1,), "rew=[1.0]")
    unchanged("discount_cumsum and reward_to_go", before, [x], inputs)


@check('reward_to_go', 'math', 'the edges discount = 0 and 1')
def rtg_edges(S):
    a = S.advantages
    x = np.array([1.0, -2.0, 0.5, 3.0])
    for discount, want, what in ((0.0, x, "x itself: only k = 0 counts (0^0 = 1)"),
                                 (1.0, np.cumsum(x[::-1])[::-1], "the plain sums x_t + ... + x_(T-1)")):
        inputs = fmt(x=x, discount=discount)
        y = np.asarray(call("discount_cumsum", a.discount_cumsum, x, discount, inputs=inputs), dtype=np.float64)
        if not close(y, want):
            raise Fail(f"discount_cumsum(x, {discount:g}) = {fmt(y=y)}, not {what} = {fmt(want=want)}, on {inputs}",
                       DIVIDED if discount == 0 and not np.all(np.isfinite(y)) else
                       diagnose(y, rtg_mistakes(x, 0.0, discount), "y_t = x_t + discount y_(t+1), y_(T-1) = x_(T-1)"),
                       "10")
    R = np.asarray(call("reward_to_go", a.reward_to_go, x, 5.0, 0.0, inputs=fmt(rew=x, last_value=5.0, gamma=0.0)))
    if not close(R, x):
        raise Fail(f"reward_to_go at gamma = 0 is {fmt(R_hat=R)}, not the rewards themselves {fmt(rew=x)}, on "
                   f"{fmt(rew=x, last_value=5.0, gamma=0.0)}",
                   diagnose(R, [(x + np.append(np.zeros(3), 5.0), "last_value enters undiscounted: R_hat_(T-1) = "
                                 "r_(T-1) + gamma V(s_T), which at gamma = 0 is r_(T-1)")] + rtg_mistakes(x, 5.0, 0.0),
                            "at gamma = 0, R_hat_t = r_t: last_value enters multiplied by gamma (10, 14)"), "6, 10")


@check('reward_to_go', 'math', 'the recursion, closed by last_value; segments independent')
def rtg_math(S):
    a = S.advantages

    def test(draw):
        T, rng, gamma, last = ints(draw, 1, 8), rng_of(draw), floats(draw, 0.5, 0.99), floats(draw, -5, 5)
        rew = np.round(rng.standard_normal(T) * 3, 2)
        # segments are independent: the next episode's reward-to-go does not depend on the one before
        rew2 = np.round(rng.standard_normal(ints(draw, 1, 6)) * 3, 2)
        alone = np.asarray(call("reward_to_go", a.reward_to_go, rew2, 0.0, gamma, inputs=fmt(rew=rew2)))
        call("reward_to_go", a.reward_to_go, rew, last, gamma, inputs=fmt(rew=rew))
        after = np.asarray(call("reward_to_go", a.reward_to_go, rew2, 0.0, gamma, inputs=fmt(rew=rew2)))
        if not close(alone, after):
            raise Fail(f"reward_to_go of the segment {fmt(rew=rew2)} gives {fmt(first=alone)} alone and {fmt(then=after)} "
                       f"after the segment {fmt(rew=rew)}",
                       "reward-to-go summed across an episode boundary: each segment is summed on its own and closed "
                       "by its own last_value; nothing may carry over from one call (episode) to the next", "6, 10")
        y = np.asarray(call("discount_cumsum", a.discount_cumsum, rew, gamma, inputs=fmt(x=rew, discount=gamma)))
        want = R_adv.discount_cumsum(rew, gamma)
        if not close(y, want):
            raise Fail(f"discount_cumsum(x, {gamma:.4g}) = {fmt(y=y)} breaks y_t = x_t + discount y_(t+1), "
                       f"y_(T-1) = x_(T-1), on {fmt(x=rew)}", diagnose(y, [(m, h) for m, h in rtg_mistakes(rew, 0.0, gamma)],
                                                                     "y_t = x_t + discount y_(t+1), backwards from the end"),
                       "10")
        R = np.asarray(call("reward_to_go", a.reward_to_go, rew, last, gamma,
                            inputs=fmt(rew=rew, last_value=last, gamma=gamma)))
        if R.shape != (T,) or not close(R[-1], rew[-1] + gamma * last) or not close(R[:-1], rew[:-1] + gamma * R[1:]):
            raise Fail(f"reward_to_go = {fmt(R_hat=R)} breaks R_hat_t = r_t + gamma R_hat_(t+1) closed by "
                       f"R_hat_(T-1) = r_(T-1) + gamma last_value, on {fmt(rew=rew, last_value=last, gamma=gamma)}",
                       diagnose(R, rtg_mistakes(rew, last, gamma), "R_hat_t = r_t + gamma R_hat_(t+1), and the tail "
                                "R_hat_T = V(s_T) = last_value (14)"), "6, 10")
    prop(20)(test)


@check('reward_to_go', 'agreement', "nppg's functions")
def rtg_agree(S):
    a = S.advantages

    def test(draw):
        T, rng, gamma, last = ints(draw, 0, 10), rng_of(draw), floats(draw, 0.0, 1.0), floats(draw, -10, 10)
        rew = rng.standard_normal(T)
        inputs = fmt(rew=rew, last_value=last, gamma=gamma)
        got = call("discount_cumsum", a.discount_cumsum, rew, gamma, inputs=inputs)
        ref = R_adv.discount_cumsum(rew, gamma)
        if not close(got, ref):
            raise Fail(side_by_side("discount_cumsum", got, ref, inputs),
                       diagnose(got, rtg_mistakes(rew, 0.0, gamma), DIVIDED if not np.all(np.isfinite(got)) else
                                "y_t = x_t + discount y_(t+1) (10), for every length (0 included) and discount in "
                                "[0, 1]"), "10")
        got = call("reward_to_go", a.reward_to_go, rew, last, gamma, inputs=inputs)
        ref = R_adv.reward_to_go(rew, last, gamma)
        if not close(got, ref):
            raise Fail(side_by_side("reward_to_go", got, ref, inputs),
                       diagnose(got, rtg_mistakes(rew, last, gamma) if T else [],
                                "R_hat_t = r_t + gamma R_hat_(t+1), R_hat_T = last_value (10, 14), for every length "
                                "and gamma in [0, 1]"), "6, 10")
    prop(20)(test)


# ---- 5. gae (11, 12) and 6. nstep (13) ---------------------------------------------------------------

def segment(draw, Tmax=8):
    T, rng = ints(draw, 1, Tmax), rng_of(draw)
    rew, val = np.round(3 * rng.standard_normal(T), 2), np.round(3 * rng.standard_normal(T), 2)
    last, gamma = float(np.round(3 * rng.standard_normal() + 2, 2)), floats(draw, 0.5, 0.99)
    return rew, val, last, gamma


def seg_contract(S, name, extra, eq):
    f = getattr(S.advantages, name)
    rew, val = np.array([1.0, 0.0, -1.0, 2.0]), np.array([0.5, 0.2, -0.3, 1.0])
    before, inputs = copies(rew, val), fmt(rew=rew, val=val, last_value=2.0, gamma=0.9)
    hint = ("one value per step of the segment, (T,): the segment's last step is not dropped; its V(s_(t+1)) is "
            "V(s_T) = last_value, np.append(val[1:], last_value)")
    errors = [("out of bounds", "an index past the segment's end: the n-step sum stops there, n_t = min(n, T - t), so "
                                "t + n_t <= T, and V(s_T) = last_value closes it" if name == "nstep_advantages" else
               "an index past the segment's end: V(s_(t+1)) of the last step is last_value, np.append(val[1:], "
               "last_value)"),
              ("broadcast", "arrays of different lengths: V(s_(t+1)) is np.append(val[1:], last_value), T entries "
                            "like rew and val")]
    expect(name, call(name, f, rew, val, 2.0, 0.9, *extra, inputs=inputs, errors=errors), (4,), inputs, hint)
    expect(f"{name} of one step", call(name, f, rew[:1], val[:1], 2.0, 0.9, *extra, inputs=inputs, errors=errors), (1,),
           inputs, hint)
    unchanged(name, before, [rew, val], inputs)


@check('gae', 'contract', 'shapes and inputs')
def gae_contract(S):
    seg_contract(S, "td_residual", (), "11")
    seg_contract(S, "gae", (0.95,), "12")


def td_check(a, rew, val, last, gamma):
    """The student's td_residual against (11), its usual slips named; returns delta."""
    inputs = fmt(rew=rew, val=val, last_value=last, gamma=gamma)
    delta = R_adv.td_residual(rew, val, last, gamma)
    got = np.asarray(call("td_residual", a.td_residual, rew, val, last, gamma, inputs=inputs))
    if not close(got, delta):
        nxt = np.append(val[1:], last)
        raise Fail(f"td_residual = {fmt(delta=got)} is not r_t + gamma V(s_(t+1)) - V(s_t) = {fmt(want=delta)}, on "
                   f"{inputs}", diagnose(got, [
                       (rew + gamma * nxt - nxt, "V(s_(t+1)) where V(s_t) belongs in the - V(s_t) term: delta_t "
                        "subtracts the value of the state the step started from, val itself"),
                       (rew + gamma * val - val, "V(s_t) where V(s_(t+1)) belongs: delta_t = r_t + "
                        "gamma V(s_(t+1)) - V(s_t), the value of the next state, np.append(val[1:], last_value)"),
                       (rew + gamma * np.roll(val, -1) - val, "np.roll wraps around: np.roll(val, -1) puts V(s_0) "
                        "at the segment's last step, where V(s_T) = last_value belongs: np.append(val[1:], "
                        "last_value)"),
                       (R_adv.td_residual(rew, val, 0.0, gamma), "a truncation closed with 0: after the segment's "
                        "last step V(s_T) is last_value (14), which is 0 only when the episode terminated"),
                       (rew + nxt - val, "a missing gamma: delta_t = r_t + gamma V(s_(t+1)) - V(s_t)"),
                       (-delta, "a sign flipped: delta_t = r_t + gamma V(s_(t+1)) - V(s_t)"),
                       (rew + gamma * val - nxt, "V(s_(t+1)) and V(s_t) swapped")],
                       "delta_t = r_t + gamma V(s_(t+1)) - V(s_t), with V(s_T) = last_value (11)"), "11")
    return delta


@check('gae', 'math', "delta's definition; GAE at lam = 0 and 1; its recursion")
def gae_math(S):
    a = S.advantages
    rew, val = np.array([1.0, 0.0, -1.0, 2.0]), np.array([0.5, 0.2, -0.3, 1.0])        # four steps first
    td_check(a, rew, val, 2.0, 0.9)
    for lam in (0.0, 0.8, 1.0):
        A, want = np.asarray(call("gae", a.gae, rew, val, 2.0, 0.9, lam, inputs=fmt(rew=rew, val=val))), \
            R_adv.gae(rew, val, 2.0, 0.9, lam)
        if not close(A, want):
            raise Fail(f"gae at lam = {lam:g} is {fmt(A=A)}, not {fmt(want=want)}, on "
                       f"{fmt(rew=rew, val=val, last_value=2.0, gamma=0.9)}", gae_hint(A, rew, val, 2.0, 0.9, lam), "12")

    def test(draw):
        rew, val, last, gamma = segment(draw)
        lam = floats(draw, 0.0, 1.0)
        inputs = fmt(rew=rew, val=val, last_value=last, gamma=gamma)
        delta = td_check(a, rew, val, last, gamma)
        for lam_, gamma_, want, what in (
                (0.0, gamma, delta, "delta_t (11)"),
                (1.0, gamma, R_adv.reward_to_go(rew, last, gamma) - val, "R_hat_t - V(s_t) (10)"),
                (lam, 0.0, rew - val, "r_t - V(s_t) at gamma = 0")):
            A = np.asarray(call("gae", a.gae, rew, val, last, gamma_, lam_, inputs=inputs))
            if not close(A, want):
                raise Fail(f"gae at lam = {lam_:.4g}, gamma = {gamma_:.4g} is {fmt(A=A)}, not {what} = "
                           f"{fmt(want=want)}, on {inputs}", gae_hint(A, rew, val, last, gamma_, lam_), "12")
        A = np.asarray(call("gae", a.gae, rew, val, last, gamma, lam, inputs=inputs))
        if A.shape != delta.shape or not close(A[-1], delta[-1]) or not close(A[:-1], delta[:-1] + gamma * lam * A[1:]):
            raise Fail(f"gae at lam = {lam:.4g} is {fmt(A=A)}: it breaks A_t = delta_t + gamma lam A_(t+1), "
                       f"A_(T-1) = delta_(T-1), on {inputs}", gae_hint(A, rew, val, last, gamma, lam), "12")
    prop(20)(test)


def gae_hint(A, rew, val, last, gamma, lam):
    delta = R_adv.td_residual(rew, val, last, gamma)
    ref = R_adv.gae(rew, val, last, gamma, lam)
    return diagnose(A, [(R_adv.discount_cumsum(R_adv.td_residual(rew, val, last, gamma * lam), gamma * lam),
                         "delta computed with gamma lam: delta_t = r_t + gamma V(s_(t+1)) - V(s_t) discounts by gamma "
                         "alone; lam only weighs the sum of the deltas (11, 12)"),
                        (R_adv.gae(rew, val, val[-1], gamma, lam), "the segment closed by its own last value V(s_(T-1))"
                         ": after the last step comes s_T, whose value is last_value (14)"),
                        (ref + val, "GAE plus V(s_t) is the lambda-return (a value target some codes use), not the "
                         "advantage: A_t = sum_l (gamma lam)^l delta_(t+l) (12)"),
                        (R_adv.discount_cumsum(np.append(delta[:-1], 0.0), gamma * lam), "the last step's advantage "
                         "left at 0: the recursion starts at A_(T-1) = delta_(T-1), not at 0"),
                        (R_adv.discount_cumsum(delta, lam), "a missing gamma: GAE discounts by gamma * lam, not lam"),
                        (R_adv.gae(rew, val, 0.0, gamma, lam), "a truncation closed with 0: V(s_T) is last_value (14)"),
                        (R_adv.discount_cumsum(delta, gamma), "lam is missing: A_t = sum_l (gamma lam)^l delta_(t+l)")],
                    "A_t = sum_l (gamma lam)^l delta_(t+l) (12): a discounted sum of the TD residuals")


@check('gae', 'agreement', "nppg's functions")
def gae_agree(S):
    def test(draw):
        rew, val, last, gamma = segment(draw, 10)
        lam, inputs = floats(draw, 0.0, 1.0), fmt(rew=rew, val=val, last_value=last, gamma=gamma)
        got, ref = call("td_residual", S.advantages.td_residual, rew, val, last, gamma, inputs=inputs), \
            R_adv.td_residual(rew, val, last, gamma)
        if not close(got, ref):
            raise Fail(side_by_side("td_residual", got, ref, inputs),
                       "delta_t = r_t + gamma V(s_(t+1)) - V(s_t), V(s_T) = last_value (11): look at the step shown",
                       "11")
        got, ref = call("gae", S.advantages.gae, rew, val, last, gamma, lam, inputs=inputs), \
            R_adv.gae(rew, val, last, gamma, lam)
        if not close(got, ref):
            raise Fail(side_by_side("gae", got, ref, f"{inputs}, lam={lam:.4g}"),
                       gae_hint(got, rew, val, last, gamma, lam), "12")
    prop(20)(test)


def nstep_by_definition(rew, val, last, gamma, n, slip=None):
    """(13) term by term; ``slip`` makes one of the usual mistakes (for the hints)."""
    T, v = len(rew), np.append(val, last)
    out = np.empty(T)
    for t in range(T):
        m = min(n, T - t - 1) if slip == "one too few" else min(n, T - t)
        power, boot = (n if slip == "gamma^n" else m), (t + m - 1 if slip == "early" else t + m)
        out[t] = sum(gamma**k * rew[t + k] for k in range(m)) + gamma**power * v[boot] - val[t]
    return out


def nstep_hint(A, rew, val, last, gamma, n):
    return diagnose(A, [(R_adv.td_residual(rew, val, last, gamma) if n > 1 and len(rew) > 1 else np.full(len(rew), np.nan),
                         "n ignored: this is delta_t, the 1-step advantage; A_t^(n) sums n_t = min(n, T - t) rewards "
                         "before the bootstrap gamma^n_t V(s_(t+n_t)) (13)"),
                        (nstep_by_definition(rew, val, 0.0, gamma, n), "a truncation closed with 0: V(s_T) is "
                         "last_value (14)"),
                        (nstep_by_definition(rew, val, last, 1.0, n), "a missing gamma: gamma^k on the k-th reward and "
                         "gamma^n_t on the bootstrap V(s_(t+n_t))"),
                        (nstep_by_definition(rew, val, last, gamma, n, "gamma^n"), "gamma^n on the bootstrap near the "
                         "segment's end: where fewer than n steps are left, n_t = T - t rewards are summed and V(s_T) is "
                         "discounted by gamma^n_t, not gamma^n"),
                        (nstep_by_definition(rew, val, last, gamma, n, "one too few"), "one step too few near the "
                         "end: n_t = min(n, T - t) rewards, so the last step still sums its own reward and bootstraps "
                         "from V(s_T)"),
                        (nstep_by_definition(rew, val, last, gamma, n, "early"), "bootstrapped one step early: after n_t "
                         "rewards r_t ... r_(t+n_t-1) the bootstrap is V(s_(t+n_t)), n_t steps ahead, not V(s_(t+n_t-1))")],
                    "A_t^(n) = sum_(l<n_t) gamma^l r_(t+l) + gamma^n_t V(s_(t+n_t)) - V(s_t), n_t = min(n, T - t): past the "
                    "segment's end the sum stops, and V(s_T) = last_value closes it (13)")


@check('nstep', 'contract', 'shapes and inputs')
def nstep_contract(S):
    seg_contract(S, "nstep_advantages", (3,), "13")


@check('nstep', 'math', 'n = 1, n = T, the definition; GAE as the lambda-average')
def nstep_math(S):
    a = S.advantages
    rew, val = np.array([1.0, 0.0, -1.0, 2.0, 0.5]), np.array([0.5, 0.2, -0.3, 1.0, 0.0])   # five steps first
    inputs = fmt(rew=rew, val=val, last_value=2.0, gamma=0.9)
    for n in (1, 2, 3, 5):
        A = np.asarray(call("nstep_advantages", a.nstep_advantages, rew, val, 2.0, 0.9, n, inputs=f"{inputs}, n={n}"))
        want = nstep_by_definition(rew, val, 2.0, 0.9, n)
        if not close(A, want):
            raise Fail(f"nstep_advantages with n = {n} is {fmt(A=A)}, not {fmt(want=want)}, on {inputs}",
                       nstep_hint(A, rew, val, 2.0, 0.9, n), "13")

    def test(draw):
        rew, val, last, gamma = segment(draw)
        T, n, lam = len(rew), ints(draw, 1, 10), floats(draw, 0.0, 0.99)
        inputs = fmt(rew=rew, val=val, last_value=last, gamma=gamma)
        f = lambda n: np.asarray(call("nstep_advantages", a.nstep_advantages, rew, val, last, gamma, n,  # noqa: E731
                                      inputs=f"{inputs}, n={n}"))
        for n_, want, what in ((1, R_adv.td_residual(rew, val, last, gamma), "delta_t (11)"),
                               (T, R_adv.reward_to_go(rew, last, gamma) - val, "R_hat_t - V(s_t) (10)"),
                               (n, nstep_by_definition(rew, val, last, gamma, n), "its definition")):
            A = f(n_)
            if not close(A, want):
                raise Fail(f"nstep_advantages with n = {n_} is {fmt(A=A)}, not {what} = {fmt(want=want)}, on {inputs}",
                           nstep_hint(A, rew, val, last, gamma, n_), "13")
        # GAE is the lambda-average of the n-step advantages: (1 - lam) sum_n lam^(n-1) A^(n), n >= T all alike
        avg = (1 - lam) * sum(lam ** (k - 1) * f(k) for k in range(1, T)) + lam ** (T - 1) * f(T)
        if not close(avg, R_adv.gae(rew, val, last, gamma, lam)):
            raise Fail(f"(1 - lam) sum_n lam^(n-1) A^(n) = {fmt(avg=avg)} is not GAE at lam = {lam:.4g}, on {inputs}",
                       "GAE averages the n-step advantages with weights (1 - lam) lam^(n-1): check n between 1 and T",
                       "12, 13")
    prop(15)(test)


@check('nstep', 'agreement', "nppg's function")
def nstep_agree(S):
    def test(draw):
        rew, val, last, gamma = segment(draw, 10)
        n, inputs = ints(draw, 1, 12), fmt(rew=rew, val=val, last_value=last, gamma=gamma)
        got = call("nstep_advantages", S.advantages.nstep_advantages, rew, val, last, gamma, n, inputs=inputs)
        ref = R_adv.nstep_advantages(rew, val, last, gamma, n)
        if not close(got, ref):
            raise Fail(side_by_side("nstep_advantages", got, ref, f"{inputs}, n={n}"),
                       nstep_hint(got, rew, val, last, gamma, n), "13")
    prop(20)(test)


# ---- 7. batch_weights (8) ---------------------------------------------------------------------------

def bw_segments(rng, n_seg, max_len=4):
    """(start, stop, last_value) triples of ``n_seg`` segments of 1 to ``max_len`` steps that tile [0, M)."""
    stops = np.cumsum(rng.integers(1, max_len + 1, n_seg))
    return [(int(a), int(b), float(v)) for a, b, v in zip(np.append(0, stops[:-1]), stops, rng.standard_normal(n_seg))]


def bw_definition(kind, rew, val, segs, gamma, lam, n):
    """Phi, R_hat by the definitions, one segment at a time with nppg's own pieces."""
    Phi, R_hat = np.empty(len(rew)), np.empty(len(rew))
    for a, b, last in segs:
        r, v = rew[a:b], val[a:b]
        R_hat[a:b] = R_adv.reward_to_go(r, last, gamma)
        Phi[a:b] = {"return": lambda: np.full(b - a, R_hat[a]), "reward-to-go": lambda: R_hat[a:b],
                    "baseline": lambda: R_hat[a:b] - v, "nstep": lambda: R_adv.nstep_advantages(r, v, last, gamma, n),
                    "gae": lambda: R_adv.gae(r, v, last, gamma, lam)}[kind]()
    return Phi, R_hat


def bw_across(kind, rew, val, segs, gamma, lam, n):
    """The mistake: reward-to-go over the rest of the batch, closed only by the batch's last value."""
    Phi, R_hat = bw_definition(kind, rew, val, segs, gamma, lam, n)
    for a, b, _ in segs:
        R_hat[a:b] = R_adv.reward_to_go(rew[a:], segs[-1][2], gamma)[:b - a]
        if kind in ("return", "reward-to-go", "baseline"):
            Phi[a:b] = {"return": R_hat[a], "reward-to-go": R_hat[a:b], "baseline": R_hat[a:b] - val[a:b]}[kind]
    return Phi, R_hat


def bw_call(S, rew, val, segs, kind, gamma, lam, n, inputs, as_list=False):
    """The student's batch_weights, given the segments as a one-pass iterator (vpg gives it a zip)."""
    out = call("batch_weights", S.advantages.batch_weights, rew, val, list(segs) if as_list else iter(list(segs)), kind,
               gamma, lam, n, inputs=inputs)
    if not (isinstance(out, tuple) and len(out) == 2):
        raise Fail(f"batch_weights returned {type(out).__name__}, not a pair (Phi, R_hat), on {inputs}",
                   "return Phi, R_hat", "8")
    return out


@check('batch_weights', 'contract', 'shapes and inputs, for each kind of weights')
def bw_contract(S):
    rng = np.random.default_rng(0)
    segs = bw_segments(rng, 3)
    M = segs[-1][1]
    rew, val = rng.standard_normal(M), rng.standard_normal(M)
    for kind in R_adv.WEIGHTS:
        before, inputs = copies(rew, val), fmt(rew=rew, val=val, segments=segs, weights=kind)
        Phi, R_hat = bw_call(S, rew, val, segs, kind, 0.9, 0.8, 2, inputs)
        expect("batch_weights's Phi", Phi, (M,), inputs, "one Phi_t per step of the batch (M,)")
        expect("batch_weights's R_hat", R_hat, (M,), inputs, "one R_hat_t per step of the batch (M,)")
        unchanged("batch_weights", before, [rew, val], inputs)


ONCE = ("segments walked twice: segments is an iterator (vpg passes a zip), which can be walked only once; a "
        "second for loop over it sees nothing. Compute Phi and R_hat in the same loop, or make it a list first")


def bw_hint(S, got, i, want, kind, rew, val, segs, gamma, lam, n, inputs):
    """The hint for a Phi (i = 0) or R_hat (i = 1) that differs from the definition."""
    if close(bw_call(S, rew, val, segs, kind, gamma, lam, n, inputs, as_list=True)[i], want[i]):
        return ONCE
    Phi_gae = bw_definition("gae", rew, val, segs, gamma, lam, n)[0]
    plain = np.concatenate([np.full(b - a, rew[a:b].sum()) for a, b, _ in segs])
    hints = {"return": "\"return\" weighs every step of a segment by R_hat at the segment's first step (4)",
             "reward-to-go": "\"reward-to-go\" is Phi_t = R_hat_t (6, 10)",
             "baseline": "\"baseline\" is Phi_t = R_hat_t - V(s_t) (7)",
             "nstep": "\"nstep\" is nstep_advantages(rew, val, last_value, gamma, n) of the segment (13)",
             "gae": "\"gae\" is gae(rew, val, last_value, gamma, lam) of the segment (12)"}
    return diagnose(got, [(want[1], "Phi_t is R_hat_t whatever the weights: each kind has its own Phi"),
                          (want[0], "R_hat_t, the value targets (9), is the reward-to-go (10), whatever the weights"),
                          (Phi_gae + val, "R_hat_t is the reward-to-go (10) whatever the weights; GAE's A_t + V(s_t) "
                           "is the lambda-return, a target some codes use, not nppg's (9)"),
                          (-want[i], "a sign flipped: Phi_t = R_hat_t - V(s_t), the return above the baseline (7)"
                           if kind == "baseline" else "a sign flipped"),
                          (plain, "\"return\" is R_hat at the segment's first step: the rewards discounted by gamma "
                           "and closed by last_value (4, 14), not their plain sum")],
                    "R_hat_t is reward_to_go of the segment, closed by its last_value (10)" if i == 1 else hints[kind])


@check('batch_weights', 'math', 'each segment on its own; each kind by its definition')
def bw_math(S):
    def test(draw):
        rng = rng_of(draw)
        segs = bw_segments(rng, ints(draw, 2, 5))
        M, gamma, lam, n = segs[-1][1], floats(draw, 0.5, 0.99), floats(draw, 0.0, 1.0), ints(draw, 1, 4)
        rew, val = rng.standard_normal(M), rng.standard_normal(M)
        for kind in R_adv.WEIGHTS:
            inputs = fmt(rew=rew, val=val, segments=segs, weights=kind, gamma=gamma, lam=lam, n=n)
            got = bw_call(S, rew, val, segs, kind, gamma, lam, n, inputs)
            want = bw_definition(kind, rew, val, segs, gamma, lam, n)
            across = bw_across(kind, rew, val, segs, gamma, lam, n)
            # each segment on its own: the student's own batch_weights, called with that segment alone
            alone = [bw_call(S, rew[a:b], val[a:b], [(0, b - a, last)], kind, gamma, lam, n, inputs)
                     for a, b, last in segs]
            for i, name in ((1, "R_hat"), (0, "Phi")):
                g = np.asarray(got[i], dtype=np.float64)
                for (a, b, last), own in zip(segs, alone):
                    if not close(g[a:b], own[i]):
                        raise Fail(f"batch_weights's {name} on the segment [{a}, {b}) of the batch is "
                                   f"{fmt(got=g[a:b])}, but {fmt(alone=np.asarray(own[i]))} when that segment is given "
                                   f"alone, on {inputs}",
                                   diagnose(g, [(across[i], "reward-to-go summed across segment boundaries: R_hat_t "
                                                 "sums only its own segment's rewards, closed by that segment's "
                                                 "last_value (14); the next episode's rewards in the batch were not "
                                                 "caused by a_t")],
                                            "a weight depends on other segments: compute each segment from its own "
                                            "rew[start:stop], val[start:stop] and last_value, and nothing else (8)"),
                                   "8")
                if not close(g, want[i]):
                    raise Fail(f"batch_weights's {name} = {fmt(got=g)}, not {fmt(want=want[i])}, on {inputs}",
                               bw_hint(S, g, i, want, kind, rew, val, segs, gamma, lam, n, inputs), "8")
    prop(8)(test)


@check('batch_weights', 'agreement', "nppg's batch_weights")
def bw_agree(S):
    def test(draw):
        rng, kind = rng_of(draw), R_adv.WEIGHTS[ints(draw, 0, len(R_adv.WEIGHTS) - 1)]
        segs = bw_segments(rng, ints(draw, 1, 6), 6)
        M, gamma, lam, n = segs[-1][1], floats(draw, 0.0, 1.0), floats(draw, 0.0, 1.0), ints(draw, 1, 8)
        rew, val = rng.standard_normal(M), rng.standard_normal(M)
        inputs = fmt(rew=rew, val=val, segments=segs, weights=kind, gamma=gamma, lam=lam, n=n)
        got, ref = bw_call(S, rew, val, segs, kind, gamma, lam, n, inputs), R_adv.batch_weights(rew, val, segs, kind,
                                                                                                gamma, lam, n)
        for i, name in ((1, "R_hat"), (0, "Phi")):
            if not close(got[i], ref[i]):
                raise Fail(side_by_side(f"batch_weights's {name}", got[i], ref[i], inputs),
                           bw_hint(S, np.asarray(got[i], dtype=np.float64), i, ref, kind, rew, val, segs, gamma, lam, n,
                                   inputs), "8")
    prop(15)(test)
