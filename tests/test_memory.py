"""``nppg.memory``: with glibc asked to keep freed memory, the value fit stops faulting in fresh pages."""
import subprocess
import sys

import pytest

from nppg.memory import keep_freed_memory

# 20 value steps on 2,000 rows (two 512 KB blocks), counting the page faults of the last 10
SCRIPT = """
import resource, sys
import numpy as np
from nppg.memory import keep_freed_memory
from nppg.policies import ValueFunction
if sys.argv[1] == "keep":
    assert keep_freed_memory()
rng = np.random.default_rng(0)
obs, targets = rng.standard_normal((2000, 4)), rng.standard_normal(2000)
vf = ValueFunction(4, (64, 64), rng=rng)
for step in range(20):
    if step == 10:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    vf.grad_mse(obs, targets)
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
"""


def faults_per_step(mode):
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True).stdout
    return float(out)


@pytest.mark.skipif(not sys.platform.startswith("linux") or not keep_freed_memory(), reason="needs Linux with glibc")
def test_kept_memory_is_reused_instead_of_faulted_in_again():
    plain = faults_per_step("plain")
    if plain < 100:
        pytest.skip(f"this malloc already reuses the blocks' memory ({plain} page faults per step)")
    assert faults_per_step("keep") < 0.05 * plain
