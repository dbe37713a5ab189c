"""The course's ladder: its exercises in the derivation's order, each the functions whose bodies the student
writes, in one module of the algorithm layer. An exercise's checks live in ``checks/<its module>.py``, registered
under its name; adding an exercise is one ladder entry here and its check functions there."""
from dataclasses import dataclass

PACKAGE = "mypg"  # the student's package: DIR/mypg/
MODULES = ("nn", "distributions", "policies", "advantages", "optim", "normalize", "rollout", "algorithm")


@dataclass(frozen=True)
class Exercise:
    name: str         # what ``nppg exercise check DIR NAME`` takes
    title: str
    module: str       # one of MODULES
    functions: tuple  # ((qualified name, equation), ...): the blanks, in the order they are written
    checks: str       # what its checks test, in a few words (docs/teaching.md has the table)
    points: float = 1.0   # its default points in results.json (an instructor changes them: docs/grading.md)

    @property
    def contract(self):
        """((qualified name, what the checks demand of it beyond its docstring), ...): appended to the docstring of
        the blanked function in the workspace (``CONTRACTS`` below)."""
        return CONTRACTS.get(self.name, ())

    @property
    def eqs(self):
        return ", ".join(sorted({n for _, eq in self.functions for n in eq.split(", ")}, key=int))


# The ladder, in the derivation's order (the equation numbers are the derivation's, as in the docstrings).
LADDER = (
    Exercise("backprop", "linear and tanh backward passes", "nn",
             (("linear_backward", "20"), ("tanh_backward", "21")),
             "shapes; dx, dW, db and tanh's dx against finite differences, alone and through an MLP"),
    Exercise("categorical", "log-softmax and the categorical score", "distributions",
             (("log_softmax", "15"), ("categorical_log_prob", "15"), ("categorical_score", "16")),
             "logits of 1,000 stay finite; softmax sums to 1; the score against finite differences; E[score] = 0"),
    Exercise("gaussian", "the Gaussian log-density and its score", "distributions",
             (("gaussian_log_prob", "17"), ("gaussian_score", "18")),
             "the density integrates to 1 and factorises; both scores against finite differences; E[score] = 0"),
    Exercise("reward_to_go", "reward-to-go, discounted", "advantages",
             (("discount_cumsum", "10"), ("reward_to_go", "6, 10")),
             "the recursion R_t = r_t + gamma R_{t+1} closed by V(s_T); segments independent of each other"),
    Exercise("gae", "the TD residual and GAE", "advantages",
             (("td_residual", "11"), ("gae", "12")),
             "delta's definition, closed by V(s_T); GAE at lam = 0 is delta, at lam = 1 is R_hat - V; its recursion"),
    Exercise("nstep", "n-step advantages", "advantages",
             (("nstep_advantages", "13"),),
             "n = 1 is delta; n >= T is R_hat - V; the definition; GAE is the lambda-average of n-step"),
    Exercise("batch_weights", "Phi_t and R_hat_t for a whole batch, segment by segment", "advantages",
             (("batch_weights", "8"),),
             "each kind of Phi_t by its definition; every segment computed on its own, whatever its neighbours"),
    Exercise("gaussian_policy", "the Gaussian policy's gradient of sum_t Phi_t log pi", "policies",
             (("GaussianPolicy.grad_log_prob", "8, 18"),),
             "grads keyed like params; against finite differences of sum_t Phi_t log pi, Phi not all ones"),
    Exercise("value_loss", "the value loss and its gradient", "policies",
             (("ValueFunction.grad_mse", "22"),),
             "L is the mean squared error; its gradient against finite differences (1/M, the factor 2, the sign)"),
    Exercise("adam", "Adam", "optim",
             (("Adam.step", "23"),),
             "in place; the first step has size lr (bias correction); scale invariance; t counts steps"),
    Exercise("running_stats", "the running statistics merge", "normalize",
             (("RunningStats.update", "24"),),
             "merging the halves of a batch gives the whole's count, mean and variance, in any split"),
    Exercise("rollout", "one vector step and the batch's segments", "rollout",
             (("Rollout.step", "14"), ("to_batch", "14")),
             "on a clock: a truncation is no termination; s_T is the true final observation; the autoreset step "
             "is never stored; the action stored is the one sampled", points=2.0),
    Exercise("closing_values", "the closing value of a segment", "algorithm",
             (("closing_values", "14"),),
             "0 after a termination, V(s_T) of the true final observation after a truncation or a cut"),
    Exercise("policy_step", "the policy step", "algorithm",
             (("update_policy", "8"),),
             "the step is +lr/M sum grad log pi Phi (sign, 1/M); unbiased for grad J on an exact MDP"),
    Exercise("vpg", "the epochs of VPG, in the pseudocode's order", "algorithm",
             (("vpg", "7, 8, 9"),),
             "two epochs redone by hand from the same seed: V before its fit, Phi normalised over the batch, "
             "one policy step", points=2.0),
)
# Graded after the ladder, once: the student's whole package run together (every one of its own pieces), against
# nppg's. It is no exercise of its own (no blanks); it counts the parts working together, and only once.
TOGETHER = Exercise("together", "your pieces together: a short run of your whole package against nppg's", None, (),
                    "two epochs on CartPole-v1 and on Pendulum-v1 end with nppg's parameters")
