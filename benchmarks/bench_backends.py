"""The same engines on TensorFlow and on JAX, each backend in its own process (Keras picks its backend
once per process), on this machine's CPU or GPU.

    python benchmarks/bench_backends.py                  # dream 512, style 256 and 512, walk batch 16
    python benchmarks/bench_backends.py --quick          # dream 256, style 256

Prints, per backend and precision: seconds per dream step (objective block4_conv3 + 0.4 x
block3_conv3, one tile), seconds per style Adam step (the style-morph recipe's layers), walk frames
per second at batch 16 (64x64 faces), the compile seconds of the first call apart, and the ratio
JAX / TensorFlow of the times (above 1: JAX is slower).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

WORKER = r"""
import json, sys, time
import numpy as np
backend, sizes_dream, sizes_style, repeats = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4])
from render.backend import activate
activate(backend)
from render.backend.api import STATS
from render.backend.devices import resolve_precision
from render.models import build, catalog
from render.recipe import load_recipe
from render.plan import make_plan
REPO = sys.argv[5]

def timed(fn):
    before = STATS.snapshot()[1]
    start = time.perf_counter(); fn(); first = time.perf_counter() - start
    compile_s = STATS.snapshot()[1] - before
    times = []
    for _ in range(repeats):
        start = time.perf_counter(); fn(); times.append(time.perf_counter() - start)
    return min(times), compile_s, first

precisions = sorted({"float32", resolve_precision("auto", backend)[0]})
base = build.embedded_vgg16()
results = []
from render.engines.dream import DreamStepper
from render.engines.objectives import Term
info = catalog.resolve("vgg16")
for precision in precisions:
    ex = build.feature_extractor(info, ["block4_conv3", "block3_conv3"], base=base, precision=precision)
    stepper = DreamStepper(ex, [Term(0, None, "a"), Term(1, None, "b")])
    for size in sizes_dream:
        image = np.random.default_rng(0).random((size, size, 3), np.float32)
        weights = np.array([1.0, 0.4], np.float32)
        step = lambda: np.asarray(stepper.run(image, np.zeros((3, 2), np.int32), 4096, weights, 0.01))
        best, compile_s, first = timed(step)
        results.append({"what": f"dream step {size}", "precision": precision, "seconds": best / 3,
                        "compile": compile_s, "unit": "s/step"})
    from render.engines.style import StyleEngine
    for size in sizes_style:
        recipe = load_recipe(f"{REPO}/recipes/style-morph.toml",
                             [f"output.size=[{size},{size}]", f"model.precision='{precision}'", f"model.backend='{backend}'"])
        engine = StyleEngine.from_recipe(recipe, base_model=base)
        content = recipe.settings.content.read(0, size, size)
        prepared = engine.prepare(content, make_plan(recipe).row(0))
        best, compile_s, first = timed(lambda: engine.run_steps(content, prepared, 5))
        results.append({"what": f"style step {size}", "precision": precision, "seconds": best / 5,
                        "compile": compile_s, "unit": "s/step"})
    from render.engines.walk import WalkEngine
    recipe = load_recipe(f"{REPO}/recipes/walk-loop.toml", ["output.size=[64,64]", f"model.precision='{precision}'",
                                                             f"model.backend='{backend}'"])
    walk = WalkEngine.from_recipe(recipe)
    latents = np.random.default_rng(0).standard_normal((16, 100)).astype(np.float32)
    best, compile_s, first = timed(lambda: np.asarray(walk.frames(latents)))
    results.append({"what": "walk batch 16", "precision": precision, "seconds": 16 / best, "compile": compile_s,
                    "unit": "frames/s"})
print(json.dumps({"backend": backend, "tensorflow_loaded": "tensorflow" in sys.modules, "results": results}))
"""


def run(backend: str, dream, style, repeats) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run([sys.executable, "-c", WORKER, backend, json.dumps(dream), json.dumps(style),
                           str(repeats), str(REPO)], capture_output=True, text=True, env=env, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"{backend} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    dream, style = ([256], [256]) if args.quick else ([512], [256, 512])
    sys.path.insert(0, str(REPO / "benchmarks"))
    from common import machine_line
    print(machine_line())
    reports = {b: run(b, dream, style, args.repeats) for b in ("tensorflow", "jax")}
    print(f"JAX process imported TensorFlow: {reports['jax']['tensorflow_loaded']}")
    print(f"{'measurement':<16} {'precision':<9} {'tensorflow':>11} {'compile s':>9} {'jax':>9} {'compile s':>9} "
          f"{'jax/tf time':>11}")
    rows = {}
    for backend, report in reports.items():
        for r in report["results"]:
            rows.setdefault((r["what"], r["precision"]), {})[backend] = r
    for (what, precision), by in rows.items():
        tf_r, jax_r = by.get("tensorflow"), by.get("jax")
        cell = lambda r: f"{r['seconds']:>9.3f}" if r else f"{'-':>9}"  # noqa: E731
        comp = lambda r: f"{r['compile']:>9.1f}" if r else f"{'-':>9}"  # noqa: E731
        ratio = "-"
        if tf_r and jax_r:
            tf_t, jax_t = (r["seconds"] if r["unit"] == "s/step" else 1 / r["seconds"] for r in (tf_r, jax_r))
            ratio = f"{jax_t / tf_t:.2f}"
        unit = (tf_r or jax_r)["unit"]
        print(f"{what:<16} {precision:<9} {cell(tf_r):>11} {comp(tf_r)} {cell(jax_r)} {comp(jax_r)} {ratio:>11}   ({unit})")
    print(f"(ran {time.strftime('%Y-%m-%d')})")


if __name__ == "__main__":
    main()
