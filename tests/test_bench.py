"""``nppg bench``: what it prints and how it counts, on tiny runs (no assertion about speed)."""
import json
import os
import re

import numpy as np
import pytest

from nppg.tools import bench
from scripts import BENCHMARKS, load_benchmark

TINY = ["--env", "CartPole-v1", "--epochs", "2", "--steps-per-epoch", "200", "--num-envs", "2",
        "--hidden", "8", "--train-v-iters", "2", "--threads", "1"]


@pytest.fixture(scope="module")
def tiny_json():
    import contextlib
    import io
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert bench.main([*TINY, "--vf-dtype", "float64", "--json"]) == 0  # the float64 limit (float32: below)
    return json.loads(out.getvalue())


def test_json_has_the_documented_keys_and_sane_values(tiny_json):
    (r,) = tiny_json["results"]
    assert r["env"] == "CartPole-v1" and r["num_envs"] == 2 and r["threads"] == 1 and r["steps_per_epoch"] == 200
    for key in ["limit_epoch_s", "epoch_s", "ratio", "env_steps_per_s_raw", "train_steps_per_s", "mem_growth_mb",
                "mem_growth_second_half_mb"]:
        assert np.isfinite(r[key]), key
    assert r["limit_epoch_s"] > 0 and r["epoch_s"] > 0 and r["env_steps_per_s_raw"] > 0 and r["train_steps_per_s"] > 0
    assert r["ratio"] == pytest.approx(r["epoch_s"] / r["limit_epoch_s"])
    assert r["limit_epoch_s"] == pytest.approx(r["limit_env_s"] + r["limit_arith_s"])
    assert r["limit_env_s"] == pytest.approx(200 / r["env_steps_per_s_raw"])
    gflop = sum(r["epoch_gflop"].values())
    assert r["limit_arith_s"] == pytest.approx(gflop / r["matmul_gflop_per_s"])
    # the split covers the epoch: its parts are non-negative (up to timer noise) and add up to it
    split = r["split_s"]
    assert set(split) == set(bench.PARTS)
    assert sum(split.values()) == pytest.approx(r["epoch_s"])
    assert min(split[p] for p in ("env", "sample", "update_pi", "fit_v")) > 0


def test_it_names_the_machine_its_times_come_from(tiny_json, capsys, monkeypatch):
    """A time means little without the CPU and the BLAS kernels it was measured with (docs/performance.md)."""
    from nppg.tools import machine
    model, avx512 = machine.cpu()
    assert tiny_json["machine"] == machine.describe()
    assert model in tiny_json["machine"] and f"{len(os.sched_getaffinity(0))} cores" in tiny_json["machine"]
    assert ("no AVX-512" in tiny_json["machine"]) == (avx512 is False)
    if machine.openblas() is not None:  # NumPy's wheels: the kernels OpenBLAS picked, or was told to
        assert re.search(r"OpenBLAS [\d.]+, \w+ kernels", tiny_json["machine"])
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Sandybridge")
    assert machine.describe().endswith("(OPENBLAS_CORETYPE=Sandybridge)")  # as told, whatever it runs
    assert bench.main([*TINY, "--epochs", "1"]) == 0
    assert f"nppg bench: measured on {machine.describe()}" in capsys.readouterr().out


def test_a_float32_value_network_is_held_to_float32_throughput(capsys):
    assert bench.main([*TINY, "--vf-dtype", "float32", "--json"]) == 0
    (r,) = json.loads(capsys.readouterr().out)["results"]
    f, mm, mm_v = r["epoch_gflop"], r["matmul_gflop_per_s"], r["matmul_gflop_per_s_v"]
    assert r["vf_dtype"] == "float32" and mm_v != mm
    assert r["limit_arith_s"] == pytest.approx((f["rollout"] + f["update_pi"]) / mm + (f["weights"] + f["fit_v"]) / mm_v)


def test_table_names_every_part(capsys):
    assert bench.main(TINY) == 0
    out = capsys.readouterr().out
    assert "CartPole-v1" in out and "ratio" in out
    for name in bench.PART_NAMES.values():
        assert name in out


