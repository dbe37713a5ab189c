"""``nppg sweep``: every run a normal run directory, the same as ``nppg train`` makes; run again, it skips
what is done and resumes what was interrupted; Ctrl-C reaches every run once."""
import os
import signal
import subprocess
import sys

import pytest
from test_cli import error_of
from test_robust import assert_same_run, progress, wait_for_epochs

from nppg.tools.cli import main

TINY = ["--steps-per-epoch", "64", "--num-envs", "2", "--hidden", "8", "--train-v-iters", "2"]


def sweep(out, *more, epochs=2):
    return main(["sweep", "--env", "CartPole-v1", "--seeds", "0", "1", "--grid", "lam=0.9,0.97", "--out", str(out),
                 "--jobs", "2", *more, "--", "--epochs", str(epochs), *TINY])


def runs(out):
    return [os.path.join(out, "CartPole-v1", f"lam={lam}", f"s{seed}") for lam in ("0.9", "0.97") for seed in (0, 1)]


def test_each_run_is_the_run_that_nppg_train_makes(tmp_path):
    out = tmp_path / "sweep"
    assert sweep(out) == 0
    for run in runs(out):
        lam, seed = run.split(os.sep)[-2].split("=")[1], run[-1]
        alone = str(tmp_path / f"alone-{lam}-{seed}")
        assert main(["train", "--seed", seed, "--lam", lam, "--epochs", "2", *TINY, "--quiet", "--out", alone]) == 0
        assert_same_run(alone, run)
        assert os.path.isfile(os.path.join(run, "train.log"))


def test_run_again_it_skips_what_is_done_and_resumes_to_more_epochs(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert sweep(out) == 0
    stamps = [os.stat(os.path.join(r, "progress.csv")).st_mtime_ns for r in runs(out)]
    capsys.readouterr()
    assert sweep(out) == 0
    assert "4 done, 0 to resume, 0 to start" in capsys.readouterr().out
    assert stamps == [os.stat(os.path.join(r, "progress.csv")).st_mtime_ns for r in runs(out)]
    assert sweep(out, epochs=3) == 0  # a longer sweep resumes every run from its epoch 2
    longer = tmp_path / "longer"
    assert sweep(longer, epochs=3) == 0
    for a, b in zip(runs(out), runs(longer)):
        assert_same_run(a, b)


def test_a_run_that_stopped_before_its_first_save_is_started_again(tmp_path):
    out = tmp_path / "sweep"
    assert sweep(out) == 0
    first = runs(out)[0]
    for f in ("state.npz", "policy.npz"):
        os.remove(os.path.join(first, f))  # as if it had been killed before epoch 2 was saved
    assert sweep(out) == 0
    assert len(progress(first)) == 2 and os.path.isfile(os.path.join(first, "state.npz"))
    assert_same_run(first, runs(out)[0])


def test_mistakes_are_refused_before_anything_runs(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert sweep(out) == 0
    err = error_of(["sweep", "--env", "CartPole-v1", "--seeds", "0", "--grid", "lam=0.9", "--out", str(out),
                    "--", "--epochs", "2", *TINY[:-2], "--train-v-iters", "3"], capsys)
    assert "holds a run with other settings (train_v_iters)" in err
    assert "--grid takes FLAG=V1,V2" in error_of(["sweep", "--grid", "lam", "--out", str(tmp_path / "x")], capsys)
    assert "not flags of nppg train: --bogus" in error_of(["sweep", "--out", str(tmp_path / "x"), "--", "--bogus"],
                                                          capsys)
    assert "give --seed to nppg sweep itself" in error_of(["sweep", "--out", str(tmp_path / "x"), "--", "--seed", "3"],
                                                          capsys)
    assert not (tmp_path / "x").exists()


def test_runs_with_lr_decay_are_not_extended_but_refused_before_anything_runs(tmp_path, capsys):
    """(28) sizes a run's steps by its length: a longer sweep over such runs is refused at once, naming one."""
    decay = ["sweep", "--env", "CartPole-v1", "--seeds", "0", "--out", str(tmp_path / "decay"), "--"]
    assert main([*decay, "--epochs", "2", "--lr-decay", *TINY]) == 0
    before = progress(os.path.join(tmp_path, "decay", "CartPole-v1", "default", "s0"))
    err = error_of([*decay, "--epochs", "3", "--lr-decay", *TINY], capsys)
    assert "decays its step sizes over its 2 epochs (28): it cannot go on to 3" in err
    assert progress(os.path.join(tmp_path, "decay", "CartPole-v1", "default", "s0")) == before


@pytest.mark.slow
def test_ctrl_c_saves_every_run_and_the_same_command_finishes_them_exactly(tmp_path):
    args = ["sweep", "--env", "CartPole-v1", "--seeds", "0", "1", "--jobs", "2", "--", "--epochs", "40",
            "--steps-per-epoch", "1000", "--hidden", "32", "--train-v-iters", "10", "--save-every", "1000"]
    whole, part = tmp_path / "whole", tmp_path / "part"
    assert main(args[:1] + ["--out", str(whole)] + args[1:]) == 0
    proc = subprocess.Popen([sys.executable, "-m", "nppg", *args[:1], "--out", str(part), *args[1:]],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = os.path.join(part, "CartPole-v1", "default", "s0")
    wait_for_epochs(first, 3, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGINT, err
    assert "Run the same command again" in out and "Traceback" not in err
    assert main(args[:1] + ["--out", str(part)] + args[1:]) == 0
    for seed in (0, 1):
        assert_same_run(os.path.join(whole, "CartPole-v1", "default", f"s{seed}"),
                        os.path.join(part, "CartPole-v1", "default", f"s{seed}"))


def pid_of_run(run_dir):
    """The process training ``run_dir`` (started by a sweep, so known by its --out)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"train" in argv and os.fsencode(run_dir) in argv:
            return int(pid)
    raise AssertionError(f"no process trains {run_dir}")


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds the run's process through /proc")
def test_a_run_stopped_alone_is_reported_not_counted_as_done(tmp_path):
    args = ["sweep", "--env", "CartPole-v1", "--seeds", "0", "1", "--jobs", "1", "--out", str(tmp_path), "--",
            "--epochs", "20", "--steps-per-epoch", "500", "--hidden", "16", "--train-v-iters", "5"]
    proc = subprocess.Popen([sys.executable, "-m", "nppg", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    first, second = (os.path.join(tmp_path, "CartPole-v1", "default", f"s{seed}") for seed in (0, 1))
    wait_for_epochs(first, 2, proc)
    os.kill(pid_of_run(first), signal.SIGTERM)  # to that run alone, not to the sweep
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert "runs done" not in out and f"1 of 2 runs stopped by a signal before their end" in err, (out, err)
    assert len(progress(first)) < 20 and len(progress(second)) == 20  # the other run went on to its end
    assert main(args) == 0 and len(progress(first)) == 20  # the same command finishes it


def test_a_broken_state_is_reported_not_deleted(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert sweep(out) == 0
    state = os.path.join(runs(out)[0], "state.npz")
    with open(state, "wb") as f:
        f.write(b"not a checkpoint")
    assert "is not a readable .npz checkpoint" in error_of(
        ["sweep", "--env", "CartPole-v1", "--seeds", "0", "1", "--grid", "lam=0.9,0.97", "--out", str(out), "--",
         "--epochs", "2", *TINY], capsys)
    assert open(state, "rb").read() == b"not a checkpoint"
