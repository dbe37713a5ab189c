"""What one exercise is graded on, so that one mistake costs one exercise and nppg's own code stays out of reach.

``exercise_package(directory, exercise)`` builds, in the grading process, a package of the eight modules in
which only the exercise's own functions are the student's: the exercise's module is the student's file as
written, with the other exercises' functions of that module put back to nppg's; every other module is nppg's
source. A syntax error in ``optim.py`` then costs only ``optim.py``'s exercises, and a ``td_residual`` that is
wrong fails ``gae`` alone, not the exercises that call it.

``guard(directory)`` keeps nppg's own code away from the student's: every ``nppg`` module in ``sys.modules`` is
replaced by a stand-in that refuses the student's code (the checks keep their own references to nppg's
modules), and an audit hook refuses to open nppg's files or start a program for code of the workspace. Either
records a violation, so that the exercise fails with a message that says so even if the student's code catches
the error. It stops the ordinary ways (an import of nppg, reading its source, importlib); it is no sandbox
against a student who walks the interpreter's frames (docs/grading.md)."""
import ast
import importlib.abc
import importlib.machinery
import os
import sys
import types

import nppg
from .ladder import LADDER, MODULES, PACKAGE

NPPG_DIR = os.path.realpath(os.path.dirname(nppg.__file__))
NPPG_DIRS = tuple({NPPG_DIR + os.sep, os.path.dirname(os.path.abspath(nppg.__file__)) + os.sep})


class UsesNppg(BaseException):
    """The student's code reached nppg's own code. A BaseException, so that ``except Exception`` does not hide it."""


# ---- the package one exercise is graded on -----------------------------------------------------------------------

def nppg_source(module):
    path = os.path.join(NPPG_DIR, f"{module}.py")
    with open(path) as f:
        return f.read(), path


def _definition(tree, qualname):
    """The FunctionDef of ``qualname`` ("f" or "Class.method") in a parsed module, or None."""
    body, node = tree.body, None
    for part in qualname.split("."):
        node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == part), None)
        if node is None:
            return None
        body = node.body
    return node


def put_back_nppgs(namespace, module, keep):
    """Replace, in the executed module ``namespace``, the exercised functions of ``module`` that are not in
    ``keep`` by nppg's own (compiled from nppg's file, so a traceback in them points at nppg's lines)."""
    source, path = nppg_source(module)
    tree = ast.parse(source)
    for e in LADDER:
        if e.module != module:
            continue
        for qualname, _ in e.functions:
            if qualname in keep:
                continue
            node = _definition(tree, qualname)
            code = compile(ast.Module(body=[node], type_ignores=[]), path, "exec")
            defined = {}
            exec(code, namespace, defined)
            owner, _, name = qualname.rpartition(".")
            if not owner:
                namespace[name] = defined[name]
            elif isinstance(namespace.get(owner), type):
                setattr(namespace[owner], name, defined[name])


class _Loader(importlib.abc.Loader):
    """Loads ``package.module`` from a source text and a file name; the exercise's module gets nppg's functions
    of the other exercises put back after it runs."""

    def __init__(self, source, path, module, keep):
        self.source, self.path, self.module, self.keep = source, path, module, keep

    def create_module(self, spec):
        return None

    def exec_module(self, mod):
        mod.__file__ = self.path
        exec(compile(self.source, self.path, "exec"), mod.__dict__)
        if self.keep is not None:
            put_back_nppgs(mod.__dict__, self.module, self.keep)


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, name, loaders):
        self.name, self.loaders = name, loaders

    def find_spec(self, fullname, path=None, target=None):
        module = fullname[len(self.name) + 1:] if fullname.startswith(self.name + ".") else None
        if module not in self.loaders:
            return None
        loader = self.loaders[module]
        return importlib.machinery.ModuleSpec(fullname, loader, origin=loader.path)


def exercise_package(directory, exercise, name="_nppg_exercise"):
    """The package ``exercise`` is graded on: nppg's eight modules, but for the student's own functions of
    ``exercise`` (its module as the student wrote it, the other exercises' functions nppg's). Raises what the
    student's module raises (a SyntaxError, an error at import)."""
    own = os.path.join(directory, PACKAGE, f"{exercise.module}.py")
    with open(own) as f:
        own_source = f.read()
    keep = {qualname for qualname, _ in exercise.functions}
    loaders = {m: _Loader(*nppg_source(m), m, None) for m in MODULES}
    loaders[exercise.module] = _Loader(own_source, os.path.realpath(own), exercise.module, keep)
    pkg = types.ModuleType(name, f"nppg's algorithm layer with your {', '.join(sorted(keep))}")
    pkg.__path__, pkg.__package__ = [], name
    sys.modules[name] = pkg
    sys.meta_path.insert(0, _Finder(name, loaders))
    for m in MODULES:
        setattr(pkg, m, importlib.import_module(f"{name}.{m}"))
    return pkg


# ---- the guard: nppg's own code out of the student's reach -------------------------------------------------------

VIOLATIONS = []   # what the student's code tried, in this grading process


def _whose(frame, workspace):
    """'student' or 'nppg' for the innermost frame, from ``frame`` outwards, whose code is the workspace's or nppg's
    (frames of the standard library and other packages in between are skipped); None for neither."""
    while frame is not None:
        path = frame.f_code.co_filename
        if path.startswith(workspace):
            return "student"
        if path.startswith(NPPG_DIRS):
            return "nppg"
        frame = frame.f_back
    return None


def refuse(what):
    VIOLATIONS.append(what)
    raise UsesNppg(what)


class _StandIn(types.ModuleType):
    """What ``sys.modules["nppg..."]`` holds while an exercise is graded: nppg's module for nppg's and the grader's
    own code, a refusal for the workspace's."""

    def __init__(self, real, workspace):
        super().__init__(real.__name__)
        object.__setattr__(self, "_real", real)
        object.__setattr__(self, "_workspace", workspace)

    def __getattr__(self, attr):
        if _whose(sys._getframe(1), self._workspace) == "student":
            refuse(f"your code uses nppg's own code ({self.__name__}.{attr}): the exercise is to write it yourself, "
                   "so the grader runs your functions without nppg")
        return getattr(self._real, attr)


_REFUSED_EVENTS = {"subprocess.Popen", "os.system", "os.posix_spawn", "os.exec", "os.spawn"}


def guard(directory):
    """From here on, in this process, the code of the workspace in ``directory`` cannot reach nppg's: see the
    module's docstring. (An audit hook cannot be removed: call it in a process of its own.)"""
    workspace = os.path.realpath(directory) + os.sep
    for name in [n for n in sys.modules if n == "nppg" or n.startswith("nppg.")]:
        sys.modules[name] = _StandIn(sys.modules[name], workspace)

    def hook(event, args):
        if event == "open":
            path = args[0]
            if isinstance(path, (str, bytes, os.PathLike)):
                path = os.fsdecode(path)
                if os.path.realpath(path).startswith(NPPG_DIRS) and _whose(sys._getframe(1), workspace) == "student":
                    refuse(f"your code reads nppg's own source ({path}): the exercise is to write it yourself")
        elif event in _REFUSED_EVENTS and _whose(sys._getframe(1), workspace) == "student":
            refuse(f"your code starts a program ({event}): a function of the algorithm has no need to, and the "
                   "grader refuses it")
    sys.addaudithook(hook)
