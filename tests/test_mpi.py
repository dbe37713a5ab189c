"""Data-parallel VPG on MPI (engine/mpi.py): the same algorithm, the same run twice, exact resumes, one
failure ending the whole job. Each test launches ``mpiexec -n N`` in a subprocess with a timeout; without
the extra nppg[mpi] they are skipped (the pure-Python parts at the top run everywhere)."""
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, strategies as st

from nppg.engine import mpi
from nppg.engine.threads import get_threads
from nppg.engine import checkpoint
from scripts import load_benchmark
from test_robust import arrays, assert_same_run, progress, wait_for_epochs

TESTS = os.path.dirname(os.path.abspath(__file__))
MPIEXEC = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
HAVE_MPI = importlib.util.find_spec("mpi4py") is not None and MPIEXEC is not None
needs_mpi = pytest.mark.skipif(not HAVE_MPI, reason="needs the extra nppg[mpi] (mpi4py and an mpiexec beside "
                                                    "python): pip install 'nppg[mpi]'")


class Ranks:
    """Stands in for ``DataParallel`` where only rank and size matter."""

    def __init__(self, rank, size):
        self.rank, self.size = rank, size


@given(st.integers(1, 100_000), st.integers(1, 64))
def test_the_shares_of_the_ranks_add_up_to_the_batch_and_differ_by_at_most_one(steps, size):
    shares = [mpi.DataParallel.share(Ranks(r, size), steps) for r in range(size)]
    assert sum(shares) == steps and max(shares) - min(shares) <= 1 and shares == sorted(shares, reverse=True)


def test_outside_mpiexec_nothing_is_data_parallel_and_mpi4py_is_not_imported():
    assert not mpi.launched() and mpi.world() is None and "mpi4py.MPI" not in sys.modules


@pytest.mark.parametrize("variables, launched", [
    ({"PMI_SIZE": "2"}, True), ({"OMPI_COMM_WORLD_SIZE": "4"}, True),
    ({"PMI_SIZE": "1", "PMI_RANK": "0"}, False), ({"PMIX_RANK": "0"}, False),  # mpiexec -n 1; srun with PMIx
])
def test_only_a_job_of_two_or_more_processes_counts_as_launched(monkeypatch, variables, launched):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert mpi.launched() == launched


def test_a_child_process_of_a_rank_gets_an_environment_without_mpiexecs_variables(monkeypatch):
    monkeypatch.setenv("PMI_RANK", "1")
    monkeypatch.setenv("PMI_FD", "9")
    monkeypatch.setenv("HYDRA_CONTROL_FD", "7")
    monkeypatch.setenv("NPPG_KEEP", "yes")
    child = mpi.plain_environ()
    assert not any(k.startswith(("PMI_", "HYDRA_")) for k in child) and child["NPPG_KEEP"] == "yes"


def child_env():
    """For mpiexec started from a test: no MPI variables of ours, and the test environments importable."""
    return {**mpi.plain_environ(), "PYTHONPATH": os.pathsep.join(filter(None, [TESTS, os.environ.get("PYTHONPATH")]))}


def test_each_rank_is_sent_the_shared_arrays_and_its_own_only():
    saved = ({"epoch": 3}, {"pi.W0": 1, "rollout.obs": 2, "rank1.rollout.obs": 3, "rank1.actions": 4,
                            "rank10.actions": 5, "rank2.actions": 6}, "rank 0's actions")
    assert checkpoint.for_rank(saved, 1) == ({"epoch": 3}, {"pi.W0": 1, "rollout.obs": 2, "rank1.rollout.obs": 3,
                                                            "rank1.actions": 4}, None)
    assert checkpoint.for_rank(saved, 0)[1:] == ({"pi.W0": 1, "rollout.obs": 2}, "rank 0's actions")


def mpirun(n, *args, timeout=120, nppg=True, **kw):
    """``mpiexec -n n python -m mpi4py [-m nppg] args``, its output captured."""
    env = child_env()
    cmd = [MPIEXEC, "-n", str(n), sys.executable, "-m", "mpi4py", *(["-m", "nppg"] if nppg else []), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, **kw)


