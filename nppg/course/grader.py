"""nppg exercise check: the grader. It runs each exercise's checks (``checks/``) in a process of its own, under a
time limit, on the package that exercise is graded on (``isolation.py``: the student's functions of that
exercise, nppg's for the rest), prints what each check found, and writes Gradescope's results.json.

What it promises (docs/grading.md): an exercise that loops forever, crashes Python or uses nppg's own code
fails alone, and the rest are graded; one mistake costs one exercise; the results file is written whatever
happens, a Ctrl-C or a SIGTERM included, with what was graded so far."""
import json
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
import warnings

import numpy as np

from .checks import CHECKS, Fail, NotYet, common
from .isolation import VIOLATIONS, UsesNppg, exercise_package, guard
from .ladder import GRADED, PACKAGE, TIMEOUT, number, select
from .workspace import load

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
USES_NPPG_HINT = "    hint: write it with NumPy and your workspace's own modules; nppg is not there for your functions"


# ---- in the grading process: one exercise ------------------------------------------------------------------------

def grade(exercise, S, report, hidden=(), seed=None):
    """Run ``exercise``'s checks on the package ``S`` in order, up to the first that fails; ``report(kind, status,
    lines)`` is called after each (status: "ok", "fail" or "not yet"). The checks of a ``hidden`` kind draw their
    inputs from ``seed`` when it is given (fresh inputs the student never saw)."""
    for kind, what, check in CHECKS[exercise.name]:
        common.SEED = seed if kind in hidden else None
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                check(S)
                if VIOLATIONS:
                    raise UsesNppg(VIOLATIONS[0])
        except (NotYet, Fail, Exception) if VIOLATIONS else ():   # the student's code caught the refusal
            return report(kind, "fail", [f"  FAIL [{kind}] {what}", f"    {VIOLATIONS[0]}", USES_NPPG_HINT])
        except NotYet as e:
            return report(kind, "not yet", [f"  not implemented yet: {e}"])
        except Fail as f:
            return report(kind, "fail", [f"  FAIL [{kind}] {what}", f"    {f.what}",
                                         f"    equation ({f.eq or exercise.eqs})", f"    hint: {f.hint}"])
        except UsesNppg as e:
            return report(kind, "fail", [f"  FAIL [{kind}] {what}", f"    {e}", USES_NPPG_HINT])
        except Exception as e:  # e.g. a student's function that returns something unusable
            return report(kind, "fail", [f"  FAIL [{kind}] {what}", f"    {type(e).__name__}: {e}",
                                         f"    equation ({exercise.eqs})",
                                         "    hint: check the types and shapes your functions return against their "
                                         "docstrings"])
        report(kind, "ok", [f"  ok   [{kind}] {what}"])


