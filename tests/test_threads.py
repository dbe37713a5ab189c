"""Threads: the value fit's blocks in a thread pool give the same run to the bit; ``nppg.engine.threads``
sets the BLAS thread count to one while training and puts the previous one back."""
import sys
import threading
import types

import numpy as np
import pytest

import nppg
from nppg.engine.threads import get_threads, set_threads

needs_control = pytest.mark.skipif(get_threads() is None, reason="this platform's BLAS thread count cannot be set")
SMALL = dict(epochs=2, steps_per_epoch=200, num_envs=2, hidden=(8,), train_v_iters=2)


def fit_threads():
    return [t for t in threading.enumerate() if t.name.startswith("nppg-fit")]


@pytest.mark.parametrize("vf_dtype, block", [("float64", 128), ("float32", 256)])
def test_a_run_is_the_same_to_the_bit_with_any_number_of_threads(vf_dtype, block):
    """threads only shares the value fit's blocks out: every record and parameter is equal, not close.
    Batches of 600 rows at width 1024 make five blocks of 120 rows in float64 (1 MB is 128 rows) and three
    of 200 in float32 (256 rows), which two or three threads share. (threads=0 is not in the list: it
    leaves BLAS at its own thread count, and OpenBLAS's products of this width differ in the last bits
    with two threads.)"""
    runs = {}
    for threads in (1, 2, 3):
        cfg = dict(SMALL, epochs=3, steps_per_epoch=600, hidden=(1024,), train_v_iters=5, vf_dtype=vf_dtype)
        state = nppg.train("Pendulum-v1", threads=threads, seed=4, **cfg)
        assert state.value_fn.block == block
        runs[threads] = state
    first = runs[1]
    drop_time = [{k: v for k, v in r.items() if k not in ("time_s", "steps_per_s")} for r in first.history]
    for threads, state in runs.items():
        assert [{k: v for k, v in r.items() if k not in ("time_s", "steps_per_s")} for r in state.history] == drop_time
        for net, first_net in ((state.policy, first.policy), (state.value_fn, first.value_fn)):
            assert all(np.array_equal(net.params[k], first_net.params[k]) for k in net.params)
    assert fit_threads() == []  # the pool is shut down when train returns


@needs_control
def test_set_threads_sets_and_returns_the_previous_count():
    before = get_threads()
    try:
        assert set_threads(1) == before and get_threads() == 1
        assert set_threads(2) == 1 and get_threads() == 2
    finally:
        set_threads(before)


@needs_control
@pytest.mark.parametrize("threads", [1, 2])
def test_train_trains_with_one_blas_thread_and_restores_the_previous_count(threads):
    before = get_threads()
    set_threads(2)
    seen = []
    try:
        nppg.train("CartPole-v1", threads=threads, callback=lambda record, state: seen.append(get_threads()), **SMALL)
        assert seen == [1, 1] and get_threads() == 2
        nppg.train("CartPole-v1", threads=0, callback=lambda record, state: seen.append(get_threads()), **SMALL)
        assert seen[2:] == [2, 2]  # 0: left alone
    finally:
        set_threads(before)


@needs_control
def test_vpg_as_the_package_exports_it_runs_on_one_blas_thread_and_puts_the_count_back():
    """A second BLAS thread on a busy core made nppg.vpg(epochs=5) take 25 s instead of 3 (docs/performance.md)."""
    before = get_threads()
    set_threads(2)
    seen = []
    try:
        nppg.vpg("CartPole-v1", callback=lambda record, state: seen.append(get_threads()), **SMALL)
        assert seen == [1, 1] and get_threads() == 2
        def fail(record, state):
            raise RuntimeError("a callback that breaks")
        with pytest.raises(RuntimeError, match="a callback that breaks"):
            nppg.vpg("CartPole-v1", callback=fail, **SMALL)
        assert get_threads() == 2
    finally:
        set_threads(before)


@needs_control
def test_the_examples_take_one_blas_thread_on_their_way_in():
    """examples/progress.py, which every numbered example imports, sets it: no environment variable needed."""
    import os
    import subprocess
    examples = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
    code = ("from nppg.engine.threads import get_threads, set_threads; set_threads(2); a = get_threads(); "
            "import progress; print(a, get_threads())")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], cwd=examples, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["2", "1"]


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_a_thread_count_that_is_not_a_positive_whole_number_is_refused(bad):
    with pytest.raises(ValueError, match="threads must be a whole number >= 1"):
        set_threads(bad)


def test_train_refuses_a_negative_thread_count():
    with pytest.raises(ValueError, match="threads must be a whole number >= 0; got -1"):
        nppg.train("CartPole-v1", threads=-1, **SMALL)


@needs_control
def test_the_thread_count_and_the_pool_are_put_back_when_training_fails():
    before = get_threads()
    set_threads(2)
    try:
        def fail(record, state):
            assert len(fit_threads()) == 2  # the value fit ran in the pool
            raise RuntimeError("a callback that breaks")
        with pytest.raises(RuntimeError, match="a callback that breaks"):
            nppg.train("CartPole-v1", threads=2, callback=fail, **dict(SMALL, steps_per_epoch=2000, hidden=(64,)))
        assert get_threads() == 2 and fit_threads() == []
    finally:
        set_threads(before)


def test_without_openblas_the_count_goes_through_threadpoolctl(monkeypatch):
    """The fallback for a BLAS that is not OpenBLAS on Linux, with a stand-in for threadpoolctl."""
    import nppg.engine.threads
    count = {"blas": 3}
    fake = types.SimpleNamespace(
        threadpool_info=lambda: [{"user_api": "openmp", "num_threads": 9},
                                 {"user_api": "blas", "num_threads": count["blas"]}],
        threadpool_limits=lambda n, user_api: count.update({user_api: n}))
    monkeypatch.setattr(nppg.engine.threads, "_openblas", lambda: None)
    monkeypatch.setitem(sys.modules, "threadpoolctl", fake)
    assert get_threads() == 3
    assert set_threads(1) == 3 and get_threads() == 1 and count == {"blas": 1}


def test_without_openblas_or_threadpoolctl_the_count_is_left_alone(monkeypatch):
    import nppg.engine.threads
    monkeypatch.setattr(nppg.engine.threads, "_openblas", lambda: None)
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import threadpoolctl raises ImportError
    assert get_threads() is None and set_threads(1) is None