def test_mlp_flops_count_the_products_of_forward_and_backward():
    # one forward of (N, 3) through (3, 5, 2): 2N(3*5 + 5*2); the backward adds the dW products of every
    # layer and the dx product of every layer but the first
    assert bench.mlp_flops((3, 5, 2), 10) == 2 * 10 * (15 + 10)
    assert bench.mlp_flops((3, 5, 2), 10, backward=True) == 2 * 10 * (15 + 10) + 2 * 10 * 10


def test_epoch_flops_match_the_passes_of_an_epoch():
    pi, v, n, iters = (4, 64, 64, 2), (4, 64, 64, 1), 4000, 80
    f = bench.epoch_flops(pi, v, n, iters, categorical=True)
    fwd_pi, fwd_v = bench.mlp_flops(pi, n), bench.mlp_flops(v, n)
    assert f["rollout"] == fwd_pi and f["weights"] == fwd_v
    assert f["update_pi"] == 4 * fwd_pi + bench.mlp_flops(pi, n, backward=True)  # log pi twice, grad, entropy
    assert f["fit_v"] == (iters + 1) * (fwd_v + bench.mlp_flops(v, n, backward=True))  # the loss before: one more
    gaussian = bench.epoch_flops(pi, v, n, iters, categorical=False)
    assert gaussian["update_pi"] == f["update_pi"] - fwd_pi                        # its entropy needs no forward


def test_timers_restore_what_they_wrapped_after_the_run():
    from nppg import algorithm
    from nppg.engine import CheckedRollout, run
    parts = lambda: (run.make_env, algorithm.make_policy, algorithm.update_policy, algorithm.fit_value,  # noqa: E731
                     CheckedRollout.collect)
    before = parts()
    r = bench.run_setting("CartPole-v1", num_envs=2, epochs=2, threads=1, steps_per_epoch=100, train_v_iters=1,
                          hidden=(4,))
    assert parts() == before
    assert r["epoch_s"] > 0 and r["split_s"]["fit_v"] > 0


def test_the_learning_benchmark_script_runs_and_writes_what_it_prints(tmp_path):
    """benchmarks/learning.py measures docs/results.md's figures; it must keep working as the flags change."""
    import subprocess
    import sys
    script = os.path.join(BENCHMARKS, "learning.py")
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, script, "--seeds", "0", "--threshold", "5", "--eval-episodes", "4",
                           "--json", str(out), "--", "--epochs", "2", "--steps-per-epoch", "200", "--hidden", "8",
                           "--train-v-iters", "2"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    (run,) = json.loads(out.read_text())["runs"]
    assert run["env_steps"] >= 400 and 200 <= run["steps_to_threshold"] < 208  # epoch 1 of CartPole averages > 5
    assert "summary CartPole-v1: 1/1 seeds reached 5" in proc.stdout


def test_the_pytorch_comparison_reads_nppg_bench_and_the_pytorch_script_as_they_print(monkeypatch):
    """benchmarks/against_pytorch.py backs the README's ratio to PyTorch; torch is not installed here, so the
    PyTorch side is checked against the line pytorch_vpg.py prints, and the nppg side is run for real."""
    compare = load_benchmark("against_pytorch")
    source = open(os.path.join(BENCHMARKS, "pytorch_vpg.py")).read()
    assert 'median epoch {median:.3f} s' in source  # the line torch_epoch reads
    line = "pytorch VPG, CartPole-v1, 1 env (gym.make), 4000 steps, torch threads 2: median epoch 0.831 s (epochs 2-10)"
    monkeypatch.setattr(compare.subprocess, "run", lambda *a, **k: type("Done", (), {"stdout": line})())
    assert compare.torch_epoch("python", 1, avx2=True) == 0.831
    monkeypatch.undo()
    calls = []
    real_run = compare.subprocess.run
    monkeypatch.setattr(compare.subprocess, "run", lambda cmd, **k: calls.append(cmd) or real_run(
        cmd[:4] + [*TINY] + cmd[-3:], **k))  # the same command, on a tiny setting
    assert compare.nppg_epoch("float64") > 0 and calls[0][3:5] == ["bench", "--env"] and "float64" in calls[0]


