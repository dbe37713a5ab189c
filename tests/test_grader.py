"""nppg exercise check's guarantees (docs/grading.md): an exercise that never ends, a module that does not compile,
a use of nppg's own code and a mistake in a function others call each cost one exercise; the results file is
written after a Ctrl-C or a SIGTERM; exercises are chosen by ladder number."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from nppg import course
from nppg.course.grader import run_checks
from nppg.tools.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TD = "    return rew + gamma * np.append(val[1:], last_value) - val"          # td_residual's body
GAE = "    return discount_cumsum(td_residual(rew, val, last_value, gamma), gamma * lam)"
NSTEP = "def nstep_advantages(rew, val, last_value, gamma, n):\n"


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("ws") / "solved")
    course.start(d, solutions=True)
    return d


def planted(solved, tmp_path, module, *edits):
    """A copy of the complete workspace with ``edits`` ((old, new), ...) made to its ``module``."""
    d = str(tmp_path / "ws")
    shutil.copytree(solved, d)
    path = os.path.join(d, "mypg", f"{module}.py")
    source = open(path).read()
    for old, new in edits:
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    open(path, "w").write(source)
    return d


def check(directory, *names, **kw):
    lines = []
    code = run_checks(directory, list(names), out=lines.append, **kw)
    return code, "\n".join(lines)


def failing(out):
    return re.findall(r"^\s*\d+\. (\w+)(?: \([\d, ]+\))?: FAIL$", out, re.M)


def test_an_endless_loop_fails_its_own_exercise_as_timed_out_and_the_rest_are_graded(solved, tmp_path):
    """A Python loop (gae) and a call that never returns to Python (nstep sleeps in C): both processes killed."""
    d = planted(solved, tmp_path, "advantages", (TD, "    t = 0\n    while t < len(rew):\n        pass\n    return rew"),
                (NSTEP, NSTEP + "    import ctypes\n    ctypes.CDLL(None).sleep(100000)\n"))
    t0 = time.monotonic()
    code, out = check(d, "reward_to_go", "gae", "nstep", "batch_weights", timeout=4)
    assert time.monotonic() - t0 < 60
    assert code == 1 and failing(out) == ["gae", "nstep"] and "2 of 4 exercises pass" in out, out
    assert out.count("timed out after 4 s (a loop that never ends?)") == 2, out


def test_one_mistake_in_a_function_others_call_costs_only_its_own_exercise(solved, tmp_path):
    """td_residual with np.roll (V(s_T) taken from the segment's start): gae fails; nstep, batch_weights and vpg,
    graded with nppg's td_residual, pass; the pieces together fail once."""
    d = planted(solved, tmp_path, "advantages", (TD, "    return rew + gamma * np.roll(val, -1) - val"))
    code, out = check(d, "gae", "nstep", "batch_weights", "vpg", "together")
    assert code == 1 and failing(out) == ["gae", "together"], out
    assert "V(s_(t+1))" in out.split("together")[0]


@pytest.mark.parametrize("how", ["import", "source", "importlib"])
def test_a_use_of_nppgs_own_code_is_refused_with_a_message_that_says_so(solved, tmp_path, how):
    body = {"import": "    import nppg.advantages as ref\n    return ref.gae(rew, val, last_value, gamma, lam)",
            "source": "    import nppg\n    ns = {}\n    exec(open(nppg.__file__.replace('__init__', 'advantages')).read(), ns)"
                      "\n    return ns['gae'](rew, val, last_value, gamma, lam)",
            "importlib": "    import importlib, sys\n    for m in [m for m in sys.modules if m.startswith('nppg')]:\n"
                         "        del sys.modules[m]\n    ref = importlib.import_module('nppg.advantages')\n"
                         "    return ref.gae(rew, val, last_value, gamma, lam)"}[how]
    d = planted(solved, tmp_path, "advantages", (GAE, body))
    code, out = check(d, "gae", "nstep")
    assert code == 1 and failing(out) == ["gae"], out
    assert re.search(r"your code (uses nppg's own code|reads nppg's own source)", out), out
    assert "nppg is not there for your functions" in out


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_results_json_is_written_after_a_ctrl_c_or_a_sigterm(solved, tmp_path, sig):
    """The third exercise never ends; the grader is stopped while it runs: the two graded are in results.json,
    with their points, and the rest are listed as not graded."""
    d = planted(solved, tmp_path, "distributions",
                ("def gaussian_log_prob(mu, log_std, a):\n", "def gaussian_log_prob(mu, log_std, a):\n    while True:\n"
                                                             "        pass\n"))
    path = tmp_path / "results.json"
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "nppg", "exercise", "check", d, "--json", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith(" 2. categorical"):
            break
    time.sleep(1.0)
    proc.send_signal(sig)
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, "".join(seen) + rest
    r = json.loads(path.read_text())
    assert len(r["tests"]) == 16 and r["score"] == 2, r
    assert [t["score"] for t in r["tests"][:2]] == [1, 1]
    assert all(t["score"] == 0 and "not graded: the grading was interrupted" in t["output"] for t in r["tests"][2:])
    assert "interrupted" in r["output"]


def test_check_takes_the_ladders_numbers_and_ranges(solved, capsys):
    assert main(["exercise", "check", solved, "4", "6-7", "16"]) == 0
    out = capsys.readouterr().out
    assert re.findall(r"^\s*(\d+)\. (\w+)", out, re.M) == [("4", "reward_to_go"), ("6", "nstep"),
                                                           ("7", "batch_weights"), ("16", "together")]
    assert main(["exercise", "check", solved, "17"]) == 1
    assert "no exercise 17" in capsys.readouterr().err


# ---- the instructor's kit ---------------------------------------------------------------------------------------

def test_prefill_gives_the_chosen_exercises_out_solved(tmp_path, capsys):
    d = str(tmp_path / "ws")
    assert main(["exercise", "start", d, "--prefill", "backprop", "10"]) == 0
    assert "given out solved: backprop, adam" in capsys.readouterr().out
    assert "Given out solved (nothing to write): backprop, adam." in open(os.path.join(d, "README.md")).read()
    code, out = check(d, "backprop", "categorical", "adam")
    assert code == 1 and failing(out) == ["categorical"] and "not implemented yet" in out, out


def test_points_and_hidden_checks_from_the_instructors_config(solved, tmp_path):
    config = tmp_path / "grading.json"
    config.write_text(json.dumps({"points": {"gae": 4}, "hidden": ["agreement"], "hidden_share": 0.25,
                                  "hidden_visibility": "after_due_date"}))
    path = tmp_path / "results.json"
    assert main(["exercise", "check", solved, "gae", "rollout", "--json", str(path), "--config", str(config)]) == 0
    tests = json.loads(path.read_text())["tests"]
    assert [(t["name"].split(":")[0], t["max_score"], t["visibility"]) for t in tests] == [
        ("5. gae (11, 12)", 3.0, "visible"), ("5. gae (11, 12)", 1.0, "after_due_date"),
        ("12. rollout (14)", 1.5, "visible"), ("12. rollout (14)", 0.5, "after_due_date")]
    assert all(t["score"] == t["max_score"] for t in tests)
    assert "[agreement]" in tests[1]["output"] and "[agreement]" not in tests[0]["output"]
    config.write_text(json.dumps({"points": {"softmax": 1}}))
    assert main(["exercise", "check", solved, "gae", "--config", str(config)]) == 1


@pytest.mark.parametrize("text, said", [(None, "cannot read the grading settings"), ("{points", "is not JSON"),
                                        ("[1]", "the grading settings are one JSON object")])
def test_a_config_that_cannot_be_read_is_named_not_a_traceback(tmp_path, capsys, text, said):
    config = tmp_path / "grading.json"
    if text is not None:
        config.write_text(text)
    assert main(["exercise", "autograder", str(tmp_path / "out"), "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err and not (tmp_path / "out").exists()


def test_the_autograder_grades_a_submission_laid_out_as_gradescope_lays_it_out(solved, tmp_path):
    """The zip unpacked into ROOT/source, the student's mypg/ (gae wrong) in ROOT/submission; run_autograder writes
    ROOT/results/results.json with one test per exercise (the agreement checks hidden until the due date)."""
    import zipfile
    config = tmp_path / "grading.json"
    config.write_text(json.dumps({"hidden": ["agreement"]}))
    out = tmp_path / "out"
    assert main(["exercise", "autograder", str(out), "--config", str(config)]) == 0
    assert {"setup.sh", "run_autograder", "autograder.zip"} <= set(os.listdir(out))
    root = tmp_path / "autograder"
    with zipfile.ZipFile(out / "autograder.zip") as z:
        z.extractall(root / "source")
        assert {"setup.sh", "run_autograder", "grading.json", "nppg/course/grader.py"} <= set(z.namelist())
    os.chmod(root / "source" / "run_autograder", 0o755)
    shutil.copytree(os.path.join(solved, "mypg"), root / "submission" / "mypg")
    gae = root / "submission" / "mypg" / "advantages.py"
    gae.write_text(gae.read_text().replace(TD, "    return rew + gamma * np.roll(val, -1) - val"))
    env = dict(os.environ, NPPG_AUTOGRADER_ROOT=str(root), NPPG_PYTHON=sys.executable)
    run = subprocess.run([str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    r = json.loads((root / "results" / "results.json").read_text())
    failed = sorted({t["name"].split(":")[0] for t in r["tests"] if t["score"] < t["max_score"]})
    assert failed == ["16. together", "5. gae (11, 12)"], r["output"]
    assert {t["visibility"] for t in r["tests"]} == {"visible", "after_due_date"}
    assert r["score"] == sum(t["score"] for t in r["tests"]) and "execution_time" in r


def test_a_crash_costs_its_own_exercise_and_a_missing_workspace_still_writes_results(solved, tmp_path):
    d = planted(solved, tmp_path, "normalize", ("    def update(self, x):\n", "    def update(self, x):\n"
                                                                             "        import os\n        os._exit(3)\n"))
    code, out = check(d, "adam", "running_stats", "rollout")
    assert code == 1 and failing(out) == ["running_stats"], out
    assert "the grading process ended without its result (exit status 3)" in out
    path = tmp_path / "results.json"
    assert main(["exercise", "check", str(tmp_path / "nothing"), "--json", str(path)]) == 1
    r = json.loads(path.read_text())
    assert r["score"] == 0 and len(r["tests"]) == 16 and "has no mypg/__init__.py" in r["output"]
