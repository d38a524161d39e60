"""StyleGAN2/3 pickles: the safe reader, the Keras networks against NVIDIA's own outputs (made by
tests/data/stylegan/make_refs.py with the official code), and walks through them."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from render.errors import ModelError
from render.models.stylegan_pickle import read_pickle
from render.models.stylegan_weights import convert, describe

DATA = Path(__file__).parent / "data" / "stylegan"
NETWORKS = ["stylegan2-32", "stylegan2-cond-resnet-16", "stylegan3-t-32", "stylegan3-r-32"]
SEEDS = (0, 1, 42)


def rel_error(ours, reference) -> float:
    """Largest difference relative to the reference's spread (StyleGAN3's random outputs are faint)."""
    reference = np.asarray(reference, np.float64)
    return float(np.abs(np.asarray(ours, np.float64) - reference).max() / (reference.max() - reference.min()))


@pytest.fixture(scope="module")
def generators():
    from render.models.stylegan import StyleGAN
    built = {}
    for name in NETWORKS:
        config, arrays = convert(DATA / f"{name}.pkl")
        built[name] = StyleGAN(config, arrays)
    return built


def reference(name):
    return np.load(DATA / f"{name}.npz")


def label_for(g, count=1):
    if not g.c_dim:
        return np.zeros((count, 0), np.float32)
    c = np.zeros((count, g.c_dim), np.float32)
    c[:, 1] = 1     # make_refs.py conditions on class 1
    return c


def ws_for(g, seed, psi=1.0, cutoff=None):
    from render.models.stylegan import truncate
    z = np.random.RandomState(seed).randn(1, g.z_dim).astype(np.float32)
    w = np.asarray(g.mapping(z, label_for(g)))
    return truncate(np.repeat(w[:, None], g.num_ws, axis=1), g.w_avg, psi, cutoff)


def nvidia_pixels(images) -> np.ndarray:
    """gen_images.py's pixels before the uint8 cast: ``x * 127.5 + 128`` clamped to 0..255."""
    return np.clip(np.asarray(images, np.float32) * 127.5 + 128.0, 0.0, 255.0)


def nchw(images):
    return np.asarray(images).transpose(0, 3, 1, 2)


# --- the networks against NVIDIA's outputs ------------------------------------------------------

@pytest.mark.parametrize("name", NETWORKS)
def test_outputs_match_nvidias_for_seeds_and_psi(generators, name):
    g, ref = generators[name], reference(name)
    for seed in SEEDS:
        for psi in (1.0, 0.7):
            ours = nchw(g.synthesis(ws_for(g, seed, psi)))
            assert rel_error(ours, ref[f"seed{seed}_psi{psi}"]) < 2e-5, (seed, psi)


@pytest.mark.parametrize("name", NETWORKS)
def test_truncation_toward_w_avg_with_cutoff_matches(generators, name):
    g, ref = generators[name], reference(name)
    for seed in SEEDS:
        ws = ws_for(g, seed, 0.5, 3)
        expected = ref[f"seed{seed}_ws_psi0.5_cut3"]
        assert np.abs(ws - expected).max() < 1e-5
        # the rows past the cutoff are the untruncated w, the first three moved toward w_avg
        assert np.abs(ws[0, 3:] - ws_for(g, seed)[0, 3:]).max() < 1e-6
        assert np.abs(ws[0, 0] - ws_for(g, seed)[0, 0]).max() > 1e-2


@pytest.mark.parametrize("name", NETWORKS)
def test_style_mix_noise_none_and_w_avg_picture_match(generators, name):
    g, ref = generators[name], reference(name)
    mixed = ws_for(g, 0, 0.7)
    mixed[:, 4:] = ws_for(g, 1, 0.7)[:, 4:]
    assert rel_error(nchw(g.synthesis(mixed)), ref["mix_0_1_from4"]) < 2e-5
    assert rel_error(nchw(g.synthesis(ws_for(g, 0, 0.7), "none")), ref["noise_none_seed0"]) < 2e-5
    w_avg = np.repeat(ref["w_avg"][None, None], g.num_ws, axis=1)
    assert rel_error(nchw(g.synthesis(w_avg)), ref["w_avg_image"]) < 2e-5
    if name.startswith("stylegan2"):   # noise matters: "none" differs from "const"
        assert rel_error(ref["noise_none_seed0"], ref["seed0_psi0.7"]) > 1e-3


