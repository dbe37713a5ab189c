"""A zoo of the bugs learners make, each a small patch to the algorithm layer.

A bug is data: the module it touches, the exact source text it replaces and the replacement, what it
breaks and why, with the equation's number from the README's derivation. ``patched_source`` refuses a
patch whose text does not occur exactly once in today's source, so that an edit of the algorithm layer
makes the zoo fail loudly instead of silently testing nothing. ``write_patched`` copies ``nppg/`` to
another folder and applies one bug there; the package itself is never touched.

``benchmarks/bug_zoo.py`` runs nppg's test suite and a short training run on each patched copy and
writes docs/bugs.md's table and docs/figures/bugs.png; tests/test_zoo.py keeps the table true.
"""
import os
import shutil
from dataclasses import dataclass, field

PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the nppg/ folder


@dataclass(frozen=True)
class Bug:
    name: str                 # short, distinct, usable in a file name
    module: str               # the algorithm module it patches, e.g. "advantages"
    edits: tuple              # ((old, new), ...): each old text occurs exactly once in the module's source
    equation: str             # the README's equation it breaks, e.g. "(8)"
    explanation: str          # one paragraph: what the learner wrote, and why it is wrong
    tests: tuple = ()         # the test files most likely to catch it (run first; a hint, not the record)
    env: str = "CartPole-v1"  # where its learning curve is drawn: Pendulum-v1 for the Gaussian's bugs
    train: dict = field(default_factory=dict)  # extra vpg settings its curve needs (the correct curve gets them too)


def _bug(name, module, edits, equation, explanation, tests=(), env="CartPole-v1", **train):
    return Bug(name, module, tuple(edits), equation, " ".join(explanation.split()), tuple(tests), env, train)


