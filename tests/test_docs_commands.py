"""Every command shown in README.md and docs/ runs from a fresh clone of the repository.

Which text is a command (the extraction rule; ``python tests/test_docs_commands.py`` lists what it finds and
how each would run):

- the files: README.md and every ``docs/**/*.md``;
- in a fenced code block (no language, or bash, sh, shell, console) and in an indented code block (lines
  indented by 4 spaces or more after a blank line, as in a list item), each line whose first word is a
  command word (``nppg``, ``python``, ``python3``, ``pip``, ``mpiexec``, ``mpirun``, ``bash``, ``time``,
  ``/usr/bin/time``, or a shell loop's ``for``), perhaps after ``NAME=value`` settings; a line ending in
  ``\\`` goes on in the next, and a ``#`` comment after it is dropped;
- an inline code span (`` `...` ``, which may wrap to the next line) that starts with a command word and
  has at least three words, or is ``python`` and a script: `` `nppg exercise start hw1` `` and
  `` `python benchmarks/value_blocks.py` `` are commands, `` `nppg train` `` a name; a
  launcher or a module named alone (`` `mpiexec -n 2` ``, `` `python -m mpi4py` ``) is a name too, and so
  is a line of output (`` `nppg eval: error: ...` ``);
- a command with a placeholder (a word in capitals such as ``RUN``, ``DIR``, ``FILE.gif`` or ``N``, a
  ``<...>``, ``...``, or a synopsis's ``[--flag]``) is a template for the reader to fill in: listed, not run;
- ``<!-- not run: REASON -->`` marks the commands of the paragraph it is in, or else of the block or
  paragraph that follows it, as not run, with the reason; ``<!-- may exit N: REASON -->`` likewise accepts
  exit status N as well as 0 (a fresh exercise workspace fails its checks). A marker without a reason fails;
- a ```python block is example code, not run, unless ``<!-- run -->`` on the line before it asks: then it
  runs as one program, in its place among the page's commands (``epochs=N`` shrunk as ``--epochs N``), so
  that a command may read the run directory it wrote.

How each runs: the file's commands in order (a later one may read what an earlier one wrote; a repeat runs
once), each with ``bash -c`` in one fresh ``git clone`` of the repository per file, with this Python's
``nppg`` and ``python`` first on the PATH, one BLAS thread and matplotlib's Agg backend. Long runs are shrunk
by SHRINK (``--epochs 750`` becomes ``--epochs 6``, ``--epochs 50`` ``--epochs 2``, a list of seeds or tasks
its first two, ...) and ADD (``nppg bench`` gets ``--epochs 2``, the MuJoCo preset one copy of 1,000 steps an
epoch, ...). Not run, each with its reason: ``pip install`` (the rest of a ``pip install ... && nppg train``
line runs) and ``python -m pytest``, which CI runs itself (.ci/run, .ci/wheel); a command that fails only
because an optional package is not installed (MuJoCo, PyTorch: CI installs neither; it installs the ``mpi``
extra, so ``mpiexec`` commands run), known before it runs where NEEDS says so (a sweep's runs fail in logs of
their own), and a later command that reads what such a command would have written (its ``--out``); and an
inline span that argparse finds incomplete (`` `nppg plot --y eval_return` `` names a flag). A failure prints
the command as written, as run, and its output. Commands that train or benchmark are marked ``slow``; reading
the kept runs is not.
"""
import importlib.util
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys

import pytest

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
COMMAND_WORDS = ("nppg", "python", "python3", "pip", "mpiexec", "mpirun", "bash", "time", "/usr/bin/time", "for")
SHELL_FENCES = ("", "bash", "sh", "shell", "console")
MARKER = re.compile(r"<!--\s*(not run|may exit (\d+))\s*:?\s*(.*?)\s*-->")
RUN_PYTHON = re.compile(r"^\s*<!--\s*run\s*-->\s*$")  # the ```python block that follows is run too
PY_SHRINK = [(r"\bepochs=(\d+)", lambda m: f"epochs={fewer_epochs(int(m.group(1)))}")]
PLACEHOLDER = re.compile(r"^(?:[A-Z][A-Z0-9_]*(?:\.[a-z0-9]+)?\.?|.*<[^>]*>.*|.*\.\.\..*|\[.*|\{.*)$")



