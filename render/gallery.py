"""`render gallery`: render a folder of recipes, skip what is up to date, and publish the results:
posters, videos, print previews, ``index.html``, ``README.md`` and a contact sheet.

Up to date means: the recipe's *fingerprint* (every frame key, the video settings, the soundtrack's
digest and offset, and the print settings; keys hash file contents, never timestamps) equals the one
in ``manifest.json`` and every output listed there still has its recorded sha256.  Then nothing is
rendered, encoded or copied.
Otherwise the recipe is rendered into its run folder (stored frames whose keys match are reused) and
its outputs are copied again.  A failing recipe does not stop the others; each outcome is collected
(rendered, reused, or failed with its one-line reason).

Browsers play H.264, VP9 and GIF.  A recipe whose video is a master codec (ProRes 422 / 4444, HEVC)
keeps its master in the run folder; the gallery publishes a browser-safe rendition instead (H.264,
yuv420p, encoded from the run's stored frames the way ``render encode --video mp4`` does) as
``web/<name>.mp4``: a recipe name is a file stem, never a folder, so no recipe's own file can land
there.  The manifest records the rendition as the entry's ``video`` and the master's path and format
under ``master``.

A recipe with a soundtrack publishes its video with the sound (the rendition as AAC, like any mp4),
and a new track under the same file name, or a new offset, publishes the video again even when no
frame changed; the manifest's ``sound`` says which track and offset the video carries.

Output names in the manifest are paths relative to the gallery, as written on disk (recipe names keep
their spaces, accents and punctuation); the page and the README URL-encode them.

The page and the README are written from the manifest, so recipes reused from an earlier run keep
their render time, date and device.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import shutil
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from .errors import RenderError
from .gallery_page import contact_sheet, markdown_table, page_html
from .metadata import picture_metadata
from .prints.driver import make_print, options_for, plan_print
from .prints.files import write_print
from .provenance import device_name
from .graph import load_graph, render_graph
from .runner import encode_stored, tagged_png
from .store import RunStore, atomic_write, file_sha256

MANIFEST = "manifest.json"
CONTACT_SHEET = "contact-sheet.jpg"
PRINT_PREVIEW_QUALITY = 85   # JPEG quality of a print's preview (95 made them twice the bytes; the tree stays < 40 MiB)
PRINT_PREVIEW_SIDE = 1200
BROWSER_VIDEO = ("mp4", "webm", "gif")   # published as rendered; any other format is a master
RENDITION = "mp4"                        # what a master is published as (H.264, yuv420p)
RENDITIONS = "web"                       # the gallery's folder of renditions


@dataclass
class GalleryEntry:
    """One recipe's outcome; ``record`` is its manifest entry (None when it failed before rendering)."""

    recipe: Path
    status: str                      # "rendered" (outputs made again), "reused" (skipped) or "failed"
    seconds: float = 0.0
    frames_rendered: int = 0
    reason: str = ""                 # why it failed, one line
    outputs: list[Path] = field(default_factory=list)
    record: dict | None = None


def fingerprint(recipe, keys: list[str]) -> str:
    """Hash of everything that shapes a recipe's gallery outputs: its frame ``keys``, video and print
    settings (and the rendition a master is published as), the soundtrack's content and offset, title,
    description and text."""
    out = recipe.output
    parts = {"keys": keys, "video": [out.video, out.quality, out.fps, out.loop],
             "print": asdict(recipe.print) if recipe.print else None, "title": recipe.title,
             "description": recipe.description, "text": recipe.text}
    if is_master(out.video):
        parts["rendition"] = [RENDITIONS, RENDITION]
    if out.upscale is not None:  # (text holds the table too; this also follows the networks' digests)
        from .upscale_stage import stage_key
        parts["upscale"] = stage_key(out.upscale)
    audio = recipe.audio
    if audio is not None:   # the bytes, not the name: a new take of track.flac publishes the video again
        parts["sound"] = [audio.digest, float(audio.offset)]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def is_master(video: str) -> bool:
    """A format browsers do not play everywhere (ProRes, HEVC): kept in the run folder, published as a
    rendition."""
    return video != "none" and video not in BROWSER_VIDEO


def rendition_path(gallery_dir: Path, name: str) -> Path:
    """Where the gallery publishes the browser-safe copy of recipe ``name``'s master."""
    return Path(gallery_dir) / RENDITIONS / f"{name}.{RENDITION}"


