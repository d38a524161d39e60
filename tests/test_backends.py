"""One engine code, two backends: every kind renders on TensorFlow and on JAX, their pictures agree
where the computation is short (walk, translate), a dream step raises and a style step lowers the
objective on both (so does a feature visualization's), a JAX render never imports TensorFlow, compiles
stay bounded, and the backend is part of every frame key."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from render.backend import BackendError, activate, resolve_backend
from render.backend.devices import Device, backend_devices, choose_precision
from render.framekeys import frame_keys
from render.plan import make_plan
from render.recipe import load_recipe
from tests.helpers import CHELSEA, REPO, frame_pixels, kill_and_resume, pixels

pytest.importorskip("jax")
ASSETS = REPO / "recipes" / "assets"

RECIPES = {
    "dream": """\
        kind = "dream"
        seed = 3
        [output]
        size = [80, 48]
        frames = 5
        video = "none"
        [model]
        precision = "float32"
        [dream]
        init = "chelsea.png"
        layers = { block3_conv3 = 1.0, "block4_conv1:7" = 0.5 }
        octaves = 2
        octave_scale = 1.5
        steps = 2
        tile = 40
        [motion]
        zoom = 1.04
        rotate = 1.0
        """,
    "style": """\
        kind = "style"
        seed = 5
        [output]
        size = [64, 48]
        frames = 3
        video = "none"
        [model]
        precision = "float32"
        [style]
        content = "chelsea.png"
        images = { hubble = "hubble.jpg" }
        style_layers = { block1_conv1 = 1.0, block2_conv1 = 1.0, block3_conv1 = 1.0 }
        content_layers = { block3_conv2 = 1.0 }
        steps = 12
        steps_per_frame = 4
        scales = [1.0]
        learning_rate = 0.03
        """,
    "walk": """\
        kind = "walk"
        [output]
        size = [96, 64]
        frames = 7
        video = "none"
        [model]
        precision = "float32"
        [walk]
        keys = [4, 17, 42]
        batch = 3
        grid = [2, 1]
        """,
    "translate": """\
        kind = "translate"
        [output]
        size = [64, 64]
        video = "none"
        [model]
        precision = "float32"
        [translate]
        input = "chelsea.png"
        edges = true
        """,
    "visualize": """\
        kind = "visualize"
        seed = 4
        [output]
        size = [48, 48]
        frames = 3
        video = "none"
        [model]
        precision = "float32"
        [visualize]
        objective = { "block3_conv1:5" = { 0 = 1.0, 2 = 0.0 }, "block3_conv1:9" = { 0 = 0.0, 2 = 1.0 } }
        steps = 1
        refine = 1
        batch = 2
        """,
}

# Renders the recipes given on the command line on the backend their [model] names, then checks a
# dream step and a style step on that backend; prints one JSON line.
SCRIPT = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import numpy as np
    from render.recipe import load_recipe
    from render.runner import render
    from render.backend import keras_backend_in_use
    from render.backend.api import STATS
    from tests.test_backends import objective_checks
    folder = Path(sys.argv[1])
    for name in sys.argv[2:]:
        render(load_recipe(folder / f"{name}.toml"), folder / name, encode=False)
    checks = objective_checks(folder)
    print(json.dumps({"backend": keras_backend_in_use(), "tensorflow": "tensorflow" in sys.modules,
                      "graphs": STATS.by_name, **checks}))
""")


