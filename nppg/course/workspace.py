"""The workspace: the eight algorithm modules written as the student's own package, each exercised function's
body blanked, and the package imported back for grading and training.

The blanks are made from nppg's own source through its syntax tree: each exercised function keeps the lines of
its signature and docstring, and only the lines of its body are replaced, so every other line of the copy is
nppg's as written and the blanks cannot drift from the solutions (``tests/test_exercise.py``)."""
import ast
import importlib.util
import os
import sys
import textwrap

import nppg
from .ladder import LADDER, MODULES, PACKAGE, ladder_text


# ---- blanks from the source ------------------------------------------------------------------

def _function_node(tree, qualname):
    body, node = tree.body, None
    for part in qualname.split("."):
        node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == part), None)
        if node is None:
            raise LookupError(f"no {qualname} in the source")
        body = node.body
    return node


def body_lines(source, qualname):
    """(first, last) line numbers, 1-based and inclusive, of the body of ``qualname`` after its docstring,
    and the body's indentation."""
    node = _function_node(ast.parse(source), qualname)
    doc = node.body[0] if (isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
                           and isinstance(node.body[0].value.value, str)) else None
    first = doc.end_lineno + 1 if doc else node.body[0].lineno
    if node.body[0].lineno == node.lineno:
        raise ValueError(f"{qualname}: a body on the line of its def cannot be blanked")
    indent = " " * node.body[0].col_offset
    return first, node.end_lineno, indent


def blank(source, exercise):
    """``source`` with the bodies of ``exercise``'s functions replaced by ``raise NotImplementedError(...)``."""
    lines = source.splitlines(keepends=True)
    spans = sorted((body_lines(source, f) + (f, eq) for f, eq in exercise.functions), reverse=True)
    for first, last, indent, f, eq in spans:  # from the bottom up, so earlier line numbers stay right
        msg = f"{f}: exercise {exercise.name!r}, eq. ({eq})"
        lines[first - 1:last] = [f"{indent}raise NotImplementedError({msg!r})\n"]
        if f in dict(exercise.contract):      # what the checks demand, at the end of the docstring (ladder.CONTRACTS)
            note = contract_lines(dict(exercise.contract)[f], indent)
            if lines[first - 2].rstrip().endswith('"""'):
                lines[first - 2] = lines[first - 2].rstrip()[:-3] + "\n\n" + "".join(note) + f'{indent}"""\n'
            else:                             # no docstring: the note is one
                lines[first - 1:first - 1] = [f'{indent}"""\n'] + note + [f'{indent}"""\n']
    return "".join(lines)


def contract_lines(text, indent):
    note = textwrap.wrap(f"What nppg exercise check demands: {text}", 110 - len(indent))
    return [f"{indent}{line}\n" for line in note]


def module_source(module, solutions=False, prefill=()):
    """What the workspace's ``module``.py holds: nppg's own source, its exercises blanked unless ``solutions``, but
    for those named in ``prefill`` (given out solved)."""
    with open(os.path.join(os.path.dirname(nppg.__file__), f"{module}.py")) as f:
        source = f.read()
    if not solutions:
        for e in LADDER:
            if e.module == module and e.name not in prefill:
                source = blank(source, e)
    return source


def init_source():
    """The workspace package's __init__: nppg's own exports of the eight modules, and nothing else."""
    with open(nppg.__file__) as f:
        tree = ast.parse(f.read())
    lines, names = [], []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module in MODULES:
            lines.append(ast.unparse(node))
            names += [a.asname or a.name for a in node.names]
    return (f'"""Your own VPG: nppg\'s algorithm layer with the exercises\' bodies to write (nppg exercise list)."""\n'
            + "\n".join(lines) + f"\n\n__all__ = {names!r}\n")


def workspace_readme(prefill=()):
    order = ", ".join(dict.fromkeys(e.module for e in LADDER))
    given = [e.name for e in LADDER if e.name in prefill]
    solved = f"\nGiven out solved (nothing to write): {', '.join(given)}.\n" if given else ""
    return f"""# Your VPG, from scratch

`{PACKAGE}/` is nppg's algorithm layer: eight modules, read in the ladder's order {order}.
Some functions keep only their signature and docstring and raise `NotImplementedError`: write their bodies,
one exercise at a time, in this order.
{solved}
{ladder_text()}

    nppg exercise check .              # every exercise, in order; or by name or number: nppg exercise check . gae 6
    nppg exercise train .              # your own vpg on CartPole-v1: passes at a mean return >= 475

Each function's docstring states what to compute, with the equation's number in nppg's derivation (the
hints cite the same numbers); `nppg exercise list` names the functions of each exercise.
"""


def start(directory, solutions=False, prefill=()):
    """Write the workspace into ``directory`` (new, or empty), the exercises named in ``prefill`` given out solved.
    Returns the package's path."""
    if os.path.exists(directory) and (not os.path.isdir(directory) or os.listdir(directory)):
        what = "is a file" if not os.path.isdir(directory) else "is not empty"
        raise ValueError(f"{directory} {what}: start a workspace in a new or empty directory "
                         "(nothing is overwritten)")
    pkg = os.path.join(directory, PACKAGE)
    os.makedirs(pkg)
    for module in MODULES:
        with open(os.path.join(pkg, f"{module}.py"), "w") as f:
            f.write(module_source(module, solutions, prefill))
    with open(os.path.join(pkg, "__init__.py"), "w") as f:
        f.write(init_source())
    with open(os.path.join(directory, "README.md"), "w") as f:
        f.write(workspace_readme(prefill))
    return pkg


_loaded = 0


def load(directory):
    """The workspace's package, imported under a name of its own (each call a fresh import)."""
    global _loaded
    init = os.path.join(directory, PACKAGE, "__init__.py")
    if not os.path.isfile(init):
        raise ValueError(f"{directory} has no {PACKAGE}/__init__.py: make a workspace with nppg exercise start DIR")
    _loaded += 1
    name = f"_nppg_workspace_{_loaded}"
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[os.path.dirname(init)])
    pkg = importlib.util.module_from_spec(spec)
    sys.modules[name] = pkg
    spec.loader.exec_module(pkg)
    for module in MODULES:
        setattr(pkg, module, importlib.import_module(f"{name}.{module}"))
    return pkg