def leading_comment(text: str) -> str:
    """The recipe's first comment block as one paragraph (the ``#:schema`` line left out)."""
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#:"):
            continue
        if not stripped.startswith("#"):
            break
        lines.append(stripped.lstrip("#").strip())
    return " ".join(line for line in lines if line)


def key_parameters(recipe) -> list[str]:
    out = recipe.output
    lines = [f"{out.size[0]}x{out.size[1]} px, {out.frames} frame{'s' if out.frames != 1 else ''}"
             + (f" at {out.fps:g} fps, {out.video}" if out.frames > 1 and out.video != "none" else ""),
             f"model {recipe.model.name} ({recipe.precision})"]
    return lines + [" ".join(line.split()) for line in recipe.kind.summary(recipe)]


def _sound(recipe) -> dict | None:
    """The soundtrack a published video carries, for the page: its file name and offset."""
    audio = recipe.audio
    return {"file": Path(audio.path).name, "offset": float(audio.offset)} if audio is not None else None


def _up_to_date(record: dict | None, stamp: str, gallery_dir: Path) -> bool:
    if not record or record.get("fingerprint") != stamp:
        return False
    for name, digest in record.get("outputs", {}).items():
        path = gallery_dir / name
        if not path.exists() or file_sha256(path) != digest:
            return False
    return True


def _published(path: Path, gallery_dir: Path) -> str:
    """A gallery file's name in the manifest: its path relative to the gallery, with ``/``."""
    return Path(path).relative_to(gallery_dir).as_posix()


def _remove_stale(old: dict | None, new: dict, gallery_dir: Path) -> None:
    """Delete the files the recipe's previous record published and the new one does not (the mp4 of a
    recipe that is now a ProRes master, for instance), so the gallery holds no orphans."""
    root = Path(gallery_dir).resolve()
    for name in set((old or {}).get("outputs", {})) - set(new["outputs"]):
        path = (root / name).resolve()
        if path.is_relative_to(root):   # a hand-edited manifest names nothing outside the gallery
            path.unlink(missing_ok=True)


def _print_preview(recipe, run_dir: Path, gallery_dir: Path, farm=None) -> tuple[Path, dict]:
    """Render the recipe's [print] into its run folder (on a farm worker when given); a downscaled JPEG
    preview into the gallery."""
    plan = plan_print(recipe, options_for(recipe))
    if farm is not None:
        from .farm.engine import print_on_farm
        info = print_on_farm(farm, recipe, plan.options, run_dir)
        path = Path(info["path"])
    else:
        result = make_print(plan, run_dir, progress=None)
        info, path = json.loads(result.info_path.read_text()), result.path
    if path.suffix == ".tif":
        import tifffile
        picture = Image.fromarray((tifffile.imread(path) >> 8).astype(np.uint8))
    else:
        with Image.open(path) as opened:
            picture = opened.convert("RGB")
    picture.thumbnail((PRINT_PREVIEW_SIDE, PRINT_PREVIEW_SIDE), Image.Resampling.LANCZOS)
    preview = gallery_dir / f"{recipe.name}-print.jpg"
    metadata = dict(picture_metadata(recipe), print_size=plan.size.describe())
    write_print(preview, np.asarray(picture), "jpeg", max(30, round(plan.size.dpi * picture.width / plan.size.width)),
                metadata, quality=PRINT_PREVIEW_QUALITY)
    summary = {"file": path.name, "size": plan.size.describe(), "dpi": plan.size.dpi,
               "format": plan.options.fmt, "bytes": info["bytes"], "seconds": info["seconds"],
               "peak_memory": info["measured_peak"]}
    return preview, summary


