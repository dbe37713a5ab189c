"""The teaching notebooks (examples/notebooks/) run top to bottom, as a student runs them.

Each notebook is executed in a fresh kernel by nbclient, from its own folder, with a timeout; a cell that
raises fails the test with the cell's error. They run on nppg's own code when there is no workspace, and on a
student's package when NPPG_WORKSPACE names one (made here by nppg exercise start, with and without
--solutions). The notebooks are stored without outputs, and their first code cell installs nppg only when it
is missing, so this test installs nothing. Needs the extra nppg[notebooks] (nbclient, nbformat, ipykernel,
matplotlib).
"""
import glob
import os
import subprocess
import sys

import pytest

NOTEBOOKS = sorted(glob.glob(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                          "examples", "notebooks", "*.ipynb")))
TIMEOUT = 600  # seconds for the whole notebook; each runs in under 2 minutes on the machine of examples/notebooks/README.md


def _missing():
    missing = []
    for module in ("nbclient", "nbformat", "ipykernel", "matplotlib"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    return missing


needs_jupyter = pytest.mark.skipif(bool(_missing()), reason=f"needs {', '.join(_missing())}: pip install '.[notebooks]'")


def test_there_are_notebooks_and_they_are_stored_clean():
    nbformat = pytest.importorskip("nbformat", reason="needs nbformat: pip install '.[notebooks]'")
    assert len(NOTEBOOKS) >= 2
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert "pip install" in code[0].source, f"{path}: the first code cell is the install line"
        assert all(not c.outputs and c.execution_count is None for c in code), f"{path} is stored with outputs"


def test_each_try_it_question_has_its_answer_folded_under_it():
    nbformat = pytest.importorskip("nbformat", reason="needs nbformat: pip install '.[notebooks]'")
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        questions = text.split("## Try it", 1)[1]
        asked = sum(line[:3] in {f"{i}. " for i in range(1, 10)} for line in questions.splitlines())
        assert asked >= 3 and questions.count("<details><summary>Answer</summary>") == asked, path
        assert questions.count("</details>") == asked, path


def execute(path):
    """The notebook, run top to bottom in a fresh kernel from its own folder (the kernel inherits os.environ)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3",
                   resources={"metadata": {"path": os.path.dirname(path)}}).execute()
    return nb


def printed(nb):
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def workspace(directory, *flags):
    subprocess.run([sys.executable, "-m", "nppg", "exercise", "start", str(directory), *flags], check=True,
                   capture_output=True, text=True)
    return str(directory)


@pytest.mark.slow
@needs_jupyter
@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_runs_top_to_bottom(path, monkeypatch):
    monkeypatch.delenv("NPPG_WORKSPACE", raising=False)  # the notebook's folder has no hw1/: nppg's own code
    nb = execute(path)
    images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert images >= 3, f"{path}: its plots should show inline"
    assert "using nppg's own code" in printed(nb)


@pytest.mark.slow
@needs_jupyter
@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_runs_top_to_bottom_on_a_students_package(path, tmp_path, monkeypatch):
    """A workspace with nppg's own bodies (--solutions) runs every cell, and the notebook says it is the student's."""
    monkeypatch.setenv("NPPG_WORKSPACE", workspace(tmp_path / "hw1", "--solutions"))
    out = printed(execute(path))
    assert f"using your package, from the workspace {tmp_path / 'hw1'}" in out
    assert "nppg's own code" not in out


@needs_jupyter
def test_a_notebook_on_a_fresh_workspace_stops_at_the_students_first_blank(tmp_path, monkeypatch):
    """The notebook really calls the student's functions: on a workspace with the bodies still blank, the first
    cell that needs one (the categorical log-probability, exercise 2) stops with the blank's error."""
    from nbclient.exceptions import CellExecutionError

    monkeypatch.setenv("NPPG_WORKSPACE", workspace(tmp_path / "hw1"))
    with pytest.raises(CellExecutionError, match="NotImplementedError"):
        execute(NOTEBOOKS[0])
