"""Mistakes a student writing the course's functions really makes, written by hand from the exercises'
docstrings and nppg's source (without reading docs/bugs.md or the zoo): each is an edit of the solved
workspace and the words the failing hint must contain to name the real cause.

A mistake is (exercise, name, module, edits, words): ``edits`` are (old, new) replacements in
``mypg/<module>.py`` of a ``--solutions`` workspace, each ``old`` found exactly once; ``words`` must all
appear in the hint of the exercise's first failing check. ``tests/test_course_mistakes.py`` plants each one
and checks that exercise alone."""
from collections import namedtuple

Mistake = namedtuple("Mistake", "exercise name module edits words")

M = Mistake
MISTAKES = [
    # ---- 1. backprop (nn.py) ----------------------------------------------------------------------------
    M("backprop", "dW transposed", "nn",
      [("return dy @ W.T, x.T @ dy, dy.sum(axis=0)", "return dy @ W.T, dy.T @ x, dy.sum(axis=0)")],
      ["is its transpose"]),
    M("backprop", "db summed over the wrong axis", "nn",
      [("return dy @ W.T, x.T @ dy, dy.sum(axis=0)", "return dy @ W.T, x.T @ dy, dy.sum(axis=1)")],
      ["summed over axis=1"]),
    M("backprop", "dx without the transpose", "nn",
      [("return dy @ W.T, x.T @ dy, dy.sum(axis=0)", "return dy @ W, x.T @ dy, dy.sum(axis=0)")],
      ["dy @ W.T"]),
    M("backprop", "tanh's derivative taken at y", "nn",
      [("return dy * (1 - y**2)", "return dy * (1 - np.tanh(y) ** 2)")],
      ["tanh applied twice"]),
    M("backprop", "tanh's derivative without dy", "nn",
      [("return dy * (1 - y**2)", "return 1 - y**2")],
      ["upstream"]),

    # ---- 2. categorical (distributions.py) --------------------------------------------------------------
    M("categorical", "log-softmax along the batch axis", "distributions",
      [("    z_max = z.max(axis=-1, keepdims=True)                                    # (N, 1)\n"
        "    return z - z_max - np.log(np.exp(z - z_max).sum(axis=-1, keepdims=True))",
        "    z_max = z.max(axis=0, keepdims=True)\n"
        "    return z - z_max - np.log(np.exp(z - z_max).sum(axis=0, keepdims=True))")],
      ["wrong axis"]),
    M("categorical", "log-softmax without the max", "distributions",
      [("    z_max = z.max(axis=-1, keepdims=True)                                    # (N, 1)\n"
        "    return z - z_max - np.log(np.exp(z - z_max).sum(axis=-1, keepdims=True))",
        "    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))")],
      ["subtracting the max"]),
    M("categorical", "log of the softmax", "distributions",
      [("    z_max = z.max(axis=-1, keepdims=True)                                    # (N, 1)\n"
        "    return z - z_max - np.log(np.exp(z - z_max).sum(axis=-1, keepdims=True))",
        "    e = np.exp(z - z.max(axis=-1, keepdims=True))\n"
        "    return np.log(e / e.sum(axis=-1, keepdims=True))")],
      ["log(softmax"]),
    M("categorical", "log-prob indexed [:, a]", "distributions",
      [("return log_softmax(z)[np.arange(len(a)), a]", "return log_softmax(z)[:, a]")],
      ["arange"]),
    M("categorical", "score with the sign flipped", "distributions",
      [("    dz = -np.exp(log_softmax(z))\n    dz[np.arange(len(a)), a] += 1.0",
        "    dz = np.exp(log_softmax(z))\n    dz[np.arange(len(a)), a] -= 1.0")],
      ["sign flipped in the score"]),
    M("categorical", "score's onehot indexed [:, a]", "distributions",
      [("dz[np.arange(len(a)), a] += 1.0", "dz[:, a] += 1.0")],
      ["every row"]),

    # ---- 3. gaussian (distributions.py) ------------------------------------------------------------------
    M("gaussian", "log_std used as sigma", "distributions",
      [("    u = (a - mu) * np.exp(-log_std)                          # (N, d_a) standardised action\n"
        "    return -0.5 * (mu.shape[1] * LOG_2PI + (u * u + 2.0 * log_std).sum(axis=-1))",
        "    u = (a - mu) / log_std\n"
        "    return -0.5 * (mu.shape[1] * LOG_2PI + (u * u + 2.0 * np.log(np.abs(log_std))).sum(axis=-1))")],
      ["exp(log_std)"]),
    M("gaussian", "the 2 pi normaliser missing", "distributions",
      [("return -0.5 * (mu.shape[1] * LOG_2PI + (u * u + 2.0 * log_std).sum(axis=-1))",
        "return -0.5 * (u * u + 2.0 * log_std).sum(axis=-1)")],
      ["log 2pi is missing"]),
    M("gaussian", "2 pi counted once, not d_a times", "distributions",
      [("return -0.5 * (mu.shape[1] * LOG_2PI + (u * u + 2.0 * log_std).sum(axis=-1))",
        "return -0.5 * (LOG_2PI + (u * u + 2.0 * log_std).sum(axis=-1))")],
      ["counted once"]),
    M("gaussian", "log sigma without its factor 2", "distributions",
      [("return -0.5 * (mu.shape[1] * LOG_2PI + (u * u + 2.0 * log_std).sum(axis=-1))",
        "return -0.5 * (mu.shape[1] * LOG_2PI + (u * u + log_std).sum(axis=-1))")],
      ["without its factor 2"]),
    M("gaussian", "log-density not summed over dimensions", "distributions",
      [("return -0.5 * (mu.shape[1] * LOG_2PI + (u * u + 2.0 * log_std).sum(axis=-1))",
        "return -0.5 * (LOG_2PI + u * u + 2.0 * log_std)")],
      ["sum over the action dimensions"]),
    M("gaussian", "mu's score with the sign flipped", "distributions",
      [("return u * np.exp(-log_std), u * u - 1.0", "return -u * np.exp(-log_std), u * u - 1.0")],
      ["sign flipped"]),

    # ---- 4. reward_to_go (advantages.py) -----------------------------------------------------------------
    M("reward_to_go", "discounted sum run forwards", "advantages",
      [("for t in reversed(range(len(x))):", "for t in range(len(x)):")],
      ["forwards"]),
    M("reward_to_go", "discount_cumsum dividing by discount^t", "advantages",
      [("    y, running = np.empty(len(x)), 0.0\n    for t in reversed(range(len(x))):\n"
        "        running = x[t] + discount * running\n        y[t] = running\n    return y",
        "    p = discount ** np.arange(len(x))\n    return np.cumsum((x * p)[::-1])[::-1] / p")],
      ["discount^t"]),
    M("reward_to_go", "last_value ignored", "advantages",
      [("return discount_cumsum(np.append(rew, last_value), gamma)[:-1]", "return discount_cumsum(rew, gamma)")],
      ["closing value"]),
    M("reward_to_go", "sliced [1:] instead of [:-1]", "advantages",
      [("return discount_cumsum(np.append(rew, last_value), gamma)[:-1]",
        "return discount_cumsum(np.append(rew, last_value), gamma)[1:]")],
      ["shifted by one"]),
    M("reward_to_go", "the rewards changed in place", "advantages",
      [("    return discount_cumsum(np.append(rew, last_value), gamma)[:-1]",
        "    rew[-1] += gamma * last_value\n    return discount_cumsum(rew, gamma)")],
      ["in place"]),

    # ---- 5. gae (advantages.py) --------------------------------------------------------------------------
    M("gae", "V(s_t+1) by np.roll", "advantages",
      [("return rew + gamma * np.append(val[1:], last_value) - val", "return rew + gamma * np.roll(val, -1) - val")],
      ["roll"]),
    M("gae", "delta without the segment's last step", "advantages",
      [("return rew + gamma * np.append(val[1:], last_value) - val",
        "return rew[:-1] + gamma * val[1:] - val[:-1]")],
      ["last step is not dropped"]),
    M("gae", "the recursion's last step left at 0", "advantages",
      [("    return discount_cumsum(td_residual(rew, val, last_value, gamma), gamma * lam)",
        "    delta = td_residual(rew, val, last_value, gamma)\n    A = np.zeros(len(rew))\n"
        "    for t in reversed(range(len(rew) - 1)):\n        A[t] = delta[t] + gamma * lam * A[t + 1]\n"
        "    return A")],
      ["A_(T-1) = delta_(T-1)"]),
    M("gae", "GAE plus V (the lambda-return)", "advantages",
      [("    return discount_cumsum(td_residual(rew, val, last_value, gamma), gamma * lam)",
        "    return discount_cumsum(td_residual(rew, val, last_value, gamma), gamma * lam) + val")],
      ["lambda-return"]),

    # ---- 6. nstep (advantages.py) ------------------------------------------------------------------------
    M("nstep", "gamma^n on the bootstrap near the end", "advantages",
      [("    return D[t] - gamma**m * D[t + m]                                         # the first m terms of D_t",
        "    v = np.append(val, last_value)\n    r = np.append(rew, np.zeros(n))\n"
        "    return np.array([sum(gamma**k * r[i + k] for k in range(n)) + gamma**n * v[min(i + n, len(rew))]"
        " - val[i] for i in t])")],
      ["not gamma^n"]),
    M("nstep", "bootstrapped one step early", "advantages",
      [("    return D[t] - gamma**m * D[t + m]                                         # the first m terms of D_t",
        "    v = np.append(val, last_value)\n"
        "    return np.array([sum(gamma**k * rew[i + k] for k in range(m[i])) + gamma**m[i] * v[i + m[i] - 1]"
        " - val[i] for i in t])")],
      ["one step early"]),
    M("nstep", "the segment closed with 0", "advantages",
      [("D = np.append(discount_cumsum(td_residual(rew, val, last_value, gamma), gamma), 0.0)",
        "D = np.append(discount_cumsum(td_residual(rew, val, 0.0, gamma), gamma), 0.0)")],
      ["truncation closed with 0"]),

    # ---- 7. batch_weights (advantages.py) ----------------------------------------------------------------
    M("batch_weights", "'return' as the undiscounted sum of rewards", "advantages",
      [("Phi[s] = R_hat[s][:1]                                         # (4) R_hat at the segment's start",
        "Phi[s] = rew[s].sum()")],
      ["not their plain sum"]),
    M("batch_weights", "baseline with the sign flipped", "advantages",
      [("Phi[s] = R_hat[s] - val[s]                                    # (7)", "Phi[s] = val[s] - R_hat[s]")],
      ["sign flipped"]),
    M("batch_weights", "GAE's targets A + V", "advantages",
      [("Phi[s] = gae(rew[s], val[s], last_value, gamma, lam)          # (12)",
        "Phi[s] = gae(rew[s], val[s], last_value, gamma, lam)\n            R_hat[s] = Phi[s] + val[s]")],
      ["lambda-return"]),
    M("batch_weights", "segments walked twice", "advantages",
      [("    Phi, R_hat = np.empty(len(rew)), np.empty(len(rew))\n    for start, stop, last_value in segments:",
        "    Phi, R_hat = np.zeros(len(rew)), np.zeros(len(rew))\n"
        "    for start, stop, last_value in segments:\n"
        "        R_hat[start:stop] = reward_to_go(rew[start:stop], last_value, gamma)\n"
        "    for start, stop, last_value in segments:")],
      ["only once"]),

    # ---- 8. gaussian_policy (policies.py) ----------------------------------------------------------------
    M("gaussian_policy", "log sigma's gradient averaged", "policies",
      [('grads["log_std"] = Phi @ dlog_std', 'grads["log_std"] = (Phi[:, None] * dlog_std).mean(axis=0)')],
      ["1/M"]),
    M("gaussian_policy", "Phi times dmu without [:, None]", "policies",
      [("self.net.backward(Phi[:, None] * dmu, cache)", "self.net.backward(Phi * dmu, cache)")],
      ["Phi[:, None]"]),
    M("gaussian_policy", "log sigma's gradient forgotten", "policies",
      [('        grads["log_std"] = Phi @ dlog_std                                  # (n,)\n', "")],
      ["grads['log_std']"]),

    # ---- 9. value_loss (policies.py) ---------------------------------------------------------------------
    M("value_loss", "dL/dV with the sign flipped", "policies",
      [("self.net.backward((2 / M) * err[:, None], cache)", "self.net.backward((2 / M) * -err[:, None], cache)")],
      ["sign flipped"]),
    M("value_loss", "V (M, 1) minus R_hat (M,)", "policies",
      [("err = v[:, 0] - _rows(R_hat, M, \"R_hat\", np.float64, 1)            # (M,)", "err = v - R_hat"),
       ("return float(err @ err) / M, self.net.backward((2 / M) * err[:, None], cache)[0]",
        "return float(np.mean(err ** 2)), self.net.backward((2 / M) * err, cache)[0]")],
      ["(M, M)"]),
    M("value_loss", "L summed, not averaged", "policies",
      [("return float(err @ err) / M,", "return float(err @ err),")],
      ["the sum where the mean belongs"]),

    # ---- 10. adam (optim.py) -----------------------------------------------------------------------------
    M("adam", "t counted once per parameter", "optim",
      [("        self.t += 1\n        for k, g in grads.items():\n",
        "        for k, g in grads.items():\n            self.t += 1\n")],
      ["once per step"]),
    M("adam", "v averages g, not g^2", "optim",
      [("(1.0 - self.beta2) * g * g", "(1.0 - self.beta2) * g")],
      ["v averages g"]),
    M("adam", "a new array, not in place", "optim",
      [("self.params[k] -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)",
        "self.params[k] = self.params[k] - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)")],
      ["in place"]),
    M("adam", "beta1 and beta2 swapped", "optim",
      [("self.m[k] = self.beta1 * self.m[k] + (1.0 - self.beta1) * g",
        "self.m[k] = self.beta2 * self.m[k] + (1.0 - self.beta2) * g"),
       ("self.v[k] = self.beta2 * self.v[k] + (1.0 - self.beta2) * g * g",
        "self.v[k] = self.beta1 * self.v[k] + (1.0 - self.beta1) * g * g")],
      ["swapped"]),

    # ---- 11. running_stats (normalize.py) ----------------------------------------------------------------
    M("running_stats", "N never updated", "normalize",
      [("self.mean, self.N = self.mean + delta * N_b / N, N", "self.mean = self.mean + delta * N_b / N")],
      ["N' = N + N_b"]),
    M("running_stats", "M2_b as the batch's variance", "normalize",
      [("np.sum((x - m_b) ** 2, axis=0)", "np.var(x, axis=0)")],
      ["not np.var"]),
    M("running_stats", "delta taken after the mean moved", "normalize",
      [("        self.M2 = self.M2 + np.sum((x - m_b) ** 2, axis=0) + delta**2 * self.N * N_b / N\n"
        "        self.mean, self.N = self.mean + delta * N_b / N, N",
        "        self.mean = self.mean + delta * N_b / N\n"
        "        self.M2 = self.M2 + np.sum((x - m_b) ** 2, axis=0) + (m_b - self.mean)**2 * self.N * N_b / N\n"
        "        self.N = N")],
      ["old mean"]),

    # ---- 12. rollout (rollout.py) ------------------------------------------------------------------------
    M("rollout", "the reset step counted in an episode's length", "rollout",
      [("self.ep_len += valid", "self.ep_len += 1")],
      ["reset step", "length"]),
    M("rollout", "G without gamma", "rollout",
      [("G = np.where(valid, self.gamma * self.G + rw, 0.0)", "G = np.where(valid, self.G + rw, 0.0)")],
      ["G without gamma"]),
    M("rollout", "episode return not reset", "rollout",
      [("self.ep_ret[ended], self.ep_len[ended] = 0.0, 0", "self.ep_len[ended] = 0")],
      ["not reset to 0"]),
    M("rollout", "grid flattened time by time", "rollout",
      [("e_idx, t_idx = np.nonzero(valid.T)", "t_idx, e_idx = np.nonzero(valid)")],
      ["copy by copy"]),
    M("rollout", "the unclipped action sent to the environment", "rollout",
      [("self.envs.step(env_action(self.act_space, a))", "self.envs.step(a)")],
      ["env_action"]),
    M("rollout", "terminated taken as ended", "rollout",
      [("term[t_idx[ends], e_idx[ends]]", "ended[t_idx[ends], e_idx[ends]]")],
      ["truncation marked as a termination"]),

    # ---- 13. closing_values (algorithm.py) ---------------------------------------------------------------
    M("closing_values", "terminated ignored", "algorithm",
      [("return np.where(batch.terminated, 0.0, value_fn.predict(batch.final_obs))",
        "return value_fn.predict(batch.final_obs)")],
      ["termination closed with V(s_T)"]),
    M("closing_values", "bootstrapped from the last stored observation", "algorithm",
      [("return np.where(batch.terminated, 0.0, value_fn.predict(batch.final_obs))",
        "return np.where(batch.terminated, 0.0, value_fn.predict(batch.obs[batch.stops - 1]))")],
      ["s_(T-1)"]),

    # ---- 14. policy_step (algorithm.py) ------------------------------------------------------------------
    M("policy_step", "KL with the sign flipped", "algorithm",
      [('"kl": float(np.mean(logp_old - logp_new))', '"kl": float(np.mean(logp_new - logp_old))')],
      ["kl", "log pi_old - log pi_new"]),
    M("policy_step", "entropy measured before the step", "algorithm",
      [("    M = len(Phi)\n    logp_old = policy.log_prob(obs, act)",
        "    M = len(Phi)\n    H = float(np.mean(policy.entropy(obs)))\n    logp_old = policy.log_prob(obs, act)"),
       ('"entropy": float(np.mean(policy.entropy(obs)))', '"entropy": H')],
      ["entropy", "after the step"]),
    M("policy_step", "delta_loss_pi reversed", "algorithm",
      [('"delta_loss_pi": loss_new - loss_old', '"delta_loss_pi": loss_old - loss_new')],
      ["delta_loss_pi"]),
    M("policy_step", "loss_pi measured after the step", "algorithm",
      [("return {\"loss_pi\": loss_old,", "return {\"loss_pi\": loss_new,")],
      ["before the step"]),

    # ---- 15. vpg (algorithm.py) --------------------------------------------------------------------------
    M("vpg", "lr_decay ignored", "algorithm",
      [("            if cfg.lr_decay:                                          # (28) alpha_k = alpha_0 (1 - k / K)\n"
        "                s.pi_opt.lr, s.vf_opt.lr = (lr * (1 - k / cfg.epochs) for lr in (cfg.pi_lr, cfg.vf_lr))\n",
        "")],
      ["lr_decay ignored"]),
    M("vpg", "a resumed state restarted at epoch 0", "algorithm",
      [("for k in range(s.epoch, cfg.epochs):", "for k in range(cfg.epochs):")],
      ["s.epoch"]),
    M("vpg", "env_steps and mean_value missing from the record", "algorithm",
      [("            record.update(env_steps=s.env_steps, mean_value=float(batch.mean(val)))\n", "")],
      ["env_steps"]),
    M("vpg", "observation statistics updated before the step", "algorithm",
      [("            segments = zip(batch.starts, batch.stops, closing_values(batch, s.value_fn))         # (14)\n",
        "            if cfg.normalize_obs:\n                s.obs_stats.update(batch.obs)\n"
        "            segments = zip(batch.starts, batch.stops, closing_values(batch, s.value_fn))         # (14)\n"),
       ("            if cfg.normalize_obs:\n                s.obs_stats.update(batch.obs)                 # (24): "
        "the next epoch sees them normalised anew\n", "")],
      ["normalize_obs", "after"]),
    M("vpg", "rewards scaled by the rewards' own std", "algorithm",
      [("s.ret_stats.update(batch.G)", "s.ret_stats.update(batch.rew)")],
      ["scale_rewards", "G"]),
    M("vpg", "normalize_adv ignored", "algorithm",
      [("            if cfg.normalize_adv:                                     # to mean 0 and std 1 over the batch\n"
        "                mu = batch.mean(Phi)",
        "            if True:\n                mu = batch.mean(Phi)")],
      ["though normalize_adv is False"]),
    M("vpg", "mean_value measured after the fit", "algorithm",
      [("mean_value=float(batch.mean(val))", "mean_value=float(np.mean(s.value_fn.predict(batch.obs)))")],
      ["mean_value", "before"]),
    M("vpg", "env_steps counting the steps asked for", "algorithm",
      [("s.env_steps + len(batch.rew)", "s.env_steps + cfg.steps_per_epoch")],
      ["env_steps", "len(batch.rew)"]),
]

