"""Style transfer speed: this implementation against a plain tutorial-style reference
(benchmarks/reference_style.py), same process, same weights and layers.

    python benchmarks/bench_style.py              # 256 and 512 px steps, warm vs cold morph frames
    python benchmarks/bench_style.py --quick      # 256 px only, 60-step warm/cold comparison

Prints seconds per optimisation step for the reference (float32) and for ours in float32 and at
``precision = "auto"``, the ratios, and the fraction of the machine's measured matmul peak (step FLOPs
counted as VGG16's convolutions up to the deepest layer, forward plus the input-gradient pass).  Then
the seconds a warm-started morph frame needs to reach the loss a cold start reaches after N steps.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, best_of, machine_line, peak_flops, vgg_conv_flops  # noqa: E402

from render.engines.style import StyleEngine  # noqa: E402
from render.media import load_image  # noqa: E402
from render.models import build  # noqa: E402
from render.plan import make_plan  # noqa: E402
from render.recipe import load_recipe  # noqa: E402
from render.tfsetup import tf  # noqa: E402
from reference_style import ReferenceStyle  # noqa: E402

RECIPE = REPO / "recipes" / "style-morph.toml"


def recipe_at(size: int, precision: str, *extra: str):
    return load_recipe(RECIPE, [f"output.size=[{size},{size}]", f"model.precision='{precision}'", *extra])


def bench_steps(base, sizes, repeats):
    peak = peak_flops()
    print(f"peak: {peak / 1e9:.0f} GFLOP/s (float32 4096^3 matmul); "
          f"bfloat16 matmul: {peak_flops(dtype=tf.bfloat16) / 1e9:.0f} GFLOP/s")
    auto = recipe_at(256, "auto").precision
    print(f"{'size':>5} {'ref s/step':>10} {'ours f32':>9} {'ratio':>6} {'ours ' + auto:>14} {'ratio':>6} "
          f"{'GFLOP/step':>10} {'f32 %peak':>9} {auto[:4] + ' %f32peak':>13}")
    steps = 5
    for size in sizes:
        times = {}
        for precision in ("float32", auto):
            recipe = recipe_at(size, precision)
            engine = StyleEngine.from_recipe(recipe, base_model=base)
            row = make_plan(recipe).row(0)
            content = recipe.settings.content.read(0, size, size)
            prepared = engine.prepare(content, row)  # targets, as the reference computes them up front
            times[precision] = best_of(lambda: engine.run_steps(content, prepared, steps), repeats) / steps
        s = recipe.settings
        extractor = build.feature_extractor(recipe.model, list(dict.fromkeys(s.style_layers + s.content_layers)),
                                            base=base)
        style = tf.constant(load_image(next(iter(s.images.values())), size, size))[tf.newaxis]
        reference = ReferenceStyle(extractor, s.style_layers, s.content_layers, style, tf.constant(content)[tf.newaxis])

        def reference_steps():
            for _ in range(steps):
                loss = reference.step()
            return loss.numpy()

        ref = best_of(reference_steps, repeats) / steps
        deepest = max(s.style_layers + s.content_layers, key=lambda n: (int(n[5]), int(n[-1])))
        flops = 2 * vgg_conv_flops(size, size, deepest)
        f32, fast = times["float32"], times[auto]
        print(f"{size:>5} {ref:>10.3f} {f32:>9.3f} {ref / f32:>6.2f} {fast:>14.3f} {ref / fast:>6.2f} "
              f"{flops / 1e9:>10.1f} {flops / f32 / peak * 100:>8.1f}% {flops / fast / peak * 100:>12.1f}%")


def bench_warm_start(base, size: int, cold_steps: int):
    """Morph frames of the morph recipe: cold (from the content) against warm (from the previous
    result).  Frame 1's style mix is 1/23 away from frame 0's; a frame halfway through the morph is
    also started from frame 0's result, a far larger jump than any real morph frame makes."""
    recipe = recipe_at(size, "auto")
    engine = StyleEngine.from_recipe(recipe, base_model=base)
    plan = make_plan(recipe)
    content = recipe.settings.content.read(0, size, size)
    frame0, _ = engine.optimize(content, content, plan.row(0), cold_steps)  # the previous frame's result
    engine.optimize(content, content, plan.row(1), 2)  # warm-up: tracing
    for index, what in ((1, "the next frame"), (plan.frames // 2, "a frame halfway through the morph")):
        prepared = engine.prepare(content, plan.row(index))
        start = time.perf_counter()
        _, cold = engine.run_steps(content, prepared, cold_steps)
        cold_seconds = time.perf_counter() - start
        target = cold[-1, 0]
        start = time.perf_counter()
        _, warm = engine.run_steps(frame0, prepared, cold_steps)
        per_step = (time.perf_counter() - start) / cold_steps
        reached = np.flatnonzero(warm[:, 0] <= target)  # losses[k] is the loss after k steps
        steps = max(1, int(reached[0])) if reached.size else cold_steps
        print(f"frame {index} ({what}) at {size}x{size}: cold start reaches loss {target:.3f} after "
              f"{cold_steps} steps ({cold_seconds:.1f} s); warm from frame 0: {steps} steps "
              f"({steps * per_step:.1f} s), {cold_seconds / (steps * per_step):.1f}x faster "
              f"(loss {warm[0, 0]:.3f} before its first step)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(machine_line())
    base = build.embedded_vgg16()
    bench_steps(base, [256] if args.quick else [256, 512], args.repeats)
    bench_warm_start(base, 256, 60 if args.quick else 300)


if __name__ == "__main__":
    main()
