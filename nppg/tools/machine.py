"""What a time was measured on: the CPU, its cores, whether it has AVX-512, and the BLAS kernels NumPy runs.

A matrix product's speed, and its last bits, depend on the BLAS kernel, which OpenBLAS picks by CPU
(or by ``OPENBLAS_CORETYPE``): float64 products run about half as fast with AVX2 kernels as with
AVX-512 ones. ``nppg bench`` and the scripts in ``benchmarks/`` print this line with their figures.
"""
import ctypes
import os
import platform

import numpy as np

from ..engine.threads import openblas


def cpu():
    """(model name, AVX-512 or not) from /proc/cpuinfo, or the platform's processor name elsewhere."""
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
    except OSError:
        return platform.processor() or platform.machine() or "unknown CPU", None
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    model = fields.get("model name") or fields.get("Model") or platform.machine()
    flags = fields.get("flags", "").split()
    return model, ("avx512f" in flags) if flags else None


_NAMES = [("scipy_openblas_get_config64_", "scipy_openblas_get_corename64_"),  # NumPy's wheels
          ("scipy_openblas_get_config", "scipy_openblas_get_corename"), ("openblas_get_config", "openblas_get_corename")]


def blas():
    """NumPy's BLAS and the kernels it runs: 'OpenBLAS 0.3.31, Haswell kernels', or what NumPy says."""
    lib = openblas()
    for config, core in ([] if lib is None else _NAMES):
        if hasattr(lib, config) and hasattr(lib, core):
            config, core = getattr(lib, config), getattr(lib, core)
            config.restype = core.restype = ctypes.c_char_p
            words = config().decode().split()  # "OpenBLAS 0.3.31.188.0 USE64BITINT DYNAMIC_ARCH ..."
            return f"OpenBLAS {words[1] if len(words) > 1 else ''}, {core().decode()} kernels"
    try:
        return np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except Exception:  # older NumPy, or a build that does not say
        return "BLAS unknown"


def describe():
    """One line: CPU model, cores this process may use, AVX-512, NumPy and its BLAS kernels."""
    model, avx512 = cpu()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    avx = "" if avx512 is None else (", AVX-512" if avx512 else ", no AVX-512")
    forced = os.environ.get("OPENBLAS_CORETYPE")
    forced = f" (OPENBLAS_CORETYPE={forced})" if forced else ""
    return f"{model}, {cores} cores{avx}; NumPy {np.__version__}, {blas()}{forced}"
