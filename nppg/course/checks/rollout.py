"""The checks of rollout.py's exercises, rollout (14), in the order of the module: each check
registered under its exercise with ``@check``, its hints beside the property it tests."""
import gymnasium as gym
import numpy as np

from ... import rollout as R_roll
from ...rollout import Batch
from .common import Fail, call, check, close, diagnose, expect, fmt, side_by_side


class Clock(gym.Env):
    """Observation [t, k, copy]: t counts the steps of the current episode, k the episodes, copy which of the vector's
    copies it is; the reward for acting at time t is 1 + t (never 0, so gymnasium's reset step, whose reward is 0,
    shows if it is stored). It terminates after ``terminate_at`` steps when that is set; a TimeLimit truncates it."""
    observation_space = gym.spaces.Box(-np.inf, np.inf, (3,), dtype=np.float64)
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), dtype=np.float64)

    def __init__(self, copy, terminate_at=None):
        self.copy, self.terminate_at, self.t, self.k, self.received = copy, terminate_at, 0, -1, []

    def _obs(self):
        return np.array([self.t, self.k, self.copy], dtype=np.float64)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.k = 0, self.k + 1
        return self._obs(), {}

    def step(self, action):
        self.received.append(float(np.asarray(action).ravel()[0]))
        reward, self.t = 1.0 + self.t, self.t + 1
        return self._obs(), reward, self.terminate_at is not None and self.t >= self.terminate_at, False, {}


# copy 0 is truncated by its time limit after 4 steps; copy 1 terminates after 3 (its limit, 5, is never reached)
CLOCK_ENDS = {0: (4, False), 1: (3, True)}   # copy: (episode length, terminated)
CLOCK_GAMMA = 0.9


def clock_envs():
    return gym.vector.SyncVectorEnv([lambda: gym.wrappers.TimeLimit(Clock(0), 4),
                                     lambda: gym.wrappers.TimeLimit(Clock(1, terminate_at=3), 5)])


class ClockPolicy:
    """a = 0.9 t - 1.2: beyond the action bounds [-1, 1] at t = 0 (-1.2) and t = 3 (1.5)."""

    @staticmethod
    def action(obs):
        return 0.9 * np.asarray(obs, dtype=np.float64)[:, :1] - 1.2

    def sample(self, obs, rng):
        return self.action(obs)


def clock_batches(Rollout, steps=(11, 9)):
    """Two consecutive batches of ``Rollout`` on the clocks, and what each copy's environment received."""
    envs = clock_envs()
    try:
        ro = Rollout(envs, seed=0, gamma=CLOCK_GAMMA)
        batches = [ro.collect(ClockPolicy(), n, np.random.default_rng(0)) for n in steps]
        received = [e.unwrapped.received for e in envs.envs]
    finally:
        envs.close()
    return batches, received


def student_batches(S):
    return call("Rollout.collect", lambda: clock_batches(S.rollout.Rollout), inputs="the clock environments (two "
                "copies: one truncated by a time limit of 4 steps, one terminating after 3)")


@check('rollout', 'contract', 'a Batch whose segments tile the steps')
def rollout_contract(S):
    (b1, b2), _ = student_batches(S)
    for i, (b, n) in enumerate(((b1, 11), (b2, 9)), 1):
        where = f"batch {i} of collect(policy, {n}) on the clocks"
        if not all(hasattr(b, f) for f in Batch.__dataclass_fields__):
            raise Fail(f"collect returned a {type(b).__name__}, not a Batch, on {where}", "to_batch returns a Batch", "14")
        M, S_ = len(b.rew), len(b.starts)
        if not (n <= M < n + 2):
            raise Fail(f"{where} holds {M} transitions", f"collect steps until at least {n} transitions are stored "
                       "(one vector step stores up to num_envs)", "14")
        for name, shape in (("obs", (M, 3)), ("act", (M, 1)), ("rew", (M,)), ("final_obs", (S_, 3)), ("G", (M,))):
            expect(f"the Batch's {name}", getattr(b, name), shape, where)
        if not (np.shape(b.stops) == (S_,) and np.shape(b.terminated) == (S_,) and S_ and b.starts[0] == 0
                and b.stops[-1] == M and np.array_equal(b.starts[1:], b.stops[:-1]) and np.all(b.stops > b.starts)):
            raise Fail(f"the segments {fmt(starts=np.asarray(b.starts), stops=np.asarray(b.stops))} do not tile [0, {M}) "
                       f"in order, on {where}", "starts and stops: one pair per segment, each segment non-empty, "
                       "consecutive, from 0 to M", "14")
        if np.asarray(b.terminated).dtype != bool:
            raise Fail(f"the Batch's terminated has dtype {np.asarray(b.terminated).dtype}, not bool, on {where}",
                       "one bool per segment", "14")


