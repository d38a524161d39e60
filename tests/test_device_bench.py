"""The GPU check (benchmarks/device/) in its tiny mode: the same code the one-shot device run executes,
at tiny sizes on whatever JAX sees here, from an int8 weights bundle made by make_bundle.py, with the
script choosing the JAX backend itself and never importing TensorFlow."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEVICE = REPO / "benchmarks" / "device"
PRECISIONS = ("float32", "bfloat16")


def run(args, env, timeout):
    done = subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def positive(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def test_tiny_device_bench_measures_everything_on_jax_without_tensorflow(tmp_path):
    pytest.importorskip("jax")
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "OUT")}
    bundle = tmp_path / "bundle"
    run([str(DEVICE / "make_bundle.py"), "--weights-only", "--out", str(bundle)], env, 120)
    assert (bundle / "vgg16-int8.npz").is_file()

    env["OUT"] = str(tmp_path / "out")   # where the device run's files go
    stdout = run([str(DEVICE / "bench_device.py"), "--tiny", "--bundle", str(bundle)], env, 300)
    result = json.loads((tmp_path / "out" / "device-bench.json").read_text())

    assert result["finished"] and result["mode"] == "tiny"
    assert result["tensorflow_imported"] is False
    assert result["errors"] == [] and result["skipped"] == []
    assert result["versions"]["keras_backend"] == "jax"
    assert result["device"]["kind"]
    assert result["weights"]["vgg16"]["source"].startswith("int8 bundle")
    assert result["weights"]["vgg16"]["layers"] == 11
    assert 0 < result["weights"]["vgg16"]["kernel_relative_rms_error_max"] < 0.05

    for precision in (*PRECISIONS, "float32_highest"):
        assert positive(result["peak"][precision]["tflops"]), precision

    dream = {(r["precision"], r["whole_frame"]): r for r in result["dream"]}
    assert sorted(dream) == sorted((p, whole) for p in PRECISIONS for whole in (False, True))
    for row in dream.values():
        for field in ("seconds_per_frame", "tflop_per_frame", "tflops", "peak_fraction", "compile_s", "warmup_s"):
            assert positive(row[field]), (row["precision"], row["tile"], field, row[field])
        assert row["compiles"] >= 1 and row["recompiles"] == 0
        assert (row["width"], row["height"], row["octaves"], row["steps"]) == (96, 64, 2, 2)

    style = {r["precision"]: r for r in result["style"]}
    assert sorted(style) == sorted(PRECISIONS)
    for row in style.values():
        for field in ("seconds", "seconds_per_iteration", "tflops", "peak_fraction", "compile_s", "loss_last"):
            assert positive(row[field]), (row["precision"], field, row[field])
        assert row["iterations"] == 5 and row["recompiles"] == 0
        assert row["loss_last"] < row["loss_first"]

    walk = {(r["precision"], r["batch"]): r for r in result["walk"]}
    assert sorted(walk) == sorted((p, b) for p in PRECISIONS for b in (1, 4))
    for row in walk.values():
        assert positive(row["frames_per_s"]) and positive(row["seconds_per_batch"]) and row["recompiles"] == 0

    for line in ("dream 96x64 tile 48", "dream 96x64 tile whole", "style 64x64 5 Adam", "walk 64x64 batch 4",
                 "matmul 256^3 peak"):
        assert line in stdout, line
