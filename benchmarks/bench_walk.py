"""GAN latent walk speed: the generator's frames per second by batch size, and a 512x512 walk end to
end through `render` with where the time goes.

    python benchmarks/bench_walk.py            # batch 1 / 4 / 16 / 64, and a 192-frame 512x512 walk
    python benchmarks/bench_walk.py --quick    # 64 frames

PNG encoding of 512x512 frames costs more than generating them in batches, so the runner encodes on
two writer threads while the next batch is generated; the end-to-end rate is compared with what PNG
encoding alone allows on the same two threads.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, best_of, machine_line  # noqa: E402

from render.engines.walk import WalkEngine, load_generator  # noqa: E402
from render.framekeys import frame_keys  # noqa: E402
from render.contracts import FrameJob  # noqa: E402
from render.plan import make_plan  # noqa: E402
from render.recipe import load_recipe  # noqa: E402
from render.runner import render  # noqa: E402
from render.store import encode_png  # noqa: E402

RECIPE = REPO / "recipes" / "walk-loop.toml"


def bench_generator(generator, recipe, plan):
    engine = WalkEngine.from_recipe(recipe, generator)
    print(f"generator + Lanczos resize to {recipe.output.size[0]}x{recipe.output.size[1]} "
          f"(frames per second, best of 3):")
    rates = {}
    for batch in (1, 4, 16, 64):
        jobs = [FrameJob(i, plan.row(i)) for i in range(batch)]
        seconds = best_of(lambda: engine.render_batch(jobs), 3)
        rates[batch] = batch / seconds
        print(f"  batch {batch:>3}: {rates[batch]:8.1f} frames/s")
    print(f"  batch 16 / batch 1: {rates[16] / rates[1]:.1f}x")
    raw = engine.generator
    latents = engine.latents([FrameJob(i, plan.row(i)) for i in range(16)])
    import tensorflow as tf
    gen_only = tf.function(lambda z: raw(z, training=False))
    for batch in (1, 16):
        seconds = best_of(lambda: gen_only(tf.constant(latents[:batch])).numpy(), 3)
        print(f"  generator alone (64x64), batch {batch:>2}: {batch / seconds:8.1f} frames/s")
    return engine


def bench_end_to_end(generator, recipe, plan):
    frames = recipe.output.frames
    start = time.perf_counter()
    frame_keys(plan)
    key_seconds = time.perf_counter() - start
    engine = WalkEngine.from_recipe(recipe, generator)
    start = time.perf_counter()
    images = []
    for first in range(0, frames, recipe.settings.batch):
        jobs = [FrameJob(i, plan.row(i)) for i in range(first, min(frames, first + recipe.settings.batch))]
        images.extend(engine.render_batch(jobs))
    generate_seconds = time.perf_counter() - start
    start = time.perf_counter()
    for image in images[:16]:
        encode_png(image)
    png_one_thread = (time.perf_counter() - start) / 16
    start = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(encode_png, images))
    png_two_threads = frames / (time.perf_counter() - start)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        render(recipe, Path(tmp) / "walk", encode=False, engine_factory=lambda r: WalkEngine.from_recipe(r, generator))
        total = time.perf_counter() - start
    rate = frames / total
    print(f"end to end, {frames} frames at {recipe.output.size[0]}x{recipe.output.size[1]}, batch "
          f"{recipe.settings.batch}: {total:.1f} s = {rate:.1f} frames/s")
    print(f"  where the time goes, measured alone: frame keys {key_seconds * 1000 / frames:.1f} ms/frame, "
          f"generation + resize {generate_seconds * 1000 / frames:.1f} ms/frame, "
          f"PNG encoding {png_one_thread * 1000:.1f} ms/frame on one thread")
    print(f"  PNG encoding alone on two threads: {png_two_threads:.1f} frames/s; end to end reaches "
          f"{rate / png_two_threads:.2f}x of that")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--frames", type=int, default=None, help="walk length (default 192; --quick 64)")
    parser.add_argument("--set", action="append", default=[], help="recipe override, e.g. model.precision='float32'")
    args = parser.parse_args()
    print(machine_line())
    frames = args.frames or (64 if args.quick else 192)
    recipe = load_recipe(RECIPE, ["output.size=[512,512]", f"output.frames={frames}", "output.video='none'",
                                  "walk.batch=16", *args.set])
    plan = make_plan(recipe)
    generator = load_generator(recipe.model, recipe.precision)
    print(f"precision {recipe.precision}")
    bench_generator(generator, recipe, plan)
    bench_end_to_end(generator, recipe, plan)


if __name__ == "__main__":
    main()
