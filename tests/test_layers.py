"""The package's layers point one way: the run tools use the engine, the engine uses the algorithm, and
nothing imports back up (docs/layout.md). Read from the source, lazy imports inside functions included."""
import ast
import os

import nppg

ROOT = os.path.dirname(nppg.__file__)
ALGORITHM = ("nn", "distributions", "policies", "advantages", "optim", "normalize", "rollout", "algorithm")
# what each layer may import of nppg (the package's own __init__ only re-exports, and is not a layer)
MAY_IMPORT = {
    "algorithm": {"algorithm"},
    "engine": {"algorithm", "engine"},
    "checks": {"algorithm", "engine", "checks"},
    "tools": {"algorithm", "engine", "checks", "tools", "course"},  # the course is a run tool too (nppg exercise),
    "course": {"algorithm", "engine", "checks", "tools", "course"},  # in a subpackage of its own: one level
}


def layer(module):
    """'nppg.engine.run' -> 'engine'; the algorithm's modules -> 'algorithm'."""
    parts = module.split(".")
    return "algorithm" if parts[1] in ALGORITHM else parts[1]


def modules():
    """{'nppg.engine.run': path} for every module of the package but nppg/__init__.py and __main__.py."""
    found = {}
    for folder, _, files in os.walk(ROOT):
        for f in files:
            if f.endswith(".py") and not (folder == ROOT and f in ("__init__.py", "__main__.py")):
                rel = os.path.relpath(os.path.join(folder, f), os.path.dirname(ROOT))[:-3].replace(os.sep, ".")
                found[rel.removesuffix(".__init__")] = os.path.join(folder, f)
    return found


def imports(module, path):
    """The nppg modules that ``module`` imports anywhere in its source, as absolute names."""
    package = module if path.endswith("__init__.py") else module.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            if base.split(".")[0] != "nppg":
                continue
            for alias in node.names:  # "from . import mpi" names a module; "from .x import f" a name in x
                out.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules() else base)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "nppg")
    return {m for m in out if m != "nppg"}


def test_every_layer_imports_only_the_layers_below_it():
    wrong = [f"{m} imports {i}" for m, path in modules().items() for i in imports(m, path)
             if layer(i) not in MAY_IMPORT[layer(m)]]
    assert not wrong, wrong


def test_no_module_imports_itself_through_others():
    graph = {m: {i for i in imports(m, path) if i in modules() and i != m} for m, path in modules().items()}

    def reaches(a, b, seen):
        return b in graph[a] or any(reaches(c, b, seen | {c}) for c in graph[a] - seen)

    circles = sorted(m for m in graph if reaches(m, m, {m}))
    assert not circles, circles
