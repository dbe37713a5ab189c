"""Nothing lost, nothing confusing: bad input, broken environments, interrupted runs, exact resume."""
import csv
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from run_dirs import logger

import nppg
from nppg.algorithm import VPGConfig, make_policy
from nppg.engine import EngineConfig, NonFiniteError
from nppg.engine.config import ENGINE_SETTINGS, check_config
from nppg.engine.run import DivergedError, check_finite
from nppg.engine import checkpoint
from nppg.tools.cli import main

SMALL = dict(steps_per_epoch=300, num_envs=3, hidden=(8,), train_v_iters=3)


def progress(run_dir):
    """progress.csv without the timing columns."""
    with open(os.path.join(run_dir, "progress.csv"), newline="") as f:
        return [{k: v for k, v in r.items() if k not in ("time_s", "steps_per_s")} for r in csv.DictReader(f)]


def wait_for_epochs(run_dir, epochs, proc, timeout=60):
    """Until ``run_dir``'s progress.csv holds ``epochs`` rows, while ``proc`` (training it) keeps running."""
    deadline = time.time() + timeout
    while len(progress(run_dir) if os.path.exists(os.path.join(run_dir, "progress.csv")) else []) < epochs:
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.05)


def arrays(path):
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files if k != "header"}


def assert_same_run(a, b):
    assert progress(a) == progress(b)
    pa, pb = arrays(os.path.join(a, "policy.npz")), arrays(os.path.join(b, "policy.npz"))
    assert pa.keys() == pb.keys() and all(np.array_equal(pa[k], pb[k]) for k in pa)


@pytest.mark.parametrize("field, value, message", [
    ("gamma", 0.0, "gamma must be in \\(0, 1\\]; got 0.0"), ("gamma", 1.5, "gamma must be in"),
    ("lam", -0.1, "lam must be in \\[0, 1\\]"), ("lam", 1.01, "lam must be in"),
    ("pi_lr", 0.0, "pi_lr must be > 0"), ("vf_lr", -1e-3, "vf_lr must be > 0"),
    ("pi_lr", float("inf"), "pi_lr must be > 0 and finite; got inf"), ("vf_lr", float("nan"), "vf_lr must be"),
    ("log_std_init", float("nan"), "log_std_init must be finite; got nan"), ("seed", -1, "seed must be a whole number >= 0"),
    ("steps_per_epoch", 0, "steps_per_epoch must be"), ("epochs", 0, "epochs must be"),
    ("hidden", (64, 0), "hidden must be widths >= 1"), ("num_envs", 0, "num_envs must be"),
    ("num_envs", 5000, r"num_envs \(5000\) must not exceed steps_per_epoch \(2000\)"),
    ("weights", "advantage", "weights must be one of"), ("activation", "sigmoid", "activation must be"),
    ("train_v_iters", -1, "train_v_iters must be"), ("n_step", 0, "n_step must be a whole number >= 1"),
    ("vf_dtype", "float16", 'vf_dtype must be "float64" or "float32"'),
    ("threads", -1, "threads must be a whole number >= 0"), ("vectorization", "spawn", "vectorization must be"),
])
def test_out_of_range_settings_are_refused_by_name(field, value, message):
    with pytest.raises(ValueError, match=message):
        EngineConfig(**{field: value}) if field in ENGINE_SETTINGS else check_config(VPGConfig(**{field: value}))
    with pytest.raises(ValueError, match=message):  # nppg.train checks them before anything runs
        nppg.train("nppg_test_envs:NoSuchEnv-v0", **{field: value})