def objective_checks(folder: Path) -> dict:
    """(before, after) of a dream step's objective and of a style step's loss on the active backend,
    from the tiny recipes in ``folder``."""
    from render.engines.dream import DreamEngine
    from render.engines.style import StyleEngine
    from render.engines.tiling import roll_offsets
    from render.engines.visualize import VisualizeEngine
    from render.media import load_image
    dream = DreamEngine.from_recipe(load_recipe(folder / "dream.toml"))
    image = load_image(CHELSEA, 64, 48)
    weights = np.ones(len(dream.stepper.terms), np.float32)
    before = dream.stepper.value(image, weights)
    shifts = roll_offsets(np.random.default_rng(0), 3, 48, 64, 512)
    after = dream.stepper.value(np.asarray(dream.stepper.run(image, shifts, 512, weights, 0.02)), weights)
    recipe = load_recipe(folder / "style.toml")
    style = StyleEngine.from_recipe(recipe)
    row = make_plan(recipe).row(0)
    content = load_image(CHELSEA, 64, 48)
    _, losses = style.optimize(content, content, row, 6)
    visualize = VisualizeEngine.from_recipe(load_recipe(folder / "visualize.toml"))
    vis, settings = visualize.visualizer, visualize.settings
    start, _ = vis.render([(1, 0)], [[1.0, 0.0]], (48, 48), dataclasses.replace(settings, steps=0))
    optimised, _ = vis.render([(1, 0)], [[1.0, 0.0]], (48, 48), dataclasses.replace(settings, steps=8))
    return {"dream": [before, after], "style": [float(losses[0, 0]), float(losses[-1, 0])],
            "visualize": [float(vis.value(start, [[1.0, 0.0]])[0]), float(vis.value(optimised, [[1.0, 0.0]])[0])]}


def write_recipes(folder: Path, backend: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(CHELSEA, folder / "chelsea.png")
    shutil.copyfile(ASSETS / "hubble.jpg", folder / "hubble.jpg")
    for name, text in RECIPES.items():
        text = textwrap.dedent(text).replace('[model]\n', f'[model]\nbackend = "{backend}"\n')
        (folder / f"{name}.toml").write_text(text)


def run_backend(folder: Path, backend: str, names=tuple(RECIPES)) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(folder), *names], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """Every tiny recipe rendered on each backend, each backend in its own process."""
    results = {}
    for backend in ("tensorflow", "jax"):
        folder = tmp_path_factory.mktemp(backend)
        write_recipes(folder, backend)
        results[backend] = (folder, run_backend(folder, backend))
    return results


def frames_of(folder: Path, name: str) -> list[np.ndarray]:
    return [pixels(p).astype(np.float64) for p in sorted((folder / name / "frames").glob("frame_*.png"))]


def test_each_backend_renders_every_kind_in_its_own_process(both):
    for backend, (folder, report) in both.items():
        assert report["backend"] == backend
        for name in RECIPES:
            count = {"dream": 5, "style": 3, "walk": 7, "translate": 1, "visualize": 3}[name]
            assert len(frames_of(folder, name)) == count, (backend, name)
            run = json.loads((folder / name / "run.json").read_text())
            assert run["backend"] == backend and run["provenance"]["backend"] == backend


def test_a_jax_render_imports_no_tensorflow(both):
    assert both["jax"][1]["tensorflow"] is False
    assert both["tensorflow"][1]["tensorflow"] is True   # the check itself can see TensorFlow


@pytest.mark.parametrize("name", ["walk", "translate"])
def test_walk_and_translate_agree_across_backends(both, name):
    tf_frames, jax_frames = frames_of(both["tensorflow"][0], name), frames_of(both["jax"][0], name)
    assert len(tf_frames) == len(jax_frames)
    for a, b in zip(tf_frames, jax_frames):
        assert np.abs(a - b).mean() < 2.0
    if name == "walk":   # and they are a walk: every frame its own face, in order
        for i in range(1, len(tf_frames)):
            assert np.abs(jax_frames[i] - jax_frames[i - 1]).mean() > 0.5
            assert np.abs(jax_frames[i] - tf_frames[i]).mean() < np.abs(jax_frames[i] - tf_frames[i - 1]).mean()


def test_dream_and_style_pictures_are_close_at_their_first_frame(both):
    # chained frames drift apart (float rounding grows through feedback), the first frame may not
    # a feature visualization's Adam normalises each parameter's step, so where a gradient is near zero
    # float rounding flips its sign (4 % of the parameters after one step; the pictures drift apart by
    # about 0.25 grey levels a step, measured): the recipe takes one anchor step and one refine step
    for name, limit in (("dream", 6.0), ("style", 6.0), ("visualize", 3.0)):
        a = frames_of(both["tensorflow"][0], name)[0]
        b = frames_of(both["jax"][0], name)[0]
        assert np.abs(a - b).mean() < limit, name


