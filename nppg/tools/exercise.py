"""nppg exercise: the algorithm layer as a course. ``list`` prints the ladder; ``start DIR`` writes the eight
algorithm modules as the student's own package, each exercised function's body blanked; ``check DIR`` grades it
(``exercise_checks.py``); ``train DIR`` trains the student's own ``vpg`` and evaluates the final policy.

The blanks are made from nppg's own source through its syntax tree: each exercised function keeps the lines of
its signature and docstring, and only the lines of its body are replaced, so every other line of the copy is
nppg's as written and the blanks cannot drift from the solutions (``tests/test_exercise.py``)."""
import ast
import importlib.util
import os
import sys
import time
from dataclasses import dataclass

import numpy as np

import nppg
from ..engine.evaluate import evaluate
from ..engine.rollout import make_env
from .logger import console_header, console_line

PACKAGE = "mypg"  # the student's package: DIR/mypg/
MODULES = ("nn", "distributions", "policies", "advantages", "optim", "normalize", "rollout", "algorithm")


@dataclass(frozen=True)
class Exercise:
    name: str         # what ``nppg exercise check DIR NAME`` takes
    title: str
    module: str       # one of MODULES
    functions: tuple  # ((qualified name, equation), ...): the blanks, in the order they are written
    checks: str       # what its checks test, in a few words (docs/teaching.md has the table)

    @property
    def eqs(self):
        return ", ".join(sorted({n for _, eq in self.functions for n in eq.split(", ")}, key=int))


# The ladder, in the derivation's order (the equation numbers are the README's).
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
             "is never stored; the action stored is the one sampled"),
    Exercise("closing_values", "the closing value of a segment", "algorithm",
             (("closing_values", "14"),),
             "0 after a termination, V(s_T) of the true final observation after a truncation or a cut"),
    Exercise("policy_step", "the policy step", "algorithm",
             (("update_policy", "8"),),
             "the step is +lr/M sum grad log pi Phi (sign, 1/M); unbiased for grad J on an exact MDP"),
    Exercise("vpg", "the epochs of VPG, in the pseudocode's order", "algorithm",
             (("vpg", "7, 8, 9"),),
             "two epochs redone by hand from the same seed: V before its fit, Phi normalised over the batch, "
             "one policy step"),
)
BY_NAME = {e.name: e for e in LADDER}


def ladder_text():
    rows = [f"{i:>2}. {e.name:<15} ({e.eqs}) {e.title}: {', '.join(f for f, _ in e.functions)} in {e.module}.py"
            for i, e in enumerate(LADDER, 1)]
    return "\n".join(["The ladder (nppg exercise check DIR NAME checks one; the equations are the README's):"] + rows)


# ---- blanks from the source ------------------------------------------------------------------

def _function_node(tree, qualname):
    body, node = tree.body, None
    for part in qualname.split("."):
        node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == part), None)
        if node is None:
            raise LookupError(f"no {qualname} in the source")
        body = node.body
    return node


def body_lines(source, qualname):
    """(first, last) line numbers, 1-based and inclusive, of the body of ``qualname`` after its docstring,
    and the body's indentation."""
    node = _function_node(ast.parse(source), qualname)
    doc = node.body[0] if (isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
                           and isinstance(node.body[0].value.value, str)) else None
    first = doc.end_lineno + 1 if doc else node.body[0].lineno
    if node.body[0].lineno == node.lineno:
        raise ValueError(f"{qualname}: a body on the line of its def cannot be blanked")
    indent = " " * node.body[0].col_offset
    return first, node.end_lineno, indent


def blank(source, exercise):
    """``source`` with the bodies of ``exercise``'s functions replaced by ``raise NotImplementedError(...)``."""
    lines = source.splitlines(keepends=True)
    spans = sorted((body_lines(source, f) + (f, eq) for f, eq in exercise.functions), reverse=True)
    for first, last, indent, f, eq in spans:  # from the bottom up, so earlier line numbers stay right
        msg = f"{f}: exercise {exercise.name!r}, eq. ({eq})"
        lines[first - 1:last] = [f"{indent}raise NotImplementedError({msg!r})\n"]
    return "".join(lines)


def module_source(module, solutions=False):
    """What the workspace's ``module``.py holds: nppg's own source, its exercises blanked unless ``solutions``."""
    with open(os.path.join(os.path.dirname(nppg.__file__), f"{module}.py")) as f:
        source = f.read()
    if not solutions:
        for e in LADDER:
            if e.module == module:
                source = blank(source, e)
    return source