@pytest.mark.parametrize("name", ["stylegan3-t-32", "stylegan3-r-32"])
def test_stylegan3_camera_matches_gen_images_translate_and_rotate(generators, name):
    from render.engines.stylegan_rows import camera_transforms
    g, ref = generators[name], reference(name)
    transform = camera_transforms([[0.2, -0.1, 30.0]])
    ours = nchw(g.synthesis(ws_for(g, 42, 0.7), transform=transform))
    expected = ref["seed42_psi0.7_translate0.2,-0.1_rotate30"]
    assert rel_error(ours, expected) < 2e-5
    assert rel_error(expected, ref["seed42_psi0.7"]) > 0.05     # the camera moved the picture


def test_pixels_are_gen_images_bytes(generators):
    """x * 127.5 + 128, clamped, truncated: our network's output made into pixels is gen_images.py's
    uint8 picture (a still's test checks the engine's own pixels)."""
    for name in NETWORKS:
        g, ref = generators[name], reference(name)
        ours = np.floor(nvidia_pixels(g.synthesis(ws_for(g, 42, 0.7)))).astype(np.uint8)
        expected = ref["seed42_psi0.7_uint8"]
        differ = ours.astype(int) - expected
        assert np.abs(differ).max() <= 1 and (differ != 0).mean() < 0.01, name


def test_upfirdn2d_and_filtered_lrelu_match_nvidias_reference_with_asymmetric_filters():
    from render.models.upfirdn import filtered_lrelu, upfirdn2d
    ops = np.load(DATA / "ops.npz")
    cases = json.loads((DATA / "ops_cases.json").read_text())
    x = ops["x"].transpose(0, 2, 3, 1)
    for index, case in enumerate(cases):
        ours = np.asarray(upfirdn2d(x, ops[case["f"]], case["up"], case["down"], case["pad"], case["gain"],
                                    case["flip"]))
        expected = ops[f"up{index}"].transpose(0, 2, 3, 1)
        assert ours.shape == expected.shape, case
        assert np.abs(ours - expected).max() < 1e-5, case
    ours = np.asarray(filtered_lrelu(x, ops["f1"], ops["f2"], ops["b"], 2, 2, [3, 2, 1, 4], 1.3, 0.2, 0.8))
    assert np.abs(ours - ops["flrelu"].transpose(0, 2, 3, 1)).max() < 1e-5


JAX_CHECK = """
import json, sys, numpy as np
from pathlib import Path
from render.models.stylegan import StyleGAN, truncate
from render.models.stylegan_weights import convert
from render.engines.stylegan_rows import camera_transforms
data = Path(sys.argv[1])
errors = {}
for name in sys.argv[2:]:
    config, arrays = convert(data / f"{name}.pkl")
    g = StyleGAN(config, arrays)
    ref = np.load(data / f"{name}.npz")
    c = np.zeros((1, g.c_dim), np.float32)
    if g.c_dim:
        c[:, 1] = 1
    z = np.random.RandomState(42).randn(1, g.z_dim).astype(np.float32)
    w = np.asarray(g.mapping(z, c))
    ws = truncate(np.repeat(w[:, None], g.num_ws, 1), g.w_avg, 0.7, None)
    key, tr = "seed42_psi0.7", None
    if config["generation"] == 3:
        key, tr = "seed42_psi0.7_translate0.2,-0.1_rotate30", camera_transforms([[0.2, -0.1, 30.0]])
    out = np.asarray(g.synthesis(ws, transform=tr)).transpose(0, 3, 1, 2)
    errors[name] = float(np.abs(out - ref[key]).max() / np.ptp(ref[key]))
import keras
print(json.dumps({"backend": keras.backend.backend(), "errors": errors}))
"""