def test_a_dream_step_raises_and_a_style_step_lowers_the_objective_on_both(both):
    for backend, (_, report) in both.items():
        before, after = report["dream"]
        assert after > before * 1.05, backend
        first, last = report["style"]
        assert last < first * 0.9, backend
        start, optimised = report["visualize"]
        assert optimised > start + 1.0, backend
    # the two backends compute the same objective
    assert report["dream"][0] == pytest.approx(both["tensorflow"][1]["dream"][0], rel=1e-3)


def test_a_video_compiles_one_dream_graph_per_octave(both):
    # 5 frames of 80x48 with tile 64 (a minimum of twice VGG's 32 px): the small octave (32x64) fits
    # one tile, the full one runs as two 48x40 tiles; every frame reuses those two graphs
    graphs = both["jax"][1]["graphs"]
    assert graphs["dream tile gradient"][0] == 1
    assert graphs["dream step"][0] == 1 + 1   # the small octave + the objective check's 64x48 image
    assert graphs["walk frames"][0] == 1      # batches 3, 3, 1: the last is padded to 3


def test_killed_jax_run_resumes_to_identical_frames(tmp_path, both):
    folder = tmp_path / "recipes"
    write_recipes(folder, "jax")
    kill_and_resume(folder / "dream.toml", tmp_path / "resumed", 3)
    reference = both["jax"][0] / "dream"
    assert frame_pixels(tmp_path / "resumed", 5) == frame_pixels(reference, 5)   # PNGs name their recipe path


def test_the_backend_is_part_of_every_frame_key(tmp_path):
    write_recipes(tmp_path, "tensorflow")
    keys = {b: frame_keys(make_plan(load_recipe(tmp_path / "dream.toml", [f'model.backend="{b}"'])))
            for b in ("tensorflow", "jax")}
    assert all(a != b for a, b in zip(keys["tensorflow"], keys["jax"]))


def test_auto_backend_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    assert resolve_backend("auto")[0] == "tensorflow"
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    assert resolve_backend("auto")[0] == "jax"
    monkeypatch.setenv("KERAS_BACKEND", "torch")   # not one we run on: the default, and why
    backend, why = resolve_backend("auto")
    assert backend == "tensorflow" and "torch" in why
    monkeypatch.delenv("KERAS_BACKEND")
    (tmp_path / "keras.json").write_text('{"backend": "jax"}')
    assert resolve_backend("auto")[0] == "jax"


def test_a_process_keeps_its_backend():
    import keras  # noqa: F401  (this test process runs Keras on TensorFlow)
    activate("tensorflow")
    with pytest.raises(BackendError, match="already runs Keras on tensorflow"):
        activate("jax")


@pytest.mark.parametrize("backend, devices, bf16_cpu, expected", [
    ("jax", [Device("cpu", "CPU"), Device("gpu", "NVIDIA H100", (9, 0))], False, "bfloat16"),
    ("tensorflow", [Device("cpu", "CPU"), Device("gpu", "NVIDIA A100", (8, 0))], False, "bfloat16"),
    ("tensorflow", [Device("cpu", "CPU"), Device("gpu", "Tesla V100", (7, 0))], True, "float32"),
    ("jax", [Device("gpu", "Tesla T4", (7, 5))], True, "float32"),
    ("tensorflow", [Device("cpu", "CPU")], True, "bfloat16"),      # oneDNN on AVX512_BF16 / AMX
    ("tensorflow", [Device("cpu", "CPU")], False, "float32"),      # a CPU-only build on a GPU machine
    ("jax", [Device("cpu", "CPU")], True, "float32"),              # XLA on CPUs: no faster in bf16
    # two GPUs of different generations: the backend renders on the first, so its capability decides
    ("jax", [Device("cpu", "CPU"), Device("gpu", "Tesla T4", (7, 5)), Device("gpu", "NVIDIA A100", (8, 0))], True,
     "float32"),
    ("tensorflow", [Device("gpu", "NVIDIA A100", (8, 0)), Device("gpu", "Tesla T4", (7, 5))], False, "bfloat16"),
])
def test_auto_precision_follows_the_device_the_backend_sees(backend, devices, bf16_cpu, expected):
    precision, why = choose_precision(backend, devices, bf16_cpu)
    gpus = [d for d in devices if d.kind == "gpu"]
    assert precision == expected and why
    if gpus:  # the reason names the GPU that decided, the first
        assert gpus[0].name in why and all(other.name not in why for other in gpus[1:]), why


