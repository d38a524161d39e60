"""Dream and style over footage: frames follow the *source's* optical flow, occluded regions come from
the fresh source, flows are cached, runs resume to the same bytes.  Clips are tiny synthetic pans
whose motion is known, so the expected pixels are computed by shifting, not by the flow code."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from render.media import load_image
from render.recipe import load_recipe
from render.runner import render
from tests.helpers import CHELSEA, frame_bytes, kill_and_resume, pixels

W, H, SHIFT = 64, 48, 2   # the camera pans right SHIFT px a frame: the picture moves left
MARGIN = 8


def _pan_clip(folder: Path, frames: int, card: bool = False) -> None:
    """Frames of a pan over the cat photo; with ``card``, a red and yellow checked card moving right
    8 px a frame over it (so each frame uncovers a strip behind the card)."""
    photo = load_image(CHELSEA, 160, 120)
    checks = (np.indices((24, 18)) // 3).sum(axis=0) % 2
    pattern = np.where(checks[..., None] == 1, (0.95, 0.85, 0.1), (0.9, 0.1, 0.1))
    folder.mkdir()
    for n in range(frames):
        frame = photo[30:30 + H, 30 + SHIFT * n:30 + SHIFT * n + W].copy()
        if card:
            frame[12:36, 8 + 8 * n:26 + 8 * n] = pattern
        Image.fromarray(np.round(frame * 255).astype(np.uint8)).save(folder / f"f_{n}.png")


STYLE = """\
kind = "style"
seed = 2
[output]
size = [64, 48]
video = "none"
[model]
name = "vgg16"
precision = "float32"
[style]
content = "clip"
images = {{ cat = "cat.png" }}
steps = 8
steps_per_frame = {later}
scales = [1.0]
carry = {carry}
temporal_weight = {temporal}
"""

DREAM = """\
kind = "dream"
seed = 2
[output]
size = [64, 48]
video = "none"
[model]
name = "vgg16"
precision = "float32"
[dream]
source = "clip"
layers = {{ block3_conv1 = 1.0 }}
octaves = 1
steps = 4
steps_per_frame = {later}
step_size = 0.02
blend = {blend}
"""


def _setup(tmp_path: Path, frames: int = 4, card: bool = False) -> None:
    _pan_clip(tmp_path / "clip", frames, card)
    Image.open(CHELSEA).convert("RGB").resize((64, 48)).save(tmp_path / "cat.png")


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(textwrap.dedent(text))
    return path


def _frames(folder: Path, count: int) -> list[np.ndarray]:
    return [pixels(folder / "frames" / f"frame_{i:06d}.png").astype(np.float32) / 255.0 for i in range(count)]


def _shifted(image: np.ndarray, frames: int) -> np.ndarray:
    """Where the pan moves ``image`` after ``frames`` frames: left by SHIFT px each."""
    return np.roll(image, -SHIFT * frames, axis=1)


def _interior(image: np.ndarray, frames: int) -> np.ndarray:
    return image[MARGIN:-MARGIN, MARGIN:-MARGIN - SHIFT * frames]


@pytest.mark.parametrize("kind", ["style", "dream"])
def test_later_frames_carry_the_first_along_the_source_motion(tmp_path, kind):
    """With no steps after frame 0 and the previous result taken whole, frame n is frame 0 moved as the
    source moved: shifted left by SHIFT * n (computed here by np.roll, not by the flow code)."""
    _setup(tmp_path)
    text = (STYLE.format(later=0, carry=1.0, temporal=0.0) if kind == "style"
            else DREAM.format(later=0, blend=1.0))
    recipe = load_recipe(_write(tmp_path, kind, text))
    assert recipe.output.frames == 4  # from the clip
    result = render(recipe, tmp_path / "out")
    frames = _frames(result.folder, 4)
    source0 = load_image(tmp_path / "clip" / "f_0.png", W, H)
    assert np.abs(frames[0] - source0).mean() > 0.02  # frame 0 was styled / dreamed: the test has teeth
    for n in (1, 3):
        error = np.abs(_interior(frames[n], n) - _interior(_shifted(frames[0], n), n)).mean()
        wrong_way = np.abs(_interior(frames[n], n) - _interior(np.roll(frames[0], SHIFT * n, axis=1), n)).mean()
        assert error < 0.02 and wrong_way > 2 * error, (n, error, wrong_way)


def test_a_carried_dream_is_not_dreamed_over_again(tmp_path):
    """With the whole previous dream carried (blend 1) the later frames' own steps (4 a frame) add new
    detail only where nothing was carried: where the flow is trusted, frame n is still frame 0 moved
    as the source moved.  Without carrying (blend 0) the same steps change the picture clearly."""
    _setup(tmp_path)
    errors = {}
    for blend in (1.0, 0.0):
        recipe = load_recipe(_write(tmp_path, f"dream{blend:g}", DREAM.format(later=4, blend=blend)))
        frames = _frames(render(recipe, tmp_path / f"out{blend:g}").folder, 4)
        errors[blend] = [np.abs(_interior(frames[n], n) - _interior(_shifted(frames[0], n), n)).mean() for n in (1, 3)]
    assert max(errors[1.0]) < 0.02 and min(errors[0.0]) > 3 * max(errors[1.0]), errors


@pytest.mark.parametrize("kind", ["style", "dream"])
def test_uncovered_regions_come_from_the_fresh_source(tmp_path, kind):
    """A card moving over the pan uncovers a strip each frame: there the warp is wrong, the mask drops
    it and the frame shows its own source (steps 0 after frame 0), not a smeared card."""
    _setup(tmp_path, frames=3, card=True)
    text = (STYLE.format(later=0, carry=1.0, temporal=0.0) if kind == "style"
            else DREAM.format(later=0, blend=1.0))
    result = render(load_recipe(_write(tmp_path, kind, text)), tmp_path / "out")
    frame2 = _frames(result.folder, 3)[2]
    source2 = load_image(tmp_path / "clip" / "f_2.png", W, H)
    strip = (slice(14, 34), slice(18, 22))   # the card stood here in frame 1 and has moved on
    assert np.abs(frame2[strip] - source2[strip]).mean() < 0.04
    card_there = np.abs(frame2[strip] - np.array([0.92, 0.47, 0.1])).mean()
    assert card_there > 0.15  # no card smeared into the uncovered strip


def test_temporal_style_is_more_consistent_than_independent_frames(tmp_path):
    """The warping error along the source's flow is lower with the warped start and temporal loss than
    with every frame styled from its own content at the same steps."""
    from render.temporal import FlowCache, warping_error
    _setup(tmp_path, frames=4)
    errors = {}
    for name, carry, temporal in (("independent", 0.0, 0.0), ("flow", 0.8, 3.0)):
        result = render(load_recipe(_write(tmp_path, name, STYLE.format(later=6, carry=carry, temporal=temporal))),
                        tmp_path / name)
        sources = [load_image(tmp_path / "clip" / f"f_{n}.png", W, H) for n in range(4)]
        cache = FlowCache(tmp_path / "measure")
        errors[name] = warping_error(_frames(result.folder, 4), [cache.pair(sources[n - 1], sources[n])
                                                                 for n in range(1, 4)])
    assert errors["flow"] < 0.6 * errors["independent"], errors


def test_flows_are_reused_when_other_settings_change(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURAL_RENDER_CACHE", str(tmp_path / "cache"))  # empty: other tests used this clip
    _setup(tmp_path, frames=3)
    events: list = []
    first = _write(tmp_path, "a", STYLE.format(later=2, carry=0.8, temporal=1.0))
    render(load_recipe(first), tmp_path / "a", progress=events.append)
    assert events[-1].flow_total > 0  # the progress line shows the flow's time apart
    engines: list = []
    second = _write(tmp_path, "b", STYLE.format(later=2, carry=0.8, temporal=2.0))
    events.clear()
    render(load_recipe(second), tmp_path / "b", engine_factory=lambda r: engines.append(r.kind.build_engine(r))
           or engines[-1], progress=events.append)
    flows = engines[-1].flows
    assert (flows.hits, flows.misses) == (2, 0)  # the same source frames: both flows from the cache
    assert events[-1].flow_total == 0.0


def test_a_killed_footage_run_resumes_to_the_same_bytes(tmp_path):
    _setup(tmp_path, frames=4)
    recipe = _write(tmp_path, "s", STYLE.format(later=2, carry=0.8, temporal=1.0))
    render(load_recipe(recipe), tmp_path / "whole")
    kill_and_resume(recipe, tmp_path / "resumed", kill_at=2)
    assert frame_bytes(tmp_path / "resumed", 4) == frame_bytes(tmp_path / "whole", 4)


def test_footage_keys_hold_the_temporal_settings_and_stills_keep_theirs(tmp_path):
    from render.framekeys import frame_keys
    from render.plan import make_plan
    _setup(tmp_path, frames=3)
    keys = lambda path, *sets: frame_keys(make_plan(load_recipe(path, sets)))
    footage = _write(tmp_path, "s", STYLE.format(later=2, carry=0.8, temporal=1.0))
    base = keys(footage)
    other = keys(footage, "style.temporal_weight=2.0")
    assert base[0] == other[0] and base[1] != other[1]          # frame 0 never uses it
    assert keys(footage, "flow.preset=\"fast\"")[1] != base[1]   # flow settings are in the keys
    still = _write(tmp_path, "still", STYLE.format(later=2, carry=0.8, temporal=1.0).replace('"clip"', '"cat.png"'))
    assert keys(still) == keys(still, "style.temporal_weight=5.0", "flow.preset=\"fast\"")  # unused: same keys


def test_dream_takes_init_or_source_not_both(tmp_path):
    from render.errors import RecipeError
    _setup(tmp_path, frames=2)
    text = DREAM.format(later=2, blend=0.5).replace('source = "clip"', 'source = "clip"\ninit = "cat.png"')
    with pytest.raises(RecipeError, match="dream.source: give either init"):
        load_recipe(_write(tmp_path, "both", text))


def test_dream_footage_keys_follow_the_source_and_the_temporal_settings(tmp_path):
    from render.framekeys import frame_keys
    from render.plan import make_plan
    _setup(tmp_path, frames=4)
    path = _write(tmp_path, "d", DREAM.format(later=2, blend=0.5))
    keys = lambda *sets: frame_keys(make_plan(load_recipe(path, sets)))
    base = keys()
    for change in ("dream.blend=0.7", "dream.steps_per_frame=3"):
        other = keys(change)
        assert other[0] == base[0] and other[1:] != base[1:] and all(a != b for a, b in zip(other[1:], base[1:]))
    assert keys("dream.steps=5")[0] != base[0]
    assert keys("motion.zoom=1.1") == base and keys("dream.color_coherence=0.1") == base  # unused on footage
    Image.open(tmp_path / "clip" / "f_0.png").save(tmp_path / "clip" / "f_2.png")  # re-cut frame 2
    recut = keys()
    assert recut[:2] == base[:2] and all(a != b for a, b in zip(recut[2:], base[2:]))
