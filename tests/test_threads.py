"""``nppg.threads``: vpg trains with the BLAS thread count it is given, and puts the previous one back."""
import pytest

import nppg
from nppg.threads import get_threads, set_threads

needs_control = pytest.mark.skipif(get_threads() is None, reason="this platform's BLAS thread count cannot be set")
SMALL = dict(epochs=2, steps_per_epoch=200, num_envs=2, hidden=(8,), train_v_iters=2)


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
def test_vpg_trains_with_its_thread_count_and_restores_the_previous_one(threads):
    before = get_threads()
    other = 2 if threads == 1 else 1
    set_threads(other)
    seen = []
    try:
        nppg.vpg("CartPole-v1", threads=threads, callback=lambda record, result: seen.append(get_threads()), **SMALL)
        assert seen == [threads, threads] and get_threads() == other
        nppg.vpg("CartPole-v1", threads=0, callback=lambda record, result: seen.append(get_threads()), **SMALL)
        assert seen[2:] == [other, other]  # 0: left alone
    finally:
        set_threads(before)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_a_thread_count_that_is_not_a_positive_whole_number_is_refused(bad):
    with pytest.raises(ValueError, match="threads must be a whole number >= 1"):
        set_threads(bad)


def test_vpg_refuses_a_negative_thread_count():
    with pytest.raises(ValueError, match="threads must be a whole number >= 0; got -1"):
        nppg.vpg("CartPole-v1", threads=-1, **SMALL)


@needs_control
def test_the_thread_count_is_put_back_when_training_fails():
    before = get_threads()
    set_threads(2)
    try:
        def fail(record, result):
            raise RuntimeError("a callback that breaks")
        with pytest.raises(RuntimeError, match="a callback that breaks"):
            nppg.vpg("CartPole-v1", threads=1, callback=fail, **SMALL)
        assert get_threads() == 2
    finally:
        set_threads(before)