def init_source():
    """The workspace package's __init__: nppg's own exports of the eight modules, and nothing else."""
    with open(nppg.__file__) as f:
        tree = ast.parse(f.read())
    lines, names = [], []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module in MODULES:
            lines.append(ast.unparse(node))
            names += [a.asname or a.name for a in node.names]
    return (f'"""Your own VPG: nppg\'s algorithm layer with the exercises\' bodies to write (nppg exercise list)."""\n'
            + "\n".join(lines) + f"\n\n__all__ = {names!r}\n")


def workspace_readme():
    return f"""# Your VPG, from scratch

`{PACKAGE}/` is nppg's algorithm layer: eight modules, read in the order nn, distributions, policies,
advantages, optim, normalize, rollout, algorithm. Some functions keep only their signature and docstring
and raise `NotImplementedError`: write their bodies, one exercise at a time, in this order.

{ladder_text()}

    nppg exercise check .              # every exercise, in order; or: nppg exercise check . gae
    nppg exercise train .              # your own vpg on CartPole-v1: passes at a mean return >= 475

The equation numbers are those of nppg's README ("The derivation, in short").
"""


def start(directory, solutions=False):
    """Write the workspace into ``directory`` (new, or empty). Returns the package's path."""
    if os.path.exists(directory) and (not os.path.isdir(directory) or os.listdir(directory)):
        what = "is a file" if not os.path.isdir(directory) else "is not empty"
        raise ValueError(f"{directory} {what}: start a workspace in a new or empty directory "
                         "(nothing is overwritten)")
    pkg = os.path.join(directory, PACKAGE)
    os.makedirs(pkg)
    for module in MODULES:
        with open(os.path.join(pkg, f"{module}.py"), "w") as f:
            f.write(module_source(module, solutions))
    with open(os.path.join(pkg, "__init__.py"), "w") as f:
        f.write(init_source())
    with open(os.path.join(directory, "README.md"), "w") as f:
        f.write(workspace_readme())
    return pkg


_loaded = 0


def load(directory):
    """The workspace's package, imported under a name of its own (each call a fresh import)."""
    global _loaded
    init = os.path.join(directory, PACKAGE, "__init__.py")
    if not os.path.isfile(init):
        raise ValueError(f"{directory} has no {PACKAGE}/__init__.py: make a workspace with nppg exercise start DIR")
    _loaded += 1
    name = f"_nppg_workspace_{_loaded}"
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[os.path.dirname(init)])
    pkg = importlib.util.module_from_spec(spec)
    sys.modules[name] = pkg
    spec.loader.exec_module(pkg)
    for module in MODULES:
        setattr(pkg, module, importlib.import_module(f"{name}.{module}"))
    return pkg


# ---- training with the student's pieces ---------------------------------------------------------

# What ``exercise train`` runs, and what the final policy's 100-episode mean return must reach. CartPole: nppg's
# defaults (nppg's own plain vpg, seed 0, scores 500). Pendulum: examples/4_continuous.py's gamma and lam, 250
# epochs; nppg's own plain vpg, seed 0, scores -788 (the untrained policy about -1,100; docs/teaching.md).
TRAIN = {
    "CartPole-v1": ({}, 475.0),
    "Pendulum-v1": ({"gamma": 0.9, "lam": 0.95, "epochs": 250}, -1000.0),
}


def train(directory, env="CartPole-v1", seed=0, out=print):
    """Train the workspace's own ``vpg`` (plain, float64) and evaluate the final policy on 100 episodes as
    ``nppg eval`` does. Returns (mean return, threshold, passed)."""
    if env not in TRAIN:
        raise ValueError(f"--env must be one of {sorted(TRAIN)}; got {env!r}")
    settings, threshold = TRAIN[env]
    pkg = load(directory)
    out(f"nppg exercise train: {PACKAGE}.vpg({env!r}, seed={seed}"
        + "".join(f", {k}={v}" for k, v in settings.items()) + ")")
    out(console_header())
    t0 = [time.perf_counter()]

    def show(record, state):
        record["time_s"] = time.perf_counter() - t0[0]
        record["steps_per_s"] = record["env_steps"] / record["time_s"]
        out(console_line(record))
        return False

    state = pkg.vpg(env, seed=seed, callback=show, **settings)
    envs = make_env(env, 8)
    try:
        R, _ = evaluate(state.policy, envs, 100, np.random.default_rng(12345), False, 12345)
    finally:
        envs.close()
    mean = float(np.mean(R))
    passed = mean >= threshold
    out(f"final policy, 100 episodes: mean return {mean:.1f} +- {np.std(R):.1f}; "
        f"{'PASS' if passed else 'FAIL'} (needs >= {threshold:g})")
    return mean, threshold, passed
