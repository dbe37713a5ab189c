"""The Python API: ``nppg.train``'s run directory and epoch table, ``nppg.save`` and ``nppg.load``, a mistyped
setting, and the TensorBoard extra. What the API writes is what ``nppg train`` writes: ``nppg eval``,
``nppg plot`` and ``nppg train --resume`` read it alike."""
import csv
import json
import math
import os
import sys

import numpy as np
import pytest

import nppg
from nppg.tools.cli import main
from nppg.tools.logger import console_header

SMALL = dict(epochs=2, steps_per_epoch=200, num_envs=2, hidden=(8,), train_v_iters=2)
FLAGS = ["--epochs", "2", "--steps-per-epoch", "200", "--num-envs", "2", "--hidden", "8", "--train-v-iters", "2"]


def progress(run_dir):
    """progress.csv's rows without the columns that time the run."""
    with open(os.path.join(run_dir, "progress.csv"), newline="") as f:
        return [{k: v for k, v in r.items() if k not in ("time_s", "steps_per_s")} for r in csv.DictReader(f)]


def params(path):
    """The networks' arrays of a checkpoint."""
    with np.load(path) as z:
        return {k: z[k] for k in z.files if k.startswith(("pi.", "vf."))}


def same_params(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def same_records(a, b):
    """Histories equal, an empty cell (NaN) equal to another, timings aside."""
    def cells(r):
        return {k: "nan" if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()
                if k not in ("time_s", "steps_per_s")}
    return [cells(r) for r in a] == [{k: v for k, v in cells(r).items() if k in cells(a[0])} for r in b]


# ---- a mistyped setting -------------------------------------------------------------------------------

@pytest.mark.parametrize("run", [nppg.train, nppg.vpg, nppg.engine.train])
def test_a_mistyped_setting_is_a_value_error_naming_the_nearest_and_every_valid_one(run, tmp_path):
    """nppg.train('CartPole-v1', epoch=2) once ended in VPGConfig's TypeError, which names neither."""
    with pytest.raises(ValueError, match=r"has no setting 'epoch': did you mean epochs\? its settings are env, seed, "
                                         r"epochs, steps_per_epoch, .*, scale_rewards"):
        run("CartPole-v1", epoch=2)
    with pytest.raises(ValueError, match=r"'pi_rl': did you mean pi_lr\?"):
        run("CartPole-v1", pi_rl=0.01)


def test_vpg_says_an_engine_setting_is_train_s():
    with pytest.raises(ValueError, match=r"nppg.vpg has no setting 'threads' \(it is one of the engine's, which "
                                         r"nppg.train takes; nppg.vpg runs the plain pieces\)"):
        nppg.vpg("CartPole-v1", threads=2, **SMALL)


def test_a_mistyped_setting_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match="did you mean epochs"):
        nppg.train("CartPole-v1", out=str(tmp_path / "run"), epoch=2)
    with pytest.raises(ValueError, match="save_every must be a whole number >= 0"):
        nppg.train("CartPole-v1", out=str(tmp_path / "run"), save_every=-1)
    assert not os.path.exists(tmp_path / "run")


# ---- out= and verbose= ----------------------------------------------------------------------------------

def test_out_writes_the_run_directory_of_nppg_train_and_verbose_its_epoch_table(tmp_path, capsys):
    """The same run from Python and from the command line: the same files, the same numbers to the bit."""
    ours, cli = str(tmp_path / "api"), str(tmp_path / "cli")
    state = nppg.train("CartPole-v1", seed=3, out=ours, verbose=True, **SMALL)
    printed = capsys.readouterr().out
    assert f"run directory {ours}" in printed and console_header() in printed and len(printed.splitlines()) == 4
    assert main(["train", "--seed", "3", "--out", cli, "--quiet", *FLAGS]) == 0
    capsys.readouterr()
    assert sorted(os.listdir(ours)) == sorted(os.listdir(cli)) == ["config.json", "env_actions.bin", "policy.npz",
                                                                   "progress.csv", "state.npz"]
    assert json.load(open(os.path.join(ours, "config.json"))) == json.load(open(os.path.join(cli, "config.json")))
    assert progress(ours) == progress(cli)
    assert same_params(params(os.path.join(ours, "policy.npz")), params(os.path.join(cli, "policy.npz")))
    assert open(os.path.join(ours, "env_actions.bin"), "rb").read() == open(os.path.join(cli, "env_actions.bin"),
                                                                             "rb").read()
    assert state.epoch == 2 and progress(ours)[-1]["epoch"] == "2"
    nppg.train("CartPole-v1", seed=3, **SMALL)  # without out= nor verbose=: nothing printed, nothing written
    assert capsys.readouterr().out == "" and sorted(os.listdir(tmp_path)) == ["api", "cli"]


