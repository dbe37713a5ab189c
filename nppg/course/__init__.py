"""The course: nppg's algorithm layer as exercises (``nppg exercise``; docs/teaching.md, docs/grading.md).

``ladder.py`` is the ladder of exercises; ``workspace.py`` writes a student's workspace from nppg's own source
and imports it back; ``checks/`` holds each exercise's checks, one module per module of the algorithm layer;
``grader.py`` runs them, each exercise in a process of its own, on the package ``isolation.py`` builds for it,
and writes the results; ``autograder.py`` packs it for Gradescope; ``train.py`` trains the student's own
``vpg``."""
from .ladder import BY_NAME, GRADED, LADDER, MODULES, PACKAGE, TOGETHER, Exercise, ladder_text, select
from .workspace import load, start


def load_workspace(directory):
    """The student's package of the workspace in ``directory`` (``DIR/mypg``), freshly imported: what a notebook
    runs on the student's own code (``ws = load_workspace("hw1"); ws.gae(...)``)."""
    return load(directory)


__all__ = ["BY_NAME", "GRADED", "LADDER", "MODULES", "PACKAGE", "TOGETHER", "Exercise", "ladder_text", "load",
           "load_workspace", "select", "start"]
