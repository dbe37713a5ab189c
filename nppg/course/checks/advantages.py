"""The checks of advantages.py's exercises, reward_to_go (6, 10), gae (11, 12), nstep (13) and batch_weights (8), in the order of the module: each check
registered under its exercise with ``@check``, its hints beside the property it tests."""
import numpy as np

from ... import advantages as R_adv
from .common import Fail, call, check, close, copies, diagnose, expect, floats, fmt, ints, prop, rng_of, unchanged


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
        if not close(call("discount_cumsum", a.discount_cumsum, rew, gamma, inputs=inputs),
                     R_adv.discount_cumsum(rew, gamma)):
            raise Fail(f"discount_cumsum differs from nppg's on {inputs}", "compare with (10)", "10")
        if not close(call("reward_to_go", a.reward_to_go, rew, last, gamma, inputs=inputs),
                     R_adv.reward_to_go(rew, last, gamma)):
            raise Fail(f"reward_to_go differs from nppg's on {inputs}", "compare with (10)", "6, 10")
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
    expect(name, call(name, f, rew, val, 2.0, 0.9, *extra, inputs=inputs), (4,), inputs)
    expect(f"{name} of one step", call(name, f, rew[:1], val[:1], 2.0, 0.9, *extra, inputs=inputs), (1,), inputs)
    unchanged(name, before, [rew, val], inputs)


@check('gae', 'contract', 'shapes and inputs')
def gae_contract(S):
    seg_contract(S, "td_residual", (), "11")
    seg_contract(S, "gae", (0.95,), "12")


@check('gae', 'math', "delta's definition; GAE at lam = 0 and 1; its recursion")
def gae_math(S):
    a = S.advantages

    def test(draw):
        rew, val, last, gamma = segment(draw)
        lam = floats(draw, 0.0, 1.0)
        inputs = fmt(rew=rew, val=val, last_value=last, gamma=gamma)
        delta = R_adv.td_residual(rew, val, last, gamma)
        got = np.asarray(call("td_residual", a.td_residual, rew, val, last, gamma, inputs=inputs))
        if not close(got, delta):
            nxt = np.append(val[1:], last)
            raise Fail(f"td_residual = {fmt(delta=got)} is not r_t + gamma V(s_(t+1)) - V(s_t) = {fmt(want=delta)}, on "
                       f"{inputs}", diagnose(got, [
                           (R_adv.td_residual(rew, val, 0.0, gamma), "a truncation closed with 0: after the segment's "
                            "last step V(s_T) is last_value (14), which is 0 only when the episode terminated"),
                           (rew + nxt - val, "a missing gamma: delta_t = r_t + gamma V(s_(t+1)) - V(s_t)"),
                           (-delta, "a sign flipped: delta_t = r_t + gamma V(s_(t+1)) - V(s_t)"),
                           (rew + gamma * val - np.append(val[1:], last), "V(s_(t+1)) and V(s_t) swapped")],
                           "delta_t = r_t + gamma V(s_(t+1)) - V(s_t), with V(s_T) = last_value (11)"), "11")
        for lam_, want, what in ((0.0, delta, "delta_t (11)"),
                                 (1.0, R_adv.reward_to_go(rew, last, gamma) - val, "R_hat_t - V(s_t) (10)")):
            A = np.asarray(call("gae", a.gae, rew, val, last, gamma, lam_, inputs=inputs))
            if not close(A, want):
                raise Fail(f"gae at lam = {lam_:g} is {fmt(A=A)}, not {what} = {fmt(want=want)}, on {inputs}",
                           gae_hint(A, rew, val, last, gamma, lam_), "12")
        A = np.asarray(call("gae", a.gae, rew, val, last, gamma, lam, inputs=inputs))
        if A.shape != delta.shape or not close(A[-1], delta[-1]) or not close(A[:-1], delta[:-1] + gamma * lam * A[1:]):
            raise Fail(f"gae at lam = {lam:.4g} is {fmt(A=A)}: it breaks A_t = delta_t + gamma lam A_(t+1), "
                       f"A_(T-1) = delta_(T-1), on {inputs}", gae_hint(A, rew, val, last, gamma, lam), "12")
    prop(20)(test)


