"""``nppg plot``: what it says when a run or the output path is wrong, and what it writes."""
import json
import os

import pytest
from test_cli import error_of

from nppg.tools.cli import main

PNG = b"\x89PNG\r\n\x1a\n"


def fake_run(path, epochs, steps_per_epoch=200, env="CartPole-v1", weights="gae"):
    """A run directory as ``nppg train`` leaves it, with only the columns that plot reads."""
    os.makedirs(path)
    with open(os.path.join(path, "progress.csv"), "w") as f:
        f.write("epoch,env_steps,mean_return\n")
        f.writelines(f"{k},{k * steps_per_epoch},{10.0 + k}\n" for k in range(1, epochs + 1))
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump({"env": env, "weights": weights, "epochs": epochs}, f)
    return str(path)


def test_a_path_that_is_not_a_run_directory_is_named_first(tmp_path, capsys):
    """Not 'cannot write nosuch/learning_curve.png': the run is the mistake, so it is reported first."""
    nosuch, bare = str(tmp_path / "nosuch"), str(tmp_path / "bare")
    os.mkdir(bare)
    assert error_of(["plot", nosuch], capsys).endswith(f"{nosuch} is not a run directory: it does not exist")
    assert error_of(["plot", bare], capsys).endswith(f"{bare} is not a run directory: it has no progress.csv")
    run = fake_run(tmp_path / "run", 3)
    assert "is not a run directory" in error_of(["plot", run, nosuch, "--out", str(tmp_path / "no" / "a.png")],
                                                capsys)


def test_an_output_folder_that_is_a_file_is_called_a_file(tmp_path, capsys):
    run = fake_run(tmp_path / "run", 3)
    afile = tmp_path / "afile"
    afile.write_text("")
    err = error_of(["plot", run, "--out", str(afile / "x.png")], capsys)
    assert err.endswith(f"{afile} is a file, not a folder") and "does not exist" not in err
    assert error_of(["plot", run, "--out", run], capsys).endswith(
        f"it is a folder; give a file name such as {os.path.join(run, 'learning_curve.png')}")


def test_the_path_reported_is_the_file_written(tmp_path, capsys):
    """matplotlib adds .png to a name without an extension; the path printed must say so."""
    pytest.importorskip("matplotlib")
    run = fake_run(tmp_path / "run", 3)
    noext = str(tmp_path / "noext")
    assert main(["plot", run, "--out", noext]) == 0
    assert capsys.readouterr().out == f"nppg: wrote {noext}.png\n"
    assert not os.path.exists(noext) and open(noext + ".png", "rb").read(8) == PNG
    assert main(["plot", run, "--out", str(tmp_path / "curve.svg")]) == 0  # an extension is kept as given
    assert capsys.readouterr().out == f"nppg: wrote {tmp_path / 'curve.svg'}\n"


def test_runs_cut_to_the_shortest_are_named_on_stderr(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    long, short = fake_run(tmp_path / "long", 150), fake_run(tmp_path / "short", 4)
    other = fake_run(tmp_path / "other", 10, weights="rtg")  # alone in its setting: nothing to cut
    assert main(["plot", long, short, other, "--out", str(tmp_path / "c.png")]) == 0
    assert capsys.readouterr().err == (f"nppg plot: note: CartPole-v1 gae is averaged up to 800 env steps, where its "
                                       f"shortest run ends; cut there: {long} (30000 steps)\n")
    assert main(["plot", long, long, "--out", str(tmp_path / "c.png")]) == 0
    assert capsys.readouterr().err == ""


def test_broken_files_are_named_in_one_line(tmp_path, capsys):
    run = fake_run(tmp_path / "run", 3)
    progress, config = os.path.join(run, "progress.csv"), os.path.join(run, "config.json")
    good = open(progress).read()
    with open(config, "w") as f:
        f.write("{'env': 'CartPole-v1'}")
    assert f"{config} is not valid JSON: Expecting property name" in error_of(["plot", run], capsys)
    with open(config, "w") as f:
        f.write("[1, 2]")
    assert error_of(["plot", run], capsys).endswith(f"{config} is not a JSON object of settings")
    os.remove(config)
    with open(progress, "w") as f:
        f.write(good.replace("2,400,12.0", "2,400,abc"))
    assert error_of(["plot", run], capsys).endswith(f"{progress} line 3, column mean_return: 'abc' is not a number")
    with open(progress, "w") as f:
        f.write(good + "4,800\n")  # a row cut short
    assert error_of(["plot", run], capsys).endswith(f"{progress} line 5 has 2 cells, the header has 3")
    with open(progress, "wb") as f:
        f.write(b"epoch,env_steps,mean_return\n1,200,\xff\n")
    assert progress in error_of(["plot", run], capsys)  # not UTF-8 (in a UTF-8 locale) or not a number


def test_smoothing_is_a_centred_mean_with_fewer_epochs_at_the_ends():
    import numpy as np
    from nppg.tools.plot import smooth
    y = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    np.testing.assert_allclose(smooth(y, 3), [1.5, 7 / 3, 14 / 3, 28 / 3, 12.0])
    np.testing.assert_allclose(smooth(y, 1), y)


def test_runs_are_grouped_by_their_settings_and_named_by_what_differs(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib.axes
    from nppg.tools import plot
    labels = []
    real = matplotlib.axes.Axes.plot
    monkeypatch.setattr(matplotlib.axes.Axes, "plot", lambda self, *a, **kw: (labels.append(kw.get("label")),
                                                                             real(self, *a, **kw))[1])
    runs = []
    for lam, seed in ((0.9, 0), (0.9, 1), (0.97, 0)):
        run = fake_run(tmp_path / f"{lam}-{seed}", 5)
        cfg = json.load(open(os.path.join(run, "config.json")))
        json.dump({**cfg, "lam": lam, "seed": seed}, open(os.path.join(run, "config.json"), "w"))
        runs.append(run)
    hopper = fake_run(tmp_path / "hopper", 5, env="Hopper-v5")
    csv = tmp_path / "published.csv"
    csv.write_text("env,algo,env_steps,mean_epoch_return\nHopper,vpg,100,5.0\nHopper,vpg,200,7.0\n"
                   "Walker2d,ppo,100,1.0\n")
    plot.plot_runs(runs + [hopper], str(tmp_path / "c.png"), baseline=str(csv), smoothing=3)
    assert labels == ["CartPole-v1 gae lam=0.9 (2 runs)", "CartPole-v1 gae lam=0.97 (1 run)",
                      "Hopper-v5 gae lam=None (1 run)", "Spinning Up VPG (Hopper)"]
    csv.write_text("env,steps\nHopper,1\n")
    with pytest.raises(ValueError, match=r"cannot read the baseline .*\(columns env, algo, env_steps"):
        plot.plot_runs(runs, str(tmp_path / "c.png"), baseline=str(csv))


def test_smoothing_wider_than_the_run_keeps_one_value_per_epoch():
    import numpy as np
    from nppg.tools.plot import smooth
    y = np.arange(5.0)
    assert len(smooth(y, 11)) == 5
    np.testing.assert_allclose(smooth(y, 11), [2.0] * 5)
