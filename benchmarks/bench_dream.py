"""DeepDream speed: this implementation against a plain tutorial-style reference, same process, same
weights.  Prints seconds per step at several sizes, their ratio, the fraction of the machine's measured
peak FLOP rate, and end-to-end seconds per frame of a zoom video.

    python benchmarks/bench_dream.py              # 256, 512, 1024 px steps + a 16-frame zoom video
    python benchmarks/bench_dream.py --quick      # 256 px only, 4 frames (a smoke run)
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
REPO = Path(__file__).resolve().parents[1]

from render.engines.dream import DreamStepper, load_init_image, to_uint8  # noqa: E402
from render.engines.objectives import build_terms  # noqa: E402
from render.engines.tiling import roll_offsets  # noqa: E402
from render.models import build, catalog  # noqa: E402
from render.backend.devices import resolve_precision  # noqa: E402
from render.plan import make_plan  # noqa: E402
from render.recipe import load_recipe  # noqa: E402
from render.runner import render  # noqa: E402
from render.tfsetup import tf  # noqa: E402
from reference_dream import ReferenceDream, warp_with_pil  # noqa: E402
from common import best_of, machine_line, peak_flops, vgg_conv_flops  # noqa: E402

LAYERS = ("block4_conv3", "block3_conv3")
WEIGHTS = (1.0, 0.4)
TILE = 512


def step_flops(height: int, width: int) -> float:
    """Conv FLOPs of one step: forward to the deepest layer plus the input-gradient pass (same count)."""
    deepest = max(LAYERS, key=lambda name: (int(name[5]), int(name[-1])))
    return 2 * vgg_conv_flops(height, width, deepest)


def bench_steps(base, sizes, repeats, precision):
    info = catalog.resolve("vgg16")
    fp32 = build.feature_extractor(info, LAYERS, base=base)
    fast = build.feature_extractor(info, LAYERS, base=base, precision=precision)
    terms = build_terms([Target(l) for l in LAYERS], fp32.layers)
    ours = {"float32": DreamStepper(fp32, terms), precision: DreamStepper(fast, terms)}
    reference = ReferenceDream(fp32, WEIGHTS)
    weights = np.asarray(WEIGHTS, np.float32)
    peak = peak_flops()
    print(f"peak: {peak / 1e9:.0f} GFLOP/s (float32 4096^3 matmul, best of 5); "
          f"bfloat16 matmul: {peak_flops(dtype=tf.bfloat16) / 1e9:.0f} GFLOP/s")
    print(f"ours runs in {precision} (model.precision = auto on this machine)")
    print(f"{'size':>6} {'ref s/step':>11} {'ours f32':>9} {'ratio':>6} {'ours ' + precision:>14} {'ratio':>6} "
          f"{'GFLOP/step':>11} {'f32 %peak':>9} {precision[:4] + ' %f32peak':>14}")
    rows = []
    for size in sizes:
        image = load_init_image(REPO / "recipes/assets/chelsea.png", size, size)
        steps = 3
        shifts = roll_offsets(np.random.default_rng(0), steps, size, size, TILE)
        times = {name: best_of(lambda: np.asarray(stepper.run(image, shifts, TILE, weights, 0.01)), repeats) / steps
                 for name, stepper in ours.items()}

        def reference_steps():
            img = tf.constant(image)
            for _ in range(steps):
                img = reference.step(img, TILE, 0.01)
            return img.numpy()

        ref_t = best_of(reference_steps, repeats) / steps
        flops = step_flops(size, size)
        f32, fast_t = times["float32"], times[precision]
        rows.append((size, ref_t, f32, fast_t))
        print(f"{size:>6} {ref_t:>11.3f} {f32:>9.3f} {ref_t / f32:>6.2f} {fast_t:>14.3f} {ref_t / fast_t:>6.2f} "
              f"{flops / 1e9:>11.1f} {flops / f32 / peak * 100:>8.1f}% {flops / fast_t / peak * 100:>13.1f}%")
    return rows


class Target:
    def __init__(self, layer):
        self.layer, self.channel, self.key = layer, None, layer


def bench_video(frames: int):
    """End to end: `render` (plan, keys, engine, PNG store, no encode) vs a reference loop."""
    recipe_path = REPO / "recipes" / "zoom.toml"
    sets = [f"output.frames={frames}", "output.video='none'"]
    recipe = load_recipe(recipe_path, sets)
    width, height = recipe.output.size
    columns = make_plan(recipe).columns
    steps = [int(v) for v in columns["dream.steps"]]
    zoom, rotate = columns["motion.zoom"], columns["motion.rotate"]
    octaves = int(columns["dream.octaves"][0])
    scale = columns["dream.octave_scale"][0]
    step_size = columns["dream.step_size"][0]
    targets = recipe.settings.targets
    weights = [columns[t.column][0] for t in targets]
    folder = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        start = time.perf_counter()
        render(recipe, folder / "ours", encode=False)
        ours = (time.perf_counter() - start) / frames
        start = time.perf_counter()
        render(load_recipe(recipe_path, sets + ["model.precision='float32'"]), folder / "ours32", encode=False)
        ours32 = (time.perf_counter() - start) / frames

        reference = ReferenceDream(build.feature_extractor(catalog.resolve("vgg16"),
                                                           [t.layer for t in targets]), weights)
        (folder / "ref").mkdir()
        start = time.perf_counter()
        frame = to_uint8(load_init_image(recipe.settings.init, width, height))
        for index in range(frames):
            if index:
                frame = warp_with_pil(frame, zoom[index], rotate[index])
            dreamed = reference.dream(frame.astype(np.float32) / 255.0, octaves, scale, steps[index],
                                      step_size, recipe.settings.tile)
            frame = to_uint8(dreamed)
            from PIL import Image
            Image.fromarray(frame).save(folder / "ref" / f"{index:06d}.png")
        ref = (time.perf_counter() - start) / frames
    finally:
        shutil.rmtree(folder)
    print(f"zoom video {width}x{height}, {frames} frames, steps {steps[0]} then {steps[-1]}, {octaves} octaves "
          f"(model load and tracing included for both):")
    print(f"  reference loop {ref:.2f} s/frame")
    print(f"  ours, precision auto ({resolve_precision('auto')[0]}) {ours:.2f} s/frame   ratio {ref / ours:.2f}")
    print(f"  ours, precision float32 {ours32:.2f} s/frame   ratio {ref / ours32:.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sizes", default=None, help="comma-separated square sizes")
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else ([256] if args.quick else [256, 512, 1024])
    frames = args.frames or (4 if args.quick else 16)
    print(machine_line())
    precision = resolve_precision("auto")[0]
    bench_steps(build.embedded_vgg16(), sizes, args.repeats, precision)
    bench_video(frames)


if __name__ == "__main__":
    main()
