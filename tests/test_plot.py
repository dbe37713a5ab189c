"""``nppg plot``: what it says when a run or the output path is wrong, and what it writes."""
import json
import os

import pytest
from test_cli import error_of

from nppg.tools.cli import main

PNG = b"\x89PNG\r\n\x1a\n"


def fake_run(path, epochs, steps_per_epoch=200, env="CartPole-v1", weights="gae", returns=None, **settings):
    """A run directory as ``nppg train`` leaves it, with only the columns that plot reads; ``returns``: the
    mean_return of each epoch (None: no episode ended), else 10 + k; ``settings``: more of config.json."""
    os.makedirs(path)
    returns = [10.0 + k for k in range(1, epochs + 1)] if returns is None else returns
    with open(os.path.join(path, "progress.csv"), "w") as f:
        f.write("epoch,env_steps,mean_return\n")
        f.writelines(f"{k},{k * steps_per_epoch},{'' if r is None else r}\n" for k, r in enumerate(returns, 1))
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump({"env": env, "weights": weights, "epochs": epochs, **settings}, f)
    return str(path)


@pytest.fixture
def drawn(monkeypatch):
    """The figures plot_runs draws, kept open: {"figures": [...], "curves": [(label, x, y), ...]}."""
    pytest.importorskip("matplotlib")
    import matplotlib.axes
    import matplotlib.pyplot as plt
    seen = {"figures": [], "curves": []}
    real_plot = matplotlib.axes.Axes.plot

    def plot(self, x, y, *a, **kw):
        seen["curves"].append((kw.get("label"), list(x), list(y)))
        return real_plot(self, x, y, *a, **kw)
    monkeypatch.setattr(matplotlib.axes.Axes, "plot", plot)
    monkeypatch.setattr(plt, "close", lambda fig: seen["figures"].append(fig))
    return seen


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


def test_runs_are_grouped_by_their_settings_and_named_by_what_differs(tmp_path, drawn):
    from nppg.tools import plot
    runs = []
    for lam, seed in ((0.9, 0), (0.9, 1), (0.97, 0)):
        runs.append(fake_run(tmp_path / f"{lam}-{seed}", 5, lam=lam, seed=seed))
    hopper = fake_run(tmp_path / "hopper", 5, env="Hopper-v5")
    csv = tmp_path / "published.csv"
    csv.write_text("env,algo,env_steps,mean_epoch_return\nHopper,vpg,100,5.0\nHopper,vpg,200,7.0\n"
                   "Walker2d,ppo,100,1.0\n")
    plot.plot_runs(runs + [hopper], str(tmp_path / "c.png"), baseline=str(csv), smoothing=3)
    assert [label for label, _, _ in drawn["curves"]] == ["gae lam=0.9 (2 runs)", "gae lam=0.97 (1 run)",
                                                          "gae (1 run)", "Spinning Up VPG (Hopper)"]
    assert [ax.get_title() for ax in drawn["figures"][0].axes] == ["CartPole-v1", "Hopper-v5"]
    csv.write_text("env,steps\nHopper,1\n")
    with pytest.raises(ValueError, match=r"cannot read the baseline .*\(columns env, algo, env_steps"):
        plot.plot_runs(runs, str(tmp_path / "c.png"), baseline=str(csv))


def test_two_examples_are_named_by_the_settings_that_differ_and_never_by_a_missing_one(tmp_path, drawn):
    """Examples 1 and 5 write config.json files with different keys (nppg plot once labelled them
    'gamma=None lam=None ...'): a setting only one of them has names nothing, one both have and set apart does."""
    ex1 = fake_run(tmp_path / "ex1", 4, 5000, weights="example 1: R(tau)", hidden=[32], lr=0.01, batch_size=5000)
    ex5 = fake_run(tmp_path / "ex5", 4, 2000, gamma=0.99, lam=0.97, lr=0.01, batch_size=2000, num_envs=8)
    assert main(["plot", ex1, ex5, "--out", str(tmp_path / "examples.png")]) == 0
    assert [label for label, _, _ in drawn["curves"]] == ["example 1: R(tau) batch_size=5000 (1 run)",
                                                          "gae batch_size=2000 (1 run)"]


def test_settings_told_apart_only_by_a_setting_one_of_them_lacks_are_named_by_it(tmp_path, drawn):
    a = fake_run(tmp_path / "a", 3, lr=0.01)
    b = fake_run(tmp_path / "b", 3, lr=0.01, hidden=[32])
    assert main(["plot", a, b, "--out", str(tmp_path / "c.png")]) == 0
    assert [label for label, _, _ in drawn["curves"]] == ["gae (1 run)", "gae hidden=[32] (1 run)"]


def test_each_curve_starts_at_its_first_real_point_not_at_step_0(tmp_path, drawn):
    """Example 1's curve was drawn flat from step 0 to its first epoch, 5,000 steps; an epoch in which no
    episode ended has no return, so a run whose first value is at epoch 3 starts there."""
    ex1 = fake_run(tmp_path / "ex1", 4, 5000, weights="example 1: R(tau)")
    late = fake_run(tmp_path / "late", 5, 1000, weights="rtg", returns=[None, None, 7.0, None, 9.0])
    assert main(["plot", ex1, late, "--out", str(tmp_path / "start.png")]) == 0
    (_, x1, y1), (_, x2, y2) = drawn["curves"]
    assert (x1, y1) == ([5000, 10000, 15000, 20000], [11.0, 12.0, 13.0, 14.0])
    assert (x2, y2) == ([3000, 4000, 5000], [7.0, 8.0, 9.0])  # epoch 4 interpolated between its neighbours


