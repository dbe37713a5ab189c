"""nppg exercise check: grade a workspace (``workspace.py``), one exercise at a time, in ladder order, with the
checks of ``checks/``; write Gradescope's results.json with ``--json``."""
import json
import warnings

import numpy as np

from .checks import CHECKS, Fail, NotYet
from .ladder import BY_NAME, LADDER
from .workspace import load


def grade(exercise, S):
    """(passed, output lines) of one exercise: its checks in order, up to the first that fails."""
    lines = []
    for kind, what, check in CHECKS[exercise.name]:
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                check(S)
        except NotYet as e:
            lines.append(f"  not implemented yet: {e}")
            return False, lines
        except Fail as f:
            lines += [f"  FAIL [{kind}] {what}", f"    {f.what}", f"    equation ({f.eq or exercise.eqs})",
                      f"    hint: {f.hint}"]
            return False, lines
        except Exception as e:  # e.g. a student's function that returns something unusable
            lines += [f"  FAIL [{kind}] {what}", f"    {type(e).__name__}: {e}", f"    equation ({exercise.eqs})",
                      "    hint: check the types and shapes your functions return against their docstrings"]
            return False, lines
        lines.append(f"  ok   [{kind}] {what}")
    return True, lines


def run_checks(directory, names=(), json_path=None, out=print):
    """Grade the workspace in ``directory``; returns the exit status (0: every exercise checked passes)."""
    try:
        import hypothesis  # noqa: F401
    except ImportError:
        out("nppg exercise check: needs hypothesis: pip install 'nppg[course]'")
        return 1
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise ValueError(f"no exercise {', '.join(unknown)}; the exercises: {', '.join(BY_NAME)}")
    chosen = [e for e in LADDER if not names or e.name in names]
    try:
        S, broken = load(directory), None
    except ValueError:
        raise
    except Exception as e:
        S, broken = None, f"{type(e).__name__}: {e}"
    tests, passed = [], 0
    for i, e in enumerate(chosen, 1):
        ok, lines = (False, [f"  FAIL: the workspace's package does not import: {broken}"]) if S is None else grade(e, S)
        head = f"{LADDER.index(e) + 1:>2}. {e.name} ({e.eqs}): {'PASS' if ok else 'FAIL'}"
        out(head)
        for line in lines:
            out(line)
        passed += ok
        tests.append({"name": f"{LADDER.index(e) + 1}. {e.name} ({e.eqs}): {e.title}", "score": float(ok),
                      "max_score": 1.0, "output": "\n".join([head] + lines)})
    out(f"{passed} of {len(chosen)} exercises pass")
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"score": float(passed), "max_score": float(len(chosen)), "tests": tests}, f, indent=2)
    return 0 if passed == len(chosen) else 1