def test_the_mujoco_suite_table_measures_as_tianshou_and_as_spinning_up(tmp_path, capsys):
    """benchmarks/mujoco_suite.py makes docs/mujoco.md's table: Tianshou's figure is the highest point of the
    seed-mean evaluation curve within the step count, Spinning Up's the smoothed training return there."""
    suite = load_benchmark("mujoco_suite")
    for seed, evals in ((0, [10.0, 30.0, 20.0]), (1, [20.0, 50.0, 0.0])):  # evaluations at 0.5M, 1M and 1.5M steps
        run = tmp_path / "HalfCheetah-v5" / "default" / f"s{seed}"
        run.mkdir(parents=True)
        lines = ["env_steps,mean_return,eval_return,time_s,eval_s"]
        for i, steps in enumerate(range(250_000, 1_500_001, 250_000)):
            ev = f"{evals[i // 2]},2.0" if i % 2 == 1 else ","
            at = steps + 7 * seed  # a batch is whole vector steps: the seeds' epochs end a few steps apart
            lines.append(f"{at},{100 * (i + 1) + seed},{ev.split(',')[0]},{60.0 * (i + 1)},{ev.split(',')[1]}")
        (run / "progress.csv").write_text("\n".join(lines) + "\n")
        (run / "config.json").write_text('{"eval_every": 500000}')
    anchors = tmp_path / "tianshou.csv"
    anchors.write_text("env,algo,at_1M,at_3M,std_1M,std_3M\nHalfCheetah,a2c,1829.9,2377.3,1068.3,1363.7\n")
    runs = sorted(str(p) for p in (tmp_path / "HalfCheetah-v5" / "default").glob("s*"))
    assert suite.tianshou_measure(runs, 1e6) == (40.0, 10.0, 2)   # the mean curve is 15, 40, 10 at 0.5M, 1M, 1.5M
    assert suite.tianshou_measure(runs, 3e6) is None              # the runs end at 1.5M
    assert suite.spinningup_measure(runs, 1e6, k=1) == (400.5, 2)  # epoch 4's return, seeds 400 and 401
    assert suite.wall_minutes(runs[0]) == (360.0 + 3 * 2.0) / 60
    suite.main([str(tmp_path), "--tianshou", str(anchors)])
    row = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| HalfCheetah-v5")][0]
    assert "| 40.0 +- 10.0 / - |" in row and "| 1830 / 2377 |" in row
    # --diagnose: sigma from the entropy, the KL of the steps, how far the evaluation curve falls from its peak
    for seed, run in enumerate(runs):
        lines = (tmp_path / run / "progress.csv").read_text().splitlines()
        sigma = 0.2 + 0.1 * seed  # the entropy of a 2-action Gaussian of that sigma
        entropy = 2 * (np.log(sigma) + 0.5 * np.log(2 * np.pi * np.e))
        lines = [lines[0] + ",entropy,kl"] + [f"{line},{entropy},{0.01 * (i + 1)}" for i, line in enumerate(lines[1:])]
        (tmp_path / run / "progress.csv").write_text("\n".join(lines) + "\n")
    d = suite.diagnose(runs, 1e6, act_dim=2)
    assert d["sigma"] == pytest.approx(0.25) and d["seeds"] == 2
    assert d["kl_median"] == pytest.approx(0.025) and d["kl_max"] == pytest.approx(0.04)  # epochs 1-4 of each seed
    assert (d["eval_best"], d["eval_last"]) == (40.0, 40.0) and suite.diagnose(runs, 3e6, act_dim=2) is None
    assert suite.diagnose(runs, 1.5e6, act_dim=2)["eval_last"] == 10.0
    # --stretches: the KL median and the mean evaluation of each stretch of steps in turn
    assert suite.stretches(runs, 1e6) == [(0.0, 1e6, pytest.approx(0.025), 27.5), (1e6, 2e6, pytest.approx(0.055), 10.0)]
    suite.main([str(tmp_path), "--stretches", "1e6"])
    assert "| HalfCheetah-v5 | 1M-2M | 0.0550 | 10.0 |" in capsys.readouterr().out.splitlines()
    # what --keep copies makes the same table, so a later session can make it from the committed copy
    kept = tmp_path / "kept"
    suite.main([str(tmp_path), "--tianshou", str(anchors), "--keep", str(kept)])
    assert capsys.readouterr().out.startswith("kept 2 runs in ")
    # more seeds of a task, run apart in another folder, are gathered with the first folder's
    apart = tmp_path / "apart" / "HalfCheetah-v5" / "default"
    apart.mkdir(parents=True)
    os.replace(kept / "HalfCheetah-v5" / "default" / "s1", apart / "s1")
    (apart / "s1.log").write_text("a run's output, kept beside it\n")
    assert suite.keep(str(tmp_path / "apart"), str(tmp_path / "apart-kept")) == [str(tmp_path / "apart-kept" / "HalfCheetah-v5" / "default" / "s1")]
    assert suite.tasks([str(kept), str(tmp_path / "apart")])["HalfCheetah-v5"] == {
        "default": [str(kept / "HalfCheetah-v5" / "default" / "s0"), str(apart / "s1")]}
    assert suite.named("Hopper-v5", "default") == "Hopper-v5" and suite.named("Hopper-v5", "lr=1") == "Hopper-v5 (lr=1)"
    pytest.importorskip("matplotlib")
    suite.main([str(kept), str(tmp_path / "apart"), "--tianshou", str(anchors), "--plot", str(tmp_path / "curves.png")])
    assert row in capsys.readouterr().out.splitlines() and (tmp_path / "curves.png").stat().st_size > 0