BUGS = (
    _bug("loss-sign", "algorithm",
         [("opt.step(policy.grad_log_prob(obs, act, -Phi / M))",
           "opt.step(policy.grad_log_prob(obs, act, Phi / M))")],
         "(8)",
         """The optimizer descends, so it must be given the gradient of the loss L_pi = -1/M sum_t log pi(a_t|s_t)
         Phi_t. Passing +Phi hands it grad J itself: every step lowers the return it should raise, and the policy
         learns to fall over as fast as it can.""",
         ["tests/test_vpg.py"]),
    _bug("score-sign", "distributions",
         [("    dz = -np.exp(log_softmax(z))\n    dz[np.arange(len(a)), a] += 1.0",
           "    dz = np.exp(log_softmax(z))\n    dz[np.arange(len(a)), a] -= 1.0")],
         "(16)",
         """The categorical score written softmax(z) - onehot(a), the gradient of the cross-entropy that a
         classifier minimises, instead of d log pi / dz = onehot(a) - softmax(z). The sign is flipped inside
         the score rather than in the loss, so the loss looks right and the policy still descends J.""",
         ["tests/test_distributions.py", "tests/test_policies.py"]),
    _bug("softmax-overflow", "distributions",
         [("    z_max = z.max(axis=-1, keepdims=True)                                    # (N, 1)\n"
           "    return z - z_max - np.log(np.exp(z - z_max).sum(axis=-1, keepdims=True))  # (N, K)",
           "    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))  # (N, K)")],
         "(15)",
         """log-softmax computed as z - log(sum(exp(z))) without subtracting max(z) first. It is the same
         function in exact arithmetic, and harmless while the logits stay small (the learning curve cannot
         tell), but exp(1000) overflows to inf and log pi becomes -inf or NaN: a policy that grows confident
         enough, or a large input, ends the run.""",
         ["tests/test_distributions.py"]),
    _bug("gaussian-mu-score-one-sigma", "distributions",
         [("return u * np.exp(-log_std), u * u - 1.0", "return u, u * u - 1.0")],
         "(18)",
         """The Gaussian's score for the mean written (a - mu) / sigma, the standardised action u, instead
         of (a - mu) / sigma^2. The direction of each row's step is right, but its size is off by sigma, and
         the ratio between the mean's and log sigma's gradients is wrong as soon as sigma is not 1.""",
         ["tests/test_distributions.py", "tests/test_policies.py"], env="Pendulum-v1"),
    _bug("log-std-without-phi", "policies",
         [('grads["log_std"] = Phi @ dlog_std', 'grads["log_std"] = dlog_std.sum(axis=0)')],
         "(8), (18)",
         """The log sigma gradient summed over the batch without multiplying each row by its weight Phi_t.
         The mean's gradient goes through the network with Phi, log sigma's is a separate line and is easy to
         forget: it becomes the score alone, whose expectation is 0 (5), so sigma takes a random walk driven
         by sampling noise instead of shrinking where good actions are near the mean.""",
         ["tests/test_policies.py"], env="Pendulum-v1"),
    _bug("tanh-derivative-of-input", "nn",
         [("    y = np.tanh(x)\n    return y, y  # the backward needs only the output",
           "    y = np.tanh(x)\n    return y, x  # the backward needs only the output")],
         "(21)",
         """tanh's derivative written 1 - x^2 of the layer's input x, instead of 1 - tanh(x)^2 of its output.
         Near x = 0 the two agree, so a network at initialisation seems fine; for |x| > 1 the factor turns
         negative and the gradient pushes hidden units the wrong way.""",
         ["tests/test_nn.py"]),
    _bug("bias-grad-mean", "nn",
         [("return dy @ W.T, x.T @ dy, dy.sum(axis=0)", "return dy @ W.T, x.T @ dy, dy.mean(axis=0)")],
         "(20)",
         """The mean where a sum belongs: db = mean over rows of dy, while dW = x^T dy sums them. The loss's
         1/M is already inside dy; dividing again makes the biases' gradient M times too small, a silent
         mismatch that Adam's per-parameter scaling mostly hides in training (the curve barely moves) but a
         finite-difference check does not.""",
         ["tests/test_nn.py"]),
    _bug("rtg-across-episodes", "advantages",
         [("R_hat[s] = reward_to_go(rew[s], last_value, gamma)",
           "R_hat[s] = reward_to_go(rew[start:], segments_end_value, gamma)[:stop - start]"),
          ("    Phi, R_hat = np.empty(len(rew)), np.empty(len(rew))\n",
           "    Phi, R_hat = np.empty(len(rew)), np.empty(len(rew))\n"
           "    segments = list(segments)\n"
           "    segments_end_value = segments[-1][2] if segments else 0.0\n")],
         "(6), (10)",
         """Reward-to-go computed over the whole batch as one long sequence: each step's R_hat_t keeps summing
         the rewards of the episodes that follow it in the batch, and only the batch's last segment is closed
         by its V(s_T). A step near the end of a short episode gets the credit of the next episode's
         rewards, which its action did not cause.""",
         ["tests/test_advantages.py"]),
    _bug("discount-twice-on-bootstrap", "advantages",
         [("return discount_cumsum(np.append(rew, last_value), gamma)[:-1]",
           "return discount_cumsum(np.append(rew, gamma * last_value), gamma)[:-1]")],
         "(10), (14)",
         """The closing value V(s_T) multiplied by gamma before it is appended to the rewards, although the
         backward recursion already discounts it by gamma on its way to step T - 1: the bootstrap counts
         gamma^(T-t+1) instead of gamma^(T-t). Every truncated or cut segment undervalues its tail.""",
         ["tests/test_advantages.py"]),
    _bug("gae-missing-gamma", "advantages",
         [("return discount_cumsum(td_residual(rew, val, last_value, gamma), gamma * lam)",
           "return discount_cumsum(td_residual(rew, val, last_value, gamma), lam)")],
         "(12)",
         """GAE's sum of TD residuals discounted by lam alone instead of gamma * lam. With gamma = 1 nothing
         changes, which is why it survives; with gamma < 1 the advantage at lam = 1 is no longer
         R_hat_t - V(s_t), and far residuals weigh more than the discount says.""",
         ["tests/test_advantages.py"]),
    _bug("td-residual-same-state", "advantages",
         [("return rew + gamma * np.append(val[1:], last_value) - val",
           "return rew + gamma * val - val")],
         "(11)",
         """An off-by-one in the TD residual: delta_t = r_t + gamma V(s_t) - V(s_t), the value of the same
         state instead of the next one. The closing value V(s_T) is never used, and GAE (12) and n-step (13)
         advantages built on it no longer telescope to R_hat_t - V(s_t).""",
         ["tests/test_advantages.py"]),
    _bug("running-stats-no-between-term", "normalize",
         [("self.M2 = self.M2 + np.sum((x - m_b) ** 2, axis=0) + delta**2 * self.N * N_b / N",
           "self.M2 = self.M2 + np.sum((x - m_b) ** 2, axis=0)")],
         "(24)",
         """Merging two batches' statistics by adding their sums of squared deviations, forgetting the
         term delta^2 N N_b / N' for the distance between the two means. The variance of everything seen is
         underestimated whenever batches differ in mean (observations drift as the policy learns), so the
         normalised observations (25) grow too large. Its curve is drawn with normalize_obs on.""",
         ["tests/test_normalize.py"], normalize_obs=True),
    _bug("adam-no-bias-correction", "optim",
         [("m_hat = self.m[k] / (1.0 - self.beta1 ** self.t)", "m_hat = self.m[k]"),
          ("v_hat = self.v[k] / (1.0 - self.beta2 ** self.t)", "v_hat = self.v[k]")],
         "(23)",
         """Adam without its bias correction: m and v start at 0, so early on they are too small by the
         factors 1 - beta1^t and 1 - beta2^t. The first step is lr * 0.1 / sqrt(0.001) = 3.2 lr instead of
         lr, and the step size only settles after some thousand steps: the early updates are too large.""",
         ["tests/test_optim.py"]),
    _bug("truncation-as-termination", "rollout",
         [("return s, o2, rw, valid, valid & te, ended, done_ret, done_len, G",
           "return s, o2, rw, valid, valid & (te | tr), ended, done_ret, done_len, G")],
         "(14)",
         """A time-limit truncation marked as a termination, so its segment is closed with 0 instead of
         V(s_T), as CS285's rollout does. CartPole's 500th step then looks like a fall: the states a good
         policy reaches late in an episode are valued as nearly worthless, and the value function has to
         learn a clock it cannot see.""",
         ["tests/test_rollout.py"]),
    _bug("bootstrap-from-reset-obs", "rollout",
         [("term[t_idx[ends], e_idx[ends]], next_obs[t_idx[ends], e_idx[ends]],",
           "term[t_idx[ends], e_idx[ends]], next_obs[np.minimum(t_idx[ends] + 1, len(next_obs) - 1), e_idx[ends]],")],
         "(14)",
         """The segment closed with the observation of the step after its last one, the autoreset step,
         which returns the next episode's first observation, not the true final one s_T. A truncated
         episode is bootstrapped with V of a fresh start: the learner's version of reading the
         observation after gymnasium has reset the copy.""",
         ["tests/test_rollout.py"]),
    _bug("reset-step-stored", "rollout",
         [("valid = ~self.resetting                                          # a reset step is no transition",
           "valid = np.ones(self.n, dtype=bool)                              # a reset step is no transition")],
         "(2), (14)",
         """gymnasium 1.x resets a vector copy on the step after its episode ends; that step ignores the
         action and returns a reward of 0. Storing it as a transition adds a step whose action had no effect
         and whose reward is 0, and puts a step from the old episode's s_T into the new episode's
         segment.""",
         ["tests/test_rollout.py"]),
    _bug("clipped-action-logp", "rollout",
         [("grid.append((s, a, np.asarray(rew, dtype=np.float64), s2, valid, term, ended, G))",
           "grid.append((s, env_action(self.act_space, a), np.asarray(rew, dtype=np.float64), s2, valid, term, "
           "ended, G))")],
         "(8), (17)",
         """The batch stores the action clipped to the environment's bounds, so log pi and its score are
         evaluated at the clipped action rather than the one sampled. Every action beyond a bound is scored
         as if it had been drawn exactly at the bound: the mean is pulled toward the edge and sigma shrinks
         for the wrong reason.""",
         ["tests/test_rollout.py"], env="Pendulum-v1"),
    _bug("several-policy-steps", "algorithm",
         [("    opt.step(policy.grad_log_prob(obs, act, -Phi / M))            # gradient of L_pi",
           "    for _ in range(10):                                           # gradient of L_pi\n"
           "        opt.step(policy.grad_log_prob(obs, act, -Phi / M))")],
         "(8)",
         """Ten policy steps on one batch. (8) is the gradient at theta_k for actions drawn from pi_k; after the
         first step the batch is off-policy and the surrogate's gradient is no longer grad J. Without a trust
         region (PPO's clip) the later steps chase the sampled Phi and overshoot.""",
         ["tests/test_vpg.py"]),
    _bug("value-after-fit", "algorithm",
         [("            record = {\"epoch\": k + 1, **episode_stats(batch.ep_returns, batch.ep_lengths)}\n",
           "            record = {\"epoch\": k + 1, **episode_stats(batch.ep_returns, batch.ep_lengths)}\n"
           "            record.update(fit_value(s.value_fn, s.vf_opt, batch.obs, R_hat, cfg.train_v_iters))  # 8\n"
           "            val = s.value_fn.predict(batch.obs)\n"
           "            segments = zip(batch.starts, batch.stops, closing_values(batch, s.value_fn))\n"
           "            Phi, R_hat = batch_weights(rew, val, segments, cfg.weights, cfg.gamma, cfg.lam, cfg.n_step)\n"
           "            if cfg.normalize_adv:\n"
           "                Phi = (Phi - batch.mean(Phi)) / (np.sqrt(batch.mean((Phi - batch.mean(Phi)) ** 2)) + 1e-8)\n"),
          ("            record.update(fit_value(s.value_fn, s.vf_opt, batch.obs, R_hat, cfg.train_v_iters))  # 8\n"
           "            if cfg.normalize_obs:",
           "            if cfg.normalize_obs:")],
         "(7), (12)",
         """The value function fit on this batch's rewards-to-go before the advantages are computed from it.
         V_phi_{k+1}(s_t) has seen R_hat_t, which depends on a_t, so the baseline depends on the action it
         is meant to judge: the advantages shrink toward 0 and are biased. Step 5 uses V_phi_k, step 8 fits
         phi_{k+1} afterwards.""",
         ["tests/test_vpg.py"]),
    _bug("phi-normalised-per-episode", "algorithm",
         [("                mu = batch.mean(Phi)\n"
           "                Phi = (Phi - mu) / (np.sqrt(batch.mean((Phi - mu) ** 2)) + 1e-8)",
           "                for a, b in zip(batch.starts, batch.stops):  # each segment on its own\n"
           "                    Phi[a:b] = (Phi[a:b] - Phi[a:b].mean()) / (Phi[a:b].std() + 1e-8)")],
         "(7)",
         """Phi_t normalised within each episode (segment) instead of over the batch. The per-episode mean is a
         baseline computed from the episode's own rewards, which depend on its actions (drl-zh #5), and it
         removes exactly what tells a good episode from a bad one: every episode's weights average 0 whether
         it lasted 20 steps or 500.""",
         ["tests/test_vpg.py"]),
)


