"""Pins on what the pictures ARE, at the public level only, so that a port of the engines (TensorFlow ->
keras.ops) cannot silently change them.

Every expectation here is computed independently with numpy (bilinear warps, BT.601 colour statistics,
a linear generator) or from the stored frames themselves, never by another run of the engine code.
The file imports no TensorFlow and nothing from ``render.engines``: only the recipe loader, the runner,
``recipe.kind.build_engine(recipe).render_batch([FrameJob(...)])`` and stored PNGs.

What is pinned:
* chained kinds (dream, style): frame n starts from stored frame n-1 (after motion) from the third
  frame on as well, and the engine really uses that ``previous``; dream's colour coherence pulls toward
  frame 0, not toward frame n-1;
* the size and sign of [motion]: pan in pixels, zoom about the centre, rotation counter-clockwise;
* colour coherence's strength: frame n = YCbCr mean/std of the moved frame n-1 moved ``strength`` of
  the way to frame 0's;
* walks: truncation scales the latent, frame i is the generator's image of latent i (in any batch),
  frames never stall (identical to their predecessor) and never jump.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from render.recipe import load_recipe
from render.runner import render
from tests.helpers import CHELSEA

try:
    from render.contracts import FrameJob
except ImportError:
    from render.kinds.base import FrameJob


# --- independent references (numpy only) --------------------------------------------------------

# BT.601 full-range RGB -> YCbCr (JPEG's): luma and two chroma axes
BT601 = np.array([[0.299, 0.587, 0.114],
                  [-0.168736, -0.331264, 0.5],
                  [0.5, -0.418688, -0.081312]])


def stored(folder: Path, index: int) -> np.ndarray:
    """Stored frame ``index`` of a run folder as uint8 ``(H, W, 3)``."""
    with Image.open(Path(folder) / "frames" / f"frame_{index:06d}.png") as image:
        return np.asarray(image.convert("RGB"))


def ycc_stats(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of each YCbCr channel of a uint8 (or 0..255 float) RGB image, in 0..1 units."""
    ycc = (np.asarray(image, np.float64).reshape(-1, 3) / 255.0) @ BT601.T
    return ycc.mean(axis=0), ycc.std(axis=0)


def coherence(image: np.ndarray, reference: tuple[np.ndarray, np.ndarray], strength: float) -> np.ndarray:
    """``image`` (0..255 float) with its YCbCr mean/std moved ``strength`` of the way to ``reference``,
    rounded to 8 bits as a frame is."""
    ycc = (np.asarray(image, np.float64).reshape(-1, 3) / 255.0) @ BT601.T
    mean, std = ycc.mean(axis=0), ycc.std(axis=0)
    matched = (ycc - mean) * (reference[1] / std) + reference[0]
    mixed = (1.0 - strength) * ycc + strength * matched
    rgb = np.clip(mixed @ np.linalg.inv(BT601).T, 0.0, 1.0)
    return np.round(rgb * 255.0).reshape(image.shape)


def warp(image: np.ndarray, zoom: float = 1.0, rotate: float = 0.0, pan=(0.0, 0.0)):
    """The documented motion, computed here: content scaled by ``zoom`` (>1 zooms in), rotated by
    ``rotate`` degrees counter-clockwise as seen on screen (y points down) and moved by ``pan`` pixels
    (+x right, +y down), all about the centre ((w-1)/2, (h-1)/2); bilinear sampling.

    Returns (float image, mask of the pixels whose source lies inside the picture: edges are filled
    by some rule the docs leave open, so only those pixels are compared)."""
    image = np.asarray(image, np.float64)
    h, w = image.shape[:2]
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    dx, dy = xx - cx - pan[0], yy - cy - pan[1]
    # screen CCW by theta with y down: output offset = [[c, s], [-s, c]] @ source offset; invert it
    c, s = np.cos(np.radians(rotate)), np.sin(np.radians(rotate))
    sx = (c * dx - s * dy) / zoom + cx
    sy = (s * dx + c * dy) / zoom + cy
    inside = (sx >= -1e-6) & (sx <= w - 1 + 1e-6) & (sy >= -1e-6) & (sy <= h - 1 + 1e-6)
    sx, sy = np.clip(sx, 0, w - 1), np.clip(sy, 0, h - 1)
    x0, y0 = np.minimum(np.floor(sx).astype(int), w - 2), np.minimum(np.floor(sy).astype(int), h - 2)
    fx, fy = (sx - x0)[..., None], (sy - y0)[..., None]
    top = image[y0, x0] * (1 - fx) + image[y0, x0 + 1] * fx
    bottom = image[y0 + 1, x0] * (1 - fx) + image[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy, inside


def diff(a, b, mask=None) -> np.ndarray:
    d = np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))
    return d[mask] if mask is not None else d