def test_the_suites_action_sizes_are_the_tasks_own():
    """--diagnose reads sigma from the entropy with the task's action size, kept in a table so that the kept runs'
    tables are made without MuJoCo; the table must be gymnasium's."""
    suite = load_benchmark("mujoco_suite")
    pytest.importorskip("mujoco")
    import gymnasium as gym
    for name, size in suite.ACT_DIM.items():
        env = gym.make(f"{name}-v5")
        assert env.action_space.shape == (size,), name
        env.close()


def test_spinning_ups_measure_smooths_over_k_epochs_whatever_ended_in_them(tmp_path):
    """An epoch in which no episode ended (NaN) adds nothing to the window and does not widen it: with
    1,000-step episodes ending every other epoch, skipping those epochs would average 2k - 1 epochs."""
    suite = load_benchmark("mujoco_suite")
    y = np.array([0.0, np.nan, 10.0, np.nan, 0.0, np.nan, np.nan, np.nan, 4.0])
    smoothed = suite.smooth_epochs(y, 3)
    # epoch 2's window is epochs 1-3, of which only epoch 2 has a return; over the returns alone it would be (0+10+0)/3
    np.testing.assert_array_equal(smoothed[:5], [0.0, 5.0, 10.0, 5.0, 0.0])
    assert np.isnan(smoothed[6]) and smoothed[7] == 4.0 and smoothed[8] == 4.0
    np.testing.assert_allclose(suite.smooth_epochs(np.arange(5.0), 3), [0.5, 1, 2, 3, 3.5])  # fewer at the ends
    run = tmp_path / "HalfCheetah-v5" / "default" / "s0"
    run.mkdir(parents=True)
    rows = [f"{4000 * (i + 1)},{'' if np.isnan(v) else v}" for i, v in enumerate(y)]
    (run / "progress.csv").write_text("env_steps,mean_return\n" + "\n".join(rows) + "\n")
    (run / "config.json").write_text("{}")
    assert suite.spinningup_measure([str(run)], 12000, k=3) == (10.0, 1)


