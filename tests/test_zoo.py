"""The bug zoo (nppg/checks/zoo.py, docs/bugs.md): every patch still applies to today's algorithm layer, and
the test that docs/bugs.md names as catching each bug does fail on the patched copy and pass without it."""
import ast
import os
import re
import tempfile
from dataclasses import replace

import pytest
from scripts import load_benchmark

from nppg.checks import zoo

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)
DOC = os.path.join(ROOT, "docs", "bugs.md")


def test_the_zoo_has_at_least_15_bugs_with_distinct_names():
    names = [bug.name for bug in zoo.BUGS]
    assert len(names) >= 15 and len(set(names)) == len(names), names


@pytest.mark.parametrize("bug", zoo.BUGS, ids=lambda b: b.name)
def test_every_patch_applies_exactly_once_and_leaves_python(bug):
    """patched_source raises if an edit's text is not in today's source exactly once."""
    original = open(zoo.module_path(bug)).read()
    text = zoo.patched_source(bug)
    assert text != original
    ast.parse(text)
    assert bug.explanation and bug.equation.startswith("(")


def test_a_patch_whose_text_is_gone_fails_loudly():
    bug = zoo.BUGS[0]
    for old in ("this text is not in nppg", "import"):  # absent, and present more than once
        with pytest.raises(ValueError, match="not once"):
            zoo.patched_source(replace(bug, edits=((old, "x"),)))


def test_write_patched_changes_the_copy_only(tmp_path):
    bug = zoo.by_name("loss-sign")
    before = open(zoo.module_path(bug)).read()
    package = zoo.write_patched(bug, str(tmp_path))
    assert open(zoo.module_path(bug, package)).read() == zoo.patched_source(bug)
    assert open(zoo.module_path(bug)).read() == before


def test_docs_bugs_md_names_a_catching_test_for_every_bug():
    caught = load_benchmark("bug_zoo").documented_catches(DOC)
    assert sorted(caught) == sorted(bug.name for bug in zoo.BUGS), "rerun python benchmarks/bug_zoo.py"


def test_docs_bugs_md_names_an_exercise_check_and_a_hint_for_every_bug():
    """The checker's columns (nppg exercise check on a complete workspace with the bug planted): every bug is
    caught by a check of the exercise ladder, with a hint (tests/test_exercise.py plants each one)."""
    rows = {}
    b = load_benchmark("bug_zoo")
    for line in open(DOC).read().split(b.BEGIN, 1)[1].split(b.END, 1)[0].splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        m = re.match(r"\[([^\]]+)\]", cells[0]) if len(cells) == 6 else None
        if m:
            rows[m.group(1)] = cells[4:]
    assert sorted(rows) == sorted(bug.name for bug in zoo.BUGS)
    for name, (check, hint) in rows.items():
        assert re.match(r"\d+\. \w+ \(", check) and hint, (name, check, hint)


@pytest.fixture(scope="module")
def unpatched_tree():
    with tempfile.TemporaryDirectory(prefix="nppg-zoo-test-") as tmp:
        yield load_benchmark("bug_zoo").make_tree(None, os.path.join(tmp, "repo"))


@pytest.mark.slow
def test_every_named_test_passes_without_the_bugs(unpatched_tree):
    b = load_benchmark("bug_zoo")
    nodes = sorted(set(b.documented_catches(DOC).values()))
    failed, _, output = b.pytest(unpatched_tree, nodes)
    assert failed is None, output


@pytest.mark.slow
@pytest.mark.parametrize("bug", zoo.BUGS, ids=lambda b: b.name)
def test_the_named_test_fails_on_the_patched_copy(bug, tmp_path):
    b = load_benchmark("bug_zoo")
    node = b.documented_catches(DOC)[bug.name]
    tree = b.make_tree(bug, str(tmp_path / "repo"))
    failed, _, output = b.pytest(tree, [node])
    assert failed == node, output
