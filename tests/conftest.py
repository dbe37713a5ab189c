"""Hypothesis profiles shared by the whole suite.

``ci`` (the default) is derandomized: every run, here or in CI, tries the same examples,
so a pass is reproducible and a failure prints the exact example to rerun. ``dev`` searches
fresh random examples, many more of them:

    HYPOTHESIS_PROFILE=dev python -m pytest tests/test_nn.py
"""
import os

from hypothesis import settings

settings.register_profile("ci", max_examples=50, deadline=None, derandomize=True, database=None, print_blob=True)
settings.register_profile("dev", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
