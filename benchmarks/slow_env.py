"""When do subprocess environments pay off? Raw stepping of a CartPole whose step also burns a
fixed CPU time, sync against async, through nppg's own ``make_env``:

    python benchmarks/slow_env.py

Prints steps per second for each step cost and number of copies (docs/performance.md's async table).
"""
import os
import sys
import time

import gymnasium as gym
from gymnasium.envs.classic_control.cartpole import CartPoleEnv

COSTS_US = (30, 100, 300, 1000)


class SlowCartPole(CartPoleEnv):
    def __init__(self, cost_us=100, **kwargs):
        super().__init__(**kwargs)
        self.cost = cost_us * 1e-6

    def step(self, action):
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < self.cost:  # busy: a sleep would free the core
            pass
        return super().step(action)


if __name__ != "__main__":  # registered when gymnasium imports this module for "slow_env:SlowCartPole..." ids
    for us in COSTS_US:
        gym.register(f"SlowCartPole{us}-v0", entry_point=SlowCartPole, kwargs={"cost_us": us},
                     max_episode_steps=500)


def main():
    from nppg.tools.bench import env_steps_per_s
    for us in COSTS_US:
        row = [f"{us:5d} us a step"]
        for mode in ("sync", "async"):
            for n in (2, 8):
                steps = 800 if us < 300 else 400
                row.append(f"{mode} x{n}: {env_steps_per_s(f'slow_env:SlowCartPole{us}-v0', n, mode, steps, repeats=2):7.0f}")
        print(" | ".join(row), flush=True)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # async workers import slow_env too
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [os.path.dirname(os.path.abspath(__file__)),
                                                               os.environ.get("PYTHONPATH")]))
    main()