def test_a_compiled_function_keeps_one_graph_per_dtype():
    """Inputs that differ only in dtype get graphs of their own: a cache keyed by shape alone would
    run a float32 program on bfloat16 inputs."""
    import ml_dtypes
    from render.backend.api import Compiled
    built = []

    def build(args):
        name = args[0].dtype.name
        built.append(name)
        return lambda x: (name, x.dtype.name)

    compiled = Compiled("test-dtypes", build)
    shaped = np.zeros((2, 3), np.float32)
    calls = [compiled(shaped.astype(dtype)) for dtype in (np.float32, ml_dtypes.bfloat16, np.float16, np.float32)]
    assert built == ["float32", "bfloat16", "float16"] and compiled.graphs == 3
    assert [program for program, _ in calls] == ["float32", "bfloat16", "float16", "float32"]  # each its own


def test_without_nvidia_devices_no_backend_sees_a_gpu(monkeypatch):
    import render.backend.devices as devices
    monkeypatch.setattr(devices, "nvidia_device_nodes", lambda: [])
    monkeypatch.setattr(devices, "_probe", lambda backend: pytest.fail("probed without a GPU"))
    assert backend_devices("jax") == [Device("cpu", "CPU")]


# an import of either framework, or a call through its usual names (``tf.``/``jax.`` in docs excepted)
FRAMEWORK_CALL = re.compile(r"^\s*(import|from)\s+(tensorflow|jax)\b|(?<![`.\w])(tf|jnp|jax|lax)\.[a-z]", re.M)


def test_engines_models_and_prints_make_no_backend_specific_calls():
    """Only render/backend/ (and pix2pix training, TensorFlow-only) may call a framework directly."""
    allowed = {REPO / "render" / "tfsetup.py", REPO / "render" / "training" / "pix2pix.py"}
    offenders = []
    for path in sorted((REPO / "render").rglob("*.py")):
        if path in allowed or (REPO / "render" / "backend") in path.parents:
            continue
        for match in FRAMEWORK_CALL.finditer(path.read_text()):
            offenders.append(f"{path.relative_to(REPO)}: {match.group(0).strip()}")
    assert offenders == []


def test_nothing_imports_upward():
    """Engines, printers, models and training import no kind (contract types live in render.contracts)."""
    pattern = re.compile(r"from \.\.kinds|from render\.kinds|import render\.kinds")
    for folder in ("engines", "prints", "models", "training", "backend"):
        for path in (REPO / "render" / folder).rglob("*.py"):
            assert not pattern.search(path.read_text()), path


def test_training_under_jax_says_so_in_one_line(tmp_path):
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-m", "render.cli", "train", "pix2pix", "--synthetic-faces", "16",
                           "--out", str(tmp_path / "m")], capture_output=True, text=True, env=env)
    assert done.returncode == 2
    lines = [l for l in done.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "TensorFlow only" in lines[0], done.stderr


def test_doctor_and_plan_show_the_backend(tmp_path):
    write_recipes(tmp_path, "jax")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    doctor = subprocess.run([sys.executable, "-m", "render.cli", "doctor"], capture_output=True, text=True, env=env)
    assert doctor.returncode == 0, doctor.stderr
    assert "tensorflow" in doctor.stdout and "jax" in doctor.stdout and "precision auto ->" in doctor.stdout
    plan = subprocess.run([sys.executable, "-m", "render.cli", "plan", str(tmp_path / "dream.toml")],
                          capture_output=True, text=True, env=env)
    assert plan.returncode == 0 and "backend  jax (asked for)" in plan.stdout, plan.stderr


def test_keyframed_octave_scales_compile_a_bounded_number_of_shapes():
    """A 1080p zoom whose octave_scale moves from 1.3 to 1.5 over 240 frames: without buckets every
    frame would bring new octave shapes (a compile each); with them a few per octave."""
    from render.engines.geometry import OCTAVE_BUCKET, octave_sizes
    scales = np.linspace(1.3, 1.5, 240)
    raw = {(round(1080 / s ** k), round(1920 / s ** k)) for s in scales for k in (1, 2)}
    shapes = {size for s in scales for size in octave_sizes(1080, 1920, 3, s)[:-1]}
    assert len(raw) > 400 and len(shapes) <= 32   # 26: about a dozen per octave
    assert all(h % OCTAVE_BUCKET == 0 and w % OCTAVE_BUCKET == 0 for h, w in shapes)
    # and each bucketed size stays within half a bucket of the exact one
    for s in scales[::17]:
        for k, (h, w) in zip((2, 1), octave_sizes(1080, 1920, 3, s)[:-1]):
            assert abs(h - 1080 / s ** k) <= OCTAVE_BUCKET / 2 and abs(w - 1920 / s ** k) <= OCTAVE_BUCKET / 2


def test_a_backend_that_is_not_installed_is_one_line_naming_the_key(tmp_path, monkeypatch):
    import importlib.util
    from render.errors import RecipeError
    write_recipes(tmp_path, "jax")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "jax" else real(name, *a))
    with pytest.raises(RecipeError) as caught:
        load_recipe(tmp_path / "walk.toml")
    message = str(caught.value)
    assert "model.backend" in message and "not installed" in message and ".[jax]" in message
    assert "\n" not in message