def test_networks_match_on_jax_too():
    pytest.importorskip("jax")
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    done = subprocess.run([sys.executable, "-c", JAX_CHECK, str(DATA), *NETWORKS], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["backend"] == "jax"
    assert set(result["errors"]) == set(NETWORKS)
    assert all(error < 2e-5 for error in result["errors"].values()), result


# --- the pickle reader ---------------------------------------------------------------------------

def test_reads_a_training_snapshot_without_torch_and_describes_it():
    data = read_pickle(DATA / "stylegan2-32.pkl")
    assert set(data) == {"G", "D", "G_ema", "augment_pipe", "training_set_kwargs"}
    assert data["D"].class_name == "Discriminator" and data["augment_pipe"].class_name == "AugmentPipe"
    assert "torch" not in sys.modules or "render" in sys.modules   # (torch is not a dependency)
    config, arrays = convert(DATA / "stylegan2-32.pkl")
    assert (config["config"], config["z_dim"], config["w_dim"], config["num_ws"], config["c_dim"],
            config["img_resolution"]) == ("stylegan2", 32, 32, 8, 0, 32)
    assert config["parameters"] == sum(a.size for a in arrays.values())
    text = "\n".join(describe(config))
    assert "stylegan2" in text and "32x32" in text and "num_ws 8" in text and "3 mapping layers" in text
    for name, expected in (("stylegan2-cond-resnet-16", "conditional (3 classes)"),
                           ("stylegan3-t-32", "stylegan3-t"), ("stylegan3-r-32", "stylegan3-r")):
        assert expected in "\n".join(describe(convert(DATA / f"{name}.pkl")[0]))


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_would_run_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"G_ema": _Evil(marker)}))
    with pytest.raises(ModelError) as caught:
        read_pickle(evil)
    assert "system" in str(caught.value) and "refused" in str(caught.value) and str(evil) in str(caught.value)
    assert not marker.exists()
    # hidden inside a real network's state: refused the same way
    def global_name(module: bytes, name: bytes) -> bytes:   # how protocol 4 spells a global's two strings
        return b"\x8c" + bytes([len(module)]) + module + b"\x94\x8c" + bytes([len(name)]) + name

    raw = (DATA / "stylegan3-t-32.pkl").read_bytes()
    assert raw.count(global_name(b"collections", b"OrderedDict")) == 1
    hidden = tmp_path / "hidden.pkl"
    hidden.write_bytes(raw.replace(global_name(b"collections", b"OrderedDict"), global_name(b"subprocess", b"call")))
    with pytest.raises(ModelError, match="subprocess.call.*refused"):
        read_pickle(hidden)
    assert not marker.exists()


def test_tensorflow_era_and_object_array_pickles_are_refused_by_name(tmp_path):
    old = tmp_path / "old.pkl"   # protocol 2: GLOBAL dnnlib.tflib.network.Network, NEWOBJ, BUILD {}
    old.write_bytes(b"\x80\x02cdnnlib.tflib.network\nNetwork\n)\x81}b.")
    with pytest.raises(ModelError, match="TensorFlow-era"):
        read_pickle(old)
    objects = tmp_path / "objects.pkl"
    objects.write_bytes(pickle.dumps({"G": np.array([print], dtype=object)}))
    with pytest.raises(ModelError, match="refused"):
        read_pickle(objects)
    broken = tmp_path / "broken.pkl"
    broken.write_bytes((DATA / "stylegan3-t-32.pkl").read_bytes()[:5000])
    with pytest.raises(ModelError, match="not a readable StyleGAN"):
        read_pickle(broken)