def render_entry(path: Path, gallery_dir: Path, record: dict | None, progress_for=None, registry=None,
                 preview: bool = False, engine_factory=None, farm=None, force: bool = False,
                 overrides: tuple[str, ...] = ()) -> GalleryEntry:
    """Render one recipe for the gallery unless ``record`` shows it up to date; never raises for a
    recipe's own failure (the entry says ``failed`` and why).  ``progress_for(name)`` makes the
    recipe's progress callback; ``engine_factory`` builds its engine (the farm's, for instance);
    ``overrides`` are ``--set`` strings applied to every recipe (``--backend`` is one)."""
    start = time.perf_counter()
    try:
        graph = load_graph(path, overrides, preview=preview, registry=registry)
        recipe, keys, out_dir = graph.recipe, graph.root.keys, graph.root.out_dir
        stamp = fingerprint(recipe, keys)
        if not force and _up_to_date(record, stamp, gallery_dir):
            return GalleryEntry(Path(path), "reused", time.perf_counter() - start,
                                outputs=[gallery_dir / n for n in record["outputs"]], record=record)
        result = render_graph(graph, progress=progress_for(recipe.name) if progress_for else None,
                              engine_factory=engine_factory).result
        poster = gallery_dir / f"{recipe.name}.png"
        last = recipe.output.frames - 1
        shown, shown_key = RunStore(out_dir), keys[last]
        if recipe.output.upscale is not None:   # the poster is the enlarged frame
            from .upscale_stage import UPSCALED_DIR, upscaled_key
            shown = RunStore(out_dir, frames_folder=UPSCALED_DIR)
            shown_key = upscaled_key(keys[last], recipe.output.upscale)
        atomic_write(poster, tagged_png(shown, recipe, last, shown_key), durable=False)
        outputs = [poster]
        video = master = None
        if result.video and is_master(recipe.output.video):
            master = {"path": result.video.as_posix(), "format": recipe.output.video}
            video = rendition_path(gallery_dir, recipe.name)
            video.parent.mkdir(exist_ok=True)
            shutil.copyfile(encode_stored(recipe, out_dir, RENDITION), video)
            outputs.append(video)
        elif result.video:
            video = gallery_dir / result.video.name
            shutil.copyfile(result.video, video)
            outputs.append(video)
        print_summary = None
        if recipe.print is not None and recipe.print.size and not preview:
            print_preview, print_summary = _print_preview(recipe, out_dir, gallery_dir, farm)
            outputs.append(print_preview)
        seconds = time.perf_counter() - start
        text = recipe.text
        new_record = {
            "recipe": str(path), "name": recipe.name, "kind": recipe.kind.name,
            "title": recipe.title or recipe.name.replace("-", " "),
            "description": recipe.description or leading_comment(text), "text": text,
            "parameters": key_parameters(recipe), "fingerprint": stamp,
            "frame_key": keys[-1][:16],
            "poster": _published(poster, gallery_dir), "video": _published(video, gallery_dir) if video else None,
            "master": master, "sound": _sound(recipe) if video and video.suffix != ".gif" else None,
            "print": dict(print_summary, preview=_published(outputs[-1], gallery_dir)) if print_summary else None,
            "seconds": round(seconds, 1) if result.rendered or not record else record.get("seconds"),
            "frames": recipe.output.frames, "frames_rendered": len(result.rendered),
            "date": time.strftime("%Y-%m-%d %H:%M"), "device": device_name(),
            "outputs": {_published(p, gallery_dir): file_sha256(p) for p in outputs},
        }
        _remove_stale(record, new_record, gallery_dir)
        return GalleryEntry(Path(path), "rendered", seconds,
                            len(result.rendered), outputs=outputs, record=new_record)
    except (RenderError, OSError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        return GalleryEntry(Path(path), "failed", time.perf_counter() - start, reason=reason)


def _entry_in_worker(args) -> GalleryEntry:
    path, gallery_dir, record, preview, force, overrides = args
    return render_entry(path, gallery_dir, record, None, None, preview, force=force, overrides=overrides)


def _survey(paths: list[Path], overrides: tuple[str, ...]) -> tuple[set[str], list[list[Path]]]:
    """The backends the recipes resolve to, and the recipes in waves: a recipe used as footage by
    another of the gallery (``{ recipe = ... }``) comes in an earlier wave, so parallel workers never
    render one run folder twice at once.  A recipe that does not load is reported when rendered."""
    backends, needs = set(), {}
    resolved = {Path(p).resolve(): Path(p) for p in paths}
    for path in paths:
        needs[Path(path)] = set()
        try:
            graph = load_graph(path, overrides)
        except RenderError:
            continue
        backends.add(graph.recipe.backend)
        for node in graph.upstream:  # every level, not only the recipes it names itself
            if Path(node.recipe.path).resolve() in resolved:
                needs[Path(path)].add(resolved[Path(node.recipe.path).resolve()])
    level: dict[Path, int] = {}

    def depth(path: Path, seen=()) -> int:
        if path not in level:
            level[path] = 1 + max((depth(d, seen + (path,)) for d in needs.get(path, ()) if d not in seen),
                                  default=-1)
        return level[path]

    waves: dict[int, list[Path]] = {}
    for path in paths:
        waves.setdefault(depth(Path(path)), []).append(Path(path))
    return backends, [waves[k] for k in sorted(waves)]


def build_gallery(paths: list[Path], gallery_dir: Path, progress_for: Callable[[str], object] | None = None,
                  registry=None, preview: bool = False, jobs: int = 1, farm=None,
                  force: bool = False, overrides: tuple[str, ...] = ()) -> list[GalleryEntry]:
    """Render the recipes ``paths`` into ``gallery_dir`` (``jobs`` recipes at a time, each in its own
    process when more than one; with a ``farm``, every recipe at once, their frames rendered by the
    farm's workers), then write the manifest, page, README and contact sheet.  Returns one entry per
    recipe, in order.  ``force`` ignores the manifest (outputs are made again; stored frames whose
    keys match are still reused)."""
    gallery_dir = Path(gallery_dir)
    gallery_dir.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(gallery_dir)
    records = {Path(p).stem: manifest.get(Path(p).stem) for p in paths}
    backends, waves = _survey(paths, overrides)
    mixed = farm is None and len(backends) > 1
    done: dict[Path, GalleryEntry] = {}
    if farm is not None:
        from .farm.engine import farm_engine_factory
        factory = farm_engine_factory(farm, preview)
        with ThreadPoolExecutor(max(1, len(paths))) as pool:
            for wave in waves:  # upstream recipes first: one run folder is never rendered twice at once
                done.update(zip(wave, pool.map(lambda p: render_entry(p, gallery_dir, records[p.stem], progress_for,
                                                                      registry, preview, factory, farm, force,
                                                                      overrides), wave)))
        entries = [done[Path(p)] for p in paths]
    elif (jobs > 1 or mixed) and registry is None:
        # a process runs Keras on one backend: with recipes of both, each recipe gets a fresh process
        fresh = {"max_tasks_per_child": 1} if mixed else {}
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"), **fresh) as pool:
            for wave in waves:
                done.update(zip(wave, pool.map(_entry_in_worker, [(p, gallery_dir, records[p.stem], preview, force,
                                                                   overrides) for p in wave])))
        entries = [done[Path(p)] for p in paths]
    else:
        entries = [render_entry(Path(p), gallery_dir, records[Path(p).stem], progress_for, registry, preview,
                                force=force, overrides=overrides) for p in paths]
    for entry in entries:
        if entry.record is not None:
            manifest[entry.record["name"]] = entry.record
    write_manifest(gallery_dir, manifest)
    publish(gallery_dir, manifest)
    return entries


def read_manifest(gallery_dir: Path) -> dict:
    try:
        return json.loads((Path(gallery_dir) / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}


def write_manifest(gallery_dir: Path, manifest: dict) -> None:
    atomic_write(Path(gallery_dir) / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode(), durable=False)


def publish(gallery_dir: Path, manifest: dict) -> None:
    """index.html, README.md and contact-sheet.jpg from the manifest's entries whose poster exists.
    The sheet is a JPEG (quality 80: a quarter of the PNG's bytes for a page of thumbnails, which keeps
    the committed gallery small); a PNG sheet from an older version is removed."""
    records = [r for _, r in sorted(manifest.items()) if (Path(gallery_dir) / r["poster"]).exists()]
    atomic_write(Path(gallery_dir) / "index.html", page_html(records).encode("utf-8"), durable=False)
    atomic_write(Path(gallery_dir) / "README.md", markdown_table(records).encode("utf-8"), durable=False)
    (Path(gallery_dir) / "contact-sheet.png").unlink(missing_ok=True)
    if records:
        contact_sheet(gallery_dir, records).save(Path(gallery_dir) / CONTACT_SHEET, quality=80, optimize=True,
                                                 progressive=True)


def format_summary(entries: list[GalleryEntry]) -> str:
    """A plain table: recipe, status, frames rendered, seconds, and the reason of each failure."""
    width = max([len(str(e.recipe)) for e in entries] + [6])
    lines = [f"{'recipe':<{width}}  {'status':<8}  {'frames':>6}  {'seconds':>7}"]
    for e in entries:
        lines.append(f"{str(e.recipe):<{width}}  {e.status:<8}  {e.frames_rendered:>6}  {e.seconds:>7.1f}"
                     + (f"  {e.reason}" if e.reason else ""))
    failed = sum(e.status == "failed" for e in entries)
    lines.append(f"{len(entries)} recipes: {sum(e.status == 'rendered' for e in entries)} rendered, "
                 f"{sum(e.status == 'reused' for e in entries)} reused, {failed} failed")
    return "\n".join(lines)