def mean_diff(a, b) -> float:
    return float(diff(a, b).mean())


# --- recipes and runs ---------------------------------------------------------------------------

def dream_text(frames: int = 5, steps: int = 0, coherence: float = 0.0, motion: str = "",
               step_size: float = 0.03) -> str:
    return textwrap.dedent(f"""\
        kind = "dream"
        seed = 3
        [output]
        size = [64, 48]
        frames = {frames}
        video = "none"
        [model]
        name = "vgg16"
        precision = "float32"
        [dream]
        init = "chelsea.png"
        layers = {{ block3_conv3 = 1.0 }}
        octaves = 1
        steps = {steps}
        step_size = {step_size}
        tile = 64
        color_coherence = {coherence}
        [motion]
        """) + textwrap.dedent(motion)


STYLE = """\
kind = "style"
seed = 5
[output]
size = [48, 40]
frames = {frames}
video = "none"
[model]
name = "vgg16"
precision = "float32"
[style]
content = "chelsea.png"
images = {{ hubble = "hubble.jpg" }}
style_layers = {{ block1_conv1 = 1.0, block2_conv1 = 1.0 }}
content_layers = {{ block2_conv2 = 1.0 }}
steps = {steps}
steps_per_frame = {steps_per_frame}
scales = [1.0]
learning_rate = 0.05
[motion]
{motion}
"""


class Recorder:
    """Wraps a recipe's real engine; keeps every job it is given and a copy of its ``previous``."""

    def __init__(self, recipe):
        self.inner = recipe.kind.build_engine(recipe)
        self.jobs: list = []
        self.batches: list[list[int]] = []
        self.previous: dict[int, np.ndarray | None] = {}

    def render_batch(self, jobs):
        self.batches.append([job.index for job in jobs])
        for job in jobs:
            self.jobs.append(job)
            self.previous[job.index] = None if job.previous is None else np.array(job.previous, copy=True)
        return self.inner.render_batch(jobs)


