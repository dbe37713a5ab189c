"""The scripts of ``benchmarks/`` as modules, for the tests that keep them working (the folder is no package).

    from scripts import load_benchmark
"""
import importlib.util
import os

BENCHMARKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "benchmarks")


def load_benchmark(name):
    """benchmarks/<name>.py, imported as the module ``name``."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(BENCHMARKS, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