def test_cli_refuses_bad_settings_before_writing_anything(capsys, tmp_path):
    assert main(["train", "--gamma", "1.5", "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert err == "nppg train: error: gamma must be in (0, 1]; got 1.5\n" and not (tmp_path / "run").exists()


def test_unsupported_action_space_is_named():
    with pytest.raises(ValueError, match=r"action space must be Discrete or a 1-d Box; got MultiDiscrete\(\[2 3\]\)"):
        nppg.vpg("nppg_test_envs:MultiDiscrete-v0", epochs=1, **SMALL)


def test_observation_space_that_cannot_be_flattened_is_named():
    with pytest.raises(ValueError, match=r"observation space must be Box \(any shape\) or Discrete; got Dict"):
        nppg.vpg("nppg_test_envs:DictObs-v0", epochs=1, **SMALL)


def test_a_nan_reward_stops_the_run_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    out = str(tmp_path / "run")
    code = main(["train", "--env", "nppg_test_envs:Broken-v0", "--out", out, "--num-envs", "1",
                 "--steps-per-epoch", "4", "--epochs", "10", "--save-every", "1", "--hidden", "4", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "non-finite reward nan at step 3 of its episode" in err
    # no advice to resume: the run is deterministic, and resuming would reach the same NaN again
    assert f"the last good checkpoint, {out}/state.npz, is intact" in err and "resume" not in err
    # 4 transitions an epoch, episodes of 5: the 3rd episode's 3rd step is transition 13, in epoch 4
    assert checkpoint.read_checkpoint(os.path.join(out, "state.npz"))[0]["epoch"] == 3
    with pytest.raises(NonFiniteError):
        nppg.train("nppg_test_envs:Broken-v0", epochs=5, steps_per_epoch=4, num_envs=1, hidden=(4,))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflows that lead to the NaN
def test_diverged_parameters_stop_the_run():
    params = {"W0": np.ones((2, 2)), "log_std": np.array([0.0, np.nan])}
    with pytest.raises(DivergedError, match="epoch 7: policy parameter log_std is not finite"):
        check_finite(7, policy=params)
    with pytest.raises(DivergedError, match="not finite"):
        nppg.train("nppg_test_envs:Target-v0", epochs=5, pi_lr=1e300, **SMALL)


def test_a_crash_mid_write_leaves_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    policy, value_fn = nppg.CategoricalPolicy(2, 2, (4,)), nppg.ValueFunction(2, (4,))
    path = str(tmp_path / "policy.npz")
    checkpoint.save_checkpoint(path, policy, value_fn, "Clock-v0", "Box", "Discrete(2)", 1, {})
    before = open(path, "rb").read()

    def crash(f, **arrays):
        f.write(b"PK\x03\x04 half a zip file")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save_checkpoint(path, policy, value_fn, "Clock-v0", "Box", "Discrete(2)", 2, {})
    assert open(path, "rb").read() == before and os.listdir(tmp_path) == ["policy.npz"]


def test_checkpoint_from_another_nppg_format_is_refused(tmp_path):
    policy, value_fn = nppg.CategoricalPolicy(2, 2, (4,)), nppg.ValueFunction(2, (4,))
    path = str(tmp_path / "p.npz")
    checkpoint.save_checkpoint(path, policy, value_fn, "Clock-v0", "Box", "Discrete(2)", 1, {},
                               more_header={"format_version": 99})
    with pytest.raises(checkpoint.CheckpointError, match="has checkpoint format 99"):
        checkpoint.load_checkpoint(path)


def test_architecture_mismatch_is_refused(tmp_path):
    policy, value_fn = nppg.CategoricalPolicy(2, 2, (4,)), nppg.ValueFunction(2, (4,))
    path = str(tmp_path / "p.npz")
    checkpoint.save_checkpoint(path, policy, value_fn, "Clock-v0", "Box", "Discrete(2)", 1, {},
                               extra={"pi.W0": np.zeros((2, 5))})
    with pytest.raises(checkpoint.CheckpointError, match=r"pi.W0 should have shape \(2, 4\); shape \(2, 5\)"):
        checkpoint.load_checkpoint(path)


@pytest.mark.parametrize("env, more", [("CartPole-v1", {}), ("nppg_test_envs:ClockBox-v0", {}),
                                       ("CartPole-v1", {"vf_dtype": "float64"})])
def test_stop_and_resume_gives_the_same_run_number_for_number(tmp_path, env, more):
    cfg = dict(env=env, seed=5, epochs=6, **SMALL, **more)
    whole, part = str(tmp_path / "whole"), str(tmp_path / "part")
    nppg.train(callback=logger(whole, cfg), **cfg)
    nppg.train(callback=logger(part, cfg, stop=lambda: True), **cfg)  # stops after epoch 1
    assert len(progress(part)) == 1
    for done in (1, 3):  # resume, stop again after epoch 3, resume to the end
        saved = checkpoint.load_train_state(part)
        assert saved[0]["epoch"] == done
        state = nppg.train(callback=logger(part, cfg, resume_epoch=done, stop=_stop_after(3) if done == 1 else None),
                           resume=saved, **cfg)
        assert state.epoch == (3 if done == 1 else 6)
    assert_same_run(whole, part)


def test_a_float32_value_function_is_saved_and_loaded_as_float32(tmp_path):
    out, cfg = str(tmp_path / "run"), dict(env="CartPole-v1", epochs=2, vf_dtype="float32", **SMALL)
    nppg.train(callback=logger(out, cfg), **cfg)
    policy, value_fn, _ = checkpoint.load_checkpoint(os.path.join(out, "policy.npz"))
    assert all(p.dtype == np.float32 for p in value_fn.params.values())
    assert all(p.dtype == np.float64 for p in policy.params.values())


def test_a_run_saved_before_a_setting_existed_resumes_with_its_default(tmp_path):
    out, cfg = str(tmp_path / "run"), dict(env="CartPole-v1", epochs=2, **SMALL)
    nppg.train(callback=logger(out, cfg), **cfg)
    header, arrays, actions = checkpoint.load_train_state(out)
    del header["config"]["vf_dtype"], header["config"]["threads"]   # as an older nppg wrote it
    state = nppg.train("CartPole-v1", epochs=3, resume=(header, arrays, actions), **SMALL)
    assert state.epoch == 3
    with pytest.raises(checkpoint.CheckpointError, match="vf_dtype float32 differs from the saved run's vf_dtype"):
        nppg.train("CartPole-v1", epochs=3, vf_dtype="float32", resume=(header, arrays, actions), **SMALL)


def _stop_after(epoch):
    count = iter(range(10**6))
    return lambda: next(count) + 2 == epoch  # asked after each epoch, starting with epoch 2 when resuming at 1


def test_resume_refuses_changed_settings(tmp_path):
    out, cfg = str(tmp_path / "run"), dict(env="CartPole-v1", epochs=2, **SMALL)
    nppg.train(callback=logger(out, cfg), **cfg)
    saved = checkpoint.load_train_state(out)
    with pytest.raises(checkpoint.CheckpointError, match="pi_lr 0.5 differs from the saved run's pi_lr 0.01,"):
        nppg.train("CartPole-v1", epochs=4, pi_lr=0.5, resume=saved, **SMALL)


def test_same_command_twice_gives_identical_files(tmp_path):
    args = ["train", "--quiet", "--epochs", "3", "--steps-per-epoch", "300", "--hidden", "8", "--train-v-iters", "3"]
    for name in ("a", "b"):
        assert main(args + ["--out", str(tmp_path / name)]) == 0
    assert_same_run(str(tmp_path / "a"), str(tmp_path / "b"))


@pytest.mark.slow
def test_ctrl_c_in_a_real_training_process_then_resume_matches_an_uninterrupted_run(tmp_path):
    args = ["train", "--epochs", "40", "--steps-per-epoch", "1000", "--hidden", "32", "--train-v-iters", "10",
            "--save-every", "1000"]
    whole, part = str(tmp_path / "whole"), str(tmp_path / "part")
    assert main(args + ["--quiet", "--out", whole]) == 0
    proc = subprocess.Popen([sys.executable, "-m", "nppg", *args, "--out", part],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_epochs(part, 5, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGINT, err
    assert f"Continue with: nppg train --resume {part}" in out and "Traceback" not in err
    stopped_at = len(progress(part))
    assert 5 <= stopped_at < 40 and checkpoint.read_checkpoint(os.path.join(part, "state.npz"))[0]["epoch"] == stopped_at
    assert main(["train", "--quiet", "--resume", part]) == 0
    assert_same_run(whole, part)


# Slow-v0's steps take 5 ms: 200 of them make an epoch of over a second, on any machine, so that a second Ctrl-C
# 0.1 s after the first lands before that epoch ends (and is saved)
SLOW = ["--env", "nppg_test_envs:Slow-v0", "--num-envs", "1", "--steps-per-epoch", "200", "--hidden", "4",
        "--train-v-iters", "1", "--save-every", "0"]


def slow_run(out):
    """``nppg train`` on Slow-v0 into ``out`` in a process of its own, as a user starts it."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.dirname(__file__), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-m", "nppg", "train", *SLOW, "--epochs", "100", "--out", out],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def two_ctrl_cs(proc):
    proc.send_signal(signal.SIGINT)
    time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    return proc.communicate(timeout=60)


@pytest.mark.slow
def test_a_run_stopped_at_once_before_its_first_save_starts_again_from_its_beginning_with_resume(tmp_path, capsys):
    """Two Ctrl-Cs in epoch 2 of a run that saves only at its end leave config.json, progress.csv and
    env_actions.bin, but nothing to continue from: --resume starts the run again, the same run to the bit, and a
    new run into the folder is refused, pointing to --resume (not, as once, a loop between the two refusals)."""
    part, whole = str(tmp_path / "part"), str(tmp_path / "whole")
    proc = slow_run(part)
    wait_for_epochs(part, 1, proc)
    out, err = two_ctrl_cs(proc)
    assert proc.returncode == 128 + signal.SIGINT and "Traceback" not in err, err
    assert f"stopped at once; files written so far are intact; nothing was saved yet: nppg train --resume {part} " \
           "starts the run again from its beginning" in err
    assert sorted(os.listdir(part)) == ["config.json", "env_actions.bin", "progress.csv"]
    assert main(["train", *SLOW, "--out", part, "--quiet"]) == 1
    assert f"already holds a run (config.json, progress.csv, env_actions.bin): continue it with --resume {part}" \
        in capsys.readouterr().err
    assert main(["train", "--resume", part, "--epochs", "2"]) == 0
    assert f"nppg: {part} stopped before its first save; starting it again" in capsys.readouterr().out
    assert main(["train", *SLOW, "--epochs", "2", "--quiet", "--out", whole]) == 0
    assert_same_run(whole, part)


@pytest.mark.slow
def test_a_run_stopped_at_once_in_its_first_epoch_leaves_no_run_directory(tmp_path):
    out = str(tmp_path / "runs" / "first")
    proc = slow_run(out)
    assert "run directory" in proc.stdout.readline()  # said before its first epoch starts, which takes over 1 s
    time.sleep(0.3)  # to be inside that epoch
    stdout, err = two_ctrl_cs(proc)
    assert proc.returncode == 128 + signal.SIGINT and "Traceback" not in err, err
    assert err.strip().endswith("stopped at once; files written so far are intact") and "--resume" not in stdout
    assert not os.path.exists(tmp_path / "runs")


@pytest.mark.slow
@pytest.mark.parametrize("interrupts, signum", [(1, signal.SIGINT), (2, signal.SIGINT), (1, signal.SIGTERM),
                                                (2, signal.SIGTERM)])
def test_ctrl_c_to_the_whole_process_group_with_async_environments(tmp_path, interrupts, signum):
    """A terminal's Ctrl-C reaches the environments' worker processes too, and so does a SIGTERM sent to
    the group (a job scheduler's, say). One: the epoch is finished and saved, with one message; two:
    everything stops at once. Either way no process is left, nothing hangs, and no worker prints a traceback."""
    out = str(tmp_path / "run")
    proc = subprocess.Popen([sys.executable, "-m", "nppg", "train", "--epochs", "200", "--steps-per-epoch", "4000",
                             "--num-envs", "4", "--hidden", "8", "--train-v-iters", "2", "--vectorization", "async",
                             "--quiet", "--out", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    wait_for_epochs(out, 1, proc)
    for _ in range(interrupts):
        os.killpg(proc.pid, signum)
        time.sleep(0.05)
    stdout, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum and "Traceback" not in err, err
    assert err.count("nppg: interrupted; finishing this epoch") == 1
    assert ("stopped at once" in err) if interrupts == 2 else ("Continue with: nppg train --resume" in stdout)
    time.sleep(0.5)
    with pytest.raises(ProcessLookupError):  # no worker outlived the run
        os.killpg(proc.pid, 0)


@pytest.mark.filterwarnings("ignore:.*Calling `close` while waiting")  # gymnasium's, expected here
def test_a_stop_at_once_mid_step_ends_async_workers_without_a_traceback(capfd):
    """The second Ctrl-C can land while the main process waits in an async vector step, a worker already gone
    (it got the signal too). Closing by the book would then wait on that worker's pipe and fail on it with an
    EOFError, which hid the KeyboardInterrupt behind a traceback: the engine's environments end the workers."""
    import gc
    from nppg.engine import make_env
    from nppg.engine.rollout import CheckedRollout
    envs = make_env("CartPole-v1", 2, "async")
    workers = envs.unwrapped.processes
    roll = CheckedRollout(envs, seed=0)
    policy = make_policy(envs.single_observation_space, envs.single_action_space, (8,), rng=np.random.default_rng(0))

    def worker_gone_then_interrupt(timeout=None):
        del envs.unwrapped.step_wait  # the close that follows waits for real, on the gone worker's pipe
        workers[0].kill()
        workers[0].join()
        raise KeyboardInterrupt
    envs.unwrapped.step_wait = worker_gone_then_interrupt
    with pytest.raises(KeyboardInterrupt):
        roll.collect(policy, 50, np.random.default_rng(0))
    envs.close()  # what vpg's finally does next
    assert not any(p.is_alive() for p in workers) and envs.closed
    del envs, roll
    gc.collect()
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.filterwarnings("ignore:.*Calling `close` while waiting")  # gymnasium's, expected here
def test_a_stop_at_once_after_part_of_a_step_was_read_does_not_hang_the_close():
    """Two Ctrl-Cs to the main process alone (its workers go on): the second can land after one worker's step
    result was read. Closing by the book then waits for that result again, forever; vpg's finally must not."""
    import threading
    from nppg.engine import make_env
    envs = make_env("CartPole-v1", 2, "async")
    workers = envs.unwrapped.processes
    envs.reset(seed=0)

    def one_result_read_then_interrupt(timeout=None):
        del envs.unwrapped.step_wait  # the close that follows waits for real
        envs.unwrapped.parent_pipes[0].recv()
        raise KeyboardInterrupt

    def a_step_then_the_finally():
        try:
            try:
                envs.step(np.zeros(2, dtype=np.int64))
            finally:
                envs.close()
        except KeyboardInterrupt:
            pass
    envs.unwrapped.step_wait = one_result_read_then_interrupt
    closing = threading.Thread(target=a_step_then_the_finally, daemon=True)
    closing.start()
    closing.join(20)
    assert not closing.is_alive(), "the close waited for a step result it had already read"
    assert not any(p.is_alive() for p in workers) and envs.closed


@pytest.mark.slow
def test_a_second_ctrl_c_stops_a_value_fit_running_in_threads_at_once(tmp_path):
    """With (64, 64) networks and 3,000 rows the value fit's three blocks run in two threads; the second
    interrupt lands while the main thread waits for them, and the run still stops at once, cleanly."""
    out = str(tmp_path / "run")
    proc = subprocess.Popen([sys.executable, "-m", "nppg", "train", "--epochs", "200", "--steps-per-epoch", "3000",
                             "--threads", "2", "--quiet", "--out", out],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_epochs(out, 2, proc)
    for _ in range(2):
        proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
    stdout, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGINT and "Traceback" not in err, err
    assert "stopped at once" in err
