"""Evaluation during training (``--eval-every``, engine/evaluate.py): fresh episodes on environment copies
of its own, with sampled and with mean actions, that change nothing of training and resume exactly."""
import csv
import json
import os

import numpy as np
import pytest
from run_dirs import logger

import nppg
from nppg.engine import checkpoint
from nppg.engine.evaluate import EVAL_COLUMNS, Evaluation, evaluate
from nppg.tools.cli import main
from nppg.tools.logger import BEFORE_EVAL, COLUMNS

SMALL = dict(steps_per_epoch=200, num_envs=2, hidden=(8,), train_v_iters=3, epochs=5)
PENDULUM = dict(env="Pendulum-v1", seed=3, normalize_obs=True, scale_rewards=True, **SMALL)  # every statistic in play


def rows(run_dir):
    with open(os.path.join(run_dir, "progress.csv"), newline="") as f:
        return [{k: v for k, v in r.items() if k not in ("time_s", "steps_per_s", "eval_s")} for r in csv.DictReader(f)]


def params(state):
    return {f"{n}.{k}": p.copy() for n, net in (("pi", state.policy), ("vf", state.value_fn)) for k, p in net.params.items()}


def test_a_run_with_evaluation_trains_the_same_parameters_to_the_bit(tmp_path):
    plain = nppg.train(**PENDULUM)
    with_eval = nppg.train(eval_every=400, eval_episodes=3, **PENDULUM)
    a, b = params(plain), params(with_eval)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert np.array_equal(plain.obs_stats.mean, with_eval.obs_stats.mean) and plain.rng.random() == with_eval.rng.random()
    strip = [{k: v for k, v in r.items() if k not in ("time_s", "steps_per_s", *EVAL_COLUMNS)} for r in with_eval.history]
    assert strip == [{k: v for k, v in r.items() if k not in ("time_s", "steps_per_s")} for r in plain.history]


def test_it_evaluates_when_a_multiple_of_eval_every_steps_is_crossed_with_both_kinds_of_action(tmp_path):
    out = str(tmp_path / "run")
    assert main(["train", "--env", "Pendulum-v1", "--epochs", "5", "--steps-per-epoch", "200", "--num-envs", "2",
                 "--hidden", "8", "--train-v-iters", "3", "--eval-every", "400", "--eval-episodes", "3", "--out", out,
                 "--quiet"]) == 0
    r = rows(out)
    assert list(r[0]) == [c for c in COLUMNS if c not in ("time_s", "steps_per_s", "eval_s")]
    evaluated = [row["epoch"] for row in r if row["eval_return"]]
    assert evaluated == ["2", "4"]  # 400 and 800 steps (each epoch is 200)
    for row in r:
        assert bool(row["eval_return"]) == bool(row["eval_mean_action_return"]) == bool(row["eval_return_std"])
    # returns of whole 200-step Pendulum episodes, whose rewards lie in [-16.3, 0]
    assert all(-16.3 * 200 <= float(row[c]) <= 0 for row in r if row["eval_return"] for c in ("eval_return",
                                                                                           "eval_mean_action_return"))


def test_evaluation_is_what_evaluate_gives_with_its_own_seeds_and_generator():
    """The numbers come from whole episodes of the policy as it is, on copies reset with seeds no training
    copy uses; another evaluation (k) is other fresh episodes, and a sampled one differs from the mean action's."""
    state = nppg.train(**{**PENDULUM, "epochs": 1})
    ev = Evaluation("Pendulum-v1", every=100, episodes=3, seed=3, num_envs=2)
    try:
        first, again, later = ev(state.policy, 200), ev(state.policy, 200), ev(state.policy, 300)
        assert all(t["eval_s"] > 0 for t in (first, again, later))
        first, again, later = ({k: v for k, v in t.items() if k != "eval_s"} for t in (first, again, later))
        assert first == again and first != later and first["eval_return"] != first["eval_mean_action_return"]
        k, n = 2, ev.envs.num_envs
        assert n == 3  # a copy for each episode, more than training's 2, so none runs two while others wait
        seed = 2**31 + (3 * 1000 + k) * 2 * n
        R, _ = evaluate(state.policy, ev.envs, 3, np.random.default_rng([3, k, 0, 7919]), False, seed)
        assert first["eval_return"] == float(np.mean(R)) and first["eval_return_std"] == float(np.std(R))
        assert seed > 2**31 > 3 + 2  # above the training copies' seeds (seed + i)
    finally:
        ev.close()


