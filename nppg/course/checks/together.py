"""The check of the pieces together, graded once after the ladder: a short run of the student's whole package
(their own vpg, start, networks, optimizer, rollout and weights) against nppg's, from the same seed. Each
exercise above is graded with nppg's code for the rest; this one is where the student's pieces meet."""
from ... import algorithm as R_alg
from .common import Fail, call, check, close

SETTINGS = dict(epochs=2, steps_per_epoch=160, num_envs=2, hidden=(8,), train_v_iters=5, seed=1)
RUNS = (("CartPole-v1", dict(weights="gae", normalize_obs=True)),                 # categorical, GAE, (25)
        ("Pendulum-v1", dict(weights="reward-to-go", gamma=0.9, scale_rewards=True)))   # Gaussian, (26)



def same_params(a, b, tol=1e-10):
    return set(getattr(a, "params", ())) == set(b.params) and all(close(a.params[k], b.params[k], tol) for k in b.params)


@check("together", "agreement", "two epochs of your whole package against nppg's, on CartPole-v1 and Pendulum-v1")
def together(S):
    for env, settings in RUNS:
        kw = {**SETTINGS, **settings}
        inputs = f"vpg({env!r}, " + ", ".join(f"{k}={v!r}" for k, v in kw.items()) + ")"
        mine = call("vpg", lambda: S.algorithm.vpg(env, **kw), inputs=inputs)
        ref = R_alg.vpg(env, **kw)
        for net in ("policy", "value_fn"):
            if not same_params(getattr(mine, net, None), getattr(ref, net), 1e-8):
                raise Fail(f"after {inputs} with every piece your own, the {net}'s parameters differ from nppg's",
                           "each exercise is graded with nppg's code for the rest; here your pieces run together: "
                           "fix the exercises that fail first; if none fails, a piece differs from nppg's where its "
                           "checks do not look", "7, 8, 9")
