"""Names as artists write them: a recipe file and an asset folder with spaces, accents, an apostrophe,
``#``, ``?`` and ``%``.  `render run`, `render encode`, `render inspect` and the pictures' and videos'
metadata keep them intact (the gallery's links: tests/test_gallery.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image

from render.cli import main
from render.outputs.probe import probe_video

NAME = "Nuit d'été #2 ?50%"
ASSETS = "croquis d'été #1 ?%"

WALK = """\
kind = "walk"

[output]
size = [32, 32]
fps = 8
video = "mp4"

[model]
name = "dcgan-faces64"
precision = "float32"

[walk]
keys = [1, 2]
frames_per_key = 2
"""

TRANSLATE = f"""\
kind = "translate"

[output]
size = [64, 64]
fps = 4
video = "prores"

[model]
name = "edges2faces"

[translate]
input = "{ASSETS}/"
batch = 2
"""


def inspected(output: str) -> dict[str, str]:
    """``render inspect``'s ``name   value`` lines (up to the recipe text)."""
    fields = {}
    for line in output.splitlines():
        if not line.strip():
            break
        name, _, value = line.partition(" ")
        fields[name] = value.strip()
    return fields


def test_run_encode_and_inspect_keep_a_recipe_name_intact(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("recipes").mkdir()
    recipe = f"recipes/{NAME}.toml"
    Path(recipe).write_text(WALK)
    runner = CliRunner()
    run = runner.invoke(main, ["run", recipe])
    assert run.exit_code == 0, run.output
    folder = Path("renders") / NAME
    assert f"3 frames rendered, 0 reused, in {folder}" in run.output
    assert f"video: {folder / NAME}.mp4" in run.output and (folder / f"{NAME}.mp4").is_file()
    assert json.loads((folder / "run.json").read_text())["recipe"] == recipe
    for video, file in (("prores", f"{NAME}.mov"), ("gif", f"{NAME}.gif")):
        encoded = runner.invoke(main, ["encode", recipe, "--video", video])
        assert encoded.exit_code == 0, encoded.output
        assert encoded.output == f"video: {folder / file}\n" and probe_video(folder / file).frames == 3
    frame = folder / "frames" / "frame_000002.png"
    shown = inspected(runner.invoke(main, ["inspect", str(frame)]).output)
    assert shown["file"] == str(frame) and shown["recipe_name"] == NAME and shown["recipe_path"] == recipe
    shutil.copyfile(folder / f"{NAME}.mp4", "prise:2.mp4")   # ffmpeg would take "prise:" for a protocol
    for file in (folder / f"{NAME}.mp4", folder / f"{NAME}.mov", Path("prise:2.mp4")):
        tags = inspected(runner.invoke(main, ["inspect", str(file)]).output)
        assert tags["title"] == NAME, tags
    # the picture's recipe comes back under its own name: the same run folder, nothing to render
    again = runner.invoke(main, ["run", str(frame), "--no-encode"])
    assert again.exit_code == 0, again.output
    assert f"0 frames rendered, 3 reused, in {folder}\n" in again.output


def test_an_asset_folder_with_an_odd_name_is_read_and_named_intact(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assets = Path("recipes") / ASSETS
    assets.mkdir(parents=True)
    for i in range(2):
        drawing = np.full((40, 40, 3), 255, np.uint8)
        drawing[5 + 3 * i:35, 18:21] = 0
        Image.fromarray(drawing).save(assets / f"trait #{i} 50%.png")
    recipe = f"recipes/{NAME}.toml"
    Path(recipe).write_text(TRANSLATE)
    runner = CliRunner()
    run = runner.invoke(main, ["run", recipe, "--quiet"])
    assert run.exit_code == 0, run.output
    master = Path("renders") / NAME / f"{NAME}.mov"
    assert probe_video(master).frames == 2
    shown = runner.invoke(main, ["inspect", str(Path("renders") / NAME / "frames" / "frame_000001.png")])
    assert inspected(shown.output)["recipe_name"] == NAME
    assert f'input = "{ASSETS}/"' in shown.output
    assert inspected(runner.invoke(main, ["inspect", str(master)]).output)["title"] == NAME
