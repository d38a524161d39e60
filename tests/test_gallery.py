"""The gallery: skip what is up to date, re-render what changed, go on past failures, publish a page,
and every picture carries its recipe (inspect, then re-render from the picture)."""

from __future__ import annotations

import functools
import html
import json
import os
import re
import shutil
import subprocess
import threading
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse
from urllib.request import url2pathname, urlopen

import numpy as np
import pytest
from click.testing import CliRunner

from render.cli import main
from render.gallery import build_gallery, leading_comment
from render.outputs.ffmpeg_tool import ffmpeg_exe
from render.outputs.probe import probe_video
from render.store import file_sha256
from tests.helpers import REPO, pixels

# case 14 of ../shared/cases/inputs (RENDER_CASES elsewhere, as tests/test_input_cases.py reads it)
CASES = Path(os.environ.get("RENDER_CASES", REPO.parent / "shared" / "cases" / "inputs"))
PRORES_CASE = CASES / "14-gallery-prores" / "recipes"
ODD_NAME = "Nuit d'été #2 ?50%"          # a space, an accent, an apostrophe, a fragment, a query, an escape

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


def copy_prores_case(recipes: Path) -> Path:
    """Case 14 (a 64x64 walk of 3 frames kept as a ProRes master) copied into ``recipes``."""
    if not PRORES_CASE.is_dir():
        pytest.skip(f"the shared cases are not here ({PRORES_CASE})")
    recipes.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(PRORES_CASE / "master.toml", recipes / "master.toml"))


def stream_line(path: Path) -> str:
    """``ffmpeg -i``'s line for the first video stream (codec, pixel format, size)."""
    result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    return next(line for line in result.stderr.splitlines() if "Video:" in line)