def test_out_refuses_a_folder_that_holds_a_run(tmp_path):
    run = str(tmp_path / "run")
    nppg.train("CartPole-v1", out=run, **SMALL)
    with pytest.raises(ValueError, match=f"{run} already holds a run"):
        nppg.train("CartPole-v1", out=run, **SMALL)


def test_resume_continues_a_run_directory_in_place_to_the_bit(tmp_path):
    """train(resume=DIR, epochs=3) is the uninterrupted 3-epoch run, as nppg train --resume is."""
    short, whole = str(tmp_path / "short"), str(tmp_path / "whole")
    nppg.train("CartPole-v1", seed=1, out=short, **SMALL)
    state = nppg.train(resume=short, epochs=3)
    nppg.train("CartPole-v1", seed=1, out=whole, **{**SMALL, "epochs": 3})
    assert state.epoch == 3 and progress(short) == progress(whole)
    assert same_params(params(os.path.join(short, "state.npz")), params(os.path.join(whole, "state.npz")))
    with pytest.raises(ValueError, match="seed 2 differs from the saved run's seed 1"):
        nppg.train(resume=short, epochs=4, seed=2)


# ---- nppg.save and nppg.load ----------------------------------------------------------------------------

def test_save_and_load_give_back_the_trained_state(tmp_path):
    state = nppg.train("CartPole-v1", seed=2, **SMALL)
    assert nppg.save(state, str(tmp_path / "saved")) == str(tmp_path / "saved")
    back = nppg.load(str(tmp_path / "saved"))
    assert back.cfg == state.cfg and (back.epoch, back.env_steps) == (state.epoch, state.env_steps)
    for a, b in ((back.policy, state.policy), (back.value_fn, state.value_fn)):
        assert same_params(a.params, b.params)
    for a, b in ((back.pi_opt, state.pi_opt), (back.vf_opt, state.vf_opt)):
        assert a.t == b.t and same_params(a.m, b.m) and same_params(a.v, b.v)
    assert back.rng.bit_generator.state == state.rng.bit_generator.state
    assert same_records(state.history, back.history) and back.rollout is None
    obs = np.zeros((1, back.policy.obs_dim))
    assert np.array_equal(back.policy.sample(obs, np.random.default_rng(0)),
                          state.policy.sample(obs, np.random.default_rng(0)))
    nppg.save(back, str(tmp_path / "again"))  # a loaded state saves again, as it was
    for name in ("policy.npz", "state.npz", "env_actions.bin", "progress.csv", "config.json"):
        assert open(tmp_path / "saved" / name, "rb").read() == open(tmp_path / "again" / name, "rb").read(), name
    policy_only = nppg.load(str(tmp_path / "saved" / "policy.npz"))  # a checkpoint file: the networks
    assert same_params(policy_only.policy.params, state.policy.params) and policy_only.pi_opt.t == 0


