"""``nppg eval RUN --video FILE.gif`` (or ``.mp4``): episodes of a saved policy, drawn from the environment's
``rgb_array`` frames and written by imageio (the optional extra ``nppg[video]``)."""
import os
import sys

import gymnasium as gym
import numpy as np

from ..rollout import env_action, flatten_obs


def record(policy, env_id, path, episodes=1, seed=0, deterministic=False, fps=30, every=1, size=None):
    """Run ``episodes`` episodes of ``policy`` in one ``env_id`` and write every ``every``-th frame to ``path``
    (.gif, or .mp4 with imageio-ffmpeg); ``size``: (width, height), which MuJoCo environments draw at and
    others are cut down to (every k-th pixel). Returns the number of frames written and the episodes' returns."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".gif", ".mp4"):
        raise ValueError(f"--video writes .gif or .mp4; got {path!r}")
    try:
        import imageio.v2 as imageio
        if ext == ".mp4":
            import imageio_ffmpeg  # noqa: F401  (the writer imageio uses for .mp4)
    except ImportError as e:
        raise ValueError(f"--video needs {e.name}, which is not installed: pip install 'nppg[video]'") from None
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
        os.environ.setdefault("MUJOCO_GL", "egl")  # MuJoCo draws without a screen through EGL
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")  # pygame (classic control) needs no sound device
    sized = {"width": size[0], "height": size[1]} if size else {}
    # MuJoCo's locomotion tasks have a camera that follows the body ("track"); the default one stays put
    try:
        for kwargs in ({**sized, "camera_name": "track"}, sized, {}):
            try:
                env = gym.make(env_id, render_mode="rgb_array", **kwargs)
                break
            except (TypeError, ValueError):  # an environment without that camera, or that takes no size
                if not kwargs:
                    raise
    except gym.error.DependencyNotInstalled as e:
        raise ValueError(f"drawing {env_id} needs a package that is not installed ({e}); "
                         "pip install 'nppg[video]' brings pygame for the classic-control environments") from None
    rng, frames, returns = np.random.default_rng(seed), [], []
    try:
        for k in range(episodes):
            s, _ = env.reset(seed=seed + k)
            frames.append(np.array(env.render()))  # a copy: a renderer may draw every frame into one array
            done, R, t = False, 0.0, 0
            while not done:
                obs = flatten_obs(env.observation_space, [s])               # (1, obs_dim)
                a = (policy.mode(obs) if deterministic else policy.sample(obs, rng))[0]
                s, r, terminated, truncated, _ = env.step(env_action(env.action_space, a))
                R, t, done = R + float(r), t + 1, terminated or truncated
                if t % every == 0 or done:
                    frames.append(np.array(env.render()))  # a copy: a renderer may draw every frame into one array
            returns.append(R)
    finally:
        env.close()
    k = max(1, frames[0].shape[1] // size[0]) if size else 1
    frames = [f[::k, ::k] for f in frames]                                  # an environment of a fixed size
    if ext == ".gif":
        imageio.mimsave(path, frames, duration=1000 * every / fps, loop=0)
    else:
        imageio.mimsave(path, frames, fps=fps / every)
    return len(frames), returns