def test_conversion_is_cached_by_the_files_digest(tmp_path, monkeypatch):
    from render.models import stylegan_cache
    monkeypatch.setenv("NEURAL_RENDER_CACHE", str(tmp_path / "cache"))
    copy = tmp_path / "net.pkl"
    copy.write_bytes((DATA / "stylegan2-cond-resnet-16.pkl").read_bytes())
    calls = []
    real = stylegan_cache.convert
    monkeypatch.setattr(stylegan_cache, "convert", lambda path: calls.append(path) or real(path))
    first = stylegan_cache.load_arrays(copy)
    stylegan_cache.load_config(copy)
    assert len(calls) == 1
    folder = stylegan_cache.converted_folder(stylegan_cache.digest_of(copy))
    assert folder.name == __import__("hashlib").sha256(copy.read_bytes()).hexdigest()
    # another file (another digest) converts again; the first stays
    other = tmp_path / "other.pkl"
    other.write_bytes((DATA / "stylegan3-t-32.pkl").read_bytes())
    assert stylegan_cache.load_config(other)["generation"] == 3 and len(calls) == 2
    again = stylegan_cache.load_arrays(copy)
    assert len(calls) == 2 and all(np.array_equal(first[k], again[k]) for k in first)


# --- walks ---------------------------------------------------------------------------------------

def walk_recipe(folder: Path, network: str, walk: str, frames: int = 4, size: int = 32) -> Path:
    (folder / f"{network}.pkl").write_bytes((DATA / f"{network}.pkl").read_bytes())
    path = folder / "walk.toml"
    path.write_text(f'kind = "walk"\n[model]\nname = "{network}.pkl"\n[output]\nsize = [{size}, {size}]\n'
                    f'frames = {frames}\n[walk]\n{walk}\n')
    return path


def frames_of(path: Path, monkeypatch, tmp_path):
    from render.recipe.loader import load_recipe
    from render.plan import make_plan
    monkeypatch.setenv("NEURAL_RENDER_CACHE", str(tmp_path / "cache"))
    recipe = load_recipe(path)
    plan = make_plan(recipe)
    engine = recipe.kind.build_engine(recipe)
    from render.contracts import FrameJob
    jobs = [FrameJob(i, plan.row(i)) for i in range(recipe.output.frames)]
    return recipe, engine, np.stack(engine.render_batch(jobs))


def test_a_still_of_seed_42_is_gen_images_picture(tmp_path, monkeypatch):
    path = walk_recipe(tmp_path, "stylegan2-32", "keys = [42]\ntruncation = 0.7", frames=1)
    _, _, frames = frames_of(path, monkeypatch, tmp_path)
    differ = frames[0].astype(int) - reference("stylegan2-32")["seed42_psi0.7_uint8"][0]
    assert np.abs(differ).max() <= 1 and (differ != 0).mean() < 0.01


def test_a_walk_at_psi_0_is_w_avgs_picture_on_every_frame(tmp_path, monkeypatch):
    path = walk_recipe(tmp_path, "stylegan3-t-32", "keys = [0, 1, 42]\nframes_per_key = 2\ntruncation = 0\n"
                                                     "space = \"w\"\npath = \"lerp\"", frames=5)
    _, _, frames = frames_of(path, monkeypatch, tmp_path)
    expected = np.floor(nvidia_pixels(reference("stylegan3-t-32")["w_avg_image"].transpose(0, 2, 3, 1)))[0]
    for frame in frames:
        assert np.abs(frame.astype(float) - expected).max() <= 1