def _child(conn, directory, name, hidden, seed):
    """The grading process of one exercise: messages ("check", kind, status, lines) then ("done",)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # a Ctrl-C is the grader's to handle: it ends this process
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    exercise = next(e for e in GRADED if e.name == name)
    report = lambda kind, status, lines: conn.send(("check", kind, status, lines))  # noqa: E731
    try:
        guard(directory)
        try:
            S = exercise_package(directory, exercise) if exercise.module else load(directory)
        except (Exception, UsesNppg) as e:
            where = f"your {exercise.module}.py" if exercise.module else f"your package {PACKAGE}"
            kind, what, _ = CHECKS[name][0]
            report(kind, "fail", [f"  FAIL: {where} does not import: {type(e).__name__}: {e}",
                                  "    hint: run python -c 'import mypg' in the workspace to see the whole error; "
                                  "only the exercises of this module are held back by it"
                                  if exercise.module else "    hint: every exercise's module must import"])
        else:
            grade(exercise, S, report, hidden, seed)
    except BaseException as e:  # SystemExit from the student's code, or anything the checks did not foresee
        report(None, "fail", [f"  FAIL: grading stopped: {type(e).__name__}: {e}"])
    conn.send(("done",))
    conn.close()


# ---- in the grader: processes, time limits ------------------------------------------------------------------------

def _context():
    """fork where it is safe and fast (Linux: the checks are imported once, each exercise starts at once);
    forkserver elsewhere on POSIX, spawn on Windows."""
    methods = multiprocessing.get_all_start_methods()
    method = "fork" if sys.platform.startswith("linux") else "forkserver" if "forkserver" in methods else "spawn"
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload([__name__])   # the server imports the checks once; each exercise forks from it
    return ctx


class _Interrupted(KeyboardInterrupt):
    """A SIGTERM, handled as a Ctrl-C: the results so far are written."""


class Graded:
    """One exercise's outcome: its checks' (kind, status, lines) in order, and how its process ended."""

    def __init__(self, exercise):
        self.exercise, self.checks, self.ended = exercise, [], None   # ended: None (running), "done", or a message

    def passed(self, kinds=None):
        wanted = [kind for kind, _, _ in CHECKS[self.exercise.name] if kinds is None or kind in kinds]
        got = {kind: status for kind, status, _ in self.checks if kind}
        return bool(wanted) and self.ended == "done" and all(got.get(k) == "ok" for k in wanted) and \
            not any(status != "ok" for kind, status, _ in self.checks if kind is None)

    def stop(self, message, hint):
        """The process ended before its last check: the check it was in fails with ``message``."""
        done = len(self.checks)
        kind, what, _ = CHECKS[self.exercise.name][min(done, len(CHECKS[self.exercise.name]) - 1)]
        self.checks.append((kind, "fail", [f"  FAIL [{kind}] {what}", f"    {message}", f"    hint: {hint}"]))
        self.ended = message

    def lines(self, kinds=None):
        return [line for kind, _, lines in self.checks if kinds is None or kind is None or kind in kinds
                for line in lines]


def run_all(directory, exercises, timeout, jobs, on_result, hidden=(), seed=None):
    """Grade ``exercises``, ``jobs`` processes at a time, each under ``timeout`` seconds; ``on_result(Graded)`` is
    called in ladder order as they finish. On a Ctrl-C the processes are killed and KeyboardInterrupt raised."""
    ctx, pending, running, finished, shown = _context(), list(exercises), {}, {}, 0
    try:
        while pending or running:
            while pending and len(running) < jobs:
                e = pending.pop(0)
                here, there = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_child, args=(there, directory, e.name, tuple(hidden), seed), daemon=True)
                proc.start()
                there.close()
                running[here] = (proc, Graded(e), time.monotonic())
            ready = multiprocessing.connection.wait(list(running), timeout=0.2)
            for conn in ready:
                proc, g, _ = running[conn]
                try:
                    while conn.poll():
                        msg = conn.recv()
                        if msg[0] == "check":
                            g.checks.append(msg[1:])
                        else:
                            g.ended = "done"
                except (EOFError, OSError):
                    pass
                if g.ended is None and not proc.is_alive() or g.ended == "done":
                    proc.join()
                    if g.ended is None:
                        code = proc.exitcode
                        how = f"killed by signal {-code}" if code and code < 0 else f"exit status {code}"
                        g.stop(f"the grading process ended without its result ({how})",
                               "your code ended Python itself: a crash in native code, os._exit, or all the memory")
                    finished[g.exercise] = g
                    del running[conn]
                    conn.close()
            for conn, (proc, g, started) in list(running.items()):
                if time.monotonic() - started > timeout:
                    proc.kill()
                    proc.join()
                    g.stop(f"timed out after {timeout:g} s (a loop that never ends?)",
                           "a while loop whose condition never changes, or a recursion without an end: the other "
                           "exercises are graded without it")
                    finished[g.exercise] = g
                    del running[conn]
                    conn.close()
            while shown < len(exercises) and exercises[shown] in finished:
                on_result(finished[exercises[shown]])
                shown += 1
    finally:
        for conn, (proc, g, _) in running.items():
            proc.kill()
            proc.join()
            conn.close()
    return [finished[e] for e in exercises]


# ---- results: the console and Gradescope's results.json -----------------------------------------------------------

def load_config(path):
    """The instructor's settings (docs/grading.md): {"points": {exercise: points}, "hidden": [kinds],
    "hidden_share": fraction, "hidden_visibility": ..., "hidden_seed": int, "timeout": seconds}."""
    if not path:
        return {}
    try:
        with open(path) as f:
            config = json.load(f)
    except OSError as e:
        raise ValueError(f"cannot read the grading settings {path}: {e.strerror}") from None
    except ValueError as e:
        raise ValueError(f"{path} is not JSON: {e}") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path}: the grading settings are one JSON object, {{\"points\": ..., ...}}")
    known = {"points", "hidden", "hidden_share", "hidden_visibility", "hidden_seed", "timeout"}
    if set(config) - known:
        raise ValueError(f"{path}: unknown settings {sorted(set(config) - known)}; known: {sorted(known)}")
    unknown = [n for n in config.get("points", {}) if n not in {e.name for e in GRADED}]
    if unknown:
        raise ValueError(f"{path}: no exercise {', '.join(unknown)} (points are given by exercise name)")
    if config.get("hidden_visibility", "after_due_date") not in VISIBILITIES:
        raise ValueError(f"{path}: hidden_visibility is one of {VISIBILITIES}")
    bad = set(config.get("hidden", ())) - set(common.KINDS)
    if bad:
        raise ValueError(f"{path}: hidden lists check kinds, of {common.KINDS}; not {sorted(bad)}")
    return config


def tests_of(e, g, config, interrupted=False):
    """Gradescope's tests for the exercise ``e`` graded as ``g`` (None: not graded): one, or two when some of its
    checks are hidden."""
    points = float(config.get("points", {}).get(e.name, e.points))
    hidden = set(config.get("hidden", ()))
    kinds = [kind for kind, _, _ in CHECKS[e.name]]
    shown, kept = [k for k in kinds if k not in hidden], [k for k in kinds if k in hidden]
    share = 0.0 if not kept else 1.0 if not shown else float(config.get("hidden_share", 0.25))
    title = f"{number(e)}. {e.name}" + (f" ({e.eqs})" if e.eqs else "")
    out = []
    for kinds_, part, visibility, suffix in ((shown, 1 - share, "visible", ""),
                                             (kept, share, config.get("hidden_visibility", "after_due_date"),
                                              ": checks on fresh inputs")):
        if not kinds_:
            continue
        ok = g is not None and g.passed(kinds_)
        head = f"{title}{suffix}: {'PASS' if ok else 'FAIL'}"
        body = g.lines(kinds_) if g is not None else \
            ["  not graded: the grading was interrupted" if interrupted else "  not graded"]
        if g is not None and not ok and not any(line.lstrip().startswith(("FAIL", "not implemented")) for line in body):
            body = body + ["  not run: an earlier check of this exercise failed"]
        out.append({"name": f"{title}: {e.title}{suffix}", "score": points * part if ok else 0.0,
                    "max_score": points * part, "output": "\n".join([head] + body), "visibility": visibility})
    return out


def results_json(path, exercises, graded, config, elapsed, interrupted, problem=None):
    """Write Gradescope's results.json (atomically); ``problem``: why nothing could be graded."""
    by = {g.exercise: g for g in graded}
    tests = [t for e in exercises for t in tests_of(e, by.get(e), config, interrupted)]
    score = sum(t["score"] for t in tests)
    passed = sum(by[e].passed() for e in exercises if e in by)
    summary = problem or f"{passed} of {len(exercises)} exercises pass" + \
        (f"; interrupted after {len(graded)} (the rest not graded)" if interrupted else "")
    result = {"score": score, "execution_time": round(elapsed, 1), "output": summary, "tests": tests}
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=2)
    os.replace(tmp, path)