def run(folder: Path, text: str, name: str, overrides=()):
    """Render recipe ``text`` (next to chelsea.png) into ``folder/name``; returns (recipe, run folder,
    the Recorder that rendered it)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(CHELSEA, folder / "chelsea.png")
    path = folder / f"{name}.toml"
    path.write_text(text)
    recipe = load_recipe(path, list(overrides))
    engines: list[Recorder] = []

    def factory(r):
        engines.append(Recorder(r))
        return engines[-1]

    out = folder / name
    result = render(recipe, out, encode=False, engine_factory=factory)
    assert result.rendered == list(range(recipe.output.frames))
    return recipe, out, engines[0]


def loader(out: Path, replace: dict | None = None):
    """A ``load_frame`` that reads stored frames, with some replaced by given images."""
    replace = replace or {}
    return lambda i: replace[i] if i in replace else stored(out, i)


def check_chained_previous(out: Path, recorder: Recorder, frames: int) -> None:
    """Each job n >= 1 got stored frame n-1, byte for byte, and not frame n-2 nor frame 0."""
    images = [stored(out, i) for i in range(frames)]
    for i in range(frames):
        for j in range(i):
            assert mean_diff(images[i], images[j]) > 0.5, f"frames {j} and {i} are alike: the test cannot tell"
    assert sorted(recorder.previous) == list(range(frames))
    assert recorder.previous[0] is None
    for n in range(1, frames):
        previous = recorder.previous[n]
        assert previous is not None and previous.dtype == np.uint8 and previous.shape == images[0].shape
        assert previous.tobytes() == images[n - 1].tobytes(), f"frame {n} did not start from stored frame {n - 1}"
        if n >= 2:
            assert previous.tobytes() != images[n - 2].tobytes(), f"frame {n} started from frame {n - 2}"
            assert previous.tobytes() != images[0].tobytes(), f"frame {n} started from frame 0"


def check_engine_uses_previous(recipe, out: Path, recorder: Recorder, n: int) -> None:
    """A fresh engine renders frame ``n`` from stored frame n-1 to the stored frame n (byte for byte:
    a resumed run equals an unbroken one), and from another ``previous`` to a clearly other picture."""
    job = next(j for j in recorder.jobs if j.index == n)
    engine = recipe.kind.build_engine(recipe)
    again = engine.render_batch([FrameJob(n, job.row, stored(out, n - 1), loader(out))])[0]
    assert again.tobytes() == stored(out, n).tobytes()
    engine = recipe.kind.build_engine(recipe)
    other = engine.render_batch([FrameJob(n, job.row, stored(out, 0), loader(out))])[0]
    assert mean_diff(other, stored(out, n)) > 3.0, "the engine ignored job.previous"


# --- 1. chained frames: the reference of every frame, from the third on -------------------------

@pytest.fixture(scope="module")
def dream_chain(tmp_path_factory):
    """A real dream chain: 6 frames, dreaming, zooming and panning, colour coherence 0.5."""
    text = dream_text(frames=6, steps=2, coherence=0.5, motion="zoom = 1.05\npan = [1.0, 0.5]\nrotate = 1.0\n")
    return run(tmp_path_factory.mktemp("dream-chain"), text, "chain")


def test_dream_frame_n_starts_from_stored_frame_n_minus_1(dream_chain):
    recipe, out, recorder = dream_chain
    check_chained_previous(out, recorder, 6)


@pytest.mark.parametrize("n", [2, 4])
def test_dream_engine_really_uses_previous(dream_chain, n):
    recipe, out, recorder = dream_chain
    check_engine_uses_previous(recipe, out, recorder, n)


@pytest.fixture(scope="module")
def style_chain(tmp_path_factory):
    folder = tmp_path_factory.mktemp("style-chain")
    shutil.copyfile(CHELSEA.parent / "hubble.jpg", folder / "hubble.jpg")
    text = STYLE.format(frames=5, steps=6, steps_per_frame=3, motion="pan = [1.0, 0.0]\nzoom = 1.04")
    return run(folder, text, "morph")


def test_style_frame_n_starts_from_stored_frame_n_minus_1(style_chain):
    recipe, out, recorder = style_chain
    check_chained_previous(out, recorder, 5)


def test_style_engine_really_uses_previous(style_chain):
    recipe, out, recorder = style_chain
    check_engine_uses_previous(recipe, out, recorder, 3)


def test_style_without_steps_is_exactly_the_motion_of_the_previous_frame(tmp_path):
    """steps = 0: frame 0 is the content, frame n the stored frame n-1 panned by 2 px right and 1 up."""
    shutil.copyfile(CHELSEA.parent / "hubble.jpg", tmp_path / "hubble.jpg")
    text = STYLE.format(frames=4, steps=0, steps_per_frame=0, motion="pan = [2.0, -1.0]")
    _, out, _ = run(tmp_path, text, "still")
    frames = [stored(out, i).astype(int) for i in range(4)]
    for n in (1, 2, 3):
        shifted = frames[n][:-n, 2 * n:]           # frame n at (x, y) shows frame 0 at (x - 2n, y + n)
        assert np.abs(shifted - frames[0][n:, :-2 * n]).max() <= 1, n
        assert mean_diff(frames[n], frames[n - 1]) > 2.0  # and it did move
    assert mean_diff(frames[3][:-3, 6:], frames[0][3:, :-6]) < 0.1
    assert mean_diff(frames[3][:-1, 2:], frames[0][1:, :-2]) > 5.0  # not frame 0 moved once


# --- 2. the size of each documented effect ------------------------------------------------------

def test_dream_pan_moves_the_picture_by_its_pixels_per_frame(tmp_path):
    """steps = 0, no coherence: pan [2, -1] moves the content 2 px right and 1 px up per frame, so
    frame n's interior is frame 0's shifted by (2n, -n)."""
    _, out, _ = run(tmp_path, dream_text(frames=5, motion="pan = [2.0, -1.0]\n"), "pan")
    frames = [stored(out, i).astype(int) for i in range(5)]
    for n in range(1, 5):
        moved = frames[n][:-n, 2 * n:]
        assert np.abs(moved - frames[0][n:, :-2 * n]).max() <= 2, n
        assert np.abs(moved - frames[0][n:, :-2 * n]).mean() < 0.1, n
    wrong = {"pan applied once": (1, 2), "pan applied twice": (6, 12), "from frame n-2": (2, 4)}
    for what, (dy, dx) in wrong.items():  # so the test can fail: other shifts are far off
        assert mean_diff(frames[3][:-dy, dx:], frames[0][dy:, :-dx]) > 5.0, what


MOTIONS = {
    "zoom": ({"zoom": 1.1}, "zoom = 1.1\n"),
    "rotate": ({"rotate": 6.0}, "rotate = 6.0\n"),
    "zoom-out": ({"zoom": 0.92}, "zoom = 0.92\n"),
    "all": ({"zoom": 1.06, "rotate": -4.0, "pan": (1.5, 0.75)}, "zoom = 1.06\nrotate = -4.0\npan = [1.5, 0.75]\n"),
}


def wrong_motions(params: dict) -> list[dict]:
    """Plausible mistakes: the opposite rotation, the inverse zoom, the motion applied twice, none."""
    wrong = [{}, {"zoom": params.get("zoom", 1.0) ** 2, "rotate": 2 * params.get("rotate", 0.0),
                  "pan": tuple(2 * v for v in params.get("pan", (0.0, 0.0)))}]
    if params.get("rotate"):
        wrong.append(dict(params, rotate=-params["rotate"]))
    if params.get("zoom", 1.0) != 1.0:
        wrong.append(dict(params, zoom=1 / params["zoom"]))
    return wrong


@pytest.mark.parametrize("motion", list(MOTIONS), ids=list(MOTIONS))
def test_dream_motion_equals_an_independent_warp_of_the_previous_frame(tmp_path, motion):
    """steps = 0, no coherence: frame n is stored frame n-1 warped as documented (zoom about the
    centre, rotation counter-clockwise on screen, pan in pixels), within a grey level or two where the
    source lies inside the picture; the opposite rotation, the inverse zoom and a doubled or missing
    motion are far off."""
    params, text = MOTIONS[motion]
    _, out, _ = run(tmp_path, dream_text(frames=4, motion=text), motion)
    frames = [stored(out, i) for i in range(4)]
    for n in range(1, 4):
        expected, inside = warp(frames[n - 1], **params)
        assert inside.mean() > 0.6
        errors = diff(frames[n], np.round(expected), inside)
        assert errors.max() <= 2 and errors.mean() < 0.1, (n, errors.max(), errors.mean())
        for other in wrong_motions(params):
            guess, mask = warp(frames[n - 1], **other)
            mask &= inside
            assert diff(frames[n], guess, mask).mean() > 2 * errors.mean() + 1.0, (n, other)
    # and from the third frame on the warp is of frame n-1, not of frame 0 warped once
    once, inside = warp(frames[0], **params)
    assert diff(frames[3], once, inside).mean() > 2.0


def test_color_coherence_moves_halfway_to_frame_zero_from_every_frame(tmp_path):
    """steps = 0, zoom 1.1 (which moves the colours: the cat's centre is not the whole picture),
    colour coherence 0.5: frame n = zoomed frame n-1 with its YCbCr mean/std moved halfway to frame 0's
    (BT.601, computed here); pulling toward frame n-1's instead is off by far more than rounding from
    frame 2 on."""
    _, out, _ = run(tmp_path, dream_text(frames=5, coherence=0.5, motion="zoom = 1.1\n"), "half")
    frames = [stored(out, i) for i in range(5)]
    reference = ycc_stats(frames[0])
    for n in range(1, 5):
        moved, _ = warp(frames[n - 1], zoom=1.1)  # zooming in samples only inside the picture
        expected = coherence(moved, reference, 0.5)
        errors = diff(frames[n], expected)
        assert errors.max() <= 2 and errors.mean() < 0.05, (n, errors.max(), errors.mean())
        for strength in (0.0, 1.0):  # the strength is 0.5, not none or all
            assert mean_diff(frames[n], coherence(moved, reference, strength)) > 0.2, (n, strength)
        if n >= 2:
            toward_previous = coherence(moved, ycc_stats(frames[n - 1]), 0.5)
            assert mean_diff(frames[n], toward_previous) > 0.25, n
    drift = np.abs(ycc_stats(frames[4])[0] - reference[0]).max() * 255
    assert drift > 1.0  # the colours did move (so the reference matters)


def test_full_color_coherence_gives_frame_n_the_statistics_of_frame_zero(tmp_path):
    """Coherence 1, steps 0: every frame's YCbCr mean and std are frame 0's; a fresh engine rendering
    frame 3 takes them from whatever ``load_frame(0)`` returns (frame 0 as a reference), not from the
    previous frame."""
    recipe, out, recorder = run(tmp_path, dream_text(frames=4, coherence=1.0, motion="zoom = 1.1\n"), "full")
    frames = [stored(out, i) for i in range(4)]
    mean0, std0 = ycc_stats(frames[0])
    for n in range(1, 4):
        mean, std = ycc_stats(frames[n])
        assert np.abs(mean - mean0).max() * 255 < 0.3 and np.abs(std - std0).max() * 255 < 0.3, n
    # a frame 0 of other colours (channels swapped, darker, flatter): frame 3 takes its statistics
    tinted = np.round(frames[0][..., ::-1] * 0.7 + 20).astype(np.uint8)
    job = next(j for j in recorder.jobs if j.index == 3)
    engine = recipe.kind.build_engine(recipe)
    image = engine.render_batch([FrameJob(3, job.row, frames[2], loader(out, {0: tinted}))])[0]
    mean, std = ycc_stats(image)
    tint_mean, tint_std = ycc_stats(tinted)
    assert np.abs(mean - tint_mean).max() * 255 < 1.0 and np.abs(std - tint_std).max() * 255 < 1.0
    assert np.abs(tint_mean - mean0).max() * 255 > 10  # so the test can fail


# --- 3. never stalled, never a jump -------------------------------------------------------------

def test_dream_frames_change_every_frame_and_never_jump(dream_chain):
    """Each frame differs from its predecessor (no stalled or duplicated frame), by less than a jump:
    it stays close to its predecessor moved by the motion, much closer than to frame 0 moved once."""
    _, out, _ = dream_chain
    frames = [stored(out, i) for i in range(6)]
    for n in range(1, 6):
        assert mean_diff(frames[n], frames[n - 1]) > 1.0, f"frame {n} repeats frame {n - 1}"
        expected, inside = warp(frames[n - 1], zoom=1.05, rotate=1.0, pan=(1.0, 0.5))
        step = diff(frames[n], expected, inside).mean()
        assert step < 12.0, (n, step)  # two small dream steps change ~8 levels; a restart or skip, 20+
        if n >= 2:
            assert diff(frames[n], warp(frames[0], zoom=1.05, rotate=1.0, pan=(1.0, 0.5))[0]).mean() > step + 5.0


WALK = """\
kind = "walk"
seed = 11
[output]
size = [64, 64]
video = "none"
[model]
precision = "float32"
[walk]
keys = [4, 17]
frames_per_key = 5
batch = 4
"""


@pytest.fixture(scope="module")
def walks(tmp_path_factory):
    """The same 6-frame walk rendered in batches of 4 and one frame at a time."""
    folder = tmp_path_factory.mktemp("walk")
    _, batched, engine4 = run(folder, WALK, "four")
    _, single, engine1 = run(folder, WALK, "one", ["walk.batch=1"])
    assert engine4.batches == [[0, 1, 2, 3], [4, 5]] and engine1.batches == [[i] for i in range(6)]
    return [stored(batched, i) for i in range(6)], [stored(single, i) for i in range(6)]


def test_walk_frame_i_is_latent_i_in_any_batch(walks):
    batched, single = walks
    for i in range(6):
        assert batched[i].tobytes() == single[i].tobytes(), f"frame {i} differs in a batch of 4"
        distances = [mean_diff(batched[i], s) for s in single]
        assert int(np.argmin(distances)) == i
        assert min(d for j, d in enumerate(distances) if j != i) > 1.0, f"frame {i} repeats another"


def test_walk_frames_change_every_frame_and_never_jump(walks):
    frames, _ = walks
    span = mean_diff(frames[0], frames[5])
    assert span > 10  # two different faces
    steps = [mean_diff(frames[i], frames[i - 1]) for i in range(1, 6)]
    assert min(steps) > 0.05 * span, steps   # never stalled or duplicated
    assert max(steps) < 0.45 * span, steps   # never a jump (five steps span the walk)
    away = [mean_diff(frames[0], frames[i]) for i in range(6)]
    assert all(b > a for a, b in zip(away, away[1:])), away  # in order: ever further from the first key


LINEAR_WALK = """\
kind = "walk"
seed = 11
[output]
size = [16, 12]
video = "none"
[model]
name = "linear.keras"
precision = "float32"
[walk]
keys = [4, 17, 42]
frames_per_key = 3
path = "lerp"
truncation = 0.5
batch = 4
"""


def test_walk_frames_are_a_linear_generators_images_of_truncated_lerped_latents(tmp_path):
    """A generator written here (sigmoid(W z + b), so its images are computed with numpy): frame i is
    its image of ``truncation * lerp(key latents)`` at frame i, keys drawn from N(0, I) by their seeds."""
    import keras

    latent, (h, w) = 8, (12, 16)
    rng = np.random.default_rng(0)
    weights = rng.normal(0.0, 0.5, (latent, h * w * 3)).astype(np.float32)
    bias = rng.normal(0.0, 0.2, h * w * 3).astype(np.float32)
    inputs = keras.Input((latent,))
    dense = keras.layers.Dense(h * w * 3)
    x = keras.layers.Reshape((h, w, 3))(dense(inputs))
    x = keras.layers.Activation("sigmoid", name="rgb")(x)
    dense.set_weights([weights, bias])
    keras.Model(inputs, x).save(tmp_path / "linear.keras")

    recipe, out, recorder = run(tmp_path, LINEAR_WALK, "linear")
    assert recipe.output.frames == 7 and len(recorder.jobs) == 7
    keys = [np.random.default_rng(seed).standard_normal(latent) for seed in (4, 17, 42)]

    def image(z):
        pixels = 1.0 / (1.0 + np.exp(-(z @ weights.astype(np.float64) + bias)))
        return np.round(pixels.reshape(h, w, 3) * 255.0)

    def latent_at(i):  # keys at frames 0, 3 and 6, straight lines between them
        k = min(i // 3, 1)
        t = (i - 3 * k) / 3
        return (1 - t) * keys[k] + t * keys[k + 1]

    for i in range(7):
        frame = stored(out, i)
        errors = diff(frame, image(0.5 * latent_at(i)))
        assert errors.max() <= 1 and errors.mean() < 0.05, (i, errors.max(), errors.mean())
        assert mean_diff(frame, image(latent_at(i))) > 5.0, i  # truncation 0.5 matters (so the test can fail)
        others = [mean_diff(frame, image(0.5 * latent_at(j))) for j in range(7) if j != i]
        assert min(others) > 1.0, i  # not another frame's latent