def test_w_walk_passes_through_the_keys_and_mixes_layers(tmp_path, monkeypatch):
    """Frame 0 and 4 are seeds 0 and 1 exactly; frame 2 is the average of their w (checked against a
    numpy lerp of the mapped keys); a mix from layer 4 takes seed 1's styles there (NVIDIA's mix)."""
    path = walk_recipe(tmp_path, "stylegan2-32", 'keys = [0, 1]\nframes_per_key = 4\nspace = "w"\npath = "lerp"\n'
                                                 'truncation = 0.7\nmix = { from = 4, seeds = [1, 0] }', frames=5)
    recipe, engine, frames = frames_of(path, monkeypatch, tmp_path)
    ref = reference("stylegan2-32")
    mixed = np.floor(nvidia_pixels(ref["mix_0_1_from4"])).transpose(0, 2, 3, 1)[0]
    assert np.abs(frames[0].astype(float) - mixed).max() <= 1
    g = engine.generator
    w0, w1 = ws_for(g, 0)[0, 0], ws_for(g, 1)[0, 0]
    rows = [{"walk.latent": np.array([0.5, 0.5]), "walk.mix": np.array([0.5, 0.5]), "walk.truncation": 1.0}]
    middle = engine.all_ws(rows)
    assert np.abs(middle[0, 0] - (w0 + w1) / 2).max() < 1e-5
    # a mix from num_ws equals no mix; from 0 is the other walk entirely
    from dataclasses import replace
    row = {"walk.latent": np.array([1.0, 0.0]), "walk.mix": np.array([1.0, 0.0]), "walk.truncation": 1.0}
    for start, same_as in ((g.num_ws, [1.0, 0.0]), (0, [0.0, 1.0])):   # seed 0; the mix's seed 1
        engine.settings = replace(recipe.settings, mix=(start, recipe.settings.mix[1]))
        plain = {"walk.latent": np.array(same_as), "walk.truncation": 1.0}
        ws = engine.all_ws([row])
        engine.settings = replace(recipe.settings, mix=None)
        assert np.array_equal(ws, engine.all_ws([plain])), start


def test_stylegan3_camera_follows_the_keyframes(tmp_path, monkeypatch):
    path = walk_recipe(tmp_path, "stylegan3-r-32", 'keys = [42, 42]\nframes_per_key = 2\ntruncation = 0.7\n'
                                                   'translate = [{ 0 = 0, 2 = 0.2 }, { 0 = 0, 2 = -0.1 }]\n'
                                                   'rotate = { 0 = 0, 2 = 30 }', frames=3)
    _, _, frames = frames_of(path, monkeypatch, tmp_path)
    ref = reference("stylegan3-r-32")
    for index, key in ((0, "seed42_psi0.7"), (2, "seed42_psi0.7_translate0.2,-0.1_rotate30")):
        expected = np.floor(nvidia_pixels(ref[key])).transpose(0, 2, 3, 1)[0]
        assert np.abs(frames[index].astype(float) - expected).max() <= 1, index


def test_random_noise_differs_per_frame_and_repeats_per_index(tmp_path, monkeypatch):
    path = walk_recipe(tmp_path, "stylegan2-32", 'keys = [42, 42]\nframes_per_key = 2\nnoise = "random"', frames=3)
    _, engine, frames = frames_of(path, monkeypatch, tmp_path)
    assert np.abs(frames[0].astype(int) - frames[1]).mean() > 0.5    # same latent, new noise
    from render.contracts import FrameJob
    again = engine.render_batch([FrameJob(1, {"walk.latent": np.random.RandomState(42).randn(32),
                                              "walk.truncation": 1.0})])[0]
    assert np.array_equal(again, frames[1])


@pytest.mark.parametrize("network, walk, key, words", [
    ("stylegan2-32", "keys = [1, 2]\ntranslate = [0.1, 0]", "walk.translate", "StyleGAN3"),
    ("stylegan2-cond-resnet-16", "keys = [1, 2]", "walk.label", "conditional"),
    ("stylegan2-32", "keys = [1, 2]\nlabel = 1", "walk.label", "unconditional"),
    ("stylegan3-t-32", "keys = [1, 2]\nspace = \"w\"", "walk.path", "lerp"),
    ("stylegan3-t-32", "keys = [1, 2]\nnoise = \"random\"", "walk.noise", "no noise"),
    ("stylegan3-t-32", "keys = [1, 2]\ntruncation_cutoff = 99", "walk.truncation_cutoff", "num_ws"),
    ("stylegan3-t-32", "keys = [1, 2]\nmix = { from = 20, seeds = [3, 4] }", "walk.mix.from", "num_ws"),
])
def test_stylegan_settings_are_checked_with_one_line(tmp_path, network, walk, key, words):
    path = walk_recipe(tmp_path, network, walk)
    env = dict(os.environ, NEURAL_RENDER_CACHE=str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, "-m", "render.cli", "validate", str(path)], capture_output=True,
                          text=True, env=env)
    assert done.returncode != 0
    message = done.stderr.strip()
    assert "Traceback" not in done.stderr and key in message and words in message, message


