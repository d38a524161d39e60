"""ESRGAN upscalers against Lanczos: picture quality, speed, tile seams, and whether each conversion
computes what the original network computes.

    python benchmarks/bench_upscale.py            # 3 photos; slim / medium / thick at x2 and x4 (~3 min, 2 cores)
    python benchmarks/bench_upscale.py --quick    # 1 photo, slim and thick only
    python benchmarks/bench_upscale.py --only speed --repeats 5

Four measurements, each printed as a markdown table:

1. Conversion.  A plain numpy forward pass (float64), written here and sharing nothing with
   ``render.models``, reads the package's ``model.json`` (or ``model.min.js``) and shards itself
   (``json`` and ``np.frombuffer``; uint8 weights are dequantised here as ``min + scale * q``) and runs
   the network layer by layer.  Its output is compared with the converted network that the renderer
   runs (:func:`render.models.upscalers.load_upscaler`, or for the InceptionV3 trunk
   :func:`render.models.fetched.load_layers`) on the same random input: ESRGAN slim and medium (RDN,
   input 0..255) and thick (RRDN, input 0..1) x2 at 24x24, InceptionV3 to mixed0 and mixed1 at 80x80
   (input RGB 0..1, weights uint8-quantised in the package).  The only render function used
   on that side is :func:`render.models.tfjs.parse_js_literal`, to read the JavaScript object literal
   of ``model.min.js`` as data.
2. Quality.  Photos no test upscales (recipes/assets: astronaut, hubble, ihc; public-domain pictures
   from scikit-image), centre crops of 192x192 (x2) and 256x256 (x4), are shrunk by the factor with
   Pillow's antialiased BICUBIC, then enlarged again by each network (:func:`upscale_tiled` with the
   network's own overlap, as the renderer does) and by Lanczos-3 (:func:`lanczos_upscale`, the plain
   reference).  PSNR against the original, both rounded to 8 bits, ``4 * factor`` pixels of border
   left out: on luma (BT.601 Y in 16..235, as super-resolution papers report it) and on RGB.
3. Speed.  Seconds per megapixel out of :func:`upscale_tiled` on a 224x224 input (one 256x256 window
   with the overlap padding: the default tile's steady-state share of padding), beside Lanczos, and
   the network's convolution FLOPs per second (FLOPs counted from the package's layers) as a fraction
   of this machine's float32 matmul peak, measured before and after (the larger: the cores may be
   shared, so compare the fraction, measured under the same load, more than the seconds).
4. Tiles.  :func:`upscale_tiled` with 64-pixel tiles against the same network run once on the whole
   picture mirror-padded by the same overlap and cropped back (what the tiler should reproduce; the
   target is at most 2/255 anywhere).  The plain whole-picture run (no padding) differs near the outer
   edge by design, since the tiler mirror-pads there: that is reported apart, as the largest
   difference in the interior and in the outer band of ``overlap`` input pixels, and how many input
   pixels deep a difference above 0.5/255 reaches.

The package folders default to the unpacked npm tarballs under /tmp/pk (``--packages``); the converted
networks come from the user cache (set ``NEURAL_RENDER_CACHE``).
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, best_of, machine_line, peak_flops  # noqa: E402

from render.backend import activate  # noqa: E402

activate("tensorflow")

from PIL import Image  # noqa: E402

from render.engines.upscale import lanczos_upscale, upscale_tiled  # noqa: E402
from render.models import fetched, packages, upscalers  # noqa: E402
from render.models.tfjs import parse_js_literal  # noqa: E402

ASSETS = REPO / "recipes" / "assets"
PHOTOS = ("astronaut.jpg", "hubble.jpg", "ihc.jpg")
ORIGINAL_SIDE = {2: 192, 4: 256}        # centre crop of each photo, before it is shrunk by the factor
PACKAGE_FOLDERS = {"slim": "esr", "medium": "esr-medium", "thick": "esr-thick", "nsfw": "nsfw"}
TILE_TEST_SIDE = 128                     # input side of the tiles-against-whole picture
SPEED_SIDE = 224                         # input side of the speed run: one 256 window with 16 px padding


# --- an independent reading of a TF.js layers model ------------------------------------------------
def _js_string_export(text: str) -> str:
    """The base64 text a shard module assigns to ``<something>.exports``."""
    found = re.search(r"exports\s*=\s*\"([A-Za-z0-9+/=]*)\"", text)
    if found is None:
        raise ValueError("no exported base64 string in the shard module")
    return found.group(1)


def read_package(model_file: Path, shard_suffix: str = "") -> tuple[list[dict], dict[str, np.ndarray]]:
    """``(layers of the Keras config, {weight name: float64 array})`` read straight from the files."""
    text = model_file.read_text(encoding="utf-8")
    if model_file.suffix == ".js":
        start = re.search(r"\.exports\s*=\s*(?=\{)", text).end()
        meta = parse_js_literal(text[start:], model_file.name)   # data only: the literal ends the parse
    else:
        meta = json.loads(text)
    topology = meta["modelTopology"]
    config = topology.get("model_config", topology)["config"]
    weights = {}
    for group in meta["weightsManifest"]:
        parts = []
        for name in group["paths"]:
            path = model_file.parent / (name + shard_suffix)
            parts.append(base64.b64decode(_js_string_export(path.read_text())) if path.suffix == ".js"
                         else path.read_bytes())
        blob, at = b"".join(parts), 0
        for spec in group["weights"]:
            count = int(np.prod(spec["shape"], dtype=np.int64))
            quant = spec.get("quantization")
            if quant is not None:
                if quant["dtype"] != "uint8":
                    raise ValueError(f"{spec['name']}: {quant['dtype']} quantisation is not read here")
                levels = np.frombuffer(blob, np.uint8, count, at).astype(np.float64)
                values = float(quant["min"]) + float(quant["scale"]) * levels
                at += count
            else:
                values = np.frombuffer(blob, "<f4", count, at).astype(np.float64)
                at += 4 * count
            weights[spec["name"]] = values.reshape(spec["shape"])
        if at != len(blob):
            raise ValueError(f"{model_file}: {len(blob) - at} bytes of shards left over")
    return config["layers"], weights


def _tf_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding: the output is ceil(size / stride), the extra pixel goes last."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _windows(x: np.ndarray, kh: int, kw: int, sy: int, sx: int) -> np.ndarray:
    """(Ho, Wo, C, kh, kw) views of ``x`` (H, W, C)."""
    return np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(0, 1))[::sy, ::sx]


def _pad_for(x, config, kh, kw, value=0.0):
    sy, sx = config.get("strides", (1, 1))
    if config.get("padding", "valid") != "same":
        return x
    return np.pad(x, (_tf_pads(x.shape[0], kh, sy), _tf_pads(x.shape[1], kw, sx), (0, 0)), constant_values=value)


def _activation(x, name):
    if name in (None, "linear"):
        return x
    if name == "relu":
        return np.maximum(x, 0.0)
    raise ValueError(f"activation {name} is not read here")


def forward(layers: list[dict], weights: dict, image: np.ndarray, outputs: list[str]) -> dict[str, np.ndarray]:
    """The named layers' outputs for ``image`` (H, W, C), computed in float64 (only the layers they need)."""
    by_name = {layer["name"]: layer for layer in layers}

    def sources(layer):
        return [entry[0] for node in layer["inbound_nodes"] for entry in node]

    needed, stack = set(), list(outputs)
    while stack:
        name = stack.pop()
        if name not in needed:
            needed.add(name)
            stack.extend(sources(by_name[name]))
    values: dict[str, np.ndarray] = {}
    for layer in layers:
        name, kind, config = layer["name"], layer["class_name"], layer["config"]
        if name not in needed:
            continue
        ins = [values[s] for s in sources(layer)]
        if kind == "InputLayer":
            out = np.asarray(image, np.float64)
        elif kind == "Conv2D":
            kernel = weights[f"{name}/kernel"]
            kh, kw = kernel.shape[:2]
            sy, sx = config.get("strides", (1, 1))
            if tuple(config.get("dilation_rate", (1, 1))) != (1, 1):
                raise ValueError(f"{name}: dilated convolutions are not read here")
            patches = _windows(_pad_for(ins[0], config, kh, kw), kh, kw, sy, sx)
            out = np.einsum("yxcij,ijco->yxo", patches, kernel, optimize=True)
            if config.get("use_bias", True):
                out = out + weights[f"{name}/bias"]
            out = _activation(out, config.get("activation"))
        elif kind == "BatchNormalization":
            mean, variance = weights[f"{name}/moving_mean"], weights[f"{name}/moving_variance"]
            out = (ins[0] - mean) / np.sqrt(variance + float(config.get("epsilon", 1e-3)))
            if config.get("scale", True):
                out = out * weights[f"{name}/gamma"]
            if config.get("center", True):
                out = out + weights[f"{name}/beta"]
        elif kind == "Activation":
            out = _activation(ins[0], config["activation"])
        elif kind == "Concatenate":
            out = np.concatenate(ins, axis=-1)
        elif kind == "Add":
            out = np.sum(ins, axis=0)
        elif kind == "MultiplyBeta":
            out = ins[0] * float(config["beta"])
        elif kind == "UpSampling2D":
            fy, fx = config.get("size", (2, 2))
            out = np.repeat(np.repeat(ins[0], fy, axis=0), fx, axis=1)
        elif re.fullmatch(r"PixelShuffle\d+x", kind):
            # TensorFlow's depth_to_space: channel (i * r + j) * C + c goes to pixel (y * r + i, x * r + j)
            r = int(kind[len("PixelShuffle"):-1])
            h, w, depth = ins[0].shape
            out = ins[0].reshape(h, w, r, r, depth // (r * r)).transpose(0, 2, 1, 3, 4).reshape(h * r, w * r, -1)
        elif kind in ("MaxPooling2D", "AveragePooling2D"):
            kh, kw = config["pool_size"]
            sy, sx = config.get("strides") or (kh, kw)
            if kind == "MaxPooling2D":
                out = _windows(_pad_for(ins[0], config, kh, kw, -np.inf), kh, kw, sy, sx).max(axis=(3, 4))
            else:   # TensorFlow averages over the pixels inside the picture only
                total = _windows(_pad_for(ins[0], config, kh, kw), kh, kw, sy, sx).sum(axis=(3, 4))
                inside = _pad_for(np.ones(ins[0].shape[:2] + (1,)), config, kh, kw)
                out = total / _windows(inside, kh, kw, sy, sx).sum(axis=(3, 4))
        else:
            raise ValueError(f"layer {name}: {kind} is not read here")
        values[name] = out
    return {name: values[name] for name in outputs}


def network_flops(layers: list[dict], weights: dict, height: int, width: int) -> float:
    """Convolution FLOPs (2 per multiply-add) of one call on a ``height`` x ``width`` input, from the
    layers' output shapes (propagated, nothing computed)."""
    shapes: dict[str, tuple[int, int, int]] = {}
    total = 0.0
    for layer in layers:
        name, kind, config = layer["name"], layer["class_name"], layer["config"]
        ins = [shapes[entry[0]] for node in layer["inbound_nodes"] for entry in node]
        if kind == "InputLayer":
            shapes[name] = (height, width, 3)
            continue
        h, w, c = ins[0]
        if kind in ("Conv2D", "MaxPooling2D", "AveragePooling2D"):
            kh, kw = weights[f"{name}/kernel"].shape[:2] if kind == "Conv2D" else config["pool_size"]
            sy, sx = config.get("strides") or (kh, kw)
            if config.get("padding", "valid") == "same":
                h, w = -(-h // sy), -(-w // sx)
            else:
                h, w = (h - kh) // sy + 1, (w - kw) // sx + 1
            if kind == "Conv2D":
                c = weights[f"{name}/kernel"].shape[3]
                total += 2.0 * h * w * weights[f"{name}/kernel"].size
        elif kind == "Concatenate":
            c = sum(shape[2] for shape in ins)
        elif kind == "UpSampling2D":
            fy, fx = config.get("size", (2, 2))
            h, w = h * fy, w * fx
        elif re.fullmatch(r"PixelShuffle\d+x", kind):
            r = int(kind[len("PixelShuffle"):-1])
            h, w, c = h * r, w * r, c // (r * r)
        shapes[name] = (h, w, c)
    return total


# --- pictures --------------------------------------------------------------------------------------
def centre_crop(path: Path, side: int) -> np.ndarray:
    image = np.asarray(Image.open(path).convert("RGB"))
    height, width = image.shape[:2]
    if min(height, width) < side:
        raise ValueError(f"{path.name} is smaller than {side}x{side}")
    top, left = (height - side) // 2, (width - side) // 2
    return image[top:top + side, left:left + side]


def shrink(image: np.ndarray, factor: int) -> np.ndarray:
    """uint8 (H, W, 3) -> float32 0..1 at 1/factor with Pillow's BICUBIC (antialiased when shrinking)."""
    height, width = image.shape[:2]
    small = Image.fromarray(image).resize((width // factor, height // factor), Image.Resampling.BICUBIC)
    return np.asarray(small, np.float32) / 255.0


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(np.asarray(image) * 255.0), 0, 255).astype(np.uint8)


def luma(image: np.ndarray) -> np.ndarray:
    """BT.601 studio-range Y (16..235) of uint8 RGB, as super-resolution papers compute PSNR on."""
    rgb = image.astype(np.float64) / 255.0
    return 16.0 + rgb @ np.array([65.481, 128.553, 24.966])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10.0 * np.log10(255.0 ** 2 / mse))


def scores(result: np.ndarray, original: np.ndarray, border: int) -> tuple[float, float]:
    """(PSNR on Y, PSNR on RGB) of uint8 pictures, ``border`` pixels left out on every side."""
    crop = (slice(border, -border), slice(border, -border))
    return psnr(luma(result[crop]), luma(original[crop])), psnr(result[crop], original[crop])


# --- the measurements ------------------------------------------------------------------------------
def table(header: list[str], rows: list[list[str]]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(" --- " for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(flush=True)


def conversion_check(pk: Path, nets: dict, seed: int = 0) -> None:
    print("## Conversion: the converted network against an independent numpy reading of the package\n")
    rng = np.random.default_rng(seed)
    rows = []
    for name in ("esrgan-slim-x2", "esrgan-medium-x2", "esrgan-thick-x2"):
        entry = packages.PACKAGED[name]
        net = nets[name] if name in nets else upscalers.load_upscaler(name)
        size = name.split("-")[1]
        layers, weights = read_package(pk / PACKAGE_FOLDERS[size] / entry.files[0])
        image = rng.random((24, 24, 3))
        start = time.perf_counter()
        reference = forward(layers, weights, image * entry.input_range, [layers[-1]["name"]])
        reference = reference[layers[-1]["name"]] / entry.input_range
        numpy_s = time.perf_counter() - start
        converted = np.asarray(net.net(image[None].astype(np.float32)), np.float64)[0]
        difference = np.abs(converted - reference)
        rows.append([name, "RDN" if entry.input_range == 255 else "RRDN", "24x24 -> 48x48",
                     f"0..{entry.input_range:g}", f"{difference.max() * 255:.2e} /255",
                     f"{np.abs(reference).max() * 255:.0f} /255", f"{numpy_s:.1f} s"])
    entry = packages.PACKAGED["inceptionv3"]
    layers, weights = read_package(pk / PACKAGE_FOLDERS["nsfw"] / entry.files[0], entry.shard_suffix)
    image = rng.random((80, 80, 3))
    start = time.perf_counter()
    reference = forward(layers, weights, image, ["mixed0", "mixed1"])
    numpy_s = time.perf_counter() - start
    trunk = fetched.load_layers(entry, ["mixed0", "mixed1"])
    converted = [np.asarray(o, np.float64)[0] for o in trunk(image[None].astype(np.float32))]
    for out, layer in zip(converted, ("mixed0", "mixed1")):
        difference = np.abs(out - reference[layer])
        rows.append(["inceptionv3", f"trunk to {layer}", f"80x80 -> {out.shape[0]}x{out.shape[1]}x{out.shape[2]}",
                     "0..1", f"{difference.max():.2e} ({difference.max() / np.abs(reference[layer]).max():.1e} "
                     f"of the largest)", f"{np.abs(reference[layer]).max():.2f}", f"{numpy_s:.1f} s"])
    table(["network", "part", "input -> output", "input range", "max difference", "largest output", "numpy s"],
          rows)


def quality(nets: dict, photos, factors) -> None:
    print("## Quality: PSNR against the original (dB, mean over the photos; per photo after the table)\n")
    rows, details = [], []
    for factor in factors:
        side = ORIGINAL_SIDE[factor]
        originals = {photo: centre_crop(ASSETS / photo, side) for photo in photos}
        small = {photo: shrink(image, factor) for photo, image in originals.items()}
        border = 4 * factor
        plain = {photo: scores(to_uint8(lanczos_upscale(small[photo], factor)), originals[photo], border)
                 for photo in photos}
        plain_mean = np.mean(list(plain.values()), axis=0)
        for name, up in nets.items():
            if up.factor != factor:
                continue
            got = {photo: scores(to_uint8(upscale_tiled(small[photo], up.net, factor, overlap=up.overlap)),
                                 originals[photo], border) for photo in photos}
            mean = np.mean(list(got.values()), axis=0)
            rows.append([f"x{factor}", name.split("-")[1], f"{side}->{side // factor}->{side}",
                         f"{mean[0]:.2f}", f"{plain_mean[0]:.2f}", f"{mean[0] - plain_mean[0]:+.2f}",
                         f"{mean[1]:.2f}", f"{plain_mean[1]:.2f}", f"{mean[1] - plain_mean[1]:+.2f}"])
            details.append(f"- {name}: " + ", ".join(
                f"{photo.split('.')[0]} Y {got[photo][0]:.2f} vs Lanczos {plain[photo][0]:.2f}" for photo in photos))
    table(["factor", "variant", "pixels", "ESRGAN Y", "Lanczos Y", "gain Y", "ESRGAN RGB", "Lanczos RGB",
           "gain RGB"], rows)
    print("\n".join(details) + "\n", flush=True)


def speed(nets: dict, flops: dict, repeats: int, seed: int = 1) -> None:
    print(f"## Speed: upscale_tiled on a {SPEED_SIDE}x{SPEED_SIDE} input (one 256x256 window), this CPU\n")
    image = np.random.default_rng(seed).random((SPEED_SIDE, SPEED_SIDE, 3), dtype=np.float32)
    peaks = [peak_flops(4096, 3)]      # measured before and after: the cores are shared, the larger counts
    measured = {}
    for name, up in nets.items():
        seconds = best_of(lambda: upscale_tiled(image, up.net, up.factor, overlap=up.overlap), repeats)
        plain = best_of(lambda: lanczos_upscale(image, up.factor), 5)
        measured[name] = seconds, plain
    peaks.append(peak_flops(4096, 3))
    peak = max(peaks)
    print(f"float32 matmul peak (4096^3, TensorFlow): {peak / 1e9:.0f} GFLOP/s "
          f"(before {peaks[0] / 1e9:.0f}, after {peaks[1] / 1e9:.0f})\n")
    rows = []
    for name, (seconds, plain) in measured.items():
        factor = nets[name].factor
        megapixels = (SPEED_SIDE * factor) ** 2 / 1e6
        rate = flops[name] / seconds
        rows.append([name, f"x{factor}", f"{seconds:.2f}", f"{seconds / megapixels:.2f}", f"{plain / megapixels:.3f}",
                     f"{seconds / plain:.0f}x", f"{flops[name] / 1e9:.0f}", f"{rate / 1e9:.0f}",
                     f"{100 * rate / peak:.0f}%"])
    table(["network", "factor", "s per call", "s/MP out", "Lanczos s/MP out", "ESRGAN / Lanczos",
           "conv GFLOP per call", "GFLOP/s", "of float32 matmul peak"], rows)


def tiles_against_whole(nets: dict, seed: int = 2) -> None:
    side = TILE_TEST_SIDE
    print(f"## Tiles: upscale_tiled (tile 64) against one whole-picture run ({side}x{side} input, hubble.jpg)\n")
    photo = centre_crop(ASSETS / "hubble.jpg", side).astype(np.float32) / 255.0
    rows = []
    for name, up in nets.items():
        m, f = up.overlap, up.factor
        tiled = upscale_tiled(photo, up.net, f, tile=64, overlap=m)
        padded = np.pad(photo, ((m, m), (m, m), (0, 0)), mode="reflect")
        whole_padded = np.clip(np.asarray(up.net(padded[None]))[0, m * f:(m + side) * f, m * f:(m + side) * f], 0, 1)
        whole_plain = np.clip(np.asarray(up.net(photo[None]))[0], 0, 1)
        seam = np.abs(tiled - whole_padded).max() * 255
        edge = np.abs(tiled - whole_plain).max(axis=2) * 255
        # distance of each output pixel from the nearest picture edge, in input pixels
        along = np.minimum(np.arange(side * f), np.arange(side * f)[::-1]) // f
        distance = np.minimum(along[:, None], along[None, :])
        inner, band = edge[distance >= m], edge[distance < m]
        deep = distance[edge > 0.5]
        reach = int(deep.max()) + 1 if deep.size else 0
        rows.append([name, f"{seam:.3f}", "yes" if seam <= 2 else "NO", f"{inner.max():.3f}", f"{band.max():.1f}",
                     f"{reach} px"])
    table(["network", "max diff vs padded whole (/255)", "<= 2/255", "plain whole, interior (/255)",
           f"plain whole, outer {nets[next(iter(nets))].overlap} px (/255)", "edge effect > 0.5/255 reaches"],
          rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one photo; slim and thick only")
    parser.add_argument("--packages", type=Path, default=Path("/tmp/pk"),
                        help="folder holding the unpacked packages (esr, esr-medium, esr-thick, nsfw)")
    parser.add_argument("--only", default="conversion,quality,speed,tiles",
                        help="comma-separated: conversion, quality, speed, tiles")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per network (best of)")
    args = parser.parse_args()
    only = {s.strip() for s in args.only.split(",")}
    print(machine_line())
    print(f"converted networks from {fetched.models_folder()}; packages from {args.packages}\n", flush=True)
    sizes = ("slim", "thick") if args.quick else ("slim", "medium", "thick")
    photos = PHOTOS[:1] if args.quick else PHOTOS
    names = [f"esrgan-{size}-x{factor}" for factor in (2, 4) for size in sizes]
    nets = {name: upscalers.load_upscaler(name) for name in names}
    start = time.perf_counter()
    if "conversion" in only:
        conversion_check(args.packages, nets)
    if "quality" in only:
        quality(nets, photos, (2, 4))
    if "speed" in only:
        window = SPEED_SIDE + 2 * upscalers.OVERLAP
        flops = {}
        for name in names:
            entry = packages.PACKAGED[name]
            layers, weights = read_package(args.packages / PACKAGE_FOLDERS[name.split("-")[1]] / entry.files[0])
            flops[name] = network_flops(layers, weights, window, window)
        speed(nets, flops, args.repeats)
    if "tiles" in only:
        tiles_against_whole(nets)
    print(f"measured in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