def fewer_epochs(n):
    """2 to 6 epochs for n, in n's order: a resume to more epochs than a run has still asks for more."""
    return min(n, 2 + sum(n > t for t in (50, 100, 200, 500)))


# Long runs shrunk: (pattern, replacement), applied in this order to the command as written.
SHRINK = [
    (r"--epochs (\d+)", lambda m: f"--epochs {fewer_epochs(int(m.group(1)))}"),
    (r"(mpi_speed\.py .*--epochs) 2\b", r"\1 3"),  # it times the epochs after the first two
    (r"--seeds (\d+) (\d+)(?: \d+)+", r"--seeds \1 \2"),          # a list of seeds: its first two
    (r"--env (\S+-v\d+) (\S+-v\d+)(?: [A-Z]\w*-v\d+)+", r"--env \1 \2"),  # a list of tasks: its first two
    (r"--eval-every [\d.e]+", "--eval-every 1000"),                 # an evaluation in every tiny epoch
    (r"--eval-episodes \d+", "--eval-episodes 2"),
    (r"--episodes \d+", "--episodes 2"),
    (r"--rounds \d+", "--rounds 1"),
    (r"(bug_zoo\.py .*--only [\w-]+)(?: [a-z][\w-]*)+", r"\1"),  # the bug zoo's bugs: the first one
    (r"(mpiexec|mpirun) -n \d+", r"\1 -n 2"),
]
# Commands that run long by default: (the command, [(flag, what to add when the command does not give it)]).
ADD = [
    (r"\bnppg bench\b", [("--epochs", "--epochs 2"), ("--steps-per-epoch", "--steps-per-epoch 400"),
                         ("--threads", "--threads 1")]),
    (r"\bpython3? examples/\d_\w+\.py\b", [("--epochs", "--epochs 2")]),
    (r"\bpython3? benchmarks/learning\.py\b", [("--epochs", "-- --epochs 2" )]),
    (r"\bpython3? benchmarks/mpi_speed\.py\b", [("--epochs", "--epochs 3"), ("--rounds", "--rounds 1")]),
    (r"\bpython3? benchmarks/value_blocks\.py\b", [("--rows", "--rows 2000")]),
    (r"\bpython3? examples/estimator_variance\.py\b", [("--episodes", "--episodes 2000")]),
    (r"\bpython3? benchmarks/teaching_figures\.py\b", [("--quick", "--quick")]),
    (r"\bpython3? benchmarks/bug_zoo\.py\b", [("--only", "--only loss-sign --no-suite"),  # one bug, not 20 suites
                                             ("--seeds", "--seeds 0")]),
    # one copy of 1,000 steps an epoch: a locomotion task's 1,000-step episode ends in each epoch, for the plots
    (r"--preset mujoco\b", [("--num-envs", "--num-envs 1"), ("--steps-per-epoch", "--steps-per-epoch 1000")]),
]
SKIP = [  # (pattern, reason): parts of commands this test does not run, and why
    (r"^(?:\S+=\S+ )*pip install\b", "installs packages into the environment the tests run in: .ci/run installs "
                                     "nppg so, and .ci/wheel installs the wheel in a fresh environment"),
    (r"\bpython3? -m pytest\b", "the test suite itself, which CI runs"),
]
MISSING = [  # (text in a failed command's output, what is not installed)
    ("No module named 'mujoco'", "MuJoCo (the mujoco extra) is not installed"),
    ("gymnasium[mujoco]", "MuJoCo (the mujoco extra) is not installed"),
    ("nppg[mujoco]", "MuJoCo (the mujoco extra) is not installed"),
    ("No module named 'torch'", "PyTorch is not installed"),
    ("No module named 'mpi4py'", "mpi4py (the mpi extra) is not installed"),
    ("mpiexec: command not found", "MPI (the mpi extra) is not installed"),
    ("/usr/bin/time: No such file", "GNU time is not installed"),
]
MUJOCO_TASKS = (r"\b(?:HalfCheetah|Hopper|Walker2d|Swimmer|Ant|Humanoid|Reacher|InvertedPendulum"
                r"|InvertedDoublePendulum)-v\d")