def test_stylegan_keys_on_the_dcgan_are_refused(tmp_path):
    path = tmp_path / "walk.toml"
    path.write_text('kind = "walk"\n[output]\nsize = [32, 32]\nframes = 3\n[walk]\nkeys = [1, 2]\nspace = "w"\n')
    done = subprocess.run([sys.executable, "-m", "render.cli", "validate", str(path)], capture_output=True, text=True)
    assert done.returncode != 0 and "walk.space" in done.stderr and "StyleGAN" in done.stderr


def test_render_models_describes_a_pickle(tmp_path):
    env = dict(os.environ, NEURAL_RENDER_CACHE=str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, "-m", "render.cli", "models", "describe", str(DATA / "stylegan3-r-32.pkl")],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "stylegan3-r" in done.stdout and "32x32" in done.stdout and "num_ws 8" in done.stdout
    assert "without running" in done.stdout


def test_batches_shrink_to_keep_a_batch_within_the_memory_plan(tmp_path, monkeypatch):
    from render.kinds import walk
    from render.plan import format_plan, make_plan
    from render.recipe.loader import load_recipe
    monkeypatch.setenv("NEURAL_RENDER_CACHE", str(tmp_path / "cache"))
    path = walk_recipe(tmp_path, "stylegan3-t-32", "keys = [1, 2]\nbatch = 16", frames=6)
    recipe = load_recipe(path)
    per_frame = walk.stylegan_frame_bytes(recipe.settings.stylegan, 1, recipe.output.size)
    assert recipe.kind.batch_size(recipe) == 16
    monkeypatch.setattr(walk, "STYLEGAN_BATCH_MEMORY", 2.5 * per_frame)
    assert recipe.kind.batch_size(recipe) == 2
    text = format_plan(make_plan(recipe))
    assert "batch 2" in text
    estimate = recipe.kind.memory_estimate(recipe)
    assert estimate >= 2 * per_frame + walk.weight_bytes(recipe.settings.stylegan)
    monkeypatch.setattr(walk, "STYLEGAN_BATCH_MEMORY", 0.1 * per_frame)
    assert recipe.kind.batch_size(recipe) == 1     # never below one frame


def test_a_print_of_a_stylegan_frame_is_its_picture_enlarged(tmp_path, monkeypatch):
    """A 2x2 grid printed at 4x: each quarter is its cell's picture enlarged (checked against Pillow's
    Lanczos of gen_images' picture of the seed)."""
    from render.contracts import PrintRequest
    from render.plan import make_plan
    from render.prints.walk import WalkPrinter
    from render.recipe.loader import load_recipe
    monkeypatch.setenv("NEURAL_RENDER_CACHE", str(tmp_path / "cache"))
    path = walk_recipe(tmp_path, "stylegan2-32", "keys = [42, 7]\ngrid = [2, 2]\ntruncation = 0.7", frames=2, size=64)
    recipe = load_recipe(path)
    plan = make_plan(recipe)
    printer = WalkPrinter(recipe)
    request = PrintRequest(recipe, 0, plan.row(0), 256, 256, ())
    picture = printer.finish(request, printer.run_stage(request, None, printer.begin(request), 512,
                                                        lambda *a: None))
    assert picture.shape == (256, 256, 3)
    from PIL import Image
    seed42 = Image.fromarray(reference("stylegan2-32")["seed42_psi0.7_uint8"][0])
    enlarged = np.asarray(seed42.resize((128, 128), Image.LANCZOS), np.float64) / 255
    assert np.abs(picture[:128, :128] - enlarged).mean() < 0.01
    assert np.abs(picture[:128, 128:] - enlarged).mean() > 0.05      # the next cell is another face