class Links(HTMLParser):
    """Every href, src and poster in a page's body, as written (entities decoded)."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self.body = False

    def handle_starttag(self, tag, attrs):
        self.body = self.body or tag == "body"
        if self.body:
            self.found += [value for name, value in attrs if name in ("href", "src", "poster")]


def page_links(page: Path) -> list[str]:
    links = Links()
    links.feed(page.read_text())
    return links.found


def readme_links(readme: Path) -> list[str]:
    text = readme.read_text()
    return [html.unescape(m) for m in re.findall(r'src="([^"]+)"', text)] + re.findall(r"\]\(([^)]*)\)", text)


def assert_links_open_their_files(gallery: Path, links: list[str]) -> None:
    """Each relative link, resolved as a browser does (URL-decoded, no query, no fragment), names a
    file of the gallery."""
    assert links
    for link in links:
        parts = urlparse(link)
        assert not parts.scheme and not parts.query and not parts.fragment, link
        assert (gallery / unquote(parts.path)).is_file(), link


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
    with Image.open(tmp_path / "shown" / "contact-sheet.jpg") as sheet:
        assert sheet.format == "JPEG" and sheet.width >= 2 * 32
    (tmp_path / "shown" / "contact-sheet.png").write_bytes(b"a sheet an older version wrote")
    only = CliRunner().invoke(main, ["gallery", "recipes", "--out", "shown", "--quiet", "--only", "alpha"])
    assert only.exit_code == 0 and "1 recipes: 0 rendered, 1 reused, 0 failed" in only.output
    assert not (tmp_path / "shown" / "contact-sheet.png").exists()


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


def test_a_prores_recipe_is_published_as_an_h264_rendition_and_keeps_its_master(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    copy_prores_case(tmp_path / "recipes")
    result = CliRunner().invoke(main, ["gallery", "recipes", "--out", "gallery", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "1 recipes: 1 rendered" in result.output
    gallery = tmp_path / "gallery"
    master = tmp_path / "renders" / "master" / "master.mov"
    assert probe_video(master).codec == "prores"                   # the master stays in the run folder
    assert not list(gallery.rglob("*.mov"))                       # and is not published
    manifest = json.loads((gallery / "manifest.json").read_text())["master"]
    assert manifest["video"] == "web/master.mp4"
    assert manifest["master"] == {"path": "renders/master/master.mov", "format": "prores"}
    rendition = gallery / "web" / "master.mp4"
    facts = probe_video(rendition)
    assert (facts.codec, facts.width, facts.height, facts.frames) == ("h264", 64, 64, probe_video(master).frames)
    assert "yuv420p" in stream_line(rendition)
    assert set(manifest["outputs"]) == {"master.png", "web/master.mp4"}
    assert manifest["outputs"]["web/master.mp4"] == file_sha256(rendition)
    sources = [m for m in re.findall(r'<video [^>]*src="([^"]+)"', (gallery / "index.html").read_text())]
    assert sources == ["web/master.mp4"]
    readme = (gallery / "README.md").read_text()
    assert "[video](web/master.mp4)" in readme and "renders/master/master.mov" in readme
    again = CliRunner().invoke(main, ["gallery", "recipes", "--out", "gallery", "--quiet"])
    assert "1 recipes: 0 rendered, 1 reused" in again.output


def test_an_odd_sized_master_gets_a_rendition_that_plays(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recipe = copy_prores_case(tmp_path / "recipes")
    entries = build_gallery([recipe], tmp_path / "gallery", overrides=("output.size=[65, 63]",))
    assert entries[0].status == "rendered", entries[0].reason
    facts = probe_video(tmp_path / "gallery" / "web" / "master.mp4")   # H.264 needs even sides: padded
    assert (facts.codec, facts.width, facts.height, facts.frames) == ("h264", 66, 64, 3)


def test_a_recipe_made_a_master_publishes_its_rendition_and_leaves_no_orphan(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recipes = write_gallery_recipes(tmp_path, video="mp4")
    alpha = recipes / "alpha.toml"
    build_gallery([alpha], tmp_path / "gallery")
    assert (tmp_path / "gallery" / "alpha.mp4").is_file()
    alpha.write_text(alpha.read_text().replace('video = "mp4"', 'video = "prores4444"'))
    entries = build_gallery([alpha], tmp_path / "gallery")
    assert entries[0].status == "rendered" and entries[0].frames_rendered == 0   # frames reused
    published = sorted(p.relative_to(tmp_path / "gallery").as_posix() for p in (tmp_path / "gallery").rglob("*.*"))
    assert published == ["README.md", "alpha.png", "contact-sheet.jpg", "index.html", "manifest.json", "web/alpha.mp4"]
    assert probe_video(tmp_path / "renders" / "alpha" / "alpha.4444.mov").codec == "prores"


def test_every_link_of_the_page_and_the_readme_opens_its_file_whatever_the_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    for name, video in ((ODD_NAME, "mp4"), ("100% l'aube #3", "gif"), ("Sé?ance #4", "hevc")):
        (recipes / f"{name}.toml").write_text(WALK.format(comment="Odd names.", title=name, video=video,
                                                          keys="1, 2").replace('title = "', "# title = \""))
    entries = build_gallery(sorted(recipes.glob("*.toml")), tmp_path / "gallery")
    assert [e.status for e in entries] == ["rendered"] * 3, [e.reason for e in entries]
    gallery = tmp_path / "gallery"
    assert (gallery / f"{ODD_NAME}.mp4").is_file() and (gallery / "web" / "Sé?ance #4.mp4").is_file()
    page, readme = page_links(gallery / "index.html"), readme_links(gallery / "README.md")
    assert_links_open_their_files(gallery, page)
    assert_links_open_their_files(gallery, readme)
    videos = {f"{ODD_NAME}.mp4", "100% l'aube #3.gif", "web/Sé?ance #4.mp4"}
    posters = {f"{ODD_NAME}.png", "Sé?ance #4.png"}   # a GIF is its own picture on the page
    assert {unquote(link) for link in page} == videos | posters
    assert {unquote(link) for link in readme} == videos | posters | {"100% l'aube #3.png"}
    manifest = json.loads((gallery / "manifest.json").read_text())
    assert set(manifest) == {ODD_NAME, "100% l'aube #3", "Sé?ance #4"}
    assert manifest[ODD_NAME]["title"] == ODD_NAME and manifest[ODD_NAME]["video"] == f"{ODD_NAME}.mp4"
    assert manifest["Sé?ance #4"]["master"] == {"path": "renders/Sé?ance #4/Sé?ance #4.hevc.mp4", "format": "hevc"}
    assert probe_video(gallery / "web" / "Sé?ance #4.mp4").codec == "h264"      # an HEVC master's rendition
    assert probe_video(tmp_path / "renders" / "Sé?ance #4" / "Sé?ance #4.hevc.mp4").codec == "hevc"


def test_a_touched_output_with_the_same_bytes_is_still_up_to_date(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recipes = write_gallery_recipes(tmp_path)
    copy_prores_case(recipes)
    paths = [recipes / "alpha.toml", recipes / "master.toml"]
    assert statuses(build_gallery(paths, tmp_path / "gallery")) == {"alpha": "rendered", "master": "rendered"}
    manifest = json.loads((tmp_path / "gallery" / "manifest.json").read_text())
    outputs = [tmp_path / "gallery" / name for record in manifest.values() for name in record["outputs"]]
    assert len(outputs) == 4   # two posters, a video, a rendition
    later = (tmp_path / "gallery" / "manifest.json").stat().st_mtime + 3600
    for path in outputs:            # an hour after the manifest, as a checkout or a copy would leave them
        os.utime(path, (later, later))
    assert statuses(build_gallery(paths, tmp_path / "gallery")) == {"alpha": "reused", "master": "reused"}


def test_changed_bytes_under_an_old_timestamp_are_made_again(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recipes = write_gallery_recipes(tmp_path)
    copy_prores_case(recipes)
    paths = [recipes / "alpha.toml", recipes / "master.toml"]
    build_gallery(paths, tmp_path / "gallery")
    recorded = json.loads((tmp_path / "gallery" / "manifest.json").read_text())
    for name in ("alpha.png", "web/master.mp4"):
        path = tmp_path / "gallery" / name
        old = path.stat()
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF      # same size, one byte different
        path.write_bytes(bytes(data))
        os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns))
        assert path.stat().st_mtime_ns == old.st_mtime_ns and path.stat().st_size == old.st_size
    assert statuses(build_gallery(paths, tmp_path / "gallery")) == {"alpha": "rendered", "master": "rendered"}
    manifest = json.loads((tmp_path / "gallery" / "manifest.json").read_text())
    for recipe, name in (("alpha", "alpha.png"), ("master", "web/master.mp4")):
        assert file_sha256(tmp_path / "gallery" / name) == manifest[recipe]["outputs"][name]
    assert manifest["alpha"]["outputs"]["alpha.png"] == recorded["alpha"]["outputs"]["alpha.png"]  # same pixels


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(folder: Path) -> ThreadingHTTPServer:
    """``folder`` over HTTP on a free local port, in a background thread (``shutdown()`` when done)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# every href, src and poster of the page, resolved against the page as the browser resolves it