@pytest.mark.parametrize("how", ["save", "out"])
def test_what_save_and_out_write_is_read_by_eval_plot_and_resume(how, tmp_path, capsys):
    """--resume goes on to exactly the run that was never stopped."""
    run, whole = str(tmp_path / "run"), str(tmp_path / "whole")
    if how == "save":
        nppg.save(nppg.train("CartPole-v1", seed=5, **SMALL), run)
    else:
        nppg.train("CartPole-v1", seed=5, out=run, **SMALL)
    assert main(["eval", run, "--episodes", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["episodes"] == 2
    assert main(["plot", run, "--out", str(tmp_path / "curve.png")]) == 0
    assert main(["train", "--resume", run, "--epochs", "3", "--quiet"]) == 0
    nppg.train("CartPole-v1", seed=5, out=whole, **{**SMALL, "epochs": 3})
    assert progress(run) == progress(whole)
    assert same_params(params(os.path.join(run, "state.npz")), params(os.path.join(whole, "state.npz")))


def test_a_plain_vpg_state_saves_what_eval_and_plot_read(tmp_path, capsys):
    """nppg.vpg records no actions: its state has no resume files, and a resume says there is no checkpoint."""
    run = nppg.save(nppg.vpg("CartPole-v1", seed=5, **SMALL), str(tmp_path / "plain"))
    assert sorted(os.listdir(run)) == ["config.json", "policy.npz", "progress.csv"]
    assert json.load(open(os.path.join(run, "config.json")))["vf_dtype"] == "float64"
    assert main(["eval", run, "--episodes", "2"]) == 0
    assert main(["plot", run, "--out", str(tmp_path / "curve.png")]) == 0
    assert nppg.load(run).epoch == 2
    with pytest.raises(ValueError, match=f"{run} already holds a run"):
        nppg.save(nppg.vpg("CartPole-v1", seed=6, **SMALL), run)


# ---- TensorBoard -----------------------------------------------------------------------------------

def scalars(path):
    """{(column, env_steps): value} of a TensorBoard event file (length-prefixed records of Event protos)."""
    import struct
    from tensorboardX.proto.event_pb2 import Event
    data, i, out = open(path, "rb").read(), 0, {}
    while i < len(data):
        n = struct.unpack("<Q", data[i:i + 8])[0]
        event = Event.FromString(data[i + 12:i + 12 + n])
        out.update({(v.tag, event.step): v.simple_value for v in event.summary.value})
        i += 12 + n + 4
    return out


def test_tensorboard_gets_progress_csv_s_columns(tmp_path):
    pytest.importorskip("tensorboardX")
    run = str(tmp_path / "run")
    nppg.train("CartPole-v1", out=run, tensorboard=True, **SMALL)
    [events] = os.listdir(os.path.join(run, "tensorboard"))
    seen = scalars(os.path.join(run, "tensorboard", events))
    with open(os.path.join(run, "progress.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    want = {(k, int(r["env_steps"])): np.float32(v) for r in rows for k, v in r.items()
            if k not in ("epoch", "env_steps") and v != ""}  # an empty cell (no evaluation) is not written
    assert len(want) == 2 * 15 and seen == want
    from nppg.tools import tensorboard  # and from a finished run's progress.csv, for runs of the command line
    os.rename(os.path.join(run, "tensorboard"), os.path.join(run, "live"))
    assert tensorboard.main([run]) == 0
    [events] = os.listdir(os.path.join(run, "tensorboard"))
    assert scalars(os.path.join(run, "tensorboard", events)) == want


def test_tensorboard_without_its_package_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # as if not installed
    with pytest.raises(ImportError, match=r"needs the tensorboardX package, which is not installed: pip install "
                                          r"tensorboardX \(or the extra: pip install 'nppg\[tensorboard\]'\)"):
        nppg.train("CartPole-v1", out=str(tmp_path / "run"), tensorboard=True, **SMALL)
    assert not os.path.exists(tmp_path / "run")


def test_resume_starts_again_a_run_directory_stopped_before_its_first_save(tmp_path):
    """What a stop at once before the first save leaves (no state.npz, no policy.npz) is started again from its
    beginning by train(resume=DIR), in place and to the bit, as nppg train --resume starts it again."""
    run, whole = str(tmp_path / "run"), str(tmp_path / "whole")
    nppg.train("CartPole-v1", seed=1, out=whole, **SMALL)
    nppg.train("CartPole-v1", seed=1, out=run, **SMALL)
    os.remove(os.path.join(run, "state.npz"))
    os.remove(os.path.join(run, "policy.npz"))
    state = nppg.train(resume=run)
    assert state.epoch == SMALL["epochs"] and progress(run) == progress(whole)
    assert same_params(params(os.path.join(run, "state.npz")), params(os.path.join(whole, "state.npz")))
