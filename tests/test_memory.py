"""``nppg.engine.memory``: with glibc asked to keep freed memory, the value fit stops faulting in fresh pages."""
import subprocess
import sys

import pytest

from nppg.engine.memory import keep_freed_memory

# 20 value steps on 2,000 rows (two 512 KB blocks), counting the page faults of the last 10
SCRIPT = """
import resource, sys
import numpy as np
from nppg.engine.memory import keep_freed_memory
from nppg.engine import FastValueFunction
if sys.argv[1] == "keep":
    assert keep_freed_memory()
rng = np.random.default_rng(0)
obs, targets = rng.standard_normal((2000, 4)), rng.standard_normal(2000)
vf = FastValueFunction(4, (64, 64), rng=rng)
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


# after keep_freed_memory(): how much of a freed array of each size stays in the heap as free space
HEAP_SCRIPT = """
import ctypes, sys
import numpy as np
from nppg.engine.memory import keep_freed_memory
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
assert keep_freed_memory()
for mb in (1, 6):
    before = libc.mallinfo2().fordblks
    a = np.ones(mb * 2**20 // 8)
    del a
    print((libc.mallinfo2().fordblks - before) / 2**20)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or not keep_freed_memory(), reason="needs Linux with glibc")
def test_large_allocations_are_not_kept_in_the_heap():
    """A freed 1 MB array stays in the heap for reuse; a freed 6 MB one (MuJoCo compiles its models
    with work areas that size) does not, since unwritten free space there is what NumPy's arrays
    later moved into page by page, the memory of a HalfCheetah run growing for many epochs."""
    try:
        out = subprocess.run([sys.executable, "-c", HEAP_SCRIPT], capture_output=True, text=True, check=True).stdout
    except subprocess.CalledProcessError as e:
        if "mallinfo2" in e.stderr:
            pytest.skip("this glibc has no mallinfo2 (it came in 2.33)")
        raise
    kept_1mb, kept_6mb = map(float, out.split())
    assert kept_1mb > 0.5
    assert kept_6mb < 1.0
