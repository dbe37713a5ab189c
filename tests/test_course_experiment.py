"""nppg exercise experiment: the student's own package on the report's grid, its table and figures, a grid
interrupted and run again, and the messages for a workspace not finished and for a missing MuJoCo
(docs/experiments.md). CartPole-v1 only, with --quick's tiny batches: MuJoCo is an optional extra."""
import argparse
import csv
import os

import pytest

from nppg.course import experiment
from nppg.course import ladder, workspace

FIGURES = ["CartPole-v1-rtg.png", "CartPole-v1-baseline.png", "CartPole-v1-lam.png", "overview.png"]


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("ws") / "solved")
    workspace.start(d, solutions=True)
    return d


def args_of(*argv):
    parser = argparse.ArgumentParser(prog="nppg exercise experiment", allow_abbrev=False)
    experiment.add_experiment_args(parser)
    return parser.parse_args(list(argv))


def read_table(out):
    with open(os.path.join(out, "table.csv"), newline="") as f:
        return list(csv.DictReader(f))


def test_the_grid_writes_a_row_per_setting_and_batch_and_the_figures(solved, tmp_path, capsys):
    out = str(tmp_path / "exp")
    code = experiment.cmd_experiment(args_of(solved, "--env", "CartPole-v1", "--seeds", "0", "1", "--quick",
                                             "--jobs", "1", "--out", out))
    printed = capsys.readouterr().out
    assert code == 0, printed
    rows = read_table(out)
    batches, epochs = experiment.GRIDS["CartPole-v1"].quick
    assert [(r["setting"], int(r["batch"])) for r in rows] == [(s.name, b) for b in batches
                                                               for s in experiment.SETTINGS]
    for r in rows:
        assert r["seeds"] == "2" and r["epochs"] == str(epochs) and r["env"] == "CartPole-v1"
        assert float(r["best_return_mean"]) >= float(r["final_return_mean"]) - 1e-9 > 0
        assert r["reached"] == "0" and r["steps_to_threshold_mean"] == ""  # 3 tiny epochs never reach 475
    assert {r["weights"] for r in rows} == {"return", "reward-to-go", "gae", "baseline"}
    assert {r["lam"] for r in rows if r["weights"] in ("gae", "baseline")} == {"0.0", "0.95", "1.0"}
    md = open(os.path.join(out, "table.md")).read()
    assert md.count("\n| CartPole-v1 (>= 475) |") == len(rows) and "R(tau) (4)" in md and "never" in md
    for name in FIGURES:
        with open(os.path.join(out, "figures", name), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", name
    # every cell is a run directory nppg plot reads, and printed as it finished
    assert len([line for line in printed.splitlines() if line.startswith("[")]) == 2 * 2 * len(experiment.SETTINGS)
    assert "machine: " in printed and f"figure: {os.path.join(out, 'figures', 'overview.png')}" in printed
    from nppg.tools.plot import read_progress
    cfg, cols = read_progress(os.path.join(out, "CartPole-v1", "lam0.95-b40", "s1"))
    assert cfg["lam"] == 0.95 and cfg["weights"] == "gae" and cfg["normalize_adv"] is False
    assert list(cols["epoch"]) == [1, 2, 3]


def test_an_interrupted_grid_keeps_its_finished_cells_and_a_rerun_runs_only_the_others(solved, tmp_path, monkeypatch):
    """The third cell is stopped by a Ctrl-C in its second epoch: the two before it stay finished, the third
    is left without result.json; the same command again runs the third and those after it, and no other."""
    out, runs, real_load = str(tmp_path / "exp"), [], experiment.load

    def load(directory):
        pkg = real_load(directory)
        real_vpg = pkg.vpg

        def vpg(env, *, callback=None, **kw):
            if callback is None:  # the probe before the grid
                return real_vpg(env, **kw)
            runs.append((kw["weights"], kw.get("lam"), kw["steps_per_epoch"], kw["seed"]))

            def record(r, state):
                if len(runs) == 3 and r["epoch"] == 2 and not stopped:
                    stopped.append(True)
                    raise KeyboardInterrupt
                return callback(r, state)
            return real_vpg(env, callback=record, **kw)
        pkg.vpg = vpg
        return pkg

    stopped, lines = [], []
    monkeypatch.setattr(experiment, "load", load)
    monkeypatch.setattr(experiment, "_package", {})
    grid = dict(envs=["CartPole-v1"], seeds=[0], quick=True, jobs=1, out=out, figures=False, say=lines.append)
    with pytest.raises(KeyboardInterrupt):
        experiment.experiment(solved, **grid)
    cells = experiment.plan(["CartPole-v1"], [0], quick=True)
    done = [os.path.isfile(os.path.join(out, c.key, "result.json")) for c in cells]
    assert done == [True, True] + [False] * (len(cells) - 2)
    assert os.path.isfile(os.path.join(out, cells[2].key, "progress.csv"))  # begun, not finished
    assert len(read_table(out)) == 2 and "2 of 10 cells finished are kept" in lines[-1]
    first = list(runs)

    runs.clear()
    assert experiment.experiment(solved, **grid) == 0
    assert len(runs) == len(cells) - 2 and not set(runs) & set(first[:2]) and runs[0] == first[2]
    assert any("2 done already, 8 to run" in line for line in lines)
    assert len(read_table(out)) == len(cells) and all(r["seeds"] == "1" for r in read_table(out))
    runs.clear()
    assert experiment.experiment(solved, **grid) == 0 and runs == []  # all done: nothing runs again


def test_a_cell_run_with_other_settings_is_refused_not_overwritten(solved, tmp_path):
    out = str(tmp_path / "exp")
    cell = experiment.plan(["CartPole-v1"], [0], quick=True)[0]
    os.makedirs(os.path.join(out, cell.key))
    experiment.write_json(os.path.join(out, cell.key, "config.json"), {**experiment.cell_config(cell), "pi_lr": 0.5})
    with pytest.raises(experiment.ExperimentError, match="holds a run with other settings .pi_lr"):
        experiment.experiment(solved, ["CartPole-v1"], [0], quick=True, out=out, figures=False, say=lambda s: None)


def test_a_blank_workspace_says_which_exercise_to_finish_first(tmp_path):
    blank = str(tmp_path / "blank")
    workspace.start(blank)
    with pytest.raises(experiment.ExperimentError) as e:
        experiment.cmd_experiment(args_of(blank, "--env", "CartPole-v1", "--quick", "--no-figures"))
    msg = str(e.value)
    assert "package is not finished (the first run stopped at: " in msg
    assert f"Finish exercise 1, 'backprop', first: nppg exercise check {blank} backprop." in msg
    assert "Still blank, in ladder order: backprop, categorical, reward_to_go, gae, batch_weights," in msg
    assert "gaussian" not in msg and "nstep," not in msg  # CartPole alone needs neither
    assert not os.path.exists(os.path.join(blank, "experiment-quick"))  # found before the grid, nothing written


def test_one_exercise_left_blank_is_the_one_named(solved, tmp_path):
    """A workspace done but for GAE: the message names 'gae', as the run stops in it."""
    ws = str(tmp_path / "ws")
    workspace.start(ws, solutions=True)
    path = os.path.join(ws, ladder.PACKAGE, "advantages.py")
    with open(path) as f:
        source = f.read()
    with open(path, "w") as f:
        f.write(workspace.blank(source, ladder.BY_NAME["gae"]))
    with pytest.raises(experiment.ExperimentError, match=r"Finish exercise 5, 'gae', first") as e:
        experiment.experiment(ws, ["CartPole-v1"], quick=True, figures=False, say=lambda s: None)
    assert "exercise 'gae', eq. (12)" in str(e.value) and "Still blank" not in str(e.value)


def test_without_mujoco_the_pendulum_part_says_how_to_install_it_and_cartpole_still_runs(solved, tmp_path,
                                                                                       monkeypatch):
    real = experiment.make_env

    def make_env(env_id, num_envs):
        if env_id == experiment.MUJOCO:
            raise ValueError(f"{env_id} needs a package that is not installed: mujoco")
        return real(env_id, num_envs)

    monkeypatch.setattr(experiment, "make_env", make_env)
    lines, out = [], str(tmp_path / "exp")
    code = experiment.experiment(solved, seeds=[0], quick=True, out=out, figures=False, say=lines.append)
    assert code == 1
    said = [line for line in lines if "InvertedPendulum-v5 needs MuJoCo" in line]
    assert len(said) == 2 and all('pip install "nppg[mujoco]"' in line for line in said)
    assert said[0].startswith("nppg exercise experiment: skipped:") and lines[-1] == said[1]
    assert {r["env"] for r in read_table(out)} == {"CartPole-v1"}


def test_the_measures_final_best_and_steps_to_the_threshold():
    """An epoch where no episode ended (NaN) is neither final nor best; the threshold counts env steps at the
    end of the first epoch that reaches it, not at the best one."""
    nan = float("nan")
    rows = [{"env_steps": 400, "mean_return": 20.0}, {"env_steps": 800, "mean_return": 480.0},
            {"env_steps": 1200, "mean_return": 500.0}, {"env_steps": 1600, "mean_return": 130.0},
            {"env_steps": 2000, "mean_return": nan}]
    assert experiment.summarize(rows, 475) == {"final_return": 130.0, "best_return": 500.0,
                                               "steps_to_threshold": 800, "epochs": 5, "env_steps": 2000}
    assert experiment.summarize(rows, 501)["steps_to_threshold"] is None
    assert experiment.summarize(rows[:1] + rows[4:], 475)["final_return"] == 20.0


def test_cells_run_in_processes_of_their_own_give_the_same_numbers(solved, tmp_path):
    """--jobs 2 runs each cell in a spawned process, one BLAS thread each: the same epochs as in one process."""
    tables = []
    for jobs in (1, 2):
        out = str(tmp_path / f"jobs{jobs}")
        assert experiment.experiment(solved, ["CartPole-v1"], [3], quick=True, jobs=jobs, out=out, figures=False,
                                     say=lambda s: None) == 0
        tables.append([{k: v for k, v in r.items() if not k.startswith(("time_s", "cpu_s"))} for r in read_table(out)])
    assert len(tables[0]) == 2 * len(experiment.SETTINGS) and tables[0] == tables[1]
