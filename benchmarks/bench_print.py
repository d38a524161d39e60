"""Print benchmark: time and peak memory of dream and style prints at A5, A4 and A3 (300 dpi), each in
its own process so that its peak resident memory is its own.

Per print: the plan's memory estimate against the measured peak (ru_maxrss), total seconds, seconds
of one step at the print's full size, that per megapixel (linear growth with pixels shows as a flat
column), the ratio of that per-pixel cost to the same engine's plain untiled step at 512x512 run in
the same process (what tiling costs), and the fraction of the machine's measured matmul peak.

    python benchmarks/bench_print.py                    # dream and style, A5 A4 A3 (about 15 min here)
    python benchmarks/bench_print.py --modes dream --papers A5
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, best_of, machine_line, peak_flops, vgg_conv_flops  # noqa: E402

RECIPES = {  # recipe, overrides, print steps per octave/scale
    "dream": ("zoom.toml", ["output.frames=1", "dream.octaves=3", "dream.octave_scale=1.4"], 2),
    "style": ("style-still.toml", [], 2),
}


def child(mode: str, paper: str) -> dict:
    import numpy as np
    from render.plan import make_plan
    from render.prints.driver import make_print, options_for, plan_print
    from render.recipe import load_recipe
    from render.runner import render
    from render.tfsetup import tf
    name, sets, steps = RECIPES[mode]
    recipe = load_recipe(REPO / "recipes" / name, sets)
    run = Path(tempfile.mkdtemp(prefix=f"bench-print-{mode}-"))
    render(recipe, run, encode=False)
    plan = plan_print(recipe, options_for(recipe, size=paper, dpi=300, steps=steps))
    events = []
    started = time.perf_counter()
    result = make_print(plan, run, run / "print.tif",
                        progress=lambda e: events.append((time.perf_counter(), e.stage, e.step)))
    total = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    last = len(plan.stages) - 1
    stamps = [t for t, stage, _ in events if stage == last]
    step_seconds = stamps[-1] - stamps[-2]
    row = make_plan(recipe).row(0)
    side = 512
    if mode == "dream":
        from render.engines.dream import DreamEngine
        from render.engines.images import noise_image
        engine = DreamEngine.from_recipe(recipe)
        image = tf.constant(noise_image(0, side, side))
        weights = tf.constant([row[c] for c in engine.weight_columns], tf.float32)
        shifts = tf.zeros((1, 2), tf.int32)
        reference = best_of(lambda: engine.stepper.run(image, shifts, tf.constant(side), weights,
                                                       tf.constant(0.01)).numpy(), 2)
        deepest = max((t.layer for t in recipe.settings.targets), key=lambda n: list(recipe.model.layers).index(n))
    else:
        from render.engines.style import StyleEngine
        engine = StyleEngine.from_recipe(recipe)
        content = engine.source.read(0, side, side)
        prepared = engine.prepare(content, row)
        reference = best_of(lambda: engine.run_steps(content, prepared, 1), 2)
        deepest = max(recipe.settings.style_layers + recipe.settings.content_layers,
                      key=lambda n: list(recipe.model.layers).index(n))
    pixels = plan.size.width * plan.size.height
    flops = 2 * vgg_conv_flops(plan.size.height, plan.size.width, deepest)
    return {"mode": mode, "paper": paper, "width": plan.size.width, "height": plan.size.height, "tile": plan.tile,
            "stages": [f"{s.width}x{s.height}" for s in plan.stages], "steps": steps, "seconds": total,
            "step_seconds": step_seconds, "reference_step_512": reference,
            "ratio_per_pixel": (step_seconds / pixels) / (reference / side ** 2),
            "estimate": plan.estimate, "peak": peak, "flops_per_step": flops, "precision": recipe.precision,
            "file_bytes": result.path.stat().st_size, "np": np.__version__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", nargs="+", default=["dream", "style"], choices=list(RECIPES))
    parser.add_argument("--papers", nargs="+", default=["A5", "A4", "A3"])
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PAPER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(*args.child)))
        return
    print(machine_line())
    from render.backend.devices import resolve_precision
    from render.tfsetup import tf
    precision = resolve_precision("auto")[0]
    peak = peak_flops(dtype=getattr(tf, precision))
    print(f"prints compute in {precision} (precision = auto); {precision} matmul peak {peak / 1e9:.0f} GFLOP/s")
    print(f"{'mode':<6} {'paper':<5} {'pixels':>11} {'tile':>5} {'total s':>8} {'s/step':>7} {'s/Mpx':>6} "
          f"{'vs 512 untiled':>14} {'%peak':>6} {'estimate':>9} {'peak RSS':>9} {'error':>6}")
    for mode in args.modes:
        for paper in args.papers:
            done = subprocess.run([sys.executable, __file__, "--child", mode, paper], capture_output=True, text=True)
            lines = [l for l in done.stdout.splitlines() if l.startswith("RESULT ")]
            if done.returncode != 0 or not lines:
                print(f"{mode:<6} {paper:<5} failed: {done.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(lines[-1][7:])
            pixels = r["width"] * r["height"]
            error = (r["estimate"] - r["peak"]) / r["peak"]
            print(f"{mode:<6} {paper:<5} {r['width']:>5}x{r['height']:<5} {r['tile']:>5} {r['seconds']:>8.1f} "
                  f"{r['step_seconds']:>7.2f} {r['step_seconds'] / pixels * 1e6:>6.2f} {r['ratio_per_pixel']:>14.2f} "
                  f"{r['flops_per_step'] / r['step_seconds'] / peak * 100:>5.1f}% {r['estimate'] / 2**30:>8.2f}G "
                  f"{r['peak'] / 2**30:>8.2f}G {error:>+6.0%}", flush=True)


if __name__ == "__main__":
    main()
