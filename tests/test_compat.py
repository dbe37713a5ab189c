"""Run directories written by nppg 0.1.0, before the algorithm and the engine were split: they still
evaluate, and a resume continues them as nppg 0.1.0 itself did (its files are in tests/data).

The stored numbers were made on another CPU. A matrix product's last bits depend on the BLAS kernel,
and OpenBLAS picks its kernel by CPU (or by OPENBLAS_CORETYPE), so the resumed run is compared within a
tolerance: every integer and every return exactly (the environments and the sampled actions are the
same), the parameters and losses to a relative 1e-9. Measured: under Haswell and Sandybridge kernels the
parameters differ from the stored ones by at most 1.2e-14 relative and the losses by 1.3e-13, so 1e-9
leaves room for other kernels while a real change to the arithmetic (a wrong step, a changed setting)
moves them by far more. Bit-for-bit checks stay where both sides run on one machine (test_threads.py,
test_engine.py, the resume tests of test_robust.py)."""
import csv
import os
import shutil

import numpy as np

from nppg.engine.checkpoint import load_checkpoint
from nppg.tools.cli import main

DATA = os.path.join(os.path.dirname(__file__), "data")


RTOL = 1e-9  # what another BLAS kernel's rounding stays well within (see above)


def rows(path):
    with open(path, newline="") as f:
        return [{k: v for k, v in r.items() if k not in ("time_s", "steps_per_s")} for r in csv.DictReader(f)]


def same_row(new, old):
    """Counts, returns and lengths exactly; losses, KL and entropy (products of BLAS) to ``RTOL``."""
    exact = ("epoch", "env_steps", "episodes", "mean_return", "std_return", "min_return", "max_return", "mean_ep_len")
    if new.keys() != old.keys():
        return False
    return all(new[k] == old[k] if k in exact or not old[k] else
               np.isclose(float(new[k]), float(old[k]), rtol=RTOL, atol=1e-15) for k in old)


def test_a_0_1_0_run_resumes_to_the_same_numbers_as_0_1_0_gave(tmp_path):
    run = str(tmp_path / "run")
    shutil.copytree(os.path.join(DATA, "run-0.1.0"), run)
    assert main(["train", "--resume", run, "--epochs", "3", "--quiet"]) == 0
    old_path = os.path.join(DATA, "run-0.1.0-resumed-policy.npz")
    with np.load(os.path.join(run, "policy.npz")) as new, np.load(old_path) as old:
        for k in old.files:
            if k != "header":
                np.testing.assert_allclose(new[k], old[k], rtol=RTOL, atol=1e-15, err_msg=k)
    new, old = rows(os.path.join(run, "progress.csv")), rows(os.path.join(DATA, "run-0.1.0-resumed-progress.csv"))
    assert len(new) == len(old) and all(same_row(a, b) for a, b in zip(new, old)), (new, old)


def test_a_0_1_0_checkpoint_loads_and_evaluates(capsys):
    policy, value_fn, header = load_checkpoint(os.path.join(DATA, "run-0.1.0", "policy.npz"))
    assert header["nppg_version"] == "0.1.0" and policy.kind == "categorical" and value_fn.params["W0"].shape == (4, 8)
    assert main(["eval", os.path.join(DATA, "run-0.1.0"), "--episodes", "3", "--json"]) == 0
    assert '"episodes": 3' in capsys.readouterr().out
