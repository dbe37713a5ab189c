"""The scripts of ``benchmarks/`` and ``examples/`` as modules, for the tests that keep them working (neither
folder is a package).

    from scripts import load_benchmark, load_example
"""
import importlib.util
import os

BENCHMARKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "benchmarks")
EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "examples")


def load_benchmark(name):
    """benchmarks/<name>.py, imported as the module ``name``."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(BENCHMARKS, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_example(name):
    """examples/<name>.py, imported as the module ``example_<name>`` (with examples/ on the path while it loads,
    for the plumbing it imports, examples/progress.py)."""
    import sys
    sys.path.insert(0, EXAMPLES)
    try:
        spec = importlib.util.spec_from_file_location(f"example_{name}", os.path.join(EXAMPLES, f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(EXAMPLES)
    return module
