"""nppg exercise: the ladder, the workspace made from nppg's own source, the checker and its hints, --json,
and training with the student's pieces (docs/teaching.md)."""
import ast
import difflib
import json
import os
import re
import sys
import time

import pytest

import nppg
from nppg.checks import zoo
from nppg import course as exercise
from nppg.tools.cli import main
from nppg.course.grader import run_checks

SRC = os.path.dirname(nppg.__file__)


def check(directory, *names):
    lines = []
    code = run_checks(directory, list(names), out=lines.append)
    return code, "\n".join(lines)


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("ws") / "solved")
    exercise.start(d, solutions=True)
    return d


@pytest.fixture(scope="module")
def blank(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("ws") / "blank")
    exercise.start(d)
    return d


def test_list_prints_the_ladder_in_order(capsys):
    assert main(["exercise", "list"]) == 0
    out = capsys.readouterr().out
    positions = [out.index(f" {e.name} ") for e in exercise.LADDER]
    assert positions == sorted(positions) and len(exercise.LADDER) == 15
    for e in exercise.LADDER:
        assert f"({e.eqs})" in out and all(f.split(".")[-1] in out for f, _ in e.functions)


def test_the_reference_bodies_pass_every_check_in_under_a_minute(solved):
    t0 = time.perf_counter()
    code, out = check(solved)
    assert time.perf_counter() - t0 < 60
    assert code == 0, out
    assert "16 of 16 exercises pass" in out and "FAIL" not in out


def test_a_blank_fails_each_exercise_with_not_implemented_yet_and_no_traceback(blank):
    code, out = check(blank)
    assert code == 1 and "0 of 16 exercises pass" in out and "Traceback" not in out
    for e in exercise.LADDER:
        block = out.split(f" {e.name} (")[1].split("\n", 2)[1]
        assert block.startswith("  not implemented yet: ") and f"exercise {e.name!r}, eq. (" in block
    assert out.split("16. together: FAIL\n")[1].startswith("  not implemented yet: ")


def test_start_refuses_a_directory_that_is_not_empty(blank, capsys):
    assert main(["exercise", "start", blank]) == 1
    assert "is not empty" in capsys.readouterr().err


def body_spans(source, exercised):
    """Line numbers (1-based) of the bodies, after the docstring, of the exercised functions: read here
    independently of exercise.py."""
    spans, tree = set(), ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for f in node.body:
                if isinstance(f, ast.FunctionDef) and f"{node.name}.{f.name}" in exercised:
                    spans |= body_of(f)
        elif isinstance(node, ast.FunctionDef) and node.name in exercised:
            spans |= body_of(node)
    return spans


def body_of(f):
    first = f.body[1].lineno if ast.get_docstring(f) is not None else f.body[0].lineno
    return set(range(first, f.end_lineno + 1))


@pytest.mark.parametrize("module", exercise.MODULES)
def test_the_workspace_is_nppgs_source_outside_the_blanked_bodies(blank, solved, module):
    source = open(os.path.join(SRC, f"{module}.py")).read()
    assert open(os.path.join(solved, "mypg", f"{module}.py")).read() == source
    mine = open(os.path.join(blank, "mypg", f"{module}.py")).read()
    # the course's notes of what the checks demand (ladder.CONTRACTS) taken out: appended to a docstring, or one
    mine = re.sub(r'\n\n +What nppg exercise check demands:.*?\n +"""', '"""', mine, flags=re.S)
    mine = re.sub(r'\n +"""\n +What nppg exercise check demands:.*?"""', "", mine, flags=re.S).splitlines()
    exercised = {f for e in exercise.LADDER if e.module == module for f, _ in e.functions}
    inside = body_spans(source, exercised)
    lines = source.splitlines()
    changed = 0
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, lines, mine, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        changed += 1
        assert set(range(i1 + 1, i2 + 1)) <= inside, lines[i1:i2]
        assert all(re.match(r"\s+raise NotImplementedError\([\"'].+ eq\. \(\d", x) for x in mine[j1:j2]), mine[j1:j2]
    assert changed == len(exercised)


def test_the_workspace_exports_what_nppg_exports_of_the_eight_modules(solved):
    pkg = exercise.load(solved)
    assert {"vpg", "VPGConfig", "Adam", "SGD", "MLP", "CategoricalPolicy", "GaussianPolicy", "ValueFunction",
            "gae", "reward_to_go", "batch_weights"} <= set(pkg.__all__)
    assert "train" not in pkg.__all__ and pkg.vpg.__module__.endswith(".algorithm")


# ---- planted mistakes, each caught with the hint that names it ---------------------------------