# --- damaged and hostile files -------------------------------------------------------------------

def test_a_damaged_network_is_refused_naming_the_layer(tmp_path):
    """One byte changed (layer 0's up_factor 2 -> 255) would ask for 17 GB at render time: refused at
    conversion with one line; so are a shape that does not chain and weights that are not finite."""
    from render.models.stylegan_weights import check
    raw = bytearray((DATA / "stylegan3-t-32.pkl").read_bytes())
    key = b"\x8c\tup_factor\x94K"          # the key's string, then BININT1 and its byte
    at = raw.find(key) + len(key)
    assert raw.count(key) == 1 and raw[at] == 2
    raw[at] = 255
    damaged = tmp_path / "damaged.pkl"
    damaged.write_bytes(bytes(raw))
    with pytest.raises(ModelError, match="layer 0's upsampling is 255"):
        convert(damaged)
    config, arrays = convert(DATA / "stylegan2-32.pkl")
    check(config, arrays, Path("net.pkl"))
    narrow = dict(arrays, **{"synthesis/b8/conv1/kernel": arrays["synthesis/b8/conv1/kernel"][:, :, :5]})
    with pytest.raises(ModelError, match="b8's conv1 takes 5 channels, but 32 arrive"):
        check(config, narrow, Path("net.pkl"))
    broken = dict(arrays, **{"mapping/w_avg": np.full_like(arrays["mapping/w_avg"], np.nan)})
    with pytest.raises(ModelError, match="w_avg holds NaN"):
        check(config, broken, Path("net.pkl"))


def _tensor_pickle(shape, strides) -> bytes:
    """{"G_ema": a tensor of ``shape``/``strides`` over a 4-value float storage}, written by hand as
    NVIDIA's pickles hold tensors: _rebuild_tensor_v2(_load_from_bytes(legacy torch.save stream), ...)."""
    import io
    import struct
    import sys
    import types

    storage_type = type("FloatStorage", (), {"__module__": "torch", "__qualname__": "FloatStorage"})
    saved = sys.modules.get("torch")
    fake = types.ModuleType("torch")
    fake.FloatStorage = storage_type
    sys.modules["torch"] = fake
    try:
        class Reference:
            pass

        class Writer(pickle.Pickler):
            def persistent_id(self, obj):
                return ("storage", storage_type, "0", "cpu", 4) if isinstance(obj, Reference) else None

        stream = io.BytesIO()
        for value in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}):
            pickle.dump(value, stream, protocol=2)
        Writer(stream, protocol=2).dump(Reference())
        pickle.dump(["0"], stream, protocol=2)
        stream.write(struct.pack("<q4f", 4, 1, 2, 3, 4))
    finally:
        if saved is None:
            del sys.modules["torch"]
        else:
            sys.modules["torch"] = saved
    blob = stream.getvalue()

    def name(module, attr):
        return (b"\x8c" + bytes([len(module)]) + module.encode() + b"\x8c" + bytes([len(attr)]) + attr.encode()
                + b"\x93")

    def ints(values):
        return b"(" + b"".join(b"J" + struct.pack("<i", v) for v in values) + b"t"

    return (b"\x80\x04}\x8c\x05G_ema" + name("torch._utils", "_rebuild_tensor_v2") + b"("
            + name("torch.storage", "_load_from_bytes") + b"B" + struct.pack("<I", len(blob)) + blob + b"\x85R"
            + b"J" + struct.pack("<i", 0) + ints(shape) + ints(strides) + b"\x89}tRs.")