# Written after the checks above were in place, and measured on their first run before any check was changed for
# them (the report of issue 31): a held-out set, one or two an exercise.
HELD_OUT = [
    M("backprop", "the gradients returned in the wrong order", "nn",
      [("return dy @ W.T, x.T @ dy, dy.sum(axis=0)", "return x.T @ dy, dy @ W.T, dy.sum(axis=0)")],
      ["another order"]),
    M("categorical", "the max over the whole batch", "distributions",
      [("z_max = z.max(axis=-1, keepdims=True)", "z_max = z.max()")],
      ["whole batch"]),
    M("gaussian", "u divided by the variance in the score", "distributions",
      [("    u = (a - mu) * np.exp(-log_std)                          # (N, d_a)\n    return u * np.exp(-log_std), u * u - 1.0",
        "    u = (a - mu) * np.exp(-2 * log_std)\n    return u, u * u - 1.0")],
      ["divided by the variance"]),
    M("reward_to_go", "y_t stored before x_t is added", "advantages",
      [("        running = x[t] + discount * running\n        y[t] = running",
        "        y[t] = running\n        running = x[t] + discount * running")],
      ["shifted by one"]),
    M("gae", "delta discounted by gamma lam", "advantages",
      [("return discount_cumsum(td_residual(rew, val, last_value, gamma), gamma * lam)",
        "return discount_cumsum(td_residual(rew, val, last_value, gamma * lam), gamma * lam)")],
      ["delta computed with gamma lam"]),
    M("nstep", "n ignored", "advantages",
      [("m = np.minimum(min(n, len(rew)), len(rew) - t)", "m = np.minimum(1, len(rew) - t)")],
      ["n ignored"]),
    M("batch_weights", "R_hat closed with 0", "advantages",
      [("R_hat[s] = reward_to_go(rew[s], last_value, gamma)", "R_hat[s] = reward_to_go(rew[s], 0.0, gamma)")],
      ["closed by its last_value"]),
    M("gaussian_policy", "log sigma's gradient summed to a scalar", "policies",
      [('grads["log_std"] = Phi @ dlog_std', 'grads["log_std"] = (Phi[:, None] * dlog_std).sum()')],
      ["of shape (act_dim,)"]),
    M("value_loss", "L as the square of the mean error", "policies",
      [("return float(err @ err) / M,", "return float(np.mean(err)) ** 2,")],
      ["the square of the mean error"]),
    M("adam", "t counted after the bias correction", "optim",
      [("        self.t += 1\n        for k, g in grads.items():\n",
        "        for k, g in grads.items():\n"),
       ("            self.params[k] -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)",
        "            self.params[k] -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)\n        self.t += 1")],
      ["t is still 0"]),
    M("running_stats", "the mean moved by N instead of N_b", "normalize",
      [("self.mean + delta * N_b / N, N", "self.mean + delta * self.N / N, N")],
      ["moved by N / N'"]),
    M("rollout", "the observation never advanced", "rollout",
      [("self.resetting, self.obs = ended, o2", "self.resetting = ended")],
      ["never advanced"]),
    M("closing_values", "V of the segment's first observation", "algorithm",
      [("return np.where(batch.terminated, 0.0, value_fn.predict(batch.final_obs))",
        "return np.where(batch.terminated, 0.0, value_fn.predict(batch.obs[batch.starts]))")],
      ["first observation"]),
    M("policy_step", "Phi normalised again inside the step", "algorithm",
      [("    M = len(Phi)\n    logp_old", "    M = len(Phi)\n    Phi = (Phi - Phi.mean()) / (Phi.std() + 1e-8)\n    logp_old")],
      ["Phi normalised inside"]),
    M("vpg", "returns scaled before their statistics are updated", "algorithm",
      [("                s.ret_stats.update(batch.G)                                                     # (24)\n"
        "                rew = rew / np.sqrt(s.ret_stats.var() + 1e-8)                                   # (26)\n",
        "                rew = rew / np.sqrt(s.ret_stats.var() + 1e-8)\n                s.ret_stats.update(batch.G)\n")],
      ["scale_rewards: s.ret_stats.update(batch.G), then"]),
]
