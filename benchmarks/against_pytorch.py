"""nppg's CartPole epoch against a PyTorch VPG's, in interleaved rounds: the ratio the README states.

    python benchmarks/against_pytorch.py --torch-python /tmp/torchvenv/bin/python --rounds 3

Each round runs, one after another, ``nppg bench --env CartPole-v1 --threads 2`` with the value network in
float32 (nppg's default) and in float64, then ``benchmarks/pytorch_vpg.py`` (Spinning Up's loop: one
environment stepped at a time; and 8 vector environments) with torch's own kernels and with torch held to
AVX2 (``ATEN_CPU_CAPABILITY=avx2``, ``MKL_ENABLE_INSTRUCTIONS=AVX2``, ``ONEDNN_MAX_CPU_ISA=AVX2``), which is
what a CPU without AVX-512 runs. Each figure is a median epoch (epochs 2-10); the table gives the median over
rounds. NumPy's kernels are whatever this shell gives it: ``OPENBLAS_CORETYPE=Haswell`` emulates an AVX2 CPU.
The torch Python needs torch, numpy and gymnasium (``benchmarks/pytorch_vpg.py`` says how to make one); nppg
never imports torch.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys

from nppg.tools.machine import describe

HERE = os.path.dirname(os.path.abspath(__file__))
AVX2 = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


def nppg_epoch(vf_dtype):
    out = subprocess.run([sys.executable, "-m", "nppg", "bench", "--env", "CartPole-v1", "--threads", "2",
                          "--vf-dtype", vf_dtype, "--json"], capture_output=True, text=True, check=True).stdout
    return json.loads(out)["results"][0]["epoch_s"]


def torch_epoch(python, num_envs, avx2):
    env = {**os.environ, **(AVX2 if avx2 else {})}
    out = subprocess.run([python, os.path.join(HERE, "pytorch_vpg.py"), "--num-envs", str(num_envs)],
                         capture_output=True, text=True, check=True, env=env).stdout
    return float(re.search(r"median epoch ([\d.]+) s", out).group(1))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    p.add_argument("--torch-python", required=True, help="a Python with torch, numpy and gymnasium")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    setups = {"nppg, float32 value net (default)": lambda: nppg_epoch("float32"),
              "nppg, float64 value net": lambda: nppg_epoch("float64"),
              "PyTorch, 1 env (Spinning Up's loop), torch's kernels": lambda: torch_epoch(args.torch_python, 1, False),
              "PyTorch, 1 env (Spinning Up's loop), AVX2": lambda: torch_epoch(args.torch_python, 1, True),
              "PyTorch, 8 vector envs, torch's kernels": lambda: torch_epoch(args.torch_python, 8, False),
              "PyTorch, 8 vector envs, AVX2": lambda: torch_epoch(args.torch_python, 8, True)}
    times = {name: [] for name in setups}
    for r in range(args.rounds):
        for name, run in setups.items():
            times[name].append(run())
            print(f"round {r + 1}: {name}: {times[name][-1]:.3f} s", file=sys.stderr, flush=True)
    med = {name: statistics.median(t) for name, t in times.items()}
    print(f"measured on {describe()}; load average {os.getloadavg()[0]:.2f}")
    print("| setup | epoch (s), median of rounds | every round |")
    print("|---|---|---|")
    for name, t in times.items():
        print(f"| {name} | {med[name]:.3f} | {', '.join(f'{x:.3f}' for x in t)} |")
    for nppg_name in list(setups)[:2]:
        ratios = ", ".join(f"{med[nppg_name] / med[t]:.2f} of '{t}'" for t in list(setups)[2:])
        print(f"{nppg_name}: {ratios}")


if __name__ == "__main__":
    main()