MISTAKES = {
    "score sign": ("distributions", "    dz = -np.exp(log_softmax(z))\n    dz[np.arange(len(a)), a] += 1.0",
                   "    dz = np.exp(log_softmax(z))\n    dz[np.arange(len(a)), a] -= 1.0",
                   "categorical", "a sign flipped in the score"),
    "softmax overflow": ("distributions", "    z_max = z.max(axis=-1, keepdims=True)                                    # (N, 1)\n"
                         "    return z - z_max - np.log(np.exp(z - z_max).sum(axis=-1, keepdims=True))",
                         "    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))",
                         "categorical", "softmax without subtracting the max"),
    "db mean": ("nn", "return dy @ W.T, x.T @ dy, dy.sum(axis=0)", "return dy @ W.T, x.T @ dy, dy.mean(axis=0)",
                "backprop", "the mean where a sum belongs"),
    "log sigma score without -1": ("distributions", "return u * np.exp(-log_std), u * u - 1.0",
                                   "return u * np.exp(-log_std), u * u", "gaussian", "the -1 is missing"),
    "missing gamma": ("advantages", "return discount_cumsum(np.append(rew, last_value), gamma)[:-1]",
                      "return discount_cumsum(np.append(rew, last_value), 1.0)[:-1]", "reward_to_go", "a missing gamma"),
    "across the boundary": ("advantages", "    return discount_cumsum(np.append(rew, last_value), gamma)[:-1]",
                            "    R = discount_cumsum(np.append(rew, last_value + CARRY[0]), gamma)[:-1]\n"
                            "    CARRY[0] = R[0]\n    return R\n\n\nCARRY = [0.0]",
                            "reward_to_go", "reward-to-go summed across an episode boundary"),
    "truncation closed with 0": ("advantages", "return rew + gamma * np.append(val[1:], last_value) - val",
                                 "return rew + gamma * np.append(val[1:], 0.0) - val", "gae",
                                 "a truncation closed with 0"),
    "GAE without gamma": ("advantages", "gamma), gamma * lam)", "gamma), lam)", "gae", "a missing gamma"),
    "value loss sum": ("policies", "(2 / M) * err[:, None]", "2 * err[:, None]", "value_loss",
                       "the sum where the mean belongs"),
    "Adam without bias correction": ("optim", "m_hat = self.m[k] / (1.0 - self.beta1 ** self.t)\n"
                                     "            v_hat = self.v[k] / (1.0 - self.beta2 ** self.t)",
                                     "m_hat = self.m[k]\n            v_hat = self.v[k]", "adam",
                                     "Adam without bias correction"),
    "merge with the mean of means": ("normalize", "self.mean + delta * N_b / N", "(self.mean + m_b) / 2",
                                     "running_stats", "the mean of the two means"),
    "closing a truncation with 0": ("algorithm", "np.where(batch.terminated, 0.0, value_fn.predict(batch.final_obs))",
                                    "np.zeros(len(batch.terminated))", "closing_values", "a truncation closed with 0"),
    "policy step sign": ("algorithm", "policy.grad_log_prob(obs, act, -Phi / M)", "policy.grad_log_prob(obs, act, Phi / M)",
                         "policy_step", "the sign"),
    "policy step sum": ("algorithm", "policy.grad_log_prob(obs, act, -Phi / M)", "policy.grad_log_prob(obs, act, -Phi)",
                        "policy_step", "the sum where the mean belongs"),
    "Gaussian mean's gradient without Phi": ("policies", "self.net.backward(Phi[:, None] * dmu, cache)",
                                             "self.net.backward(dmu, cache)", "gaussian_policy",
                                             "the mean's gradient without Phi"),
    "s_T as the last step's own observation": ("rollout", "next_obs[t_idx[ends], e_idx[ends]]",
                                               "obs[t_idx[ends], e_idx[ends]]", "rollout",
                                               "s_T taken as the last step's own observation"),
}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_planted_mistake_fails_with_the_hint_that_names_it(tmp_path, mistake):
    module, right, wrong, name, hint = MISTAKES[mistake]
    d = str(tmp_path / "ws")
    exercise.start(d, solutions=True)
    path = os.path.join(d, "mypg", f"{module}.py")
    source = open(path).read()
    assert source.count(right) == 1, right
    open(path, "w").write(source.replace(right, wrong))
    code, out = check(d, name)
    assert code == 1 and "FAIL [" in out and "Traceback" not in out, out
    hint_line = next(line for line in out.splitlines() if line.strip().startswith("hint:"))
    assert hint in hint_line, out
    assert re.search(r"equation \(\d", out) and " on " in out, out