def run_checks(directory, names=(), json_path=None, out=print, timeout=None, jobs=1, config=None):
    """Grade the workspace in ``directory`` (``names``: exercises by name or ladder number; all when empty); returns
    the exit status: 0 when every exercise graded passes, 1 when one fails, 130 when interrupted."""
    try:
        import hypothesis  # noqa: F401
    except ImportError:
        out("nppg exercise check: needs hypothesis: pip install 'nppg[course]'")
        return 1
    config = config or {}
    exercises = select(names)
    timeout = float(timeout or config.get("timeout", TIMEOUT))
    if not os.path.isfile(os.path.join(directory, PACKAGE, "__init__.py")):
        problem = f"{directory} has no {PACKAGE}/__init__.py: make a workspace with nppg exercise start DIR"
        if json_path:
            results_json(json_path, exercises, [], config, 0.0, False, problem)
        raise ValueError(problem)
    t0, graded, interrupted = time.monotonic(), [], False

    def show(g):
        graded.append(g)
        out(f"{number(g.exercise):>2}. {g.exercise.name}{f' ({g.exercise.eqs})' if g.exercise.eqs else ''}: "
            f"{'PASS' if g.passed() else 'FAIL'}")
        for line in g.lines():
            out(line)

    def terminate(signum, frame):
        raise _Interrupted()
    main = threading.current_thread() is threading.main_thread()
    if main:   # a Ctrl-C or SIGTERM ends the grading with the results so far, even where the shell ignored SIGINT
        previous = signal.signal(signal.SIGTERM, terminate), signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        run_all(os.path.abspath(directory), exercises, timeout, max(1, jobs), show, config.get("hidden", ()),
                config.get("hidden_seed"))
    except KeyboardInterrupt:
        interrupted = True
        out(f"interrupted: {len(graded)} of {len(exercises)} exercises graded")
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous[0])
            signal.signal(signal.SIGINT, previous[1])
        if json_path:
            results_json(json_path, exercises, graded, config, time.monotonic() - t0, interrupted)
    passed = sum(g.passed() for g in graded)
    out(f"{passed} of {len(exercises)} exercises pass")
    return 130 if interrupted else 0 if passed == len(exercises) else 1
