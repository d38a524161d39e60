"""Temporal coherence of footage, measured: the warping error (Lai et al., ECCV 2018) of a style clip
over a synthetic camera move with an object crossing it, for each way of carrying frames over.

    python benchmarks/bench_temporal.py            # 12 frames, 128x96, 20 steps a frame
    python benchmarks/bench_temporal.py --quick    # 6 frames, 10 steps

The clip: a window panning right and zooming in over the astronaut photo, with a disc cut from the
Hubble picture moving across it (so occlusions happen).  Modes, at the same steps per frame:

- independent: every frame from its own content (carry 0, temporal_weight 0);
- blend: the previous result mixed in unmoved (``coherence = "blend"``, carry 0.8: the old way);
- flow: the previous result warped along the source's flow, occlusions from the content, plus the
  temporal loss (``coherence = "flow"``, the default carry and temporal_weight).

Per mode: the warping error of the output along the *source's* flow (masked, mean over frame pairs),
the mean per-frame style loss (normalised, from the engine's own objective: a frozen picture would
score zero warping error, so both are shown), seconds per frame and the share of it spent computing
flows.  Targets (issue 17): flow <= 0.4 x independent and <= 0.7 x blend in warping error, style loss
within 10% of independent; flow time <= 10% of a frame at 512 px.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RECIPE = """\
kind = "style"
seed = 5
[output]
size = [{width}, {height}]
fps = 12
video = "none"
[model]
name = "vgg16"
precision = "float32"
[style]
content = "clip"
images = {{ hubble = "{hubble}" }}
steps = {first_steps}
steps_per_frame = {steps}
scales = [1.0]
"""

DREAM = """\
kind = "dream"
seed = 5
[output]
size = [{width}, {height}]
fps = 12
video = "none"
[model]
name = "vgg16"
precision = "float32"
[dream]
source = "clip"
layers = {{ block4_conv1 = 1.0 }}
octaves = 2
steps = {steps}
steps_per_frame = {later}
step_size = 0.01
"""

DREAM_MODES = {"independent": ["dream.blend=0.0"], "footage": []}

MODES = {
    "independent": ["style.carry=0.0", "style.temporal_weight=0.0"],
    "blend": ['style.coherence="blend"', "style.carry=0.8"],
    "flow": [],
}


def make_clip(folder: Path, frames: int, width: int, height: int) -> None:
    """A camera panning right 3 px and zooming 1% a frame over the astronaut, a Hubble disc crossing."""
    photo = Image.open(REPO / "recipes" / "assets" / "astronaut.jpg").convert("RGB")
    disc_source = Image.open(REPO / "recipes" / "assets" / "hubble.jpg").convert("RGB")
    side = height // 2
    disc = disc_source.resize((side, side), Image.Resampling.LANCZOS)
    mask = Image.new("L", (side, side), 0)
    from PIL import ImageDraw
    ImageDraw.Draw(mask).ellipse((0, 0, side - 1, side - 1), fill=255)
    folder.mkdir(parents=True)
    base_w = photo.width * 0.6
    for n in range(frames):
        zoom = 1.01 ** n
        w, h = base_w / zoom, base_w / zoom * height / width
        left, top = 40 + 3 * n * base_w / width, photo.height * 0.15 + (base_w * height / width - h) / 2
        frame = photo.resize((width, height), Image.Resampling.LANCZOS, box=(left, top, left + w, top + h))
        frame.paste(disc, (int(width * 0.9) - 6 * n - side, height // 4), mask)
        frame.save(folder / f"frame_{n:03d}.png")


def clip_consistency(out: Path, frames: int, read_source):
    """(output frames float ``(h, w, 3)``, source frames, warping error of the outputs along the
    source's flow) of a rendered run; ``read_source(i)`` gives source frame i at the frame size."""
    from render.temporal import FlowCache, FlowSettings, warping_error
    from tests.helpers import pixels
    outputs = [pixels(out / "frames" / f"frame_{i:06d}.png").astype(np.float32) / 255.0 for i in range(frames)]
    sources = [read_source(i) for i in range(frames)]
    cache = FlowCache(Path(tempfile.mkdtemp()) / "flows", FlowSettings())
    flows = [cache.pair(sources[i - 1], sources[i]) for i in range(1, frames)]
    return outputs, sources, warping_error(outputs, flows)


def evaluate(recipe, out: Path, frames: int):
    """(warping error along the source's flow, mean style loss) of a rendered style run."""
    from render.engines.style import StyleEngine
    from render.plan import make_plan
    engine, plan = StyleEngine.from_recipe(recipe), make_plan(recipe)
    outputs, sources, error = clip_consistency(out, frames, engine.content)
    style = []
    for i, image in enumerate(outputs):
        prepared = engine.prepare(sources[i], plan.row(i))
        losses, _ = engine.loop.value_and_gradient(image, prepared[0], prepared[1])
        style.append(float(losses[2]))
    return error, float(np.mean(style))


def evaluate_dream(recipe, out: Path, frames: int):
    """(warping error along the source's flow, mean dream objective) of a rendered dream run."""
    from render.engines.dream import DreamEngine
    from render.plan import make_plan
    engine, plan = DreamEngine.from_recipe(recipe), make_plan(recipe)
    outputs, _, error = clip_consistency(out, frames, engine.source_frame)
    weights = [np.array([plan.row(i)[c] for c in engine.weight_columns], np.float32) for i in range(frames)]
    return error, float(np.mean([engine.stepper.value(outputs[i], weights[i]) for i in range(frames)]))


def flow_share_at_512(frames_seconds_512: float) -> float:
    """Seconds of one DIS pair (forward and backward) at 512x512 over a style frame's seconds."""
    from render.temporal import pair_flow
    rng = np.random.default_rng(0)
    a = rng.random((512, 512, 3)).astype(np.float32)
    b = np.roll(a, 3, axis=1)
    pair_flow(a, b)
    start = time.perf_counter()
    for _ in range(3):
        pair_flow(a, b)
    return (time.perf_counter() - start) / 3 / frames_seconds_512


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--flow-set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra --set for the flow mode, e.g. style.temporal_weight=3")
    parser.add_argument("--dream-set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra --set for the dream footage mode, e.g. dream.blend=0.8")
    parser.add_argument("--dream-only", action="store_true", help="only the dream part")
    parser.add_argument("--dream-later", type=float, default=1.0, metavar="SHARE",
                        help="later frames' steps as a share of frame 0's, in both dream modes (default 1)")
    parser.add_argument("--dream-defaults", action="store_true",
                        help="dream with the recipe defaults (steps 8 on frame 0, steps_per_frame 3), both modes")
    parser.add_argument("--skip-512", action="store_true", help="leave out the 512 px flow share")
    parser.add_argument("--keep", type=Path, help="keep the clip and the rendered runs in this folder")
    args = parser.parse_args()
    MODES["flow"] = MODES["flow"] + args.flow_set
    DREAM_MODES["footage"] = DREAM_MODES["footage"] + args.dream_set
    if args.dream_only:
        MODES.clear()
    frames, steps = (6, 10) if args.quick else (12, 20)
    width, height = 128, 96
    from render.recipe import load_recipe
    from render.runner import render
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-temporal-"))
    if args.keep and work.exists():
        shutil.rmtree(work)
    make_clip(work / "clip", frames, width, height)
    (work / "clip.toml").write_text(RECIPE.format(width=width, height=height, hubble=REPO / "recipes" / "assets" /
                                                  "hubble.jpg", first_steps=steps * 3, steps=steps))
    rows = []
    for mode, sets in MODES.items():
        recipe = load_recipe(work / "clip.toml", tuple(sets) + (f"output.frames={frames}",))
        out = work / mode
        start = time.perf_counter()
        render(recipe, out)
        seconds = (time.perf_counter() - start) / frames
        error, style = evaluate(recipe, out, frames)
        rows.append((mode, error, style, seconds))
    if MODES:
        report_style(rows, frames, width, height, steps)
    dream_part(work, frames, width, height, steps, args.dream_later, args.dream_defaults)
    if args.skip_512:
        return
    flow_share(work)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


def report_style(rows, frames, width, height, steps) -> None:
    independent = rows[0]
    print(f"{frames} frames {width}x{height}, {steps} Adam steps a frame (first {steps * 3}), float32")
    print(f"{'mode':<12} {'warping error':>13} {'x indep.':>9} {'style loss':>10} {'x indep.':>9} {'s/frame':>8}")
    for mode, error, style, seconds in rows:
        print(f"{mode:<12} {error:>13.5f} {error / independent[1]:>9.2f} {style:>10.4f} "
              f"{style / independent[2]:>9.2f} {seconds:>8.2f}")
    flow, blend = rows[2], rows[1]
    print(f"flow / blend warping error: {flow[1] / blend[1]:.2f} (target <= 0.7); "
          f"flow / independent: {flow[1] / independent[1]:.2f} (target <= 0.4)")


def dream_part(work: Path, frames: int, width: int, height: int, steps: int, later_share: float = 1.0,
               defaults: bool = False) -> None:
    from render.kinds.dream import DREAM as DREAM_FIELDS
    from render.recipe import load_recipe
    from render.runner import render
    dream_steps = max(2, steps // 3)
    later = max(1, round(dream_steps * later_share))
    if defaults:   # the recipe's own defaults: what an artist gets without setting them
        dream_steps, later = DREAM_FIELDS["steps"].default, DREAM_FIELDS["steps_per_frame"].default
    (work / "dream.toml").write_text(DREAM.format(width=width, height=height, steps=dream_steps, later=later))
    dream_rows = []
    for mode, sets in DREAM_MODES.items():
        recipe = load_recipe(work / "dream.toml", tuple(sets) + (f"output.frames={frames}",))
        out = work / f"dream-{mode}"
        start = time.perf_counter()
        render(recipe, out)
        seconds = (time.perf_counter() - start) / frames
        dream_rows.append((mode, *evaluate_dream(recipe, out, frames), seconds))
    print(f"dream, {dream_steps} steps per octave on frame 0, {later} on every later frame (both modes), 2 octaves")
    print(f"{'mode':<12} {'warping error':>13} {'x indep.':>9} {'objective':>10} {'x indep.':>9} {'s/frame':>8}")
    for mode, error, value, seconds in dream_rows:
        print(f"{mode:<12} {error:>13.5f} {error / dream_rows[0][1]:>9.2f} {value:>10.4f} "
              f"{value / dream_rows[0][2]:>9.2f} {seconds:>8.2f}")
    print(f"dream footage / independent warping error: {dream_rows[1][1] / dream_rows[0][1]:.2f} (target <= 0.5)")


def flow_share(work: Path) -> None:
    """One style frame at 512x512, for the flow's share of a frame's time."""
    from render.recipe import load_recipe
    from render.runner import render
    recipe = load_recipe(work / "clip.toml", ("output.size=[512,512]", "output.frames=2"))
    out512 = work / "at512"
    start = time.perf_counter()
    render(recipe, out512, frames=[0])
    first = time.perf_counter() - start
    start = time.perf_counter()
    render(recipe, out512, frames=[1])
    later = time.perf_counter() - start
    print(f"512x512: first frame {first:.1f} s, a later frame {later:.1f} s (flow included); "
          f"one flow pair is {flow_share_at_512(later):.1%} of a later frame (target <= 10%)")


if __name__ == "__main__":
    main()