# every bug of the zoo (nppg/checks/zoo.py, docs/bugs.md), planted in a complete workspace with the zoo's own
# edits: the exercise whose check fails, and words of the hint that names the misconception
ZOO = {
    "loss-sign": ("policy_step", "the sign"),
    "score-sign": ("categorical", "a sign flipped in the score"),
    "softmax-overflow": ("categorical", "softmax without subtracting the max"),
    "gaussian-mu-score-one-sigma": ("gaussian", "divide by sigma twice"),
    "log-std-without-phi": ("gaussian_policy", "log sigma's gradient without Phi"),
    "tanh-derivative-of-input": ("backprop", "tanh_backward chain"),
    "bias-grad-mean": ("backprop", "the mean where a sum belongs"),
    "rtg-across-episodes": ("batch_weights", "reward-to-go summed across segment boundaries"),
    "discount-twice-on-bootstrap": ("reward_to_go", "R_hat_T = V(s_T) = last_value"),
    "gae-missing-gamma": ("gae", "a missing gamma"),
    "td-residual-same-state": ("gae", "gamma V(s_(t+1))"),
    "running-stats-no-between-term": ("running_stats", "term of M2' is missing"),
    "adam-no-bias-correction": ("adam", "Adam without bias correction"),
    "truncation-as-termination": ("rollout", "a truncation marked as a termination"),
    "bootstrap-from-reset-obs": ("rollout", "s_T from the reset observation"),
    "reset-step-stored": ("rollout", "the autoreset step stored as a transition"),
    "clipped-action-logp": ("rollout", "the clipped action stored"),
    "several-policy-steps": ("policy_step", "one optimizer step"),
    "value-after-fit": ("vpg", "V fitted before the advantages are computed"),
    "phi-normalised-per-episode": ("vpg", "Phi normalised per episode"),
}


def test_the_zoo_table_lists_every_bug_of_the_zoo():
    assert sorted(ZOO) == sorted(b.name for b in zoo.BUGS)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("ws") / "planted")
    exercise.start(d, solutions=True)
    return d


@pytest.mark.parametrize("name", ZOO)
def test_every_zoo_bug_fails_its_exercise_with_the_hint_that_names_it(planted, name):
    bug, (ex, hint) = zoo.by_name(name), ZOO[name]
    path = os.path.join(planted, "mypg", f"{bug.module}.py")
    source = open(path).read()
    text = source
    for old, new in bug.edits:
        assert source.count(old) == 1, old
        text = text.replace(old, new, 1)
    try:
        open(path, "w").write(text)
        code, out = check(planted)
    finally:
        open(path, "w").write(source)
    assert code == 1 and "Traceback" not in out, out
    failing = re.findall(r"^\s*\d+\. (\w+)(?: \([\d, ]+\))?: FAIL$", out, re.M)
    assert failing in ([ex], [ex, "together"]), out      # the bug costs its own exercise, and no other
    block = out.split(f". {ex} (", 1)[1]
    hint_line = next(line for line in block.splitlines() if line.strip().startswith("hint:"))
    assert hint in hint_line, out
    assert re.search(r"equation \(\d", block), out


def test_a_syntax_error_in_one_module_costs_only_that_modules_exercises(tmp_path):
    d = str(tmp_path / "ws")
    exercise.start(d, solutions=True)
    with open(os.path.join(d, "mypg", "optim.py"), "a") as f:
        f.write("\ndef broken(:\n")
    code, out = check(d, "backprop", "value_loss", "adam", "policy_step", "together")
    assert code == 1 and "3 of 5 exercises pass" in out, out
    assert re.findall(r"^\s*\d+\. (\w+).*: FAIL$", out, re.M) == ["adam", "together"], out
    assert "your optim.py does not import: SyntaxError" in out and "package mypg does not import" in out


def test_json_is_gradescopes_results_format(blank, tmp_path):
    d = str(tmp_path / "ws")
    exercise.start(d, solutions=True)
    path = tmp_path / "results.json"
    assert main(["exercise", "check", blank, "gae", "adam", "--json", str(path)]) == 1
    r = json.loads(path.read_text())
    assert set(r) == {"score", "execution_time", "output", "tests"} and r["score"] == 0
    assert [t["name"].split(" ")[1] for t in r["tests"]] == ["gae", "adam"]
    for t in r["tests"]:
        assert set(t) == {"name", "score", "max_score", "output", "visibility"} and t["score"] == 0
        assert t["max_score"] == 1 and t["visibility"] == "visible"
        assert "not implemented yet" in t["output"]
    assert main(["exercise", "check", d, "gae", "--json", str(path)]) == 0
    assert json.loads(path.read_text())["score"] == 1


def test_without_hypothesis_the_checker_says_what_to_install(solved, monkeypatch):
    monkeypatch.setitem(sys.modules, "hypothesis", None)
    code, out = check(solved, "gae")
    assert code == 1 and out == "nppg exercise check: needs hypothesis: pip install 'nppg[course]'"


def test_unknown_exercise_names_are_refused(solved, capsys):
    assert main(["exercise", "check", solved, "softmax"]) == 1
    assert "no exercise softmax" in capsys.readouterr().err


def test_train_on_a_blank_workspace_says_not_implemented_yet(blank, capsys):
    assert main(["exercise", "train", blank]) == 1
    assert "not implemented yet" in capsys.readouterr().out


@pytest.mark.slow
def test_train_with_the_reference_bodies_passes_on_cartpole(solved, capsys):
    assert main(["exercise", "train", solved]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") >= 52 and "PASS (needs >= 475)" in out