def test_the_overlap_benchmark_measures_all_three():
    """benchmarks/overlap.py backs a figure of docs/performance.md; it must keep running as nppg changes."""
    overlap = load_benchmark("overlap")
    t = overlap.measure("CartPole-v1", steps=64, iters=2, repeats=1)
    assert set(t) == {"rollout", "V fit", "V fit, 2 threads", "at once", "at once, 2 threads"}
    assert all(v > 0 for v in t.values())


def test_the_hand_fused_value_gradient_benchmark_computes_grad_mse():
    """benchmarks/fused_value_step.py backs a claim of docs/performance.md only if it computes the same gradient."""
    import nppg
    fused = load_benchmark("fused_value_step")
    rng = np.random.default_rng(0)
    vf = nppg.ValueFunction(3, (16, 16), rng=rng)
    obs, targets = rng.standard_normal((500, 3)), rng.standard_normal(500)
    loss, grads = vf.grad_mse(obs, targets)
    loss_f, grads_f = fused.fused_grad_mse(vf.params, obs, targets, block=64)
    np.testing.assert_allclose(loss_f, loss, rtol=1e-12)
    for k in grads:
        np.testing.assert_allclose(grads_f[k], grads[k], rtol=1e-9, atol=1e-15)


def test_the_value_blocks_benchmark_prints_every_setting():
    """benchmarks/value_blocks.py backs docs/performance.md's block size and thread figures; it must keep running."""
    import subprocess
    import sys
    script = os.path.join(BENCHMARKS, "value_blocks.py")
    proc = subprocess.run([sys.executable, script, "--rows", "64", "--blocks", "16", "64"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines()[2:]]
    assert [(r[0], r[1], r[2]) for r in rows] == [(m, b, t) for m in ("as-is", "kept") for b in ("16", "64")
                                                  for t in ("1", "2")]
    assert all(float(r[3]) > 0 for r in rows)


def test_bench_with_threads_0_leaves_the_blas_setting_alone():
    """--threads 0 (with OPENBLAS_NUM_THREADS, say) measures NumPy's own BLAS setting, in training and limit."""
    from nppg.engine.threads import get_threads, set_threads
    before = get_threads()
    if before is None:
        pytest.skip("this platform's BLAS thread count cannot be read")
    set_threads(2)
    try:
        r = bench.run_setting("CartPole-v1", num_envs=2, epochs=2, threads=0, steps_per_epoch=100, train_v_iters=1,
                              hidden=(8,))
        assert r["threads"] == 0 and get_threads() == 2
    finally:
        set_threads(before)


def test_the_value_step_floor_benchmark_times_the_real_passes():
    """benchmarks/value_step_floor.py times a value step call by call: its products must be the ones the
    limit counts, and its gradient products must give the network's own gradient."""
    import nppg
    from nppg.tools.bench import mlp_flops
    floor = load_benchmark("value_step_floor")
    rng = np.random.default_rng(0)
    vf = nppg.ValueFunction(5, (16, 8), rng=rng)
    obs = rng.standard_normal((50, 5))
    ops = floor.value_step_ops(vf.params, obs, vf.net.n_layers)
    sizes = vf.net.sizes
    assert sum(f for _, kind, f, _ in ops if kind == "product") == mlp_flops(sizes, 50) + mlp_flops(sizes, 50, True)
    # a bias addition and a bias gradient per layer; tanh and its derivative per hidden layer
    assert sum(kind == "elementwise" for _, kind, _, _ in ops) == 2 * vf.net.n_layers + 2 * len(sizes[1:-1])
    out, cache = vf.net.forward(obs)
    grads, _ = vf.net.backward(np.ones((50, 1)) / 50, cache)
    results = {name.split(" = ")[0]: call() for name, _, _, call in ops}
    np.testing.assert_allclose(results["x @ W2"] + vf.params["b2"], out, rtol=1e-12)
    for i in range(3):
        np.testing.assert_allclose(results[f"dW{i}"], grads[f"W{i}"], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(results[f"db{i}"], grads[f"b{i}"], rtol=1e-12, atol=1e-15)
