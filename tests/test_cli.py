"""The command line and the run directory: train, eval, plot, checkpoints that cannot hurt."""
import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from run_dirs import logger

import nppg
from nppg.engine.checkpoint import CheckpointError, load_checkpoint, read_checkpoint
from nppg.tools.cli import main

TINY = ["--epochs", "3", "--steps-per-epoch", "200", "--num-envs", "2", "--hidden", "8", "--train-v-iters", "2"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("runs") / "cartpole")
    assert main(["train", "--out", out, "--quiet", *TINY]) == 0
    return out


def test_train_writes_config_progress_and_checkpoint(run_dir):
    assert sorted(os.listdir(run_dir)) == ["config.json", "env_actions.bin", "policy.npz", "progress.csv", "state.npz"]
    cfg = json.load(open(os.path.join(run_dir, "config.json")))
    assert cfg["env"] == "CartPole-v1" and cfg["epochs"] == 3 and cfg["hidden"] == [8]
    rows = list(csv.DictReader(open(os.path.join(run_dir, "progress.csv"))))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    for col in ["env_steps", "episodes", "mean_return", "std_return", "min_return", "max_return", "mean_ep_len",
                "loss_pi", "loss_v", "entropy", "kl", "delta_loss_pi", "delta_loss_v", "mean_value", "time_s",
                "steps_per_s"]:
        assert col in rows[0]


def test_checkpoint_round_trip_reproduces_the_policy(run_dir):
    policy, value_fn, header = load_checkpoint(os.path.join(run_dir, "policy.npz"))
    assert header["env"] == "CartPole-v1" and header["epoch"] == 3 and header["nppg_version"] == nppg.__version__
    assert header["action_space"] == "Discrete(2)" and header["hidden"] == [8]
    again = nppg.train("CartPole-v1", epochs=3, steps_per_epoch=200, num_envs=2, hidden=(8,), train_v_iters=2)
    for k in again.policy.params:
        assert np.array_equal(policy.params[k], again.policy.params[k])
    for k in again.value_fn.params:
        assert np.array_equal(value_fn.params[k], again.value_fn.params[k])


def test_checkpoint_loads_without_pickle(run_dir):
    with np.load(os.path.join(run_dir, "policy.npz"), allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)


def test_bad_checkpoints_give_clear_errors(run_dir, tmp_path):
    good = open(os.path.join(run_dir, "policy.npz"), "rb").read()
    (tmp_path / "truncated.npz").write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        read_checkpoint(str(tmp_path / "truncated.npz"))
    np.savez(tmp_path / "foreign.npz", W0=np.zeros(3))
    with pytest.raises(CheckpointError, match="not an nppg checkpoint"):
        read_checkpoint(str(tmp_path / "foreign.npz"))
    with pytest.raises(CheckpointError, match="trained on CartPole-v1, not Pendulum-v1"):
        load_checkpoint(os.path.join(run_dir, "policy.npz"), env_id="Pendulum-v1")
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        read_checkpoint(str(tmp_path / "missing.npz"))


