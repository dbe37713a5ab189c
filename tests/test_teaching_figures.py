"""benchmarks/teaching_figures.py: the slide figures of docs/figures/ (docs/figures/README.md).

The quick mode writes every figure into a temporary folder; the timeline is drawn from a real
Rollout.collect, and its batch holds each kind of segment end with the closing value (14) the code gives it.
"""

import numpy as np
import pytest
from scripts import load_benchmark

FIGURES = ("timeline.png", "examples.png", "estimators.png")


def test_the_timeline_batch_has_a_termination_a_truncation_and_cuts_each_closed_as_14_says():
    tf = load_benchmark("teaching_figures")
    rollout, batch, last_values = tf.timeline_batch()
    ended = np.array([r["ended"] for r in rollout.steps])              # (rows, n)
    valid = np.array([r["valid"] for r in rollout.steps])
    assert (~valid).any(), "the batch should show gymnasium's autoreset steps"
    assert len(batch.rew) == valid.sum(), "every stored step is a transition, no reset step"
    e_idx, t_idx = np.nonzero(valid.T)
    last = batch.stops - 1
    truncated = ended[t_idx[last], e_idx[last]] & ~batch.terminated
    cut = ~ended[t_idx[last], e_idx[last]]
    assert batch.terminated.any() and truncated.any() and cut.any()
    assert np.all(last_values[batch.terminated] == 0.0)
    assert np.all(last_values[~batch.terminated] != 0.0)
    # s_T is the true observation that followed, never a reset one: the clock's t goes on past the last stored step
    assert np.array_equal(batch.final_obs[:, 0], batch.obs[last, 0] + 1)


def test_quick_mode_writes_every_figure(tmp_path):
    pytest.importorskip("matplotlib")
    load_benchmark("teaching_figures").main(["--quick", "--out", str(tmp_path / "figures"), "--runs", str(tmp_path / "runs")])
    for name in FIGURES:
        path = tmp_path / "figures" / name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert 10_000 < path.stat().st_size < 150_000, (name, path.stat().st_size)
    for name, _ in load_benchmark("teaching_figures").EXAMPLES:
        assert (tmp_path / "runs" / f"{name}-s0" / "progress.csv").exists()


def test_everything_the_timeline_draws_lies_inside_the_picture(monkeypatch):
    """The timeline's caption once ran past the right edge ("never stor"): every drawn text must fit."""
    pytest.importorskip("matplotlib")
    tf = load_benchmark("teaching_figures")
    boxes = []

    def measure(fig, path):
        fig.canvas.draw()
        boxes.append((fig.get_tightbbox(fig.canvas.get_renderer()), fig.get_size_inches()))  # inches: what is drawn

    monkeypatch.setattr(tf, "save", measure)
    tf.draw_timeline("unused.png")
    (tight, (width, height)), = boxes
    assert tight.x0 >= 0 and tight.y0 >= 0 and tight.x1 <= width and tight.y1 <= height, (tight.bounds, width, height)
