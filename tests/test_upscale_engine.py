"""The tiled upscale engine against whole-picture runs of small numpy networks written here: tiles
change no pixel (within 2/255) at any tile size, a smooth gradient shows no seam, the picture's edge is
not treated as an edge, chained stages compose, and the Lanczos fallback equals Pillow's."""

import numpy as np
import pytest
from PIL import Image

from render.engines.upscale import (LANCZOS, TILES, count_tiles, lanczos_upscale, plan_upscale_tile,
                                    upscale_chain, upscale_memory, upscale_tiled, window_side, window_starts)

TOLERANCE = 2 / 255     # the target: no visible difference anywhere


def conv2d(padded: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """'valid' correlation of float (h + K - 1, w + K - 1, cin) with (K, K, cin, cout)."""
    size = kernel.shape[0]
    height, width = padded.shape[0] - size + 1, padded.shape[1] - size + 1
    out = np.zeros((height, width, kernel.shape[3]), np.float64)
    for dy in range(size):
        for dx in range(size):
            out += padded[dy:dy + height, dx:dx + width] @ kernel[dy, dx]
    return out


class SubPixelNet:
    """An ESRGAN-shaped toy: a 5x5 convolution (fixed random weights, reflect padding) to 3 * f * f
    channels, depth-to-space, sigmoid.  Each output pixel depends on the input pixels within 2 of
    its own, and each of the f x f output pixels of an input pixel differs, so a one-pixel slip shows."""

    def __init__(self, factor: int, seed: int):
        rng = np.random.default_rng(seed)
        self.factor = factor
        self.kernel = rng.normal(0.0, 0.35, (5, 5, 3, 3 * factor * factor))
        self.bias = rng.normal(0.0, 0.3, 3 * factor * factor)
        self.shapes: list[tuple[int, ...]] = []

    def whole(self, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        f = self.factor
        features = conv2d(np.pad(image, ((2, 2), (2, 2), (0, 0)), mode="reflect"), self.kernel) + self.bias
        pixels = features.reshape(height, width, f, f, 3).transpose(0, 2, 1, 3, 4).reshape(height * f, width * f, 3)
        return (1.0 / (1.0 + np.exp(-pixels))).astype(np.float32)

    def __call__(self, batch):
        self.shapes.append(tuple(batch.shape))
        return self.whole(np.asarray(batch[0], np.float64))[None]


def bilinear_matrix(size: int, factor: int) -> np.ndarray:
    """(size * factor, size): half-pixel-centred linear interpolation, clamped at the ends."""
    centres = np.clip((np.arange(size * factor) + 0.5) / factor - 0.5, 0, size - 1)
    low = np.floor(centres).astype(int)
    high = np.minimum(low + 1, size - 1)
    matrix = np.zeros((size * factor, size))
    rows = np.arange(size * factor)
    np.add.at(matrix, (rows, low), 1 - (centres - low))
    np.add.at(matrix, (rows, high), centres - low)
    return matrix


class ZeroPaddedNet:
    """Bilinear upsampling, then a 5x5 binomial blur with zero padding: like a zero-padded conv net it
    darkens the border of whatever it is given, so a tile edge the net sees would show as a dark line."""

    def __init__(self, factor: int):
        self.factor = factor
        taps = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16
        self.kernel = np.einsum("i,j,ab->ijab", taps, taps, np.eye(3))

    def whole(self, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        wide = np.matmul(bilinear_matrix(width, self.factor), image)             # (h, W, 3)
        up = np.tensordot(bilinear_matrix(height, self.factor), wide, axes=(1, 0))  # (H, W, 3)
        return conv2d(np.pad(up, ((2, 2), (2, 2), (0, 0))), self.kernel).astype(np.float32)

    def __call__(self, batch):
        return self.whole(np.asarray(batch[0], np.float64))[None]


def random_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((height, width, 3)).astype(np.float32)


@pytest.mark.parametrize("size, factor, tile, overlap", [
    ((37, 53), 2, 16, 4),      # the context is exactly the net's reach (overlap / 2 = 2)
    ((37, 53), 3, 20, 6),
    ((37, 53), 2, 23, 5),      # an odd overlap, a tile that divides nothing
    ((37, 53), 1, 12, 4),
    ((37, 53), 2, 128, 8),     # larger than the picture: one window
    ((1, 1), 2, 16, 4),
    ((2, 3), 3, 16, 4),
    ((5, 41), 2, 12, 4),
])
def test_tiles_give_the_whole_picture_result_at_any_tile_size(size, factor, tile, overlap):
    image = random_image(*size)
    net = SubPixelNet(factor, seed=factor)
    calls = []
    tiled = upscale_tiled(image, net, factor, tile=tile, overlap=overlap, progress=lambda *a: calls.append(a))
    assert tiled.shape == (size[0] * factor, size[1] * factor, 3) and tiled.dtype == np.float32
    assert np.abs(tiled - net.whole(image.astype(np.float64))).max() <= TOLERANCE
    # one window shape per picture, the calls counted and reported
    assert len(set(net.shapes)) == 1
    assert len(net.shapes) == count_tiles(*size, tile, overlap) == len(calls)
    assert calls[-1] == (len(calls), len(calls))


def test_a_compiled_net_sees_the_tile_shape_or_a_rounded_small_one():
    net = SubPixelNet(2, seed=5)
    upscale_tiled(random_image(70, 90), net, 2, tile=32, overlap=4)
    assert set(net.shapes) == {(1, 32, 32, 3)}
    net.shapes.clear()
    upscale_tiled(random_image(20, 37), net, 2, tile=512, overlap=8)
    assert set(net.shapes) == {(1, 64, 64, 3)}        # 20 + 16 and 37 + 16, rounded up to 32s


def gradient(height: int, width: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.stack([0.1 + 0.8 * x / width, 0.2 + 0.6 * y / height, 0.3 + 0.4 * (x + y) / (height + width)], -1)


def seam_profile(picture: np.ndarray, axis: int, margin: int) -> np.ndarray:
    """The largest |second difference| along ``axis`` for each position along it (0 where a linear
    gradient stays linear), NaN within ``margin`` of the picture's ends."""
    d2 = np.abs(np.diff(picture, n=2, axis=axis)).max(axis=2).max(axis=1 - axis)
    profile = np.full(picture.shape[axis], np.nan)
    profile[1:-1] = d2
    profile[:margin] = profile[-margin:] = np.nan
    return profile


def shared_positions(length: int, factor: int, tile: int, overlap: int) -> np.ndarray:
    """True at the output positions along an axis covered by more than one window (the blends)."""
    side = window_side(length, tile, overlap)
    cover = np.zeros(length * factor, int)
    for start in window_starts(length, side, overlap):
        lo, hi = max(start - overlap, 0) * factor, min(start - overlap + side, length) * factor
        cover[lo:hi] += 1
    return cover > 1


def test_a_smooth_gradient_shows_no_seam_at_tile_borders():
    height, width, factor, tile, overlap = 90, 130, 2, 48, 8
    out = upscale_tiled(gradient(height, width), ZeroPaddedNet(factor), factor, tile=tile, overlap=overlap)
    margin = 3 * factor      # the picture's own edge: reflection bends a gradient there
    for axis, length in ((0, height), (1, width)):
        profile = seam_profile(out, axis, margin)
        shared = shared_positions(length, factor, tile, overlap)
        assert shared[margin:-margin].any() and (~shared[margin:-margin]).any()
        inside = np.nanmax(np.where(shared, np.nan, profile))
        across = np.nanmax(np.where(shared, profile, np.nan))
        # a seam of the zero-padded net is a dark line of ~0.1; float32 noise is ~1e-6
        assert across <= inside + 1e-4, (axis, across, inside)
        assert np.nanmax(profile) <= 1e-3, axis     # and none anywhere (a quarter of an 8-bit level)


def test_the_net_never_sees_the_pictures_edge_as_an_edge():
    gray = np.full((30, 45, 3), 0.5, np.float32)
    net = ZeroPaddedNet(2)
    assert net.whole(gray)[0, 0, 0] < 0.4                 # the net alone darkens its border
    assert np.abs(upscale_tiled(gray, net, 2, tile=24, overlap=8) - 0.5).max() < 1e-5


def test_chained_stages_compose_x2_then_x3():
    image = random_image(19, 23, seed=3)
    first, second = SubPixelNet(2, seed=1), SubPixelNet(3, seed=2)
    reports = []
    out = upscale_chain(image, [(first, 2), (second, 3)], tile=(16, 20), overlap=4,
                        progress=lambda *a: reports.append(a))
    assert out.shape == (6 * 19, 6 * 23, 3)
    expected = second.whole(first.whole(image.astype(np.float64)).astype(np.float64))
    assert np.abs(out - expected).max() <= TOLERANCE
    total = count_tiles(19, 23, 16, 4) + count_tiles(38, 46, 20, 4)
    assert [done for done, _ in reports] == list(range(1, total + 1)) and {t for _, t in reports} == {total}


def pillow_lanczos(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Pillow's LANCZOS on each channel as a 32-bit float image (mode F: no 8-bit rounding between
    its two passes), clipped to 0..1 as the engine's result is."""
    planes = [np.asarray(Image.fromarray(np.ascontiguousarray(image[..., c], np.float32)).resize(
        (width, height), Image.Resampling.LANCZOS)) for c in range(3)]
    return np.clip(np.stack(planes, -1), 0.0, 1.0)


def test_lanczos_fallback_matches_pillow():
    # Same kernel (sinc(x) sinc(x / 3)), same centre alignment and edge renormalisation, both in
    # float: only float32 rounding of 3 x 6 taps separates them (measured ~1e-7), so 1e-5.
    image = random_image(37, 53, seed=7)
    out = lanczos_upscale(image, 3)
    assert out.shape == (111, 159, 3) and out.dtype == np.float32
    assert np.abs(out - pillow_lanczos(image, 111, 159)).max() < 1e-5


def test_lanczos_is_a_named_stage():
    image = random_image(13, 17, seed=4)
    net = SubPixelNet(2, seed=6)
    out = upscale_chain(image, [(net, 2), (LANCZOS, 2)], tile=16, overlap=4)
    assert out.shape == (52, 68, 3)
    expected = pillow_lanczos(net.whole(image.astype(np.float64)), 52, 68)
    assert np.abs(out - expected).max() <= TOLERANCE


def test_the_plan_takes_the_largest_tile_that_fits():
    height, width, factor, per_pixel = 1500, 2000, 4, 64 * 4 * 8
    fixed = upscale_memory(height, width, factor, 64, 0)
    tiles = {budget: plan_upscale_tile(height, width, factor, budget, per_pixel)
             for budget in (fixed + 2**24, fixed + 2**27, fixed + 2**30)}
    assert list(tiles.values()) == sorted(tiles.values())          # more memory, larger tiles
    for budget, tile in tiles.items():
        assert upscale_memory(height, width, factor, tile, per_pixel) <= budget
        larger = [t for t in TILES if t > tile]
        assert not larger or upscale_memory(height, width, factor, min(larger), per_pixel) > budget
    with pytest.raises(ValueError, match="MiB allowed"):
        plan_upscale_tile(height, width, factor, fixed, per_pixel)  # the canvas alone is more


@pytest.mark.parametrize("call, message", [
    (lambda img, net: upscale_tiled(img, net, 2, tile=16, overlap=8), "less than half"),
    (lambda img, net: upscale_tiled(img, net, 2, tile=16, overlap=-1), "overlap"),
    (lambda img, net: upscale_tiled(img, net, 2, tile=0, overlap=0), "tile"),
    (lambda img, net: upscale_tiled(img, net, 0), "factor"),
    (lambda img, net: upscale_tiled(img[..., 0], net, 2), "height, width, 3"),
    (lambda img, net: upscale_tiled(img, net, 3, tile=16, overlap=4), "not \\(1, 48, 48, 3\\)"),
    (lambda img, net: upscale_chain(img, []), "at least one"),
    (lambda img, net: upscale_chain(img, [(net, 2)], tile=(16, 16)), "2 tile sides for 1"),
    (lambda img, net: upscale_chain(img, [("bicubic", 2)]), "unknown upscale stage 'bicubic'"),
])
def test_mistakes_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call(random_image(10, 10), SubPixelNet(2, seed=0))
