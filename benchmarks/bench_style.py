"""Style transfer speed: this implementation against a plain tutorial-style reference
(benchmarks/reference_style.py), same process, same weights and layers.

    python benchmarks/bench_style.py              # 256 and 512 px steps, warm vs cold morph frames
    python benchmarks/bench_style.py --quick      # 256 px only, 60-step warm/cold comparison
    python benchmarks/bench_style.py --fast-only  # only the feed-forward section below

Prints seconds per optimisation step for the reference (float32) and for ours in float32 and at
``precision = "auto"``, the ratios, and the fraction of the machine's measured matmul peak (step FLOPs
counted as VGG16's convolutions up to the deepest layer, forward plus the input-gradient pass).  Then
the seconds a warm-started morph frame needs to reach the loss a cold start reaches after N steps.

The fast section (``method = "fast"``, one pass of a trained network a frame): seconds per 512x512
frame against a warm Gatys frame (60 steps) and a first frame (300 steps at each of the scales 0.5
and 1), from the measured step times; the warping error over bench_temporal.py's clip of fast frames
alone, fast frames pulled along the source's flow, and Gatys footage; and quality at 256 px as the
style kind scores it (the objective's normalised content and style terms, lower is better) for the
fast result, Gatys from the content at 150 steps, Gatys from the fast result (``init = "fast"``) at
50 and 150 steps, and today's default (2 scales x 300 steps).
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


FAST = """\
kind = "style"
seed = 3
[output]
size = [{size}, {size}]
video = "none"
[style]
content = "{content}"
images = {{ hubble = "{hubble}" }}
"""


def _fast_recipe(work: Path, size: int, *sets: str):
    path = work / "fast.toml"
    path.write_text(FAST.format(size=size, content=REPO / "recipes" / "assets" / "chelsea.png",
                                hubble=REPO / "recipes" / "assets" / "hubble.jpg"))
    return load_recipe(path, sets)


def _final_losses(engine, image, content, row) -> np.ndarray:
    """(total, content, style, tv) of ``image``: the normalised terms the style kind optimises."""
    targets, weights, _ = engine.prepare(content, row)
    losses, _ = engine.loop.value_and_gradient(np.asarray(image, np.float32), targets, weights)
    return losses


def bench_fast_reference(repeats: int) -> None:
    """Our transformer against the package's own runtime (onnxruntime on its ONNX file, int8 and with
    the activations' rounding removed) at the file's fixed 384x384, no margin; skipped without
    onnxruntime (a test dependency)."""
    try:
        import onnxruntime  # noqa: F401
        sys.path.insert(0, str(REPO))
        from tests import stylenet_oracle as oracle
    except ImportError:
        print("  (onnxruntime not installed: no comparison with the package's own runtime)")
        return
    from render.backend import current
    from render.backend.kerasops import ops
    from render.models import fetched, packages
    from render.models.stylenets import style_transformer
    content = np.random.default_rng(0).random((1, 384, 384, 3), dtype=np.float32)
    vector = np.random.default_rng(1).standard_normal((1, 100)).astype(np.float32)
    weights = fetched.load_arrays(packages.PACKAGED["style-transformer"])
    times = {}
    for name, float_graph in (("onnxruntime, the int8 file", False), ("onnxruntime, float activations", True)):
        session = oracle.session("transform", float_graph)
        names = [i.name for i in session.get_inputs()]
        feed = {names[0]: content, names[1]: vector.reshape(1, 1, 1, 100)}
        session.run(None, feed)
        times[name] = best_of(lambda: session.run(None, feed), repeats * 2)
    for precision in ("float32", "bfloat16"):
        run = current().compile(style_transformer(weights, precision))
        args = (ops.convert_to_tensor(content), ops.convert_to_tensor(vector))
        ops.convert_to_numpy(run(*args))
        times[f"ours, {precision}"] = best_of(lambda: ops.convert_to_numpy(run(*args)), repeats * 2)
    reference = times["onnxruntime, the int8 file"]
    print("  at 384x384 (the package's size): " + "; ".join(f"{k} {v * 1000:.0f} ms (x{reference / v:.2f})"
                                                           for k, v in times.items()))


def bench_fast(base, work: Path, repeats: int, quick: bool):
    from render.engines.fast_style import FastStyleEngine
    from render.models.fast_style import transformer_flops
    from render.kinds.style import FAST_FLOPS_PER_SECOND
    # 1. speed at 512x512
    seconds = {}
    for precision in ("float32", "auto"):
        fast_recipe = _fast_recipe(work, 512, 'style.method="fast"', f'model.precision="{precision}"')
        engine = FastStyleEngine.from_recipe(fast_recipe)
        row = make_plan(fast_recipe).row(0)
        content = engine.content(0)
        engine.stylize(content, row)   # compile, and the style vector
        seconds[fast_recipe.precision] = best_of(lambda: engine.stylize(content, row), repeats * 2)
    fast = seconds[fast_recipe.precision]
    flops = transformer_flops(512 + 32, 512 + 32, False)   # with the mirrored margin of 16 px
    peak = peak_flops()
    print("fast, 512x512: " + ", ".join(f"{p} {t:.3f} s ({flops / t / 1e9:.0f} GFLOP/s, {flops / t / peak:.0%} of "
                                        f"the float32 matmul peak {peak / 1e9:.0f})" for p, t in seconds.items()))
    bench_fast_reference(repeats)
    steps = {}
    for size in (256, 512):
        recipe = _fast_recipe(work, size)
        gatys = StyleEngine.from_recipe(recipe, base_model=base)
        picture = recipe.settings.content.read(0, size, size)
        prepared = gatys.prepare(picture, make_plan(recipe).row(0))
        gatys.run_steps(picture, prepared, 2)
        steps[size] = best_of(lambda: gatys.run_steps(picture, prepared, 5), repeats) / 5
    warm, first = 60 * steps[512], 300 * (steps[256] + steps[512])
    print(f"fast, 512x512 at precision {fast_recipe.precision}: {fast:.3f} s a frame ({flops / 1e9:.2f} GFLOP, "
          f"{flops / fast / 1e9:.1f} GFLOP/s; the plan assumes {FAST_FLOPS_PER_SECOND / 1e9:.0f}); Gatys step "
          f"{steps[512]:.3f} s at 512, {steps[256]:.3f} s at 256")
    print(f"  a warm Gatys frame (60 steps) {warm:.1f} s: fast is {warm / fast:.0f}x faster (target >= 30x); "
          f"a first frame (300 steps at 256 and at 512) {first:.0f} s: {first / fast:.0f}x")
    # 2. footage: bench_temporal's clip
    import bench_temporal as temporal
    from render.runner import render
    frames, size = (6, (128, 96)) if quick else (12, (128, 96))
    clip = work / "clip"
    temporal.make_clip(clip, frames, *size)
    (work / "clip.toml").write_text(temporal.RECIPE.format(width=size[0], height=size[1], first_steps=60, steps=20,
                                                           hubble=REPO / "recipes" / "assets" / "hubble.jpg"))
    rows = []
    for mode, sets in (("fast alone", ['style.method="fast"', "style.carry=0.0"]),
                       ("fast + flow", ['style.method="fast"']),
                       ("Gatys footage", [])):
        recipe = load_recipe(work / "clip.toml", tuple(sets) + (f"output.frames={frames}",))
        out = work / mode.replace(" ", "-").replace("+", "and")
        start = time.perf_counter()
        render(recipe, out)
        seconds = (time.perf_counter() - start) / frames
        reader = recipe.settings.content
        _, _, error = temporal.clip_consistency(out, frames, lambda i: reader.read(i, *size))
        rows.append((mode, error, seconds))
    print(f"footage, {frames} frames {size[0]}x{size[1]} (bench_temporal.py's clip), warping error along the "
          "source's flow:")
    for mode, error, seconds in rows:
        print(f"  {mode:<14} {error:.5f}  x fast alone {error / rows[0][1]:.2f}  {seconds:.2f} s/frame")
    print(f"  fast + flow / fast alone: {rows[1][1] / rows[0][1]:.2f} (target <= 0.5)")
    # 3. quality at 256: the normalised content and style terms
    recipe = _fast_recipe(work, 256, "style.scales=[1.0]")
    gatys = StyleEngine.from_recipe(recipe, base_model=base)
    row = make_plan(recipe).row(0)
    picture = recipe.settings.content.read(0, 256, 256)
    fast_image = FastStyleEngine.from_recipe(recipe).stylize(picture, row)
    results = [("fast alone", fast_image, 0)]
    for label, start, count in (("Gatys from content", picture, 150), ("Gatys from fast", fast_image, 50),
                                ("Gatys from fast", fast_image, 150)):
        image, _ = gatys.optimize(np.clip(start, 0, 1), picture, row, count)
        results.append((label, image, count))
    default = _fast_recipe(work, 256)
    default_engine = StyleEngine.from_recipe(default, base_model=base)
    image, _ = default_engine.first_frame(picture, make_plan(default).row(0))
    results.append(("default: 2 scales x 300", image, 600))
    print("quality at 256x256 (normalised terms of the style objective, lower is better):")
    for label, image, count in results:
        losses = _final_losses(gatys, image, picture, row)
        mark = " <- target style <= 0.40 at content <= 0.60" if label == "Gatys from fast" and count == 150 else ""
        print(f"  {label:<24} {count:>4} steps  content {losses[1]:.3f}  style {losses[2]:.3f}{mark}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--fast-only", action="store_true", help="only the feed-forward section")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(machine_line())
    base = build.embedded_vgg16()
    if not args.fast_only:
        bench_steps(base, [256] if args.quick else [256, 512], args.repeats)
        bench_warm_start(base, 256, 60 if args.quick else 300)
    import tempfile
    with tempfile.TemporaryDirectory(prefix="bench-fast-") as work:
        bench_fast(base, Path(work), args.repeats, args.quick)


if __name__ == "__main__":
    main()