def test_only_runs_that_differ_only_in_the_seed_are_one_curve(tmp_path, drawn, capsys):
    """A 4-epoch run and two 60-epoch runs were once one curve cut at the 4-epoch run's end."""
    short = fake_run(tmp_path / "short", 4, seed=0)
    longs = [fake_run(tmp_path / f"long{s}", 60, seed=s, threads=s + 1) for s in (0, 1)]
    assert main(["plot", short, *longs, "--out", str(tmp_path / "lengths.png")]) == 0
    assert [(label, x[-1]) for label, x, _ in drawn["curves"]] == [("gae epochs=4 (1 run)", 800),
                                                                   ("gae epochs=60 (2 runs)", 12000)]
    assert capsys.readouterr().err == ""


def test_seeds_of_one_setting_that_end_apart_are_averaged_over_the_runs_that_reach_each_epoch(tmp_path, drawn,
                                                                                           capsys):
    """A run stopped early (Ctrl-C, or still running) does not cut the others: past its end the curve is the
    mean of the runs that go on, and the legend and a note on stderr say so."""
    runs = [fake_run(tmp_path / f"s{s}", 6, seed=s, returns=[s + k for k in range(n)], epochs_done=n)
            for s, n in ((0, 6), (1, 6), (2, 3))]
    for run in runs:  # the same setting: the same config.json but the seed
        cfg = json.load(open(os.path.join(run, "config.json")))
        del cfg["epochs_done"]
        json.dump(cfg, open(os.path.join(run, "config.json"), "w"))
    assert main(["plot", *runs, "--out", str(tmp_path / "seeds.png")]) == 0
    [(label, x, y)] = drawn["curves"]
    assert label == "gae (3 runs, 1 ending at 600 steps)"
    assert x == [200, 400, 600, 800, 1000, 1200]
    assert y == [1.0, 2.0, 3.0, 3.5, 4.5, 5.5]  # seeds 0 and 1 alone after epoch 3
    assert capsys.readouterr().err == (f"nppg plot: note: CartPole-v1 gae: {runs[2]} ends at 600 env steps, before the "
                                       "setting's longest run; from there on the curve is the mean of the runs "
                                       "that go on\n")


def test_the_legend_sits_below_the_axes_and_never_squeezes_them(tmp_path, drawn):
    """Many settings once pushed the axes into a sliver, the x tick labels running together and a 'Tight layout
    not applied' warning: the legend goes below the axes, which keep their size, and the ticks read 10k, 20k."""
    import warnings
    from matplotlib.ticker import EngFormatter
    one = [fake_run(tmp_path / "one", 50, 2000, lam=0.9)]
    many = [fake_run(tmp_path / f"lam{k}", 50, 2000, lam=k / 10, pi_lr=k / 1000, hidden=[64, k], normalize_obs=k > 4)
            for k in range(1, 9)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for runs, name in ((one, "one.png"), (many, "many.png")):
            assert main(["plot", *runs, "--out", str(tmp_path / name)]) == 0
    sizes = []
    for fig in drawn["figures"]:
        fig.canvas.draw()
        [ax] = fig.axes
        box, legend = ax.get_window_extent(), ax.get_legend().get_window_extent()
        assert legend.y1 <= box.y0  # below the axes, not over them
        sizes.append((round(box.width), round(box.height)))
        assert isinstance(ax.xaxis.get_major_formatter(), EngFormatter)
        assert {"20k", "40k", "100k"} <= {t.get_text() for t in ax.get_xticklabels()}
    assert sizes[0] == sizes[1]


def test_eval_return_of_a_run_trained_without_evaluation_says_how_to_turn_it_on(tmp_path, capsys):
    run = fake_run(tmp_path / "run", 3, eval_every=0)
    with open(os.path.join(run, "progress.csv"), "w") as f:
        f.write("epoch,env_steps,mean_return,eval_return\n1,200,11.0,\n2,400,12.0,\n")
    err = error_of(["plot", run, "--y", "eval_return"], capsys)
    assert err.endswith(f"{run} has no eval_return: it was trained without evaluation (evaluation is off unless "
                        "asked for); train with --eval-every STEPS (nppg.train's eval_every=STEPS), e.g. --eval-every "
                        "20000, to evaluate the policy every STEPS environment steps, or plot its training return "
                        "(--y mean_return)")
    json.dump({"env": "CartPole-v1", "weights": "gae", "eval_every": 1000}, open(os.path.join(run, "config.json"), "w"))
    assert error_of(["plot", run, "--y", "eval_return"], capsys).endswith(f"{run} has no value of eval_return yet "
                                                                           "(no episode has ended)")


def test_smoothing_wider_than_the_run_keeps_one_value_per_epoch():
    import numpy as np
    from nppg.tools.plot import smooth
    y = np.arange(5.0)
    assert len(smooth(y, 11)) == 5
    np.testing.assert_allclose(smooth(y, 11), [2.0] * 5)


def test_smoothing_spans_k_epochs_whatever_ended_in_them():
    """--smooth k averages the values of the k epochs around each, as Spinning Up's figures do: an epoch in which
    no episode ended adds nothing and does not stretch the window to k values (on HalfCheetah, 22 epochs)."""
    import numpy as np

    from nppg.tools import plot
    y = np.array([1.0, np.nan, 3.0, np.nan, 5.0])
    np.testing.assert_allclose(plot.smooth(y, 3), [1, 2, 3, 4, 5])
    np.testing.assert_allclose(plot.smooth(np.arange(5.0), 3), [0.5, 1, 2, 3, 3.5])  # fewer at the ends
    assert np.isnan(plot.smooth(np.array([1.0, np.nan, np.nan, np.nan]), 3)[3])       # no value in the window
