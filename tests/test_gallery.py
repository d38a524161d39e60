"""The gallery: skip what is up to date, re-render what changed, go on past failures, publish a page,
and every picture carries its recipe (inspect, then re-render from the picture)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from render.cli import main
from render.gallery import build_gallery, leading_comment
from tests.helpers import REPO, pixels

WALK = """#:schema ../schemas/walk.json
# {comment}
kind = "walk"
title = "{title}"

[output]
size = [32, 32]
fps = 8
video = "{video}"

[model]
name = "dcgan-faces64"
precision = "float32"

[walk]
keys = [{keys}]
frames_per_key = 2
"""


def write_gallery_recipes(folder: Path, video: str = "webm") -> Path:
    recipes = folder / "recipes"
    recipes.mkdir(parents=True)
    for name, keys in (("alpha", "1, 2"), ("beta", "3, 4"), ("gamma", "5, 6")):
        (recipes / f"{name}.toml").write_text(WALK.format(comment=f"Faces {name}, a tiny walk.", title=name.title(),
                                                          video=video, keys=keys))
    return recipes


def statuses(entries) -> dict[str, str]:
    return {e.recipe.stem: e.status for e in entries}


def test_second_run_renders_nothing_and_an_edited_recipe_alone_is_rendered_again(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recipes = write_gallery_recipes(tmp_path)
    paths = sorted(recipes.glob("*.toml"))
    first = build_gallery(paths, tmp_path / "gallery")
    assert statuses(first) == {"alpha": "rendered", "beta": "rendered", "gamma": "rendered"}
    assert statuses(build_gallery(paths, tmp_path / "gallery")) == dict.fromkeys(statuses(first), "reused")
    os.utime(recipes / "beta.toml")  # a new timestamp alone changes nothing
    assert statuses(build_gallery(paths, tmp_path / "gallery"))["beta"] == "reused"
    text = (recipes / "beta.toml").read_text().replace("keys = [3, 4]", "keys = [3, 7]")
    (recipes / "beta.toml").write_text(text)
    third = build_gallery(paths, tmp_path / "gallery")
    assert statuses(third) == {"alpha": "reused", "beta": "rendered", "gamma": "reused"}
    assert third[1].frames_rendered == 2   # frames 2 and 3 changed: the path to seed 7; frames 0, 1 reused
    # a damaged output is noticed by its hash and made again
    (tmp_path / "gallery" / "gamma.webm").write_bytes(b"broken")
    assert statuses(build_gallery(paths, tmp_path / "gallery"))["gamma"] == "rendered"


def test_broken_recipe_is_reported_and_the_others_render(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recipes = write_gallery_recipes(tmp_path)
    (recipes / "beta.toml").write_text((recipes / "beta.toml").read_text().replace("keys = [3, 4]", "keys = [3]"))
    result = CliRunner().invoke(main, ["gallery", "recipes", "--out", "shown", "--quiet"])
    assert result.exit_code == 1, result.output
    lines = {l.split()[0]: l for l in result.output.splitlines() if l.startswith("recipes/")}
    assert "failed" in lines["recipes/beta.toml"] and "walk.keys" in lines["recipes/beta.toml"]
    assert "rendered" in lines["recipes/alpha.toml"] and "rendered" in lines["recipes/gamma.toml"]
    assert "3 recipes: 2 rendered, 0 reused, 1 failed" in result.output
    page = (tmp_path / "shown" / "index.html").read_text()
    assert "Alpha" in page and "Gamma" in page and 'src="alpha.webm"' in page and "Faces alpha, a tiny walk." in page
    readme = (tmp_path / "shown" / "README.md").read_text()
    assert "**Alpha**" in readme and "**Gamma**" in readme and "Beta" not in readme
    manifest = json.loads((tmp_path / "shown" / "manifest.json").read_text())
    assert set(manifest) == {"alpha", "gamma"} and manifest["alpha"]["frame_key"]
    from PIL import Image
    with Image.open(tmp_path / "shown" / "contact-sheet.png") as sheet:
        assert sheet.width >= 2 * 32
    only = CliRunner().invoke(main, ["gallery", "recipes", "--out", "shown", "--quiet", "--only", "alpha"])
    assert only.exit_code == 0 and "1 recipes: 0 rendered, 1 reused, 0 failed" in only.output


def test_jobs_render_recipes_in_parallel_processes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recipes = write_gallery_recipes(tmp_path)
    paths = sorted(recipes.glob("*.toml"))[:2]
    entries = build_gallery(paths, tmp_path / "gallery", jobs=2)
    assert statuses(entries) == {"alpha": "rendered", "beta": "rendered"}
    assert statuses(build_gallery(paths, tmp_path / "gallery")) == {"alpha": "reused", "beta": "reused"}


def test_leading_comment_is_the_description():
    text = "#:schema ../schemas/dream.json\n# First line\n# second line.\n#\n# Try: this.\nkind = \"dream\"\n# later\n"
    assert leading_comment(text) == "First line second line. Try: this."


def test_frames_carry_their_recipe_and_a_picture_re_renders_itself(tmp_path, write_recipe):
    recipe = write_recipe()
    runner = CliRunner()
    assert runner.invoke(main, ["run", str(recipe), "--out", str(tmp_path / "a"), "--quiet",
                                "--set", "output.frames=2"]).exit_code == 0
    frame = tmp_path / "a" / "frames" / "frame_000001.png"
    shown = runner.invoke(main, ["inspect", str(frame)])
    assert shown.exit_code == 0 and "neural-render" in shown.output and "frames = 2" in shown.output
    assert 'layers = { block3_conv3 = 1.0, "block4_conv1:7" = 0.5 }' in shown.output or "block4_conv1:7" in shown.output
    again = runner.invoke(main, ["run", str(frame), "--out", str(tmp_path / "b"), "--quiet", "--no-encode"])
    assert again.exit_code == 0, again.output
    assert np.array_equal(pixels(tmp_path / "b" / "frames" / "frame_000001.png"), pixels(frame))
    recipe_only = runner.invoke(main, ["inspect", str(frame), "--recipe-only"])
    assert recipe_only.output.startswith('kind = "dream"')


def test_videos_carry_the_recipe_name_and_hash(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recipes = write_gallery_recipes(tmp_path, video="mp4")
    build_gallery([recipes / "alpha.toml"], tmp_path / "gallery")
    from render.outputs.probe import video_tags
    tags = video_tags(tmp_path / "gallery" / "alpha.mp4")
    assert tags["title"] == "alpha" and tags["comment"].startswith("neural-render recipe ")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_the_page_works_in_a_real_headless_browser(tmp_path, monkeypatch):
    playwright = pytest.importorskip("playwright.sync_api")
    monkeypatch.chdir(tmp_path)
    recipes = write_gallery_recipes(tmp_path, video="webm")
    still = recipes / "delta.toml"
    still.write_text(WALK.format(comment="A sheet.", title="Delta", video="none", keys="8")
                     .replace("frames_per_key = 2", "poster = true\ngrid = [2, 1]"))
    entries = build_gallery(sorted(recipes.glob("*.toml")), tmp_path / "gallery")
    assert all(e.status == "rendered" for e in entries)
    artefacts = Path(os.environ.get("TEST_ARTIFACTS", REPO / "tests" / "artifacts"))
    artefacts.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors, requests = [], []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto((tmp_path / "gallery" / "index.html").as_uri())
        page.wait_for_load_state("load")
        posters = page.eval_on_selector_all("img", "els => els.map(e => [e.getAttribute('src'), e.complete, e.naturalWidth])")
        assert posters and all(done and width > 0 for _, done, width in posters), posters
        page.wait_for_function("document.querySelectorAll('video').length == 3 && "
                               "[...document.querySelectorAll('video')].every(v => v.readyState >= 1)")
        video = page.locator("#alpha video")
        box = video.bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 3)
        page.wait_for_function("document.querySelector('#alpha video').currentTime > 0.05", timeout=10_000)
        assert page.evaluate("document.querySelector('#beta video').paused")  # only the clicked one plays
        page.screenshot(path=str(artefacts / "gallery-page.png"), full_page=True)
        browser.close()
    assert errors == []
    assert all(url.startswith("file://") for url in requests), requests   # nothing from the network