def test_pictures_carry_the_resolved_backend(tmp_path, monkeypatch):
    """`render run PICTURE` must render on the backend the picture was made with, even when that came
    from the environment (auto + KERAS_BACKEND)."""
    write_recipes(tmp_path, "auto")
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    recipe = load_recipe(tmp_path / "walk.toml")
    assert recipe.resolved["model"]["backend"] == "jax"


def test_keras_settings_of_the_user_cannot_change_pixels(tmp_path):
    (tmp_path / "keras.json").write_text('{"backend": "jax", "floatx": "float16", '
                                         '"image_data_format": "channels_first"}')
    env = dict(os.environ, KERAS_HOME=str(tmp_path), PYTHONPATH=str(REPO))
    env.pop("KERAS_BACKEND", None)
    code = ("from render.backend.kerasops import keras; "
            "print(keras.backend.backend(), keras.config.floatx(), keras.config.image_data_format())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.stdout.split() == ["jax", "float32", "channels_last"], done.stderr


def test_farm_workers_keep_one_backend_each():
    """Leasing: a fresh worker takes the recipe's backend; a recipe of the other backend never gets a
    worker whose Keras already runs the first one, but a fresh worker in its place."""
    import queue
    import threading
    from render.farm.cluster import Farm
    farm = Farm.__new__(Farm)
    farm.idle, farm.lock = queue.Queue(), threading.Lock()
    farm.workers, farm.info, farm.backends, farm._next = {}, {}, {}, 0
    started, retired = [], []

    def start(enqueue=True):
        number = farm._next
        farm._next += 1
        farm.workers[number], farm.backends[number] = object(), None
        started.append(number)
        if enqueue:
            farm.idle.put(number)
        return number

    farm._start_worker = start
    farm._retire = lambda number: (retired.append(number), farm.workers.pop(number), farm.backends.pop(number))
    start()
    first = farm.lease("tensorflow")
    farm.release(first)
    assert farm.lease("tensorflow") == first        # the same backend reuses the worker
    farm.release(first)
    other = farm.lease("jax")
    assert other != first and retired == [first] and farm.backends[other] == "jax"
    farm.release(other)
    assert farm.lease("jax") == other


def test_a_gallery_of_both_backends_renders_each_recipe_in_its_own_process(tmp_path):
    from render.gallery import build_gallery
    write_recipes(tmp_path, "jax")
    text = (tmp_path / "walk.toml").read_text().replace("frames = 7", "frames = 2")
    (tmp_path / "wjax.toml").write_text(text)
    (tmp_path / "wtf.toml").write_text(text.replace('backend = "jax"', 'backend = "tensorflow"'))
    cwd = os.getcwd()
    os.chdir(tmp_path)   # run folders go to renders/ under the working directory
    try:
        entries = build_gallery([tmp_path / "wjax.toml", tmp_path / "wtf.toml"], tmp_path / "g")
    finally:
        os.chdir(cwd)
    assert [e.status for e in entries] == ["rendered", "rendered"], [e.reason for e in entries]