GRADED = LADDER + (TOGETHER,)
BY_NAME = {e.name: e for e in GRADED}
TIMEOUT = 60.0   # seconds one exercise may take to grade; a correct workspace's slowest takes a few (docs/grading.md)


def number(exercise):
    """Its number in the ladder (1 to 15), ``together`` the one after."""
    return GRADED.index(exercise) + 1


def select(names):
    """The exercises that ``names`` (names, ladder numbers, or ranges such as 4-7) ask for, in ladder order; all of
    them, ``together`` included, when ``names`` is empty. Raises ValueError naming what is not an exercise."""
    if not names:
        return list(GRADED)
    chosen, unknown = set(), []
    for name in names:
        lo, _, hi = str(name).partition("-")
        if lo.isdigit() and (hi.isdigit() or not hi) and 1 <= int(lo) <= int(hi or lo) <= len(GRADED):
            chosen |= set(GRADED[int(lo) - 1:int(hi or lo)])
        elif name in BY_NAME:
            chosen.add(BY_NAME[name])
        else:
            unknown.append(str(name))
    if unknown:
        raise ValueError(f"no exercise {', '.join(unknown)}; the exercises: "
                         + ", ".join(f"{number(e)} {e.name}" for e in GRADED))
    return [e for e in GRADED if e in chosen]

# What an exercise's checks demand that nppg's docstrings (kept short by the algorithm layer's 700 lines) leave
# unsaid: written into the workspace's docstring of the blanked function, under "What nppg exercise check demands".
CONTRACTS = {
    "batch_weights": (("batch_weights", "segments may be an iterator (vpg passes a zip): walk it once, computing "
                       "Phi and R_hat of each segment in the same loop. R_hat_t is the reward-to-go (10) whatever the "
                       "weights."),),
    "adam": (("Adam.step", "the parameters are updated in place (the network reads the same arrays); t counts the "
              "steps, once per call, before the bias correction."),),
    "rollout": (("to_batch", "the grid is flattened copy by copy (each copy's steps in time order), so a segment is "
                 "cut only where its episode ends or where the batch ends; ep_lengths count transitions only (never "
                 "the reset step) and ep_returns are undiscounted."),),
    "policy_step": (("update_policy", "returns the diagnostics as floats: loss_pi = L_pi before the step; "
                     "delta_loss_pi = L_pi after the step minus before it; kl = the batch mean of log pi_old - "
                     "log pi_new; entropy = the batch mean of the policy's entropy; kl, entropy and the loss after the "
                     "step are measured after the one optimizer step."),),
    "vpg": (("vpg", "the loop runs k from s.epoch (a State given by setup, e.g. a checkpoint's, goes on from the "
             "epochs it has done) to cfg.epochs. Each epoch's record, appended to s.history and passed to "
             "callback(record, s), holds exactly: epoch (k + 1), the episode statistics of episode_stats (episodes, "
             "mean_return, std_return, min_return, max_return, mean_ep_len), update_policy's loss_pi, delta_loss_pi, "
             "kl, entropy, fit_value's loss_v, delta_loss_v, then env_steps (transitions collected so far, "
             "s.env_steps + len(batch.rew)) and mean_value (the batch mean of V(s_t) before the fit). With lr_decay, "
             "at the start of epoch k both optimizers' lr = lr_0 (1 - k / cfg.epochs). With scale_rewards, "
             "s.ret_stats.update(batch.G), then the rewards are divided by sqrt(s.ret_stats.var() + 1e-8), before "
             "batch_weights. With normalize_adv, Phi goes to mean 0 and std 1 over the batch (+ 1e-8 on the std). "
             "With normalize_obs, s.obs_stats.update(batch.obs) once per epoch, after the value fit (the next epoch "
             "sees the new statistics)."),),
}


def ladder_text():
    rows = [f"{i:>2}. {e.name:<15} ({e.eqs}) {e.title}: {', '.join(f for f, _ in e.functions)} in {e.module}.py"
            for i, e in enumerate(LADDER, 1)]
    rows.append(f"{len(GRADED):>2}. {TOGETHER.name:<15} {TOGETHER.title} (graded once, after the ladder)")
    return "\n".join(["The ladder (nppg exercise check DIR NAME or NUMBER checks one; the equations are those of "
                      "nppg's derivation):"] + rows)