@check('rollout', 'math', 'no reset step stored; truncation is no termination; s_T; the action as sampled')
def rollout_math(S):
    (b1, b2), received = student_batches(S)
    for i, b in enumerate((b1, b2), 1):
        where = f"batch {i} on the clocks (observation [t, k, copy]; copy 0 truncated after 4 steps, copy 1 " \
                f"terminating after 3)"
        obs, rew = np.asarray(b.obs), np.asarray(b.rew)
        t, k, c = obs[:, 0], obs[:, 1], obs[:, 2].astype(int)
        if len(obs) > 4 and all(len(np.unique(obs[c == x], axis=0)) == 1 for x in np.unique(c)):
            raise Fail(f"every stored observation of a copy is the same, {fmt(obs=np.unique(obs, axis=0))}, over "
                       f"{len(obs)} transitions, on {where}",
                       "the observation never advanced: after each step the rollout's current observation becomes "
                       "s_(t+1), the one the step returned (self.obs = o2), so the next action sees it", "14")
        bad = np.flatnonzero((rew != 1.0 + t) | (t >= np.where(c == 0, 4, 3)))
        if len(bad):
            j = bad[0]
            # the reset steps of the truncated copy 0 alone stored: its episodes were never ended
            after_truncation = set(c[bad]) == {0} and np.any(c == 1)
            raise Fail(f"step {j} of the batch is s = {fmt(s=obs[j])} with r = {rew[j]:g}, which no transition of the "
                       f"clocks gives (r = 1 + t, t < the episode's length), on {where}",
                       "a truncation not taken as the episode's end: an episode ends when it terminates or is "
                       "truncated (ended = valid & (te | tr)); the copy's next step is then the reset step, never "
                       "stored" if after_truncation else
                       "the autoreset step stored as a transition: gymnasium resets a copy on the step after its "
                       "episode ended; that step ignores the action, returns reward 0 and the new episode's first "
                       "observation; it is no transition and is never stored (valid = not resetting)", "14")
        for a, z in zip(b.starts, b.stops):
            if not (np.all(np.diff(t[a:z]) == 1) and np.all(k[a:z] == k[a]) and np.all(c[a:z] == c[a])):
                raise Fail(f"the segment [{a}, {z}) holds {fmt(obs=obs[a:z])}: not consecutive steps of one episode of "
                           f"one copy, on {where}", "a segment is consecutive steps of one episode in one copy: "
                           "flatten the (rows, n) grid copy by copy (np.nonzero(valid.T)), each copy's steps in time "
                           "order", "14")
        last = obs[np.asarray(b.stops) - 1]
        length = np.array([CLOCK_ENDS[int(x)][0] for x in last[:, 2]])
        ended = last[:, 0] + 1 == length
        later = [j for j, (x, z) in enumerate(zip(last, b.stops)) if not ended[j] and np.any(c[z:] == int(x[2]))]
        if later:
            j = later[0]
            raise Fail(f"the segment [{b.starts[j]}, {b.stops[j]}) ends at {fmt(s=last[j])} though its episode goes on "
                       f"and copy {int(last[j, 2])} has more steps later in the batch, on {where}",
                       "a segment is cut where its episode ends or where the batch ends, nowhere else: flatten the "
                       "(rows, n) grid copy by copy (np.nonzero(valid.T)), so that each copy's steps are consecutive; "
                       "flattened time by time, the copies' steps interleave", "14")
        terminated = ended & np.array([CLOCK_ENDS[int(x)][1] for x in last[:, 2]])
        got = np.asarray(b.terminated, dtype=bool)
        if not np.array_equal(got, terminated):
            truncated = ended & ~terminated
            hint = ("a truncation marked as a termination: a time limit (truncated) is no true ending, so its segment "
                    "is closed by V(s_T) (14); only terminated closes with 0" if np.any(got & truncated) else
                    "a termination not marked: terminated is the environment's terminated of the segment's last step"
                    if np.any(~got & terminated) else "a segment cut by the batch's end is not terminated")
            raise Fail(f"terminated = {fmt(got=got)}, not {fmt(want=terminated)}, for the segments ending at "
                       f"{fmt(s_last=last)}, on {where}", hint, "14")
        want = last + np.array([1.0, 0.0, 0.0])
        fo = np.asarray(b.final_obs, dtype=np.float64)
        if not close(fo, want):
            reset = np.column_stack([np.zeros(len(last)), last[:, 1] + 1, last[:, 2]])
            rows = ~np.all(np.isclose(fo, want), axis=1)
            hint = ("s_T from the reset observation: the step that ends an episode returns the true final observation "
                    "s_T; the observation of the step after it (the autoreset step) is the new episode's first, "
                    "[0, k + 1], and V of it would bootstrap a truncation from a fresh start"
                    if np.any(np.all(np.isclose(fo[rows], reset[rows]), axis=1)) else
                    "s_T taken as the last step's own observation s_(T-1): final_obs is the observation that followed it"
                    if np.any(np.all(np.isclose(fo[rows], last[rows]), axis=1)) else
                    "final_obs is s_T, the observation returned by the segment's last step (never a reset one)")
            raise Fail(f"final_obs = {fmt(got=fo)}, not s_T = {fmt(want=want)}, for the segments ending at "
                       f"{fmt(s_last=last)}, on {where}", hint, "14")
        act = np.asarray(b.act, dtype=np.float64)
        sampled = ClockPolicy.action(obs)
        if not close(act, sampled):
            raise Fail(f"the stored actions are {fmt(act=act[:, 0])}, not those sampled {fmt(sampled=sampled[:, 0])}, "
                       f"on {where} (the policy samples a = 0.9 t - 1.2)",
                       diagnose(act, [(np.clip(sampled, -1, 1), "the clipped action stored: log pi and its score are "
                                       "evaluated at the action as sampled; the environment gets the clipped one "
                                       "(env_action), the batch keeps a")],
                                "act[t] is the action the policy sampled at s_t"), "8, 14")
        G = np.array([sum(CLOCK_GAMMA ** (int(tt) - s) * (1 + s) for s in range(int(tt) + 1)) for tt in t])
        if not close(b.G, G):
            undiscounted = np.array([sum(1 + s for s in range(int(tt) + 1)) for tt in t])
            raise Fail(f"G = {fmt(got=np.asarray(b.G))}, not the discounted return of the episode so far "
                       f"{fmt(want=G)} (gamma = {CLOCK_GAMMA}), on {where}",
                       diagnose(b.G, [(undiscounted, "G without gamma: G_t = r_t + gamma G_(t-1), the return so far "
                                       "discounted (26)")],
                                "G_t = r_t + gamma G_(t-1), from 0 at each episode's start, carried over between "
                                "batches (26)"), "26")
        lengths, returns = np.asarray(b.ep_lengths).tolist(), np.asarray(b.ep_returns).tolist()
        pairs = sorted(zip(lengths, returns))
        want_pairs = sorted((int(L), float(L * (L + 1) / 2)) for L in length[ended])
        if pairs != want_pairs:
            want_L = sorted(L for L, _ in want_pairs)
            hint = ("the reset step counted in an episode's length: the step that resets a copy is no transition; "
                    "ep_len counts valid steps only (ep_len += valid)" if sorted(lengths) != want_L and
                    all(L >= w for L, w in zip(sorted(lengths), want_L)) and len(lengths) == len(want_L) else
                    "an episode's return not reset to 0 when it ends: the next episode of that copy starts from 0 "
                    "(ep_ret[ended] = 0), or its return holds the episodes before it"
                    if sorted(lengths) == want_L and sum(returns) > sum(R for _, R in want_pairs) else
                    "each episode that ended in this batch, with its undiscounted return and length: the rewards "
                    "of its transitions only, carried over from the last batch")
            raise Fail(f"(ep_lengths, ep_returns) = {pairs}, not {want_pairs}, on {where}", hint, "14")
    got = np.array(received[0] + received[1])
    if np.any(np.abs(got) > 1.0):
        raise Fail(f"the environments received the actions {fmt(received=got)}, beyond the bounds [-1, 1]",
                   "the environment is given env_action(action_space, a), the action clipped to its bounds; the batch "
                   "keeps a as sampled", "14")


@check('rollout', 'agreement', "nppg's Rollout")
def rollout_agree(S):
    mine, _ = student_batches(S)
    ref, _ = clock_batches(R_roll.Rollout)
    for i, (b, r) in enumerate(zip(mine, ref), 1):
        for name in Batch.__dataclass_fields__:
            if not close(getattr(b, name), getattr(r, name)):
                raise Fail(side_by_side(f"the Batch's {name}", getattr(b, name), getattr(r, name),
                                        f"batch {i} of two on the clocks"),
                           "right on the properties above but not in this field: rollout.py's docstring and Batch's "
                           "comments say what each field holds (14)", "14")