def test_eval_json_reports_returns(run_dir, capsys):
    assert main(["eval", run_dir, "--episodes", "5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["episodes"] == 5 and out["mean_return"] > 0 and {"std_return", "mean_return"} <= out.keys()


def test_eval_render_shows_one_environment_in_human_mode(run_dir, capsys, monkeypatch):
    """--render asks gymnasium for one sync copy that renders to a window; here none opens (render_mode=None)."""
    import gymnasium as gym
    made, make_vec = [], gym.make_vec

    def no_window(env_id, **kwargs):
        made.append(kwargs)
        return make_vec(env_id, **{**kwargs, "render_mode": None})
    monkeypatch.setattr(gym, "make_vec", no_window)
    assert main(["eval", run_dir, "--episodes", "3", "--render", "--json"]) == 0
    assert made == [{"num_envs": 1, "vectorization_mode": "sync", "render_mode": "human"}]
    assert json.loads(capsys.readouterr().out)["episodes"] == 3


def test_plot_writes_a_png(run_dir, tmp_path):
    pytest.importorskip("matplotlib")
    out = str(tmp_path / "curve.png")
    assert main(["plot", run_dir, run_dir, "--out", out]) == 0
    assert open(out, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_says_how_to_install(run_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` raise ImportError
    with pytest.raises(SystemExit, match=r"pip install 'nppg\[plot\]'"):
        main(["plot", run_dir])


def test_unknown_environment_is_a_one_line_error_with_a_suggestion(capsys, tmp_path):
    assert main(["train", "--env", "CartPoel-v1", "--out", str(tmp_path / "x"), "--quiet", *TINY]) == 1
    out, err = capsys.readouterr()
    assert err.startswith("nppg train: error:") and "CartPoel" in err and "Did you mean" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "x").exists()
    assert out == ""  # no "run directory ..." announced for a run that cannot start
    assert main(["train", "--env", "no_such_module:Env-v0", "--out", str(tmp_path / "y" / "z"), "--quiet", *TINY]) == 1
    assert "no_such_module" in capsys.readouterr().err and not (tmp_path / "y").exists()  # nor the folders above


def test_an_environment_nppg_has_no_policy_for_is_refused_before_a_run_directory_is_named(capsys):
    assert main(["train", "--env", "nppg_test_envs:MultiDiscrete-v0", *TINY]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err == ("nppg train: error: action space must be Discrete or a 1-d Box; got "
                                 "MultiDiscrete([2 3])\n")


def test_eval_says_whether_actions_were_sampled_or_the_most_likely_taken(run_dir, capsys):
    assert main(["eval", run_dir, "--episodes", "2"]) == 0
    assert capsys.readouterr().out.startswith("CartPole-v1: 2 episodes of the policy with actions sampled from it,")
    assert main(["eval", run_dir, "--episodes", "2", "--deterministic"]) == 0
    assert capsys.readouterr().out.startswith("CartPole-v1: 2 episodes of the policy with its most likely action,")


def test_the_epoch_table_ends_with_the_time_left_and_progress_csv_keeps_its_columns(monkeypatch, tmp_path):
    """After the first epoch, the pace is the wall clock's since then (evaluations included); at the first, its
    training time; the column is the console's only."""
    import io
    from nppg.tools import logger as rundir
    clock = iter([100.0, 103.0, 109.0])
    monkeypatch.setattr(rundir.time, "perf_counter", lambda: next(clock))
    stream = io.StringIO()
    log = rundir.RunLogger({"epochs": 1000}, None, verbose=True, stream=stream)
    for epoch, time_s in ((1, 2.0), (2, 4.0), (3, 5.0)):
        log({"epoch": epoch, "env_steps": 200 * epoch, "episodes": 1, "time_s": time_s}, None)
    header, *lines = stream.getvalue().splitlines()
    assert header.split()[-2:] == ["eval", "left"]
    # 2 s an epoch at first (its training time), then 3 s (wall clock, 100 to 103), then 4.5 s (100 to 109 over two)
    assert [line.split()[-1] for line in lines] == ["33:18", "49:54", "1:14:46"]
    assert "time_left" not in rundir.COLUMNS
    assert (rundir.clock(59.6), rundir.clock(3600), rundir.clock(0)) == ("1:00", "1:00:00", "0:00")


def test_python_dash_m_and_console_script(tmp_path):
    for i, cmd in enumerate(([sys.executable, "-m", "nppg"], [os.path.join(os.path.dirname(sys.executable), "nppg")])):
        if not os.path.exists(cmd[-1]) and cmd[-1].endswith("nppg"):
            pytest.skip("console script not installed (nppg not pip-installed)")
        out = subprocess.run(cmd + ["train", "--out", str(tmp_path / f"run{i}"), *TINY],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert "epoch" in out.stdout and os.path.exists(tmp_path / f"run{i}" / "policy.npz")


# ---- what the command line refuses instead of getting wrong ----------------------------------

def error_of(args, capsys):
    """Run ``nppg ARGS``, expect exit 1, and return its one error line."""
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_bad_train_options_are_refused_before_anything_is_written(capsys, tmp_path):
    out = tmp_path / "new"
    assert "epochs must be a whole number >= 1" in error_of(["train", "--epochs", "0", "--out", str(out)], capsys)
    assert "--save-every must be >= 0" in error_of(["train", "--save-every", "-3", "--out", str(out)], capsys)
    (tmp_path / "afile").write_text("x")
    assert "is a file, not a directory" in error_of(["train", "--out", str(tmp_path / "afile"), *TINY], capsys)
    assert not out.exists()


def test_a_second_run_into_the_same_directory_is_refused_and_the_first_is_untouched(run_dir, capsys):
    before = {f: open(os.path.join(run_dir, f), "rb").read() for f in os.listdir(run_dir)}
    err = error_of(["train", "--seed", "7", "--out", run_dir, "--quiet", *TINY], capsys)
    assert "already holds a run" in err and f"--resume {run_dir}" in err
    assert {f: open(os.path.join(run_dir, f), "rb").read() for f in os.listdir(run_dir)} == before


def test_resume_refuses_settings_it_would_ignore_and_extends_with_epochs(tmp_path, capsys):
    run = str(tmp_path / "run")
    assert main(["train", "--out", run, "--quiet", *TINY]) == 0
    assert "gamma 0.5 and seed 7 differ from the saved run's gamma 0.99 and seed 0, which a resume continues" in \
        error_of(["train", "--resume", run, "--epochs", "4", "--gamma", "0.5", "--seed", "7"], capsys)
    assert "--out cannot move it" in error_of(["train", "--resume", run, "--epochs", "4", "--out", run + "2"], capsys)
    assert "already run 3 epochs" in error_of(["train", "--resume", run], capsys)
    assert "already run 3 epochs" in error_of(["train", "--resume", run, "--epochs", "2"], capsys)
    # a flag given at its default value is still a flag given: the run was trained with --hidden 8
    assert "hidden [64, 64] differs from the saved run's hidden [8]" in \
        error_of(["train", "--resume", run, "--epochs", "4", "--hidden", "64", "64"], capsys)
    # the run's own settings repeated, and a new thread count, are fine; config.json follows --epochs
    assert main(["train", "--resume", run, "--epochs", "4", "--hidden", "8", "--threads", "2", "--quiet"]) == 0
    assert json.load(open(os.path.join(run, "config.json")))["epochs"] == 4
    assert main(["train", "--resume", run, "--epochs", "5", "--quiet"]) == 0   # keeps the saved --threads 2
    assert json.load(open(os.path.join(run, "config.json")))["threads"] == 2
    os.remove(os.path.join(run, "progress.csv"))
    assert "progress.csv is missing" in error_of(["train", "--resume", run, "--epochs", "6"], capsys)


def test_resume_starts_again_a_run_stopped_before_its_first_save_with_its_settings(tmp_path, capsys):
    """What a stop at once before the first save leaves (no state.npz, no policy.npz) is started again by --resume,
    with the checks of any resume: its settings, and its number of processes (one actions file each)."""
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--quiet", *TINY]) == 0
    whole = dict(np.load(run / "policy.npz"))
    os.remove(run / "state.npz")
    os.remove(run / "policy.npz")
    assert "already holds a run (config.json, progress.csv, env_actions.bin): continue it with --resume" in \
        error_of(["train", "--out", str(run), *TINY], capsys)
    assert "gamma 0.5 differs from the saved run's gamma 0.99" in error_of(["train", "--resume", str(run), "--gamma",
                                                                             "0.5"], capsys)
    (run / "env_actions.rank1.bin").write_bytes(b"")
    assert "trained on 2 MPI ranks" in error_of(["train", "--resume", str(run)], capsys)
    os.remove(run / "env_actions.rank1.bin")
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    again = dict(np.load(run / "policy.npz"))
    assert all(np.array_equal(whole[k], again[k]) for k in whole if k != "header")
    assert json.loads(str(again["header"]))["epoch"] == 3
    os.remove(run / "state.npz")  # a policy.npz without its state.npz is not started again over
    assert "no checkpoint at" in error_of(["train", "--resume", str(run)], capsys)
    example = tmp_path / "example"  # nor an example's folder, whose config.json holds the example's settings
    example.mkdir()
    (example / "config.json").write_text(json.dumps({"env": "CartPole-v1", "lr": 0.01, "batch_size": 5000}))
    assert "no checkpoint at" in error_of(["train", "--resume", str(example)], capsys)
    decays = tmp_path / "decays"  # no step was taken: even a run whose step sizes fall with its length may change it
    assert main(["train", "--out", str(decays), "--quiet", "--lr-decay", *TINY]) == 0
    os.remove(decays / "state.npz")
    os.remove(decays / "policy.npz")
    assert main(["train", "--resume", str(decays), "--epochs", "2", "--quiet"]) == 0
    assert json.load(open(decays / "config.json"))["epochs"] == 2 and len(open(decays / "progress.csv").readlines()) == 3


def test_a_run_with_lr_decay_resumes_exactly_but_not_to_another_length(tmp_path, capsys):
    """(28) sizes epoch k's steps by the run's length K: a resume goes on with the same schedule, to the bit,
    and refuses --epochs, which would have sized the steps already taken differently."""
    whole, part = str(tmp_path / "whole"), str(tmp_path / "part")
    assert main(["train", "--out", whole, "--lr-decay", "--quiet", *TINY]) == 0
    cfg = dict(epochs=3, steps_per_epoch=200, num_envs=2, hidden=(8,), train_v_iters=2, lr_decay=True)
    nppg.train(callback=logger(part, cfg, stop=lambda: True), **cfg)  # stops after epoch 1 of 3
    assert "decays its step sizes over its 3 epochs" in error_of(["train", "--resume", part, "--epochs", "4"], capsys)
    assert main(["train", "--resume", part, "--quiet"]) == 0
    saved = [np.load(os.path.join(run, "policy.npz")) for run in (whole, part)]
    assert all(np.array_equal(saved[0][k], saved[1][k]) for k in saved[0].files)


def test_the_console_header_comes_first_on_resume_too():
    import io
    from nppg.tools.logger import RunLogger
    stream = io.StringIO()
    logger = RunLogger({}, None, verbose=True, stream=stream, resume_epoch=2)
    record = {c: 1.0 for c in ("mean_return", "std_return", "mean_ep_len", "loss_pi", "loss_v", "entropy", "kl",
                               "steps_per_s", "time_s")}
    logger({**record, "epoch": 3, "env_steps": 600, "episodes": 2}, None)
    assert stream.getvalue().split()[:3] == ["epoch", "steps", "eps"]


def test_eval_refuses_bad_counts_and_an_environment_of_other_shapes(run_dir, capsys):
    assert "--episodes and --num-envs must be >= 1" in error_of(["eval", run_dir, "--episodes", "0"], capsys)
    assert "--episodes and --num-envs must be >= 1" in error_of(["eval", run_dir, "--num-envs", "0"], capsys)
    err = error_of(["eval", run_dir, "--env", "Pendulum-v1", "--episodes", "1"], capsys)
    assert "was trained on CartPole-v1" in err and "Pendulum-v1 has Box" in err



def test_plot_errors_are_one_line(run_dir, tmp_path, capsys):
    assert "has no column 'nosuch'; it has epoch" in error_of(["plot", run_dir, "--y", "nosuch",
                                                                "--out", str(tmp_path / "a.png")], capsys)
    assert "does not exist" in error_of(["plot", run_dir, "--out", str(tmp_path / "no" / "a.png")], capsys)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "progress.csv").write_text("epoch,env_steps,mean_return\n")
    assert "progress.csv has no epoch yet" in error_of(["plot", str(empty)], capsys)
    (empty / "progress.csv").write_text("epoch,env_steps,mean_return\n1,200,\n")
    assert "no value of mean_return yet (no episode has ended)" in error_of(["plot", str(empty)], capsys)


def test_hand_edited_or_foreign_checkpoints_are_refused_by_name(run_dir, tmp_path):
    (tmp_path / "text.npz").write_text("not a checkpoint\n")
    with pytest.raises(CheckpointError, match=r"not an \.npz file, or one holding Python objects\)$"):
        read_checkpoint(str(tmp_path / "text.npz"))
    header, arrays = read_checkpoint(os.path.join(run_dir, "policy.npz"))
    for edit, message in ((lambda h, a: h.pop("hidden"), "the header has no 'hidden'"),
                          (lambda h, a: a["pi.W0"].fill(np.nan), "pi.W0 hold NaN or infinite values")):
        h, a = json.loads(json.dumps(header)), {k: v.copy() for k, v in arrays.items()}
        edit(h, a)
        np.savez(tmp_path / "edited.npz", header=np.array(json.dumps(h)), **a)
        with pytest.raises(CheckpointError, match=message):
            load_checkpoint(str(tmp_path / "edited.npz"))


def test_bench_of_an_unknown_environment_is_one_line(capsys):
    err = error_of(["bench", "--env", "CartPoel-v1", "--epochs", "1", "--steps-per-epoch", "16", "--threads", "1"],
                   capsys)
    assert err.startswith("nppg bench: error: benchmark of CartPoel-v1 failed: unknown environment 'CartPoel-v1'")


def test_an_interrupt_during_the_last_epoch_ends_the_run_as_done(tmp_path, capsys, monkeypatch):
    """The run is complete: telling the user to --resume it would only earn an error."""
    import signal
    import nppg.tools.cli as cli
    real = cli.train

    def interrupted_train(callback, **kwargs):  # Ctrl-C arrives while each epoch runs, so before stop() is asked
        return real(callback=lambda record, state: (os.kill(os.getpid(), signal.SIGINT), callback(record, state))[1],
                    **kwargs)

    monkeypatch.setattr(cli, "train", interrupted_train)
    assert main(["train", "--out", str(tmp_path / "run"), "--quiet", "--epochs", "1",
                 "--steps-per-epoch", "200", "--hidden", "8", "--train-v-iters", "2"]) == 0
    out = capsys.readouterr()
    assert "interrupted" in out.err and "nppg: done." in out.out and "--resume" not in out.out


@pytest.mark.parametrize("flags", [["--threads", "-1"], ["--epochs", "0"], ["--num-envs", "0"]])
def test_bench_refuses_bad_settings_in_one_line(flags, capsys):
    err = error_of(["bench", "--env", "CartPole-v1", *flags], capsys)
    assert err.strip() == ("nppg bench: error: --epochs, --steps-per-epoch and --num-envs must be whole numbers >= 1, "
                           "--threads >= 0")


def test_two_runs_started_at_once_never_share_a_directory(tmp_path, monkeypatch):
    """The directory is claimed by creating config.json exclusively: a run that comes second, even after
    passing the check for an existing run, is refused (an explicit --out) or numbered (the default name)."""
    from nppg.engine.config import EngineConfig, settings
    from nppg.tools import logger as rundir  # the run directory is the logger's
    cfg = settings(nppg.VPGConfig(), EngineConfig())
    out = str(tmp_path / "run")
    assert rundir.claim_run_dir(out, cfg) == (out, [out])
    monkeypatch.setattr(rundir, "RUN_FILES", ())  # as if the second run had checked before the first claimed
    with pytest.raises(ValueError, match="already holds a run \\(config.json\\)"):
        rundir.claim_run_dir(out, cfg)
    assert rundir.claim_run_dir(out, cfg, numbered=True) == (out + "-2", [out + "-2"])
    assert rundir.claim_run_dir(out, cfg, numbered=True) == (out + "-3", [out + "-3"])
    assert json.load(open(os.path.join(out + "-3", "config.json")))["env"] == "CartPole-v1"


def test_a_run_that_fails_before_its_first_epoch_leaves_no_directory(tmp_path, capsys):
    out = tmp_path / "typo"
    assert "unknown environment 'CartPoel-v1'" in error_of(["train", "--env", "CartPoel-v1", "--out", str(out)], capsys)
    assert not out.exists()
    (tmp_path / "mine").mkdir()  # a directory the user made stays, empty
    error_of(["train", "--env", "CartPoel-v1", "--out", str(tmp_path / "mine")], capsys)
    assert os.listdir(tmp_path / "mine") == []


def test_an_out_that_cannot_be_made_is_one_line_before_training(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    err = error_of(["train", "--out", str(tmp_path / "afile" / "sub"), *TINY], capsys)
    assert "cannot create the run directory" in err and "Not a directory" in err


def test_resume_refuses_an_empty_name_and_a_progress_file_that_lost_saved_epochs(tmp_path, capsys):
    assert "--resume needs a run directory" in error_of(["train", "--resume", ""], capsys)
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--quiet", *TINY]) == 0
    progress = run / "progress.csv"
    lines = progress.read_text().splitlines(keepends=True)
    for cut in (lines[:2], [], lines[1:]):  # epochs 2 and 3 gone; an empty file; no header
        progress.write_text("".join(cut))
        err = error_of(["train", "--resume", str(run), "--epochs", "5"], capsys)
        assert "does not hold the 3 saved epochs" in err
    progress.write_text("".join(lines))
    assert main(["train", "--resume", str(run), "--epochs", "4", "--quiet"]) == 0


def test_eval_refuses_a_negative_seed(run_dir, capsys):
    assert "--seed must be >= 0; got -5" in error_of(["eval", run_dir, "--seed", "-5"], capsys)


def test_out_of_memory_is_one_line(tmp_path, capsys, monkeypatch):
    # a (4, 10^14) weight matrix is 3 PB: more than any machine's address space, so malloc always refuses
    # (here with the check before it switched off, as where the memory available cannot be read)
    monkeypatch.setattr("nppg.engine.config.available_memory", lambda: None)
    err = error_of(["train", "--hidden", str(10**14), "--epochs", "1", "--out", str(tmp_path / "big")], capsys)
    assert "out of memory" in err and not (tmp_path / "big").exists()


def test_a_size_that_cannot_fit_is_refused_before_anything_is_allocated(tmp_path, capsys):
    """The kernel would kill a run of --hidden 100000000 after minutes of allocating; it is refused at once."""
    import time
    t0 = time.perf_counter()
    err = error_of(["train", "--hidden", "100000000", "--out", str(tmp_path / "big")], capsys)
    assert "needs at least" in err and "GB available" in err and not (tmp_path / "big").exists()
    assert time.perf_counter() - t0 < 5
