"""``nppg exercise autograder OUT``: a Gradescope autograder for the course (docs/grading.md).

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh`` once to build its image, then, for each
submission, ``run_autograder`` with the student's files in ``/autograder/submission``; the grade is what
``/autograder/results/results.json`` holds when it ends. ``run_autograder`` calls ``python -m nppg.course.autograder``
(``grade_submission`` below) with the copy of nppg packed into the zip, so the checks are those of the nppg the
instructor handed the workspace out with. ``NPPG_AUTOGRADER_ROOT`` (default ``/autograder``) moves the three
folders elsewhere: that is how the autograder is run locally, and how tests/test_grader.py runs it."""
import json
import os
import shutil
import sys
import tempfile
import zipfile

import nppg
from .ladder import MODULES, PACKAGE

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, to build the autograder's image (written by nppg exercise autograder).
set -e
apt-get update
apt-get install -y python3 python3-pip python3-venv
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install "numpy>=1.22" "gymnasium>=1.0" "hypothesis>=6"
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for each submission (written by nppg exercise autograder). NPPG_AUTOGRADER_ROOT moves
# /autograder elsewhere (to run it locally); NPPG_PYTHON names the Python to use.
ROOT="${NPPG_AUTOGRADER_ROOT:-/autograder}"
PY="${NPPG_PYTHON:-$ROOT/venv/bin/python}"
[ -x "$PY" ] || PY=python3
mkdir -p "$ROOT/results"
cd "$ROOT/source"
PYTHONPATH="$ROOT/source" OPENBLAS_NUM_THREADS=1 "$PY" -m nppg.course.autograder
if [ ! -s "$ROOT/results/results.json" ]; then   # the grader could not even start: say so rather than nothing
  echo '{"score": 0, "output": "the autograder could not start: ask your instructor", "tests": []}' \\
    > "$ROOT/results/results.json"
fi
"""


def write(out, config=None):
    """Write the autograder into the folder ``out``: setup.sh, run_autograder, grading.json (the instructor's
    settings), nppg/ (this nppg's own package) and autograder.zip holding them all. Returns the zip's path."""
    os.makedirs(out, exist_ok=True)
    files = {"setup.sh": SETUP, "run_autograder": RUN, "grading.json": json.dumps(config or {}, indent=2) + "\n"}
    for name, text in files.items():
        with open(os.path.join(out, name), "w") as f:
            f.write(text)
        if name != "grading.json":
            os.chmod(os.path.join(out, name), 0o755)
    src, dest = os.path.dirname(nppg.__file__), os.path.join(out, "nppg")
    if os.path.exists(dest):
        shutil.rmtree(dest)
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    path = os.path.join(out, "autograder.zip")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name in files:
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o755 if name != "grading.json" else 0o644) << 16
            with open(os.path.join(out, name), "rb") as f:
                z.writestr(info, f.read())
        for folder, _, names in os.walk(dest):
            for name in sorted(names):
                full = os.path.join(folder, name)
                z.write(full, os.path.relpath(full, out))
    return path


def workspace_of(submission, directory):
    """A workspace in ``directory`` from a submission: the workspace itself (``mypg/`` inside, at any depth), or the
    modules uploaded as loose files. A module not submitted stays blank: its exercises fail, and only they."""
    from .workspace import start
    start(directory)
    found = None
    for folder, dirs, names in os.walk(submission):
        if os.path.basename(folder) == PACKAGE and "__init__.py" in names:
            found = folder
            break
    if found is None:
        found = next((folder for folder, _, names in os.walk(submission) if any(f"{m}.py" in names for m in MODULES)),
                     submission)
    for m in MODULES:
        if os.path.isfile(os.path.join(found, f"{m}.py")):
            shutil.copy(os.path.join(found, f"{m}.py"), os.path.join(directory, PACKAGE, f"{m}.py"))
    return directory


def grade_submission(root=None):
    """What ``run_autograder`` runs: grade ``ROOT/submission`` into ``ROOT/results/results.json`` with the settings
    of ``ROOT/source/grading.json``."""
    from .grader import load_config, run_checks
    root = root or os.environ.get("NPPG_AUTOGRADER_ROOT", "/autograder")
    results = os.path.join(root, "results", "results.json")
    os.makedirs(os.path.dirname(results), exist_ok=True)
    config_path = os.path.join(root, "source", "grading.json")
    config = load_config(config_path) if os.path.isfile(config_path) else {}
    with tempfile.TemporaryDirectory(prefix="nppg-submission-") as tmp:
        ws = workspace_of(os.path.join(root, "submission"), os.path.join(tmp, "ws"))
        return run_checks(ws, (), results, config=config)


if __name__ == "__main__":
    code = grade_submission()
    sys.exit(0 if code in (0, 1) else code)   # a failing exercise is a grade, not an autograder failure