def module_path(bug, package=PACKAGE):
    return os.path.join(package, f"{bug.module}.py")


def patched_source(bug, package=PACKAGE):
    """The source of ``bug.module`` in ``package`` with the bug's edits applied. Raises ValueError when an
    edit's old text does not occur exactly once in the unpatched source."""
    with open(module_path(bug, package)) as f:
        original = f.read()
    text = original
    for old, new in bug.edits:
        count = original.count(old)
        if count != 1:
            raise ValueError(f"bug {bug.name!r}: the text it replaces occurs {count} times in "
                             f"nppg/{bug.module}.py, not once: {old[:80]!r}")
        text = text.replace(old, new, 1)
    return text


def write_patched(bug, dest, package=PACKAGE):
    """Copy ``package`` (the nppg/ folder) to ``dest``/nppg and apply ``bug`` there (None: no patch).
    Returns the path of the copied package; put ``dest`` first on sys.path or PYTHONPATH to import it."""
    target = os.path.join(dest, "nppg")
    shutil.copytree(package, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    if bug is not None:
        text = patched_source(bug, package)
        with open(module_path(bug, target), "w") as f:
            f.write(text)
    return target


def by_name(name):
    for bug in BUGS:
        if bug.name == name:
            return bug
    raise KeyError(f"no bug named {name!r}; the zoo has {[b.name for b in BUGS]}")
