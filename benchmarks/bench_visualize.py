"""Feature visualization: plain pixels against the Fourier basis + decorrelated colour + transforms.

For the same channels, steps and size, each way is measured on:

- robust activation: the channel's mean activation over 32 randomly jittered, scaled and rotated
  copies of the result (a held-out set: other seeds, wider ranges than the optimisation's);
- high-frequency energy: the share of the image's spectral power in the top octave of spatial
  frequencies (above half the Nyquist frequency), beside that of recipes/assets/chelsea.png at the
  same size;
- clipped pixels: the share of pixel values at 0 or 255 in any channel;
- seconds per step (the compile excluded).

Ways: plain ``pixels`` (through the sigmoid, no colour decorrelation, no transforms), the Fourier
basis with Lucid's decay 1, and the kind's default (decay 1.5); ``--views 4`` adds the default with
four transformed copies per step.

Then a morph (one channel's weight falling while another's rises over 8 frames): the mean absolute
frame-to-frame change of the kind's anchored frames (render.engines.anchors) and of frames that only
share the seeded start, against independent starts per frame.

    python benchmarks/bench_visualize.py [--size 128] [--steps 256] [--views 4]
    python benchmarks/bench_visualize.py --model inceptionv3 [--layer mixed4] [--channels 25,97,130,300]

``--model inceptionv3`` measures the same on the packaged InceptionV3 trunk (RGB 0..1 input, layers up
to mixed5; the converted network is fetched into the user cache on first use).  Its mixed layers are
concatenations of ReLU outputs, so there is no value before an activation to optimise: the ways
optimise the layer's output itself.  ``--channels`` and ``--steps`` make a run shorter; ``--no-morph``
leaves the morph out.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from render.backend import activate  # noqa: E402

activate("tensorflow")

from render.engines.anchors import Anchors  # noqa: E402
from render.engines.featurevis import Settings, Target, Visualizer, target_value  # noqa: E402
from render.engines.robustness import Transforms, apply  # noqa: E402
from render.media import load_image  # noqa: E402
from render.models import build, catalog  # noqa: E402

# per model: the layer and channels measured by default
DEFAULTS = {"vgg16": ("block4_conv1", (12, 97, 130, 300)),
            "inceptionv3": ("mixed4", (25, 97, 130, 300))}
CHELSEA = Path(__file__).resolve().parents[1] / "recipes" / "assets" / "chelsea.png"


def top_octave_share(image: np.ndarray) -> float:
    grey = image.mean(axis=2) - image.mean()
    power = np.abs(np.fft.fft2(grey)) ** 2
    fy, fx = np.fft.fftfreq(grey.shape[0])[:, None], np.fft.fftfreq(grey.shape[1])[None, :]
    radius = np.sqrt(fx * fx + fy * fy)
    return float(power[radius > 0.25].sum() / power.sum())


def robust_activation(extractor, image: np.ndarray, channel: int) -> float:
    held_out = Transforms(pad=16, jitter=12, scales=tuple(np.linspace(0.8, 1.2, 9)), rotate=15.0)
    rng = np.random.default_rng(987654)
    moves = held_out.draw(rng, 32)
    copies = np.asarray(apply(np.repeat(image[None], 32, axis=0).astype(np.float32), moves, held_out.pad))
    values = target_value(extractor(copies)[0], Target(0, "channel", channel))
    return float(np.mean(np.asarray(values)))


def timed(vis, settings, size, channel_index, terms):
    weights = np.zeros((1, terms), np.float32)
    weights[0, channel_index] = 1.0
    vis.render([(1, 0)], weights, size, Settings(**{**settings.__dict__, "steps": 2}))   # compile
    start = time.perf_counter()
    images, _ = vis.render([(1, 0)], weights, size, settings)
    return images[0], (time.perf_counter() - start) / settings.steps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=256)
    parser.add_argument("--views", type=int, default=1)
    parser.add_argument("--model", choices=sorted(DEFAULTS), default="vgg16")
    parser.add_argument("--layer", default=None, help="default: block4_conv1 (vgg16), mixed4 (inceptionv3)")
    parser.add_argument("--channels", default=None, help="comma-separated channel numbers (at least 2)")
    parser.add_argument("--no-morph", action="store_true", help="leave out the morph measurement")
    args = parser.parse_args()
    size = (args.size, args.size)
    layer = args.layer or DEFAULTS[args.model][0]
    channels = tuple(int(c) for c in args.channels.split(",")) if args.channels else DEFAULTS[args.model][1]
    if len(channels) < 2:
        parser.error("--channels needs at least two channels (the morph uses the first two)")
    info = catalog.resolve(args.model, None)
    base = build.build_base_model(info)
    # measured on the layer's output; optimised on its values before the ReLU where it has one (VGG
    # convolutions), as the kind does; InceptionV3's mixed layers are concatenations: their output itself
    extractor = build.feature_extractor(info, [layer], base=base, precision="float32")
    vis = Visualizer(build.feature_extractor(info, [layer], base=base, precision="float32", pre_activation=True),
                     [Target(0, "channel", c, label=str(c)) for c in channels])
    ways = {"pixels": Settings("pixels", False, 1.0, Transforms.none(), 0.05, args.steps),
            "fft decay 1 (Lucid)": Settings("fft", True, 1.0, Transforms(), 0.05, args.steps),
            "fft + colour + transforms": Settings("fft", True, 1.5, Transforms(), 0.05, args.steps)}
    if args.views > 1:
        ways[f"the same, {args.views} views"] = Settings("fft", True, 1.5, Transforms(), 0.05, args.steps, args.views)
    photo = top_octave_share(load_image(CHELSEA, *size))
    print(f"{args.model} {layer}, channels {channels}, {args.size}x{args.size}, {args.steps} Adam steps (lr 0.05)")
    print(f"photo (chelsea.png) top-octave power share: {photo:.4f}")
    results = {}
    for name, settings in ways.items():
        rows = []
        for index, channel in enumerate(channels):
            image, per_step = timed(vis, settings, size, index, len(channels))
            pixels = np.round(image * 255)
            rows.append((robust_activation(extractor, image, channel), top_octave_share(image),
                         float(np.mean((pixels <= 0) | (pixels >= 255))), per_step))
        results[name] = np.array(rows)
        mean = results[name].mean(axis=0)
        print(f"{name:>26}: robust activation {mean[0]:.3f}, top-octave share {mean[1]:.4f} "
              f"({mean[1] / photo:.2f}x the photo), clipped {100 * mean[2]:.2f}%, {1000 * mean[3]:.1f} ms/step")
    base = results["pixels"]
    for name, rows in results.items():
        if name != "pixels":
            print(f"{name}: robust activation {rows[:, 0].mean() / base[:, 0].mean():.2f}x pixels (per channel "
                  + ", ".join(f"{r:.2f}" for r in rows[:, 0] / base[:, 0]) + f"; target >= 1.5x), time per step "
                  f"{rows[:, 3].mean() / base[:, 3].mean():.2f}x (the transforms pad the image: more pixels)")
    same = {}
    for name, kind, decorrelate in (("pixels + transforms", "pixels", False), ("fft + colour + transforms", "fft", True)):
        same[name] = timed(vis, Settings(kind, decorrelate, 1.5, Transforms(), 0.05, 32), size, 0, len(channels))[1]
    print("the parameterisation's own cost, same transforms: " + ", ".join(f"{k} {1000 * v:.1f} ms/step"
          for k, v in same.items()) + f" ({same['fft + colour + transforms'] / same['pixels + transforms']:.2f}x)")
    if args.no_morph:
        return

    frames = 8
    weights = np.zeros((frames, len(channels)), np.float32)
    weights[:, 1] = np.linspace(1, 0, frames)
    weights[:, 0] = np.linspace(0, 1, frames)
    settings = Settings("fft", True, 1.5, Transforms(), 0.05, args.steps // 2)
    starts = [(1, 0)] * frames
    params, _ = vis.optimise(Anchors(vis, frames).start(starts, weights, size, settings), starts, weights, size,
                             Settings(**{**settings.__dict__, "steps": settings.steps // 4}))
    anchored = vis.images(params, size, settings)
    shared, _ = vis.render(starts, weights, size, settings)
    independent, _ = vis.render([(1, i) for i in range(frames)], weights, size, settings)
    change = [np.abs(np.diff(images, axis=0)).mean(axis=(1, 2, 3)) for images in (anchored, shared, independent)]
    print(f"morph {channels[1]} -> {channels[0]} over {frames} frames, {settings.steps} steps "
          f"(anchored: refined {settings.steps // 4}): "
          f"mean frame-to-frame change {change[0].mean():.4f} anchored ({change[0].mean() / change[2].mean():.2f}x), "
          f"{change[1].mean():.4f} shared start only ({change[1].mean() / change[2].mean():.2f}x), "
          f"{change[2].mean():.4f} independent; largest step {change[0].max():.4f} / {change[1].max():.4f} / "
          f"{change[2].max():.4f}")


if __name__ == "__main__":
    main()