def gae_hint(A, rew, val, last, gamma, lam):
    delta = R_adv.td_residual(rew, val, last, gamma)
    return diagnose(A, [(R_adv.discount_cumsum(delta, lam), "a missing gamma: GAE discounts by gamma * lam, not lam"),
                        (R_adv.gae(rew, val, 0.0, gamma, lam), "a truncation closed with 0: V(s_T) is last_value (14)"),
                        (R_adv.discount_cumsum(delta, gamma), "lam is missing: A_t = sum_l (gamma lam)^l delta_(t+l)")],
                    "A_t = sum_l (gamma lam)^l delta_(t+l) (12): a discounted sum of the TD residuals")


@check('gae', 'agreement', "nppg's functions")
def gae_agree(S):
    def test(draw):
        rew, val, last, gamma = segment(draw, 10)
        lam, inputs = floats(draw, 0.0, 1.0), fmt(rew=rew, val=val, last_value=last, gamma=gamma)
        if not close(call("td_residual", S.advantages.td_residual, rew, val, last, gamma, inputs=inputs),
                     R_adv.td_residual(rew, val, last, gamma)):
            raise Fail(f"td_residual differs from nppg's on {inputs}", "compare with (11)", "11")
        if not close(call("gae", S.advantages.gae, rew, val, last, gamma, lam, inputs=inputs),
                     R_adv.gae(rew, val, last, gamma, lam)):
            raise Fail(f"gae differs from nppg's on {inputs}, lam={lam:.4g}", "compare with (12)", "12")
    prop(20)(test)


def nstep_by_definition(rew, val, last, gamma, n):
    T, v = len(rew), np.append(val, last)
    out = np.empty(T)
    for t in range(T):
        m = min(n, T - t)
        out[t] = sum(gamma**k * rew[t + k] for k in range(m)) + gamma**m * v[t + m] - val[t]
    return out


@check('nstep', 'contract', 'shapes and inputs')
def nstep_contract(S):
    seg_contract(S, "nstep_advantages", (3,), "13")


@check('nstep', 'math', 'n = 1, n = T, the definition; GAE as the lambda-average')
def nstep_math(S):
    a = S.advantages

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
                           diagnose(A, [(nstep_by_definition(rew, val, 0.0, gamma, n_), "a truncation closed with 0: "
                                         "V(s_T) is last_value (14)"),
                                        (nstep_by_definition(rew, val, last, 1.0, n_), "a missing gamma: gamma^k on the "
                                         "k-th reward and gamma^m on the bootstrap V(s_(t+m))")],
                                    "A_t^(n) = sum_(k<m) gamma^k r_(t+k) + gamma^m V(s_(t+m)) - V(s_t), m = min(n, T - t):"
                                    " past the segment's end the sum stops, and V(s_T) = last_value closes it (13)"),
                           "13")
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
        if not close(call("nstep_advantages", S.advantages.nstep_advantages, rew, val, last, gamma, n, inputs=inputs),
                     R_adv.nstep_advantages(rew, val, last, gamma, n)):
            raise Fail(f"nstep_advantages differs from nppg's on {inputs}, n={n}", "compare with (13)", "13")
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


def bw_call(S, rew, val, segs, kind, gamma, lam, n, inputs):
    """The student's batch_weights, given the segments as a one-pass iterator (vpg gives it a zip)."""
    out = call("batch_weights", S.advantages.batch_weights, rew, val, iter(list(segs)), kind, gamma, lam, n,
               inputs=inputs)
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