NEEDS = [  # (what in a command needs a module, the module, its reason) checked before it runs: a sweep's
    # runs fail in logs of their own, where MISSING would not see why
    (MUJOCO_TASKS, "mujoco", "MuJoCo (the mujoco extra) is not installed"),
    (r"benchmarks/mpi_speed\.py(?!.*--env)", "mujoco", "MuJoCo (the mujoco extra; mpi_speed.py's task is "
                                                       "HalfCheetah-v5) is not installed"),
    (r"\bmpiexec\b|\bmpi4py\b", "mpi4py", "mpi4py (the mpi extra) is not installed"),
]
# An inline span that names a command or a flag in prose, not a whole command: argparse says what is missing,
# and a launcher or a module named alone is a name.
FRAGMENT = ("the following arguments are required", "expected one argument", "expected at least one argument")
NAMES = [r"^(?:mpiexec|mpirun)(?: -n \d+)?$", r"^python3? -m [\w.]+$"]
QUICK = [r"mujoco_suite\.py docs/data/", r"mujoco_table\.py docs/data/", r"^nppg exercise list$", r"--help$"]


class Command:
    def __init__(self, path, line, text, marker=None, inline=False, python=False):
        self.path, self.line, self.text, self.inline, self.python = path, line, text, inline, python
        self.not_run = self.may_exit = None
        if marker:
            kind, status, reason = marker
            if kind == "not run":
                self.not_run = reason
            else:
                self.may_exit = (int(status), reason)

    @property
    def id(self):
        return f"{self.path}:{self.line}"

    def template(self):
        if self.python:
            return False
        try:
            words = shlex.split(self.text, comments=True)
        except ValueError:
            return True
        return any(PLACEHOLDER.match(w) and "=" not in w for w in words)

    def parts(self):
        """The command's parts joined by &&, each (text, reason it is not run or None)."""
        out = []
        for part in re.split(r"\s*&&\s*", self.text):
            reason = next((r for pattern, r in SKIP if re.search(pattern, part)), None)
            out.append((part, reason))
        return out

    def skip_reason(self):
        if self.not_run is not None:
            return f"marked not run: {self.not_run}"
        reasons = [r for _, r in self.parts() if r]
        return reasons[0] if len(reasons) == len(self.parts()) else None

    def shrunk(self):
        """The command as run: the parts not skipped, SHRINK applied, ADD's flags where they are not given."""
        if self.python:
            code = self.text
            for pattern, repl in PY_SHRINK:
                code = re.sub(pattern, repl, code)
            return f"python - <<'NPPG_DOCS_EOF'\n{code}\nNPPG_DOCS_EOF"
        run = []
        for part, reason in self.parts():
            if reason:
                continue
            for pattern, repl in SHRINK:
                part = re.sub(pattern, repl, part)
            for starts, flags in ADD:
                m = re.search(starts, part)
                if m:  # added at the end of that command: before a "; done" or a "|" that follows it
                    end = next((i for i in range(m.end(), len(part)) if part[i] in ";|"), len(part))
                    head, tail = part[:end].rstrip(), part[end:]
                    for flag, extra in flags:
                        if flag not in head:  # flags after a "--" go to nppg train: one "--" is enough
                            head += " " + (extra[3:] if extra.startswith("-- ") and " -- " in head else extra)
                    part = head + tail
            run.append(part)
        return " && ".join(run)

    def quick(self):
        return any(re.search(p, self.text) for p in QUICK)


def starts_command(text):
    words = text.split()
    while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=\S*$", words[0]):
        words = words[1:]  # NAME=value settings before the command
    if words[:1] == ["for"]:  # a shell loop, not Python's "for k, g in grads.items()"
        return bool(re.match(r"for \w+ in [^;]*; do ", " ".join(words)))
    # "nppg eval: error ..." is a line of output, not a command
    return bool(words) and words[0] in COMMAND_WORDS and not (len(words) > 1 and words[1].endswith(":"))