PAGE_URLS = ("[...document.querySelectorAll('body [href], body [src], body [poster]')]"
             ".flatMap(e => ['href', 'src', 'poster'].filter(a => e.hasAttribute(a))"
             ".map(a => new URL(e.getAttribute(a), document.baseURI).href))")


def assert_page_urls_open(page, gallery: Path) -> list[str]:
    """Each URL of the page opens a file: fetched with status 200 over HTTP; from disk, the file the
    URL names (decoded, no query, no fragment) exists."""
    urls = page.evaluate(PAGE_URLS)
    assert urls
    for address in urls:
        parts = urlparse(address)
        assert not parts.query and not parts.fragment, address
        if parts.scheme == "file":
            assert Path(url2pathname(parts.path)).is_file(), address
        else:
            assert page.evaluate("url => fetch(url).then(r => r.status)", address) == 200, address
            with urlopen(address) as response:
                assert response.read() == (gallery / unquote(parts.path).lstrip("/")).read_bytes(), address
    return urls


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_the_page_works_in_a_real_headless_browser(tmp_path, monkeypatch):
    """From disk and over HTTP: every picture loads, every video plays (a ProRes master's H.264
    rendition, a name with spaces, an accent, '#', '?' and '%'), every link opens its file, and nothing
    comes from elsewhere."""
    playwright = pytest.importorskip("playwright.sync_api")
    monkeypatch.chdir(tmp_path)
    recipes = write_gallery_recipes(tmp_path, video="webm")
    (recipes / "gamma.toml").rename(recipes / "100% l'aube #3.toml")   # a GIF: a picture in a link
    text = (recipes / "100% l'aube #3.toml").read_text()
    (recipes / "100% l'aube #3.toml").write_text(text.replace('video = "webm"', 'video = "gif"'))
    (recipes / f"{ODD_NAME}.toml").write_text(WALK.format(comment="An odd name.", title="Odd", video="mp4",
                                                          keys="7, 8"))
    copy_prores_case(recipes)
    still = recipes / "delta.toml"
    still.write_text(WALK.format(comment="A sheet.", title="Delta", video="none", keys="8")
                     .replace("frames_per_key = 2", "poster = true\ngrid = [2, 1]"))
    gallery = tmp_path / "gallery"
    entries = build_gallery(sorted(recipes.glob("*.toml")), gallery)
    assert all(e.status == "rendered" for e in entries), [(e.recipe, e.reason) for e in entries]
    artefacts = Path(os.environ.get("TEST_ARTIFACTS", REPO / "tests" / "artifacts"))
    artefacts.mkdir(parents=True, exist_ok=True)
    server = serve(gallery)
    served = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"])
            for base in ((gallery / "index.html").as_uri(), served + "index.html"):
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                errors, requests = [], []
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.on("request", lambda r: requests.append(r.url))
                page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
                page.goto(base)
                page.wait_for_load_state("load")
                pictures = page.eval_on_selector_all(
                    "img", "els => els.map(e => [e.getAttribute('src'), e.complete, e.naturalWidth])")
                assert len(pictures) == 2 and all(done and width > 0 for _, done, width in pictures), pictures
                sources = page.eval_on_selector_all("video", "els => els.map(e => e.getAttribute('src'))")
                assert sorted(sources) == sorted(["alpha.webm", "beta.webm", "web/master.mp4",
                                                  "Nuit%20d%27%C3%A9t%C3%A9%20%232%20%3F50%25.mp4"])
                page.wait_for_function(
                    "[...document.querySelectorAll('video')].every(v => v.readyState >= 1 || v.error)")
                unplayable = page.eval_on_selector_all(   # MEDIA_ERR_SRC_NOT_SUPPORTED is 4
                    "video", "els => els.filter(e => e.error).map(e => [e.getAttribute('src'), e.error.code])")
                assert unplayable == []
                if base.startswith("file:"):   # a click on a video plays that one only
                    video = page.locator("#alpha video")
                    box = video.bounding_box()
                    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 3)
                    page.wait_for_function("document.querySelector('#alpha video').currentTime > 0.05",
                                           timeout=10_000)
                    assert page.evaluate("document.querySelector('#beta video').paused")
                    page.screenshot(path=str(artefacts / "gallery-page.png"), full_page=True)
                # every video plays: play() resolves and its time advances
                page.evaluate("Promise.all([...document.querySelectorAll('video')].map(v => v.play()))")
                page.wait_for_function("[...document.querySelectorAll('video')].every(v => v.currentTime > 0.05)",
                                       timeout=10_000)
                urls = assert_page_urls_open(page, gallery)
                assert len(urls) == 4 * 2 + 2 + 1   # videos and their posters, the GIF and its link, the still
                page.close()
                assert errors == []
                origin = "file://" if base.startswith("file:") else served
                assert all(url.startswith(origin) for url in requests), requests   # nothing from elsewhere
            browser.close()
        links = readme_links(gallery / "README.md")   # the repository page's links, resolved as GitHub does
        assert len(links) == 6 + 5   # posters, videos
        for link in links:
            with urlopen(urljoin(served + "README.md", link)) as response:
                assert response.read() == (gallery / unquote(link)).read_bytes(), link
    finally:
        server.shutdown()
        server.server_close()


