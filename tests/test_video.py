"""``nppg eval --video``: a GIF of a saved policy's episodes, and a clear message without the extra."""
import os
import re
import sys

import pytest
from test_cli import error_of

from nppg.tools.cli import main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("video") / "run")
    assert main(["train", "--epochs", "1", "--steps-per-epoch", "64", "--num-envs", "2", "--hidden", "8",
                 "--train-v-iters", "1", "--quiet", "--out", out]) == 0
    return out


def test_a_gif_of_one_episode_has_a_frame_for_every_step_kept(run_dir, tmp_path, capsys):
    imageio = pytest.importorskip("imageio.v2")
    pytest.importorskip("pygame")  # CartPole draws with pygame
    gif = str(tmp_path / "cartpole.gif")
    assert main(["eval", run_dir, "--video", gif, "--every", "2", "--seed", "3"]) == 0  # one episode unless told
    found = re.search(r"(\d+) frames of 1 episodes, returns ([\d.]+)", capsys.readouterr().out)
    frames, steps = int(found[1]), float(found[2])  # CartPole pays 1 a step: the return is the episode's length
    assert frames == 1 + int(steps) // 2 + (int(steps) % 2)  # the first frame, every 2nd step, and the last
    assert 0.8 * frames <= len(imageio.mimread(gif)) <= frames  # the GIF writer merges frames that repeat


def test_without_imageio_the_message_says_which_extra(run_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "imageio", None)
    monkeypatch.setitem(sys.modules, "imageio.v2", None)
    err = error_of(["eval", run_dir, "--video", str(tmp_path / "a.gif")], capsys)
    assert "needs imageio" in err and "pip install 'nppg[video]'" in err
    assert "writes .gif or .mp4" in error_of(["eval", run_dir, "--video", str(tmp_path / "a.avi")], capsys)
    assert "--fps > 0" in error_of(["eval", run_dir, "--video", str(tmp_path / "a.gif"), "--every", "0"], capsys)
    assert not os.path.exists(tmp_path / "a.gif")


def test_each_frame_is_kept_even_when_the_renderer_reuses_one_array(run_dir, tmp_path, monkeypatch):
    """MuJoCo's renderer draws every frame into the same array: the recording must copy it, or every
    frame of the GIF would be the last one."""
    imageio = pytest.importorskip("imageio.v2")
    import gymnasium as gym
    import numpy as np
    from nppg.tools import video
    from nppg.engine.checkpoint import load_checkpoint

    class OneBuffer(gym.Wrapper):
        def __init__(self, env):
            super().__init__(env)
            self.buffer, self.t = np.zeros((8, 8, 3), dtype=np.uint8), 0

        def render(self):
            self.t += 1
            self.buffer[...] = self.t * 7 % 256
            return self.buffer

    make = gym.make
    monkeypatch.setattr(video.gym, "make", lambda env_id, **kw: OneBuffer(make(env_id)))
    policy = load_checkpoint(os.path.join(run_dir, "policy.npz"))[0]
    saved = {}
    monkeypatch.setattr(imageio, "mimsave", lambda path, frames, **kw: saved.setdefault("frames", frames))
    n, _ = video.record(policy, "CartPole-v1", str(tmp_path / "a.gif"), seed=1)
    values = [int(f[0, 0, 0]) for f in saved["frames"]]  # each render fills the array with a new value
    assert len(values) == n > 2 and all(a != b for a, b in zip(values, values[1:]))
