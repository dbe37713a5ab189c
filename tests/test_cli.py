"""The command line and the run directory: train, eval, plot, checkpoints that cannot hurt."""
import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import nppg
from nppg.checkpoint import CheckpointError, load_checkpoint, read_checkpoint
from nppg.cli import main

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
    again = nppg.vpg("CartPole-v1", epochs=3, steps_per_epoch=200, num_envs=2, hidden=(8,), train_v_iters=2)
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
    err = capsys.readouterr().err
    assert err.startswith("nppg train: error:") and "CartPoel" in err and "Did you mean" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "x").exists()
    assert main(["train", "--env", "no_such_module:Env-v0", "--quiet", *TINY]) == 1
    assert "no_such_module" in capsys.readouterr().err


def test_python_dash_m_and_console_script(tmp_path):
    for cmd in ([sys.executable, "-m", "nppg"], [os.path.join(os.path.dirname(sys.executable), "nppg")]):
        if not os.path.exists(cmd[-1]) and cmd[-1].endswith("nppg"):
            pytest.skip("console script not installed (nppg not pip-installed)")
        out = subprocess.run(cmd + ["train", "--out", str(tmp_path / cmd[-1][-4:]), *TINY],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert "epoch" in out.stdout and os.path.exists(tmp_path / cmd[-1][-4:] / "policy.npz")