def test_an_interrupted_run_with_evaluation_resumes_to_the_uninterrupted_one(tmp_path):
    cfg = dict(PENDULUM, eval_every=300, eval_episodes=2)
    whole, part = str(tmp_path / "whole"), str(tmp_path / "part")
    nppg.train(callback=logger(whole, cfg), **cfg)
    nppg.train(callback=logger(part, cfg, stop=lambda: True), **cfg)  # stops after epoch 1
    saved = checkpoint.load_train_state(part)
    nppg.train(callback=logger(part, cfg, resume_epoch=1), resume=saved, **cfg)
    assert rows(whole) == rows(part) and sum(bool(r["eval_return"]) for r in rows(part)) == 3


def test_evaluation_can_be_added_or_changed_on_a_resume_and_training_stays_the_same(tmp_path):
    """eval_every and eval_episodes may change on a resume: training is the same to the bit either way, and
    the evaluations are those of the new settings, from the resume on."""
    whole, part = str(tmp_path / "whole"), str(tmp_path / "part")
    nppg.train(callback=logger(whole, PENDULUM), **PENDULUM)
    nppg.train(callback=logger(part, PENDULUM, stop=lambda: True), **PENDULUM)  # stops after epoch 1, no evaluation
    assert main(["train", "--resume", part, "--epochs", "3", "--eval-every", "200", "--eval-episodes", "2",
                 "--quiet"]) == 0
    assert main(["train", "--resume", part, "--epochs", "5", "--eval-every", "400", "--eval-episodes", "3",
                 "--quiet"]) == 0
    evaluated = [bool(r["eval_return"]) for r in rows(part)]
    assert evaluated == [False, True, True, True, False]  # epochs 2, 3 cross 200-step marks; 4 crosses 800
    strip = lambda table: [{k: v for k, v in r.items() if not k.startswith("eval_")} for r in table]  # noqa: E731
    assert strip(rows(whole)) == strip(rows(part))
    saved = [np.load(os.path.join(run, "policy.npz")) for run in (whole, part)]
    assert all(np.array_equal(saved[0][k], saved[1][k]) for k in saved[0].files if k != "header")  # its config differs
    config = json.load(open(os.path.join(part, "config.json")))
    assert (config["eval_every"], config["eval_episodes"]) == (400, 3)


def test_a_run_directory_from_before_evaluation_resumes_with_its_own_columns(tmp_path):
    """An older nppg's progress.csv has no eval columns: a resume appends rows of its own columns."""
    cfg = dict(PENDULUM)
    run = str(tmp_path / "run")
    nppg.train(callback=logger(run, cfg, stop=lambda: True), **cfg)
    path = os.path.join(run, "progress.csv")
    with open(path, newline="") as f:
        old = [r[:len(BEFORE_EVAL)] for r in csv.reader(f)]
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(old)
    assert main(["train", "--resume", run, "--eval-every", "200", "--quiet"]) == 1  # no columns to put them in
    assert main(["train", "--resume", run, "--quiet"]) == 0
    with open(path, newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == BEFORE_EVAL and len(table) == 6 and all(len(r) == len(BEFORE_EVAL) for r in table)


@pytest.mark.parametrize("flags, message", [
    (["--eval-every", "-1"], "eval_every must be a whole number >= 0"),
    (["--eval-every", "100", "--eval-episodes", "0"], "eval_episodes must be a whole number >= 1"),
])
def test_bad_evaluation_settings_are_refused_before_anything_runs(tmp_path, capsys, flags, message):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--epochs", "1", *flags]) == 1
    assert message in capsys.readouterr().err and not out.exists()