def strip_comment(line):
    """The line without a trailing ``  # comment`` (a # inside quotes is kept)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].strip()
    return line.strip()


def extract(path, text):
    """[Command] in the order the file shows them (see the module's docstring for the rule)."""
    lines = text.splitlines()
    found, fence, marker, marker_used, para, i = [], None, None, False, [], 0
    run_python = False

    def inline(para):
        joined = "\n".join(l for _, l in para)
        for m in re.finditer(r"`([^`]+)`", joined):
            span = " ".join(m.group(1).split())
            whole = len(span.split()) >= 3 or re.match(r"^python3? \S+\.py$", span)  # `python x.py` runs as it is
            if starts_command(span) and whole and not any(re.match(n, span) for n in NAMES):
                line = para[0][0] + joined[:m.start()].count("\n")
                found.append(Command(path, line + 1, span, marker, inline=True))

    while i < len(lines):
        raw = lines[i]
        stripped = raw.strip()
        m = MARKER.search(raw)
        if m:  # for the paragraph it is in, or else the block or paragraph that follows
            marker, marker_used = ("not run" if m.group(1) == "not run" else "may exit", m.group(2), m.group(3)), False
            raw = raw[:m.start()] + raw[m.end():]
            stripped = raw.strip()
            if not stripped:
                i += 1
                continue
        if RUN_PYTHON.match(raw):
            run_python = True
            i += 1
            continue
        if stripped.startswith("```"):
            fence = None if fence is not None else stripped[3:].strip().lower()
            if fence == "python" and run_python:  # the block, as one program
                end = next(j for j in range(i + 1, len(lines)) if lines[j].strip().startswith("```"))
                found.append(Command(path, i + 1, "\n".join(lines[i + 1:end]), marker, python=True))
                fence, run_python, i = None, False, end
            i += 1
            continue
        prev = MARKER.sub("", lines[i - 1]) if i else ""  # a marker's own line counts as blank
        indented = raw.startswith("    ") and (not prev.strip() or prev.startswith("    ")
                                              or prev.rstrip().endswith("\\"))
        in_block = (fence is not None and fence in SHELL_FENCES) or (fence is None and indented and not para)
        if fence is not None and not in_block:
            i += 1
            continue
        if in_block:
            if starts_command(stripped):
                start, joined = i, stripped
                while joined.endswith("\\") and i + 1 < len(lines):
                    i += 1
                    joined = joined[:-1].rstrip() + " " + lines[i].strip()
                found.append(Command(path, start + 1, strip_comment(joined), marker))
                marker_used = True
        elif stripped:
            para.append((i, raw))
        if not stripped or i == len(lines) - 1:
            if para:
                inline(para)
                marker_used = marker_used or bool(para)
                para = []
            if marker is not None and marker_used and fence is None:
                marker, marker_used = None, False  # the marked block or paragraph has ended
        i += 1
    if para:
        inline(para)
    return found


def doc_files(root=ROOT):
    files = [os.path.join(root, "README.md")]
    for folder, _, names in sorted(os.walk(os.path.join(root, "docs"))):
        files += [os.path.join(folder, n) for n in sorted(names) if n.endswith(".md")]
    return [f for f in files if os.path.exists(f)]


def all_commands(root=ROOT):
    out = []
    for f in doc_files(root):
        with open(f, encoding="utf-8") as fh:
            out += extract(os.path.relpath(f, root), fh.read())
    return out


def runnable(commands):
    """The commands that are not templates, each shown once per file (a repeat is the same run)."""
    seen, out = set(), []
    for c in commands:
        if not c.template() and (c.path, c.shrunk()) not in seen:
            seen.add((c.path, c.shrunk()))
            out.append(c)
    return out


COMMANDS = all_commands()
RUNNABLE = runnable(COMMANDS)


# ---- the rule itself, on a made-up page (quick) ----

PAGE = """Intro with `nppg train --env CartPole-v1` inline, `nppg` alone, `nppg train` (a name), `nppg eval RUN --json`
(a template) and `nppg eval runs/x
--episodes 5` across a line break; `nppg eval: error: ...` is output.

    nppg sweep --env A-v1 B-v1 C-v1 --seeds 0 1 2 \\
        --out runs/x -- --preset mujoco --epochs 750     # a comment
    (1)  J(theta) = E[R]

```bash
OPENBLAS_NUM_THREADS=1 python examples/1_simple_pg.py --seed 0
echo not a command word
pip install ".[plot]" && nppg plot runs/x --out x.png
```
```diff
python in a diff is not a command
```
<!-- not run: needs a GPU -->
    nppg train --env Big-v0

    nppg train --env After-v0

<!-- may exit 1: its blanks fail -->
Then `nppg exercise check hw1` grades them.
  a list item's text that starts nppg train in prose
"""


def test_the_extraction_rule_finds_blocks_inline_commands_continuations_and_markers():
    found = extract("page.md", PAGE)
    assert [(c.line, c.text) for c in found] == [
        (1, "nppg train --env CartPole-v1"), (1, "nppg eval RUN --json"), (2, "nppg eval runs/x --episodes 5"),
        (5, "nppg sweep --env A-v1 B-v1 C-v1 --seeds 0 1 2 --out runs/x -- --preset mujoco --epochs 750"),
        (10, "OPENBLAS_NUM_THREADS=1 python examples/1_simple_pg.py --seed 0"),
        (12, 'pip install ".[plot]" && nppg plot runs/x --out x.png'),
        (18, "nppg train --env Big-v0"), (20, "nppg train --env After-v0"), (23, "nppg exercise check hw1")]
    inline, template, wrapped, sweep, example, pip, gpu, after, check = found
    assert [c.template() for c in found] == [False, True] + [False] * 7
    assert inline.inline and not sweep.inline
    assert sweep.shrunk() == ("nppg sweep --env A-v1 B-v1 --seeds 0 1 --out runs/x -- --preset mujoco --epochs 6 "
                              "--num-envs 1 --steps-per-epoch 1000")
    assert example.shrunk() == "OPENBLAS_NUM_THREADS=1 python examples/1_simple_pg.py --seed 0 --epochs 2"
    assert pip.skip_reason() is None and pip.shrunk() == "nppg plot runs/x --out x.png"  # the install is not run
    assert Command("p", 1, 'pip install ".[test]" && python -m pytest').skip_reason().startswith("installs packages")
    assert gpu.skip_reason() == "marked not run: needs a GPU" and after.skip_reason() is None
    assert check.may_exit == (1, "its blanks fail") and after.may_exit is None
    assert Command("p", 1, "nppg bench --env X --threads 2").shrunk() == \
        "nppg bench --env X --threads 2 --epochs 2 --steps-per-epoch 400"
    assert [c.line for c in runnable(found + [Command("page.md", 30, "nppg train --env After-v0")])] == \
        [1, 2, 5, 10, 12, 18, 20, 23]  # templates left out, a repeat run once
    assert strip_comment("nppg exercise start hw1  # the exercises' bodies; hw1/README.md") == \
        "nppg exercise start hw1"
    assert strip_comment("python -c 'print(\"#\")'  # a comment") == "python -c 'print(\"#\")'"
    assert Command("p", 1, "python benchmarks/learning.py --seeds 0 -- --num-envs 16").shrunk() == \
        "python benchmarks/learning.py --seeds 0 -- --num-envs 16 --epochs 2"  # one "--" before train's flags
    assert Command("p", 1, "for s in 0 1; do nppg train --preset mujoco --seed $s; done").shrunk() == \
        "for s in 0 1; do nppg train --preset mujoco --seed $s --num-envs 1 --steps-per-epoch 1000; done"
    program, = extract("p.md", "<!-- run -->\n```python\nimport nppg\nnppg.train('CartPole-v1', epochs=150)\n```\n")
    assert program.line == 2 and not program.template() and program.shrunk() == \
        "python - <<'NPPG_DOCS_EOF'\nimport nppg\nnppg.train('CartPole-v1', epochs=4)\nNPPG_DOCS_EOF"
    assert [fewer_epochs(n) for n in (1, 2, 50, 100, 150, 250, 750, 3000)] == [1, 2, 2, 3, 4, 5, 6, 6]
    assert extract("p.md", "```python\nimport nppg\n```\n") == []  # a Python block is run only when marked
    assert [c.text for c in extract("p.md", "Run `python x.py`, not `python -m mpi4py`.")] == ["python x.py"]
    assert extract("p.md", "    for k, g in grads.items():\n        g *= 2\n") == []  # Python's for
    assert extract("p.md", "Run `mpiexec -n 2` or `python -m mpi4py`; `nppg train: error: ...` is output.") == []


def test_every_marker_gives_its_reason_and_no_command_points_outside_the_repository():
    for f in doc_files():
        with open(f, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                m = MARKER.search(line)
                assert not m or m.group(3), f"{os.path.relpath(f, ROOT)}:{n}: a marker without its reason"
    outside = [c.id + ": " + c.text for c in COMMANDS if re.search(r"(^|\s|=)\.\./", c.text)]
    assert not outside, "commands that read files outside the repository, which a clone does not have:\n" + \
        "\n".join(outside)
    assert len(RUNNABLE) > 40  # the rule still finds the pages' commands


# ---- every command, run ----

@pytest.fixture(scope="session")
def unmade():
    """{page: {folder: reason}}: what the page's skipped commands would have written (their --out)."""
    return {}


@pytest.fixture(scope="session")
def clones(tmp_path_factory):
    """One fresh clone of the repository per documentation file, made when its first command runs."""
    if not os.path.exists(os.path.join(ROOT, ".git")):
        pytest.skip("not a git repository: nothing to clone")
    made = {}

    def clone(path):
        if path not in made:
            dest = tmp_path_factory.mktemp(re.sub(r"\W", "_", path))
            shutil.rmtree(dest)
            subprocess.run(["git", "clone", "--quiet", ROOT, str(dest)], check=True, capture_output=True)
            made[path] = str(dest)
        return made[path]
    return clone


def environment():
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env.update(OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    env.pop("PYTHONPATH", None)
    return env


@pytest.mark.parametrize("command", [pytest.param(c, id=c.id, marks=() if c.quick() else pytest.mark.slow)
                                     for c in RUNNABLE])
def test_the_command_runs_from_a_fresh_clone(command, clones, unmade):
    reason = command.skip_reason()
    for pattern, module, missing in NEEDS:
        if not reason and re.search(pattern, command.text) and importlib.util.find_spec(module) is None:
            reason = f"{missing}: {command.text}"
    reason = reason or next((f"reads {folder}, which a skipped command would have made ({why})"
                             for folder, why in unmade.get(command.path, {}).items()
                             if re.search(re.escape(folder) + r"(?![\w.-])", command.text)), None)

    def skip(reason):
        for folder in re.findall(r"--out (\S+)", command.text):
            unmade.setdefault(command.path, {})[folder] = reason.split(":")[0]
        pytest.skip(reason)
    if reason:
        skip(reason)
    cwd = clones(command.path)
    run = command.shrunk()
    # a session of its own, so that a timeout or a Ctrl-C ends the command's children too (a sweep's runs)
    proc = subprocess.Popen(["bash", "-c", run], cwd=cwd, env=environment(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail(f"{command.id}: did not end in 600 s\n  as written: {command.text}\n  as run:     {run}\n"
                    f"{output[-3000:]}", pytrace=False)
    except BaseException:  # Ctrl-C
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    allowed = (0,) + ((command.may_exit[0],) if command.may_exit else ())
    if proc.returncode in allowed:
        return
    for text, missing in MISSING:
        if text in output:
            skip(f"{missing}: {command.text}")
    if command.inline and proc.returncode == 2 and any(text in output for text in FRAGMENT):
        pytest.skip(f"names a command or flag in prose, not a whole command: {command.text}")
    pytest.fail(f"{command.id}: exit status {proc.returncode}\n  as written: {command.text}\n"
                f"  as run:     {run}\n--- output (the last 4,000 characters) ---\n{output[-4000:]}", pytrace=False)


if __name__ == "__main__":  # what the rule finds, and how each would be run
    for c in COMMANDS:
        state = "template" if c.template() else (c.skip_reason() or ("quick" if c.quick() else "slow"))
        print(f"{c.id}: [{state}]{' may exit %d' % c.may_exit[0] if c.may_exit else ''}\n    {c.text}\n"
              f"    -> {c.shrunk()}")