@check('batch_weights', 'math', 'each segment on its own; each kind by its definition')
def bw_math(S):
    def test(draw):
        rng, kind = rng_of(draw), R_adv.WEIGHTS[ints(draw, 0, len(R_adv.WEIGHTS) - 1)]
        segs = bw_segments(rng, ints(draw, 2, 5))
        M, gamma, lam, n = segs[-1][1], floats(draw, 0.5, 0.99), floats(draw, 0.0, 1.0), ints(draw, 1, 4)
        rew, val = rng.standard_normal(M), rng.standard_normal(M)
        inputs = fmt(rew=rew, val=val, segments=segs, weights=kind, gamma=gamma, lam=lam, n=n)
        got = bw_call(S, rew, val, segs, kind, gamma, lam, n, inputs)
        want, across = bw_definition(kind, rew, val, segs, gamma, lam, n), bw_across(kind, rew, val, segs, gamma, lam, n)
        # each segment on its own: the student's own batch_weights, called with that segment alone
        alone = [bw_call(S, rew[a:b], val[a:b], [(0, b - a, last)], kind, gamma, lam, n, inputs) for a, b, last in segs]
        for i, name in ((1, "R_hat"), (0, "Phi")):
            g = np.asarray(got[i], dtype=np.float64)
            for (a, b, last), own in zip(segs, alone):
                if not close(g[a:b], own[i]):
                    raise Fail(f"batch_weights's {name} on the segment [{a}, {b}) of the batch is {fmt(got=g[a:b])}, but "
                               f"{fmt(alone=np.asarray(own[i]))} when that segment is given alone, on {inputs}",
                               diagnose(g, [(across[i], "reward-to-go summed across segment boundaries: R_hat_t sums "
                                             "only its own segment's rewards, closed by that segment's last_value (14); "
                                             "the next episode's rewards in the batch were not caused by a_t")],
                                        "a weight depends on other segments: compute each segment from its own "
                                        "rew[start:stop], val[start:stop] and last_value, and nothing else (8)"), "8")
            if not close(g, want[i]):
                hints = {"return": "\"return\" weighs every step of a segment by R_hat at the segment's first step (4)",
                         "reward-to-go": "\"reward-to-go\" is Phi_t = R_hat_t (6, 10)",
                         "baseline": "\"baseline\" is Phi_t = R_hat_t - V(s_t) (7)",
                         "nstep": "\"nstep\" is nstep_advantages(rew, val, last_value, gamma, n) of the segment (13)",
                         "gae": "\"gae\" is gae(rew, val, last_value, gamma, lam) of the segment (12)"}
                raise Fail(f"batch_weights's {name} = {fmt(got=g)}, not {fmt(want=want[i])}, on {inputs}",
                           diagnose(g, [(want[1], "Phi_t is R_hat_t whatever the weights: each kind has its own Phi"),
                                        (want[0], "R_hat_t, the value targets (9), is the reward-to-go (10), whatever "
                                         "the weights")],
                                    "R_hat_t is reward_to_go of the segment, closed by its last_value (10)"
                                    if name == "R_hat" else hints[kind]), "8")
    prop(20)(test)


@check('batch_weights', 'agreement', "nppg's batch_weights")
def bw_agree(S):
    def test(draw):
        rng, kind = rng_of(draw), R_adv.WEIGHTS[ints(draw, 0, len(R_adv.WEIGHTS) - 1)]
        segs = bw_segments(rng, ints(draw, 1, 6), 6)
        M, gamma, lam, n = segs[-1][1], floats(draw, 0.5, 1.0), floats(draw, 0.0, 1.0), ints(draw, 1, 8)
        rew, val = rng.standard_normal(M), rng.standard_normal(M)
        inputs = fmt(rew=rew, val=val, segments=segs, weights=kind, gamma=gamma, lam=lam, n=n)
        got, ref = bw_call(S, rew, val, segs, kind, gamma, lam, n, inputs), R_adv.batch_weights(rew, val, segs, kind,
                                                                                                gamma, lam, n)
        if not (close(got[0], ref[0]) and close(got[1], ref[1])):
            raise Fail(f"batch_weights differs from nppg's on {inputs}", "compare with (8)", "8")
    prop(15)(test)
