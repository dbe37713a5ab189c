"""How many threads NumPy's matrix products (its BLAS library) use.

nppg's products are small: (N, 64) @ (64, 64) on blocks of one or two thousand rows. On a 2-core
machine, two BLAS threads split each product in two, and the epoch is slower than with nppg's own
two threads, which compute whole blocks of the value fit at once (``EngineConfig.threads``;
docs/performance.md has the measurements). So ``nppg.train`` trains with one BLAS thread and puts
the previous count back when it returns.

The usual way, ``OPENBLAS_NUM_THREADS=1`` in the environment, works only if set before NumPy is
imported. Here the BLAS already loaded is asked directly: OpenBLAS (what NumPy's wheels ship)
on Linux, or any library ``threadpoolctl`` knows, if that package is installed. Elsewhere the
count is left alone and ``set_threads`` returns None.
"""
import contextlib
import ctypes
import re

import numpy as np

_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads", "openblas_set_num_threads")
_GETTERS = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads", "openblas_get_num_threads")


def openblas():
    """The OpenBLAS library loaded in this process (Linux), as a ctypes CDLL with the thread count's getter
    and setter, or None."""
    try:
        with open("/proc/self/maps") as f:
            paths = sorted(set(re.findall(r"/\S*openblas\S*\.so\S*", f.read())))
    except OSError:
        return None
    for path in paths:
        lib = ctypes.CDLL(path)
        if any(hasattr(lib, n) for n in _GETTERS) and any(hasattr(lib, n) for n in _SETTERS):
            return lib
    return None


def _openblas():
    """(get, set) of the OpenBLAS loaded in this process (Linux), or None."""
    lib = openblas()
    if lib is None:
        return None
    return next(getattr(lib, n) for n in _GETTERS if hasattr(lib, n)), next(getattr(lib, n) for n in _SETTERS if hasattr(lib, n))


def _blas():
    """(get, set) of the thread count: OpenBLAS's own, else threadpoolctl's if installed, else None."""
    openblas = _openblas()
    if openblas is not None:
        return openblas
    try:
        import threadpoolctl
    except ImportError:
        return None

    def get():
        counts = [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]
        return counts[0] if counts else None
    return get, lambda n: threadpoolctl.threadpool_limits(n, user_api="blas")


def get_threads():
    """The BLAS thread count now, or None if it cannot be read here."""
    blas = _blas()
    return None if blas is None else blas[0]()  # ctypes gives OpenBLAS's C int as a Python int


def whole(x, low):
    """Is x a whole number (not a bool) of at least ``low``? The one check of every count nppg takes."""
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool) and x >= low


def set_threads(n):
    """Use ``n`` BLAS threads from now on; returns the previous count, or None where that is not possible."""
    if not whole(n, 1):
        raise ValueError(f"threads must be a whole number >= 1; got {n!r}")
    blas = _blas()
    if blas is None:
        return None
    before = blas[0]()
    blas[1](int(n))
    return before


@contextlib.contextmanager
def one_thread():
    """One BLAS thread per product inside the block (nppg's products are too small to gain from more, and lose
    much to a second thread whose core is busy: docs/performance.md), the previous count put back after."""
    before = set_threads(1)
    try:
        yield
    finally:
        if before is not None:
            set_threads(before)