def test_shared_references_and_oversized_tensors_cannot_exhaust_memory(tmp_path):
    import time
    from render.models.stylegan_pickle import generator_of
    level = []
    for _ in range(40):                  # 2**40 leaves if every reference were rebuilt
        level = [level, level]
    laughs = tmp_path / "laughs.pkl"
    laughs.write_bytes(pickle.dumps({"G_ema": level}))
    start = time.perf_counter()
    with pytest.raises(ModelError, match="G_ema is a list, not a network"):
        generator_of(read_pickle(laughs), laughs)
    assert time.perf_counter() - start < 5
    # the hand-made tensor reads back; with zero strides over 40000x40000 it is refused before any array
    small = tmp_path / "small.pkl"
    small.write_bytes(_tensor_pickle((2, 2), (2, 1)))
    assert np.array_equal(read_pickle(small)["G_ema"], [[1, 2], [3, 4]])
    huge = tmp_path / "huge.pkl"
    huge.write_bytes(_tensor_pickle((40000, 40000), (0, 0)))
    with pytest.raises(ModelError, match=r"shape \(40000, 40000\) over a storage of 4 values"):
        read_pickle(huge)


def test_a_damaged_conversion_is_converted_again_and_an_unwritable_cache_is_one_line(tmp_path, monkeypatch):
    from render.models import stylegan_cache
    monkeypatch.setenv("NEURAL_RENDER_CACHE", str(tmp_path / "cache"))
    network = DATA / "stylegan2-cond-resnet-16.pkl"
    good = stylegan_cache.load_arrays(network)
    folder = stylegan_cache.converted_folder(stylegan_cache.digest_of(network))
    for damage in (b"", b"PK\x03\x04 not really a zip"):
        (folder / "arrays.npz").write_bytes(damage)
        again = stylegan_cache.load_arrays(network)
        assert set(again) == set(good) and all(np.array_equal(good[k], again[k]) for k in good)
    (folder / "config.json").write_text('{"format": 0}')
    assert stylegan_cache.load_config(network)["format"] == 1
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setenv("NEURAL_RENDER_CACHE", str(blocked))
    with pytest.raises(ModelError, match="cannot write the converted network into the cache"):
        stylegan_cache.load_config(network)


def test_frames_are_keyed_by_the_pickles_bytes_not_its_name(tmp_path, monkeypatch):
    from render.framekeys import frame_keys
    from render.plan import make_plan
    from render.recipe.loader import load_recipe
    monkeypatch.setenv("NEURAL_RENDER_CACHE", str(tmp_path / "cache"))
    path = walk_recipe(tmp_path, "stylegan2-32", "keys = [1, 2]")
    keys = frame_keys(make_plan(load_recipe(path)))
    (tmp_path / "renamed.pkl").write_bytes((DATA / "stylegan2-32.pkl").read_bytes())
    path.write_text(path.read_text().replace("stylegan2-32.pkl", "renamed.pkl"))
    assert frame_keys(make_plan(load_recipe(path))) == keys
    other = tmp_path / "other.pkl"
    other.write_bytes((DATA / "stylegan3-t-32.pkl").read_bytes())
    path.write_text(path.read_text().replace("renamed.pkl", "other.pkl"))
    assert frame_keys(make_plan(load_recipe(path))) != keys


def test_a_run_records_the_pickles_sha256(tmp_path, monkeypatch):
    import hashlib
    from render.recipe.loader import load_recipe
    from render.runner import render
    monkeypatch.setenv("NEURAL_RENDER_CACHE", str(tmp_path / "cache"))
    path = walk_recipe(tmp_path, "stylegan2-cond-resnet-16", "keys = [1, 2]\nlabel = 2", frames=2, size=16)
    render(load_recipe(path), tmp_path / "run")
    model = json.loads((tmp_path / "run" / "run.json").read_text())["model"]
    expected = hashlib.sha256((DATA / "stylegan2-cond-resnet-16.pkl").read_bytes()).hexdigest()
    assert model == {"name": "stylegan2-cond-resnet-16.pkl", "role": "generator", "sha256": expected}
