"""Shared fixtures: tiny recipes written into tmp folders, and one embedded VGG16 per session."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import textwrap
from pathlib import Path

import pytest

from tests.helpers import CHELSEA, TINY_RECIPE

# flows cached by the tests go to a folder of this session, not the user's cache (subprocesses inherit it)
os.environ.setdefault("NEURAL_RENDER_CACHE", tempfile.mkdtemp(prefix="neural-render-test-cache-"))


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
    """Chelsea as float32 (48, 64, 3) in 0..1 (a single-tile image for the stepper tests)."""
    from render.media import load_image
    return load_image(CHELSEA, 64, 48)


@pytest.fixture
def notes():
    """Messages sent to the notes channel during the test (whatever a CLI test left configured)."""
    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())
    log = logging.getLogger("render.notes")
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    yield seen
    log.removeHandler(handler)
    log.setLevel(level)


def pytest_configure(config):
    config.addinivalue_line("markers", "network: reaches the real package registries (skipped unless RUN_NETWORK=1)")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("RUN_NETWORK") == "1":
        return
    skip = pytest.mark.skip(reason="reaches the network: set RUN_NETWORK=1 to run it")
    for item in items:
        if item.get_closest_marker("network") is not None:
            item.add_marker(skip)
