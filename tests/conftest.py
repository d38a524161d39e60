"""Shared fixtures: tiny recipes written into tmp folders, and one embedded VGG16 per session."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest


REPO = Path(__file__).resolve().parents[1]
CHELSEA = REPO / "recipes" / "assets" / "chelsea.png"

TINY_RECIPE = """\
kind = "dream"
seed = 3

[output]
size = [64, 48]
frames = 4
fps = 8
video = "mp4"

[model]
name = "vgg16"

[dream]
init = "chelsea.png"
layers = { block3_conv3 = 1.0, "block4_conv1:7" = 0.5 }
octaves = 2
octave_scale = 1.5
steps = 2
step_size = 0.02
tile = 40

[motion]
zoom = { 0 = 1.0, 3 = 1.05 }
rotate = 1.0
pan = [1.0, 0.0]
"""


@pytest.fixture
def write_recipe(tmp_path):
    """Write recipe text (dedented) next to a copy of chelsea.png; returns the recipe path."""
    shutil.copyfile(CHELSEA, tmp_path / "chelsea.png")

    def write(text: str = TINY_RECIPE, name: str = "tiny.toml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write


@pytest.fixture(scope="session")
def vgg16():
    from render.models import build
    return build.embedded_vgg16()


@pytest.fixture
def cat_image():
    """Chelsea as float32 (48, 64, 3) in 0..1."""
    from render.engines.dream import load_init_image
    return load_init_image(CHELSEA, 64, 48)


def pixels(path: Path) -> np.ndarray:
    from PIL import Image
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))