@contextlib.contextmanager
def job(n, *args):
    """``mpiexec -n n python -m mpi4py -m nppg args`` running in a session of its own, which is ended (ranks
    and all) if the test fails before the job does."""
    proc = subprocess.Popen([MPIEXEC, "-n", str(n), sys.executable, "-m", "mpi4py", "-m", "nppg", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(),
                            start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()


@needs_mpi
@pytest.mark.parametrize("n, env, settings", [
    (2, "Pendulum-v1", ["steps_per_epoch=1001", "num_envs=2", "normalize_obs=True", "scale_rewards=True"]),
    (3, "CartPole-v1", ["steps_per_epoch=1001", "num_envs=3", "vf_dtype='float32'", "weights='reward-to-go'"]),
])
def test_ranks_agree_after_every_epoch_and_an_epoch_is_the_single_process_epoch_on_their_batches(
        tmp_path, n, env, settings):
    """(27): the weighted average of the ranks' gradients is the gradient of the batch put together, to
    1e-10; so are the parameters after the policy step and 80 value steps, and the statistics (24)."""
    out = tmp_path / "report.json"
    done = mpirun(n, os.path.join(TESTS, "mpi_job.py"), str(out), env, "epochs=3", *settings, nppg=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    epochs, readable = report["engine"]["epochs"], get_threads() is not None
    assert all(e["identical"] for e in epochs)                       # parameters, Adam, statistics, counts
    assert all(e["blas_threads"] == 1 or not readable for e in epochs) and report["engine"]["threads"]
    assert [e["env_steps"] for e in epochs] == list(np.cumsum([sum(e["local_sizes"]) for e in epochs]))
    assert all(e["record_gap"] < 1e-9 for e in epochs)              # losses, KL, episodes: every rank's
    assert sum(e["episodes"] for e in epochs) > 0 and report["engine"]["own_rng_and_envs"]
    single = report["single"]                                        # 3 epochs, each against one process
    assert single["grad"] < 1e-10 and single["theta"] < 1e-10 and single["phi"] < 1e-10, single
    assert single["obs_stats"] < 1e-12
    assert len(single["ranks_rows"]) == n and single["rows"] == sum(single["ranks_rows"]) >= 1001
    if n == 3:  # 1001 steps over 3 ranks: 334, 334, 333, each rounded up to whole vector steps of 3 copies
        assert single["ranks_rows"][0] >= 334 and single["ranks_rows"][2] >= 333
    assert report["stopped_at"] == [2] * n                           # a callback's stop on the last rank only
    refused = report["refused"]
    assert refused[0].startswith("rank 1 of") and all("must share its settings" in r for r in refused)
    *others, last = report["together"]                               # DataParallel.together, the last rank failing
    assert last == ["ZeroDivisionError: division by zero", []]
    assert others == [[f"PeerError: rank {n - 1} of {n} failed: ZeroDivisionError: division by zero", [f"made on {r}"]]
                      for r in range(n - 1)]


SMALL = ["--steps-per-epoch", "1000", "--hidden", "32", "--train-v-iters", "10", "--quiet"]


def assert_same_state(a, b):
    assert_same_run(a, b)
    sa, sb = arrays(os.path.join(a, "state.npz")), arrays(os.path.join(b, "state.npz"))
    assert sa.keys() == sb.keys() and all(np.array_equal(sa[k], sb[k]) for k in sa)
    for rank in range(2):
        with open(checkpoint.actions_path(a, rank), "rb") as fa, open(checkpoint.actions_path(b, rank), "rb") as fb:
            assert fa.read() == fb.read()


@needs_mpi
def test_the_same_command_twice_gives_the_same_run_and_a_resume_under_the_same_n_continues_it_exactly(tmp_path):
    a, b, c = (str(tmp_path / x) for x in "abc")
    for out in (a, b):
        done = mpirun(2, "train", "--epochs", "4", *SMALL, "--normalize-obs", "--out", out)
        assert done.returncode == 0, done.stderr
    assert_same_state(a, b)
    header = checkpoint.read_checkpoint(os.path.join(a, "state.npz"))[0]
    assert header["ranks"] == 2 and progress(a)[-1]["env_steps"] == str(header["env_steps"])
    assert int(progress(a)[0]["env_steps"]) >= 1000  # the global count: both ranks' steps
    assert os.path.getsize(checkpoint.actions_path(a, 1)) > 0
    assert mpirun(2, "train", "--epochs", "2", *SMALL, "--normalize-obs", "--out", c).returncode == 0
    done = mpirun(2, "train", "--resume", c, "--epochs", "4", "--quiet")
    assert done.returncode == 0, done.stderr
    assert_same_state(a, c)


@needs_mpi
def test_a_run_resumes_only_on_the_number_of_processes_it_was_trained_on(tmp_path):
    run = str(tmp_path / "run")
    assert mpirun(2, "train", "--epochs", "1", *SMALL, "--out", run).returncode == 0
    three = mpirun(3, "train", "--resume", run, "--epochs", "2")
    alone = subprocess.run([sys.executable, "-m", "nppg", "train", "--resume", run, "--epochs", "2"],
                           capture_output=True, text=True, timeout=60)
    for done in (three, alone):
        assert done.returncode != 0
        assert "trained on 2 MPI ranks and cannot continue exactly" in done.stderr
        assert "mpiexec -n 2 python -m mpi4py -m nppg train --resume" in done.stderr
    assert len(progress(run)) == 1
    single = str(tmp_path / "single")
    assert subprocess.run([sys.executable, "-m", "nppg", "train", "--epochs", "1", *SMALL, "--out", single],
                          timeout=60).returncode == 0
    two = mpirun(2, "train", "--resume", single, "--epochs", "2")
    assert two.returncode != 0 and "trained on one process" in two.stderr and "without mpiexec" in two.stderr


@needs_mpi
@pytest.mark.parametrize("launch", ["python -m mpi4py -m nppg", "python -m nppg"])
@pytest.mark.parametrize("env_id, message", [
    ("BrokenAboveSeed-v0", ["error (rank 1 of 2): environment copy", "non-finite reward nan"]),
    ("RaisesAboveSeed-v0", ["RuntimeError: an environment seeded 2 broke down"]),
])
def test_a_failure_on_one_rank_ends_the_whole_job_within_seconds_with_its_message(tmp_path, launch, env_id,
                                                                                  message):
    """Rank 1's copies (seeds 2 and 3) return NaN, or raise; rank 0's do not. Rank 0 must not wait for rank 1
    forever, whether mpi4py's runner or nppg's own handler ends the job."""
    cmd = [MPIEXEC, "-n", "2", sys.executable, *launch.split()[1:], "train", "--env", f"nppg_test_envs:{env_id}",
           "--num-envs", "2", "--steps-per-epoch", "40", "--epochs", "1000", "--quiet", "--out", str(tmp_path / "run")]
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=child_env())
    assert done.returncode != 0 and time.perf_counter() - t < 30
    assert all(m in done.stderr for m in message), done.stderr
    assert "error (rank 0 of 2): rank 1 of 2 failed" in done.stderr  # rank 0 knew, and cleaned up:
    assert not os.path.exists(tmp_path / "run")                      # it failed before its first epoch


@needs_mpi
def test_a_size_that_cannot_fit_is_refused_at_once_under_mpi(tmp_path):
    t = time.perf_counter()
    done = mpirun(2, "train", "--hidden", "100000000", "--out", str(tmp_path / "run"), timeout=60)
    assert done.returncode != 0 and "needs at least" in done.stderr and time.perf_counter() - t < 30
    assert not os.path.exists(tmp_path / "run" / "progress.csv")


@needs_mpi
@pytest.mark.slow
def test_ctrl_c_to_mpiexec_stops_every_rank_after_the_same_epoch_with_a_checkpoint_that_resumes(tmp_path):
    whole, part = str(tmp_path / "whole"), str(tmp_path / "part")
    args = ["train", "--epochs", "300", "--steps-per-epoch", "2000", "--hidden", "32", "--train-v-iters", "10",
            "--save-every", "1000", "--quiet"]
    with job(2, *args, "--out", part) as proc:
        wait_for_epochs(part, 3, proc)
        proc.send_signal(signal.SIGINT)                              # mpiexec passes it to every rank
        out, err = proc.communicate(timeout=60)
    stopped_at = len(progress(part))
    assert 3 <= stopped_at < 300 and f"Continue with: mpiexec -n 2 python -m mpi4py -m nppg train --resume {part}" in out
    assert checkpoint.read_checkpoint(os.path.join(part, "state.npz"))[0]["epoch"] == stopped_at
    assert mpirun(2, "train", "--resume", part, "--epochs", str(stopped_at + 2), "--quiet").returncode == 0
    assert mpirun(2, *args[:1], "--epochs", str(stopped_at + 2), *args[3:], "--out", whole).returncode == 0
    assert_same_state(whole, part)


@needs_mpi
def test_a_sweep_under_mpiexec_spreads_its_runs_over_the_ranks_into_the_run_directories_of_a_local_sweep(tmp_path):
    args = ["sweep", "--seeds", "0", "1", "--grid", "lam=0.9,0.97", "--", "--epochs", "2", "--steps-per-epoch", "300",
            "--hidden", "16"]
    spread = mpirun(2, *args[:1], "--out", str(tmp_path / "mpi"), *args[1:])
    assert spread.returncode == 0, spread.stderr
    assert "on each of 2 MPI ranks" in spread.stdout and "all 4 runs done" in spread.stdout
    assert {"(rank 0)", "(rank 1)"} <= {line[-8:] for line in spread.stdout.splitlines() if "finished" in line}
    local = subprocess.run([sys.executable, "-m", "nppg", *args[:1], "--out", str(tmp_path / "local"), *args[1:]],
                           capture_output=True, text=True, timeout=120, env=child_env())
    assert local.returncode == 0, local.stderr
    for lam in ("0.9", "0.97"):
        for seed in ("s0", "s1"):
            assert_same_run(*(str(tmp_path / where / "CartPole-v1" / f"lam={lam}" / seed) for where in ("mpi", "local")))
    again = mpirun(2, *args[:1], "--out", str(tmp_path / "mpi"), *args[1:])
    assert again.returncode == 0 and "4 done, 0 to resume, 0 to start" in again.stdout


@needs_mpi
def test_the_mpi_speed_benchmark_times_an_epoch_and_the_collectives_inside_it():
    """benchmarks/mpi_speed.py backs docs/mpi.md's figures; its probe must keep timing the real collectives."""
    epoch_s, comm_s = load_benchmark("mpi_speed").comm_seconds(SimpleNamespace(env="CartPole-v1", epochs=4))
    assert 0 < comm_s < epoch_s < 5


@needs_mpi
def test_commands_with_nothing_to_share_out_say_so_under_mpiexec(tmp_path):
    done = mpirun(2, "eval", str(tmp_path), timeout=60)
    assert done.returncode != 0 and done.stderr.count("nppg eval: error: it runs on one process; run it without "
                                                      "mpiexec") == 1


def rank_pid(rank, marker):
    """The pid of the process that mpiexec started as ``rank`` with ``marker`` on its command line (Linux)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f, open(f"/proc/{pid}/environ", "rb") as g:
                cmd, env = f.read(), g.read().split(b"\0")
        except OSError:
            continue
        if marker.encode() in cmd and f"PMI_RANK={rank}".encode() in env:
            return int(pid)
    return None


@needs_mpi
@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the rank's process through /proc")
def test_two_signals_to_one_rank_stop_the_whole_job_at_once_without_a_hang(tmp_path):
    """A scheduler or a kill may signal one rank, not mpiexec: the second signal stops that rank at once, and
    it must take the others with it (they would otherwise wait for it in the next collective)."""
    run = str(tmp_path / "run")
    with job(2, "train", "--epochs", "300", "--steps-per-epoch", "200000", "--hidden", "32", "--quiet",
             "--out", run) as proc:
        wait_for_epochs(run, 1, proc)  # then both within the second epoch, of about 3 s
        pid = rank_pid(1, run)
        assert pid is not None
        for _ in range(2):
            os.kill(pid, signal.SIGINT)
            time.sleep(0.05)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGINT and "(rank 1 of 2): stopped at once" in err
    assert len(progress(run)) == 1                                   # the second epoch was not finished
