"""A resume checks what it reads: actions in range, state.npz from this run, and checkpoints as readable as the rest."""
import json
import os
import shutil
import stat

import numpy as np
import pytest
from run_dirs import logger

import nppg
from nppg.engine import checkpoint
from nppg.tools.cli import main

SMALL = dict(epochs=2, steps_per_epoch=200, num_envs=2, hidden=(8,), train_v_iters=2)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One finished CartPole run and one Pendulum run, made once; tests work on copies."""
    base = tmp_path_factory.mktemp("runs")
    for env in ("CartPole-v1", "Pendulum-v1"):
        nppg.train(env, callback=logger(str(base / env), dict(SMALL, env=env), save_every=10), **SMALL)
    return base


def copy(runs, env, tmp_path):
    out = str(tmp_path / env)
    shutil.copytree(runs / env, out)
    return out


def set_action(run_dir, dtype, index, value):
    path = os.path.join(run_dir, "env_actions.bin")
    a = np.fromfile(path, dtype=dtype)
    a[index] = value
    a.tofile(path)


@pytest.mark.parametrize("value", [7, 2, -1])
def test_a_categorical_action_out_of_range_is_refused_before_the_replay(runs, tmp_path, value):
    run = copy(runs, "CartPole-v1", tmp_path)
    checkpoint.load_train_state(run)  # the untouched copy loads
    set_action(run, np.int64, 5, value)
    with pytest.raises(checkpoint.CheckpointError, match=r"env_actions.bin holds actions outside 0\.\.1"):
        checkpoint.load_train_state(run)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_a_non_finite_gaussian_action_is_refused_before_the_replay(runs, tmp_path, value):
    run = copy(runs, "Pendulum-v1", tmp_path)
    checkpoint.load_train_state(run)
    set_action(run, np.float64, 3, value)
    with pytest.raises(checkpoint.CheckpointError, match="env_actions.bin holds NaN or infinite actions"):
        checkpoint.load_train_state(run)


def test_the_cli_says_so_in_one_line(runs, tmp_path, capsys):
    run = copy(runs, "CartPole-v1", tmp_path)
    set_action(run, np.int64, 5, 7)
    assert main(["train", "--resume", run, "--epochs", "4", "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "env_actions.bin holds actions outside" in err, err


def test_a_state_from_another_environments_run_is_refused(runs, tmp_path):
    run = copy(runs, "CartPole-v1", tmp_path)
    shutil.copy(runs / "Pendulum-v1" / "state.npz", run)
    with pytest.raises(checkpoint.CheckpointError, match=r"state.npz does not belong to this run directory: .* in env\b"):
        checkpoint.load_train_state(run)


def edit_config(run_dir, **changes):
    path = os.path.join(run_dir, "config.json")
    with open(path) as f:
        config = json.load(f)
    with open(path, "w") as f:
        json.dump({**config, **changes}, f)


def test_a_state_from_a_run_with_other_settings_is_refused_naming_them(runs, tmp_path):
    run = copy(runs, "CartPole-v1", tmp_path)
    edit_config(run, seed=1, gamma=0.9)  # as if state.npz came from a CartPole run with these settings
    with pytest.raises(checkpoint.CheckpointError, match=r"does not belong to this run directory: .* in gamma, seed "):
        checkpoint.load_train_state(run)


@pytest.mark.parametrize("config", [None, "{not json", "[]", {"epochs": 9, "threads": 4}, {"new_setting": 1}])
def test_what_config_json_may_lack_or_change_does_not_block_a_resume(runs, tmp_path, config):
    run = copy(runs, "CartPole-v1", tmp_path)
    path = os.path.join(run, "config.json")
    if config is None:  # an older run directory without one
        os.remove(path)
    elif isinstance(config, str):  # unreadable
        with open(path, "w") as f:
            f.write(config)
    else:  # --epochs extended, --threads changed, or a setting the state's nppg did not have
        edit_config(run, **config)
    assert checkpoint.load_train_state(run)[0]["epoch"] == 2


def test_a_replay_that_does_not_match_names_both_causes(runs, tmp_path):
    header, arrays, actions = checkpoint.load_train_state(copy(runs, "CartPole-v1", tmp_path))
    arrays["rollout.obs"] = arrays["rollout.obs"] + 1.0  # state.npz altered
    with pytest.raises(checkpoint.CheckpointError, match="deterministic .* or were env_actions.bin or state.npz "
                                                         "altered or copied from another run"):
        nppg.train("CartPole-v1", **{**SMALL, "epochs": 3}, resume=(header, arrays, actions))


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_checkpoints_get_the_same_permissions_as_the_other_run_files(runs, tmp_path):
    run = str(runs / "CartPole-v1")
    assert mode(os.path.join(run, "policy.npz")) == mode(os.path.join(run, "state.npz")) \
        == mode(os.path.join(run, "config.json"))
    policy, value_fn, header = checkpoint.load_checkpoint(os.path.join(run, "policy.npz"))
    previous = os.umask(0o027)
    try:
        path = str(tmp_path / "policy.npz")
        checkpoint.save_checkpoint(path, policy, value_fn, header["env"], header["observation_space"],
                                   header["action_space"], 2, header["config"])
        with open(tmp_path / "plain", "w"):
            pass
    finally:
        os.umask(previous)
    assert mode(path) == mode(tmp_path / "plain") == 0o640
    assert sorted(os.listdir(tmp_path)) == ["plain", "policy.npz"]  # no temporary file left behind