def write_tone(path: Path, seconds: float = 2.0, rate: int = 44_100) -> Path:
    """A mono WAV of a 440 Hz tone."""
    import wave
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((0.3 * 32767 * np.sin(2 * np.pi * 440 * np.arange(round(seconds * rate)) / rate))
                        .astype("<i2").tobytes())
    return path


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_the_page_plays_videos_with_their_sound(tmp_path, monkeypatch):
    """A webm (Opus) and a ProRes master's rendition (AAC) with a soundtrack: the page's videos are
    never muted or autoplayed, each decodes its sound when played, and one soundtrack plays at a time;
    a video without a soundtrack decodes none."""
    import dataclasses
    import hashlib
    import render.graph
    from render.recipe import load_recipe
    from render.recipe.model import AudioSettings
    playwright = pytest.importorskip("playwright.sync_api")
    monkeypatch.chdir(tmp_path)
    recipes = write_gallery_recipes(tmp_path, video="webm")
    copy_prores_case(recipes)
    track = write_tone(tmp_path / "tone.wav")
    sound = AudioSettings(track, hashlib.sha256(track.read_bytes()).hexdigest(), 2.0, 0.5)

    def with_sound(path, *args, **kwargs):   # until the loader reads [audio]: alpha and master have the tone
        recipe = load_recipe(path, *args, **kwargs)
        return dataclasses.replace(recipe, audio=sound) if Path(path).stem in ("alpha", "master") else recipe
    monkeypatch.setattr(render.graph, "load_recipe", with_sound)   # every recipe is loaded through the graph
    gallery = tmp_path / "gallery"
    entries = build_gallery([recipes / "alpha.toml", recipes / "beta.toml", recipes / "master.toml"], gallery)
    assert all(e.status == "rendered" for e in entries), [(e.recipe, e.reason) for e in entries]
    assert "Audio: aac" in subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(gallery / "web" / "master.mp4")],
                                          capture_output=True, text=True).stderr
    state = "id => (v => [v.paused, v.muted, v.webkitAudioDecodedByteCount])(document.querySelector(`#${id} video`))"
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        page = browser.new_page()
        page.goto((gallery / "index.html").as_uri())
        assert page.eval_on_selector_all("video", "els => els.map(e => [e.id || e.closest('article').id, "
                                         "e.hasAttribute('data-sound'), e.muted, e.autoplay, e.controls])") == [
            ["alpha", True, False, False, True], ["beta", False, False, False, True],
            ["master", True, False, False, True]]
        for name in ("alpha", "master", "beta"):   # a click plays, as a visitor's would (no autoplay policy flag)
            box = page.locator(f"#{name} video").bounding_box()
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 3)
            page.wait_for_function(f"document.querySelector('#{name} video').currentTime > 0.3", timeout=10_000)
            paused, muted, decoded = page.evaluate(state, name)
            assert not paused and not muted and (decoded > 0) == (name != "beta"), (name, decoded)
            if name == "master":
                assert page.evaluate(state, "alpha")[0]    # its sound stopped alpha's
        page.close()
        browser.close()
