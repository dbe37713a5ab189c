"""Run directories written by nppg 0.1.0, before the algorithm and the engine were split: they still
evaluate, and a resume continues them exactly as nppg 0.1.0 itself did (its files are in tests/data)."""
import csv
import os
import shutil

import numpy as np

from nppg.tools.checkpoint import load_checkpoint
from nppg.tools.cli import main

DATA = os.path.join(os.path.dirname(__file__), "data")


def rows(path):
    with open(path, newline="") as f:
        return [{k: v for k, v in r.items() if k not in ("time_s", "steps_per_s")} for r in csv.DictReader(f)]


def test_a_0_1_0_run_resumes_to_the_same_numbers_as_0_1_0_gave(tmp_path):
    run = str(tmp_path / "run")
    shutil.copytree(os.path.join(DATA, "run-0.1.0"), run)
    assert main(["train", "--resume", run, "--epochs", "3", "--quiet"]) == 0
    old_path = os.path.join(DATA, "run-0.1.0-resumed-policy.npz")
    with np.load(os.path.join(run, "policy.npz")) as new, np.load(old_path) as old:
        assert all(np.array_equal(new[k], old[k]) for k in old.files if k != "header")
    assert rows(os.path.join(run, "progress.csv")) == rows(os.path.join(DATA, "run-0.1.0-resumed-progress.csv"))


def test_a_0_1_0_checkpoint_loads_and_evaluates(capsys):
    policy, value_fn, header = load_checkpoint(os.path.join(DATA, "run-0.1.0", "policy.npz"))
    assert header["nppg_version"] == "0.1.0" and policy.kind == "categorical" and value_fn.params["W0"].shape == (4, 8)
    assert main(["eval", os.path.join(DATA, "run-0.1.0"), "--episodes", "3", "--json"]) == 0
    assert '"episodes": 3' in capsys.readouterr().out
