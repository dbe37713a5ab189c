"""Each hand-written mistake of ``tests/course_mistakes.py``, planted in a solved workspace, fails its own
exercise with a hint that names the real cause (issue 31, item 2)."""
import os

import pytest

from nppg import course
from nppg.course.grader import run_checks

from course_mistakes import HELD_OUT, HELD_OUT_2, HELD_OUT_3, MISTAKES


def plant(directory, mistake):
    path = os.path.join(directory, "mypg", f"{mistake.module}.py")
    with open(path) as f:
        source = f.read()
    for old, new in mistake.edits:
        assert source.count(old) == 1, f"{mistake.name}: {old!r} is not found exactly once"
        source = source.replace(old, new)
    with open(path, "w") as f:
        f.write(source)


def hint_of(directory, exercise):
    lines = []
    code = run_checks(directory, [exercise], out=lines.append)
    hints = [line.strip()[len("hint:"):].strip() for line in lines if line.strip().startswith("hint:")]
    return code, "\n".join(lines), hints[0] if hints else None


def test_the_corpus_has_thirty_mistakes_over_every_exercise():
    assert len(MISTAKES) >= 30 and len({m.name for m in ALL}) == len(ALL)
    assert {m.exercise for m in MISTAKES} == {m.exercise for m in HELD_OUT} == {m.exercise for m in HELD_OUT_2} \
        == {m.exercise for m in HELD_OUT_3} \
        == {e.name for e in course.LADDER}


ALL = MISTAKES + HELD_OUT + HELD_OUT_2 + HELD_OUT_3


@pytest.mark.parametrize("mistake", ALL, ids=[f"{m.exercise}: {m.name}" for m in ALL])
def test_a_mistake_fails_its_exercise_with_a_hint_that_names_it(tmp_path, mistake):
    d = str(tmp_path / "ws")
    course.start(d, solutions=True)
    plant(d, mistake)
    code, out, hint = hint_of(d, mistake.exercise)
    assert code == 1 and hint is not None, out
    assert all(w in hint for w in mistake.words), out


def test_the_blanks_docstrings_say_what_the_checks_demand(tmp_path):
    d = str(tmp_path / "ws")
    course.start(d)
    source = open(os.path.join(d, "mypg", "algorithm.py")).read()
    vpg_doc = source.split("def vpg(")[1].split("raise NotImplementedError")[0]
    for words in ("What nppg exercise check demands", "s.epoch", "env_steps", "mean_value", "lr_decay",
                  "after the value fit", "batch.G"):
        assert words in " ".join(vpg_doc.split()), words
    step_doc = " ".join(source.split("def update_policy(")[1].split("raise NotImplementedError")[0].split())
    assert all(k in step_doc for k in ("loss_pi", "delta_loss_pi", "kl", "entropy", "after"))
    solved = course.start(str(tmp_path / "sol"), solutions=True)
    assert "What nppg exercise check demands" not in open(os.path.join(solved, "algorithm.py")).read()
