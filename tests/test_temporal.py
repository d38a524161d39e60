"""Optical flow of source footage, its occlusion mask, warping and the warping error, on tiny synthetic
clips whose motion is known."""

from __future__ import annotations

import numpy as np
import pytest

from render.media import load_image
from render.temporal import FlowCache, FlowSettings, pair_flow, pair_warping_error, warp_previous, warping_error
from tests.helpers import CHELSEA

pytest.importorskip("cv2")

H, W = 72, 96
MARGIN = 10  # pixels near the border have no source to warp from


def _photo() -> np.ndarray:
    return load_image(CHELSEA, 160, 120)


def _pan(dx: int, dy: int) -> tuple[np.ndarray, np.ndarray]:
    """Two frames of a camera moving right by dx and down by dy: the picture moves left and up."""
    photo = _photo()
    return photo[20:20 + H, 20:20 + W], photo[20 + dy:20 + dy + H, 20 + dx:20 + dx + W]


def _interior(image: np.ndarray) -> np.ndarray:
    return image[MARGIN:-MARGIN, MARGIN:-MARGIN]


def test_a_pure_pan_is_warped_exactly_by_the_computed_flow():
    previous, current = _pan(3, 2)
    flow = pair_flow(previous, current)
    assert np.allclose(_interior(flow.backward).reshape(-1, 2).mean(0), [3, 2], atol=0.25)  # n -> n-1
    assert np.allclose(_interior(flow.forward).reshape(-1, 2).mean(0), [-3, -2], atol=0.25)  # n-1 -> n
    warped = warp_previous(previous, flow.backward)
    assert np.abs(_interior(warped - current)).mean() < 0.01
    assert np.abs(_interior(previous - current)).mean() > 0.03  # the pan is not a no-op
    # the other flow carries the picture the wrong way: far worse
    assert np.abs(_interior(warp_previous(previous, flow.forward) - current)).mean() > 3 * np.abs(
        _interior(warped - current)).mean()
    assert _interior(flow.mask).mean() > 0.95  # nothing is occluded in a pure pan


def test_the_mask_marks_the_region_a_moving_occluder_uncovers():
    background = _photo()[:H, :W]
    previous, current = background.copy(), background.copy()
    previous[24:48, 20:44] = (0.9, 0.2, 0.1)   # a flat red card ...
    current[24:48, 32:56] = (0.9, 0.2, 0.1)    # ... moved 12 px right
    flow = pair_flow(previous, current)
    uncovered = flow.mask[26:46, 22:30]         # behind the card's old place, visible now
    far = flow.mask[56:68, 60:90]
    assert uncovered.mean() < 0.5, uncovered.mean()
    assert far.mean() > 0.95
    assert np.abs(warp_previous(previous, flow.backward) - current)[26:46, 22:30].mean() > 0.1  # the warp is wrong there


def test_warping_error_is_zero_for_a_perfect_warp_and_grows_with_disagreement():
    previous, current = _pan(3, 2)
    flow = pair_flow(previous, current)
    perfect = warp_previous(previous, flow.backward)
    assert pair_warping_error(previous, perfect, flow) == pytest.approx(0.0, abs=1e-10)
    rng = np.random.default_rng(0)
    errors = [pair_warping_error(previous, np.clip(perfect + rng.normal(0, s, perfect.shape), 0, 1), flow)
              for s in (0.01, 0.05, 0.2)]
    assert errors[0] < errors[1] < errors[2]
    assert errors[1] == pytest.approx(0.05 ** 2, rel=0.3)  # squared noise, averaged over kept pixels
    # unmasked disagreement is ignored: change only pixels the mask drops
    spoiled = perfect.copy()
    spoiled[flow.mask == 0] = 1.0 - spoiled[flow.mask == 0]
    assert pair_warping_error(previous, spoiled, flow) == pytest.approx(0.0, abs=1e-10)
    assert warping_error([previous, perfect, perfect], [flow, pair_flow(current, current)]) < 1e-4
    with pytest.raises(ValueError):
        warping_error([previous, perfect], [])


def test_flows_are_cached_by_content(tmp_path):
    previous, current = _pan(2, 0)
    cache = FlowCache(tmp_path / "flows")
    first = cache.pair(previous, current)
    again = FlowCache(tmp_path / "flows").pair(previous.copy(), current.copy())  # a new run, same pixels
    assert cache.misses == 1 and np.array_equal(first.backward, again.backward)
    reused = FlowCache(tmp_path / "flows")
    reused.pair(previous, current)
    assert (reused.hits, reused.misses) == (1, 0)
    reused.pair(current, previous)                  # another pair: computed
    reused.pair(previous, _pan(4, 0)[1])            # the same first frame, another second one: computed
    other = FlowCache(tmp_path / "flows", FlowSettings(preset="fast"))
    other.pair(previous, current)                   # other settings: computed
    assert (reused.misses, other.misses) == (2, 1)


def test_content_entering_the_frame_is_masked():
    previous, current = _pan(4, 0)   # the camera moves right: new content enters at the right edge
    flow = pair_flow(previous, current)
    assert flow.mask[:, -3:].mean() < 0.2      # came from outside frame n-1: no warp to trust
    assert _interior(flow.mask).mean() > 0.95


def test_the_temporal_loss_in_the_style_graph():
    """Zero for the warped previous result itself, growing with disagreement, blind where masked."""
    from render.backend.kerasops import ops
    from render.engines.style_losses import TEMPORAL_SCALE, temporal_loss
    rng = np.random.default_rng(1)
    warped = rng.random((16, 20, 3)).astype(np.float32)
    mask = np.ones((16, 20, 1), np.float32)
    mask[:, :10] = 0.0
    value = lambda image: float(ops.convert_to_numpy(temporal_loss(image, warped, mask)))
    assert value(warped) == pytest.approx(0.0, abs=1e-9)
    off = warped + 0.1
    assert value(off) == pytest.approx(0.01 / TEMPORAL_SCALE, rel=1e-3)   # 0.1 per channel costs 1
    assert value(warped + 0.05) < value(off) < value(warped + 0.2)
    hidden = warped.copy()
    hidden[:, :10] = 1.0 - hidden[:, :10]   # disagree only where the mask drops the warp
    assert value(hidden) == pytest.approx(0.0, abs=1e-9)


def test_a_small_fast_object_the_flow_misses_is_masked():
    """A 10 px ball jumping 12 px a frame over a pan at 96x72: whatever the flow says about it, the
    places where the warped source does not match (the ball's old and new spots) are not trusted."""
    photo = _photo()
    yy, xx = np.mgrid[:H, :W]
    frames = []
    for n in range(2):
        frame = photo[20:20 + H, 20 + 2 * n:20 + 2 * n + W].copy()
        ball = (xx - (30 + 12 * n)) ** 2 + (yy - 36) ** 2 < 25
        frame[ball] = (0.9, 0.1, 0.1)
        frames.append((frame, ball))
    flow = pair_flow(frames[0][0], frames[1][0])
    warped = warp_previous(frames[0][0], flow.backward)
    trusted_wrong = (flow.mask > 0) & (np.abs(warped - frames[1][0]).mean(-1) > 0.2)
    assert trusted_wrong.sum() == 0
    assert flow.mask[frames[1][1]].mean() < 0.3   # the ball's new place comes from the fresh frame
