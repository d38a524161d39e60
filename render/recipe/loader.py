"""TOML recipe file -> validated :class:`Recipe`, without importing TensorFlow or naming any kind.

The kind (``kind = "..."``) is looked up in the registry (render.kinds); its own tables are
validated against its field specs exactly like the shared ``[output]`` and ``[model]`` tables.

Every problem becomes one :class:`RecipeError` naming the file, the dotted key path and, where it can
be found, the line.  ``--set key.path=VALUE`` overrides are applied to the parsed table before
validation, so they are checked exactly like values written in the file.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any, Callable, Iterable

from ..errors import ModelError, RecipeError
from ..models import catalog
from ..backend import BackendError, require_backend, resolve_backend
from ..backend.devices import resolve_precision
from . import schema
from ..audio.decode import AudioError
from ..expressions import ExpressionError
from ..notices import note
from ..outputs.formats import CODECS
from ..outputs.limits import size_problem
from ..signals import Signals
from .audio_table import parse_audio
from .fields import FieldError, ParseEnv, did_you_mean
from .model import AudioSettings, OutputSettings, PrintSettings, Recipe, RecipeRef
from .toml_lines import find_line

_TOML_LINE = re.compile(r"at line (\d+)")
MAX_VIDEO_SECONDS = 24 * 3600   # longer videos overflow the containers' time fields (mp4 failed at ~1e9 s)


class _Context:
    """Carries the file name, its text and the overridden key paths so errors can point at lines."""

    def __init__(self, path: Path, text: str, overridden: set[str]):
        self.path, self.text, self.overridden = path, text, overridden

    def error(self, key: str, message: str) -> RecipeError:
        if any(key == k or key.startswith(k + ".") for k in self.overridden):
            return RecipeError(str(self.path), key, message + " (set with --set)")
        return RecipeError(str(self.path), key, message, find_line(self.text, key))

    def where(self, key: str, between: str = " ") -> str:
        """``"file:line key"`` (the line where it is known; ``between`` separates the key)."""
        line = None if key in self.overridden else find_line(self.text, key)
        return f"{self.path}{'' if line is None else f':{line}'}{between}{key}"


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"output.size=[64,48]"`` -> (["output", "size"], [64, 48]).  The value is TOML; a bare word
    that is not valid TOML is taken as a string (``model.name=vgg19``)."""
    if "=" not in text:
        raise ValueError(f"--set {text!r}: expected key.path=VALUE")
    key, raw = text.split("=", 1)
    parts = [p.strip() for p in key.strip().split(".")]
    if not all(parts):
        raise ValueError(f"--set {text!r}: empty key")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return parts, value


def _apply_overrides(data: dict, overrides: Iterable[str], path: Path) -> set[str]:
    done = set()
    for text in overrides:
        try:
            parts, value = parse_override(text)
        except ValueError as err:
            raise RecipeError(str(path), "", str(err)) from None
        node = data
        for depth, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise RecipeError(str(path), ".".join(parts[: depth + 1]),
                                  f"--set {text!r}: this key is a value, not a table")
            node = child
        node[parts[-1]] = value
        done.add(".".join(parts))
    return done


def _drop_shadowed_length(data: dict, overridden: set[str]) -> None:
    """``--set output.frames=N`` replaces a duration written in the file, and the other way round."""
    output = data.get("output")
    if not isinstance(output, dict):
        return
    for given, other in (("frames", "duration"), ("duration", "frames")):
        if f"output.{given}" in overridden and f"output.{other}" not in overridden:
            output.pop(other, None)


def read_toml(path: Path) -> tuple[str, dict]:
    """Read and parse a recipe file; I/O and syntax problems become RecipeError with the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError(str(path), "", "recipe file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise RecipeError(str(path), "", f"cannot read recipe: {err}") from None
    return parse_toml(text, path)


def parse_toml(text: str, path: Path) -> tuple[str, dict]:
    """Parse recipe text; syntax problems become RecipeError naming ``path`` and the line."""
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        match = _TOML_LINE.search(str(err))
        line = int(match.group(1)) if match else None
        if line is None and "end of document" in str(err):
            line = max(1, len(text.splitlines()))
        message = re.sub(r"\s*\((at line \d+, column \d+|at end of document)\)", "", str(err))
        raise RecipeError(str(path), "", f"TOML syntax error: {message}", line) from None


def load_recipe(path: str | Path, overrides: Iterable[str] = (), registry=None, text: str | None = None,
                recipes: Callable[[RecipeRef], Any] | None = None) -> Recipe:
    """Read, override and validate a recipe.  Raises :class:`RecipeError` on any problem.

    ``registry`` is a :class:`render.kinds.KindRegistry` (default: built-ins plus entry points).
    ``text`` is the recipe's TOML when it does not come from ``path`` (a recipe read back from a
    picture: ``path`` is then where it was written, so relative assets still resolve).  ``recipes``
    opens another recipe's frames (``{ recipe = "walk.toml" }``, a :class:`RecipeRef`) as a source;
    :func:`render.graph.load_graph` gives it, and without it such a key is refused."""
    path = Path(path)
    overrides = tuple(overrides)
    text, data = read_toml(path) if text is None else parse_toml(text, path)
    overridden = _apply_overrides(data, overrides, path)
    _drop_shadowed_length(data, overridden)
    ctx = _Context(path, text, overridden)
    if registry is None:
        from ..kinds import default_registry
        registry = default_registry()
    return dataclasses.replace(_validate(data, ctx, overrides, registry, recipes), text=text)


def _check_keys(table: dict, allowed: Iterable[str], prefix: str, ctx: _Context) -> None:
    allowed = list(allowed)
    for key in table:
        if key not in allowed:
            raise ctx.error(f"{prefix}{key}", "unknown key" + did_you_mean(key, allowed)
                            + f"; known keys: {', '.join(allowed)}")


def parse_section(raw: Any, spec: dict, name: str, ctx: _Context, env: ParseEnv) -> dict[str, Any]:
    """Validate one table against its spec; returns key -> clean value (defaults filled in)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ctx.error(name, f"expected a table [{name}], got a value")
    _check_keys(raw, spec, f"{name}.", ctx)
    clean = {}
    for key, field in spec.items():
        value = raw.get(key, field.default)
        if value is None:
            clean[key] = None
            continue
        try:
            clean[key] = field.parse(value, env)
        except FieldError as err:
            full = f"{name}.{key}" + (f".{err.subkey}" if err.subkey else "")
            raise ctx.error(full, str(err)) from None
        except RecipeError as err:  # the recipe whose frames this key uses is wrong: say who reached it
            raise err.reached_from(ctx.where(f"{name}.{key}")) from None
    return clean


def _kind_of(data: dict, ctx: _Context, registry):
    kind = data.get("kind")
    if kind is None:
        raise ctx.error("kind", "missing; say what to render, e.g. kind = \"dream\"")
    names = registry.names()
    if not isinstance(kind, str) or kind not in names:
        raise ctx.error("kind", f"unknown kind {kind!r}"
                        + (did_you_mean(kind, names) if isinstance(kind, str) else "")
                        + f"; available: {', '.join(names)}")
    return registry.get(kind)


def _resolve_model(name: str, kind, ctx: _Context) -> catalog.ModelInfo:
    try:
        info = catalog.resolve(name, ctx.path.parent)
    except KeyError:
        raise ctx.error("model.name", f"unknown model {name!r}" + did_you_mean(name, catalog.model_names())
                        + f"; available: {', '.join(list(catalog.BUILTIN) + list(catalog.TRAINED))}, a .keras file, "
                          "a StyleGAN .pkl (walks) or a folder made by `render train`") from None
    except ModelError as err:
        raise ctx.error("model.name", str(err)) from None
    if kind.roles and info.role not in kind.roles:
        wanted = " or ".join(_with_article(role) for role in kind.roles)
        raise ctx.error("model.name", f"{info.name} is {_with_article(info.role)}; kind {kind.name!r} needs {wanted}")
    return info


def _with_model_defaults(data: dict, info: catalog.ModelInfo, kind) -> dict:
    """``data`` with the model's own layers where the recipe names none (the kinds' defaults are VGG16's
    layer names), and the defaults the recipe's own choices imply (:meth:`Kind.implied_defaults`);
    the resolved recipe then says which were used."""
    filled = None
    for section, key, value in (*info.defaults, *kind.implied_defaults(data)):
        table = data.get(section, {})
        if section in kind.sections and isinstance(table, dict) and key not in table:
            filled = filled or dict(data)
            filled[section] = dict(filled.get(section) or {}, **{key: copy.deepcopy(value)})
    return filled or data


def _with_article(role: str) -> str:
    return ("an " if role[0] in "aeiou" else "a ") + role


def _check_cycles(sections: dict, spec: dict, frames: int, ctx: _Context) -> None:
    """A cyclic schedule wraps over the frame count, so its keys must fit inside one period."""
    for _, column, schedule in _columns(sections, spec):
        points = getattr(schedule, "points", ())
        if getattr(schedule, "cycle", False) and points[-1][0] - points[0][0] >= frames:
            raise ctx.error(column, f"cycle = true repeats every {frames} frames (the frame "
                                    f"count), but the keys span {points[-1][0] - points[0][0]:g}")


def _columns(sections: dict, spec: dict):
    """Every plan column of the kind's tables: ``(field, column name, schedule)``."""
    for name, table in spec.items():
        for key, field in table.items():
            value = sections[name][key]
            if value is not None:
                for column, schedule in field.schedules(f"{name}.{key}", value).items():
                    yield field, column, schedule


def _check_expanded(sections: dict, spec: dict, frames: int, ctx: _Context) -> None:
    """Expressions are known only per frame: expand each once and check its values against its
    field's range (and that each gives a finite number at every frame)."""
    for field, column, schedule in _columns(sections, spec):
        if not getattr(schedule, "dynamic", False):
            continue
        try:
            values = schedule.expand(frames)
        except (ExpressionError, AudioError) as err:   # AudioError: b on a track without beats
            raise ctx.error(column, str(err)) from None
        problem = field.check_expanded(column, values)
        if problem:
            raise ctx.error(column, problem)


def _audio_frames(audio: AudioSettings | None, fps: float, ctx: _Context, key: str) -> int:
    """Frames from the offset to the end of the track (``duration = "audio"``)."""
    if audio is None:
        raise ctx.error(key, "duration = \"audio\" needs a soundtrack: add [audio] with file = \"track.wav\"")
    return max(1, round((audio.duration - audio.offset) * fps))


def _validate(data: dict, ctx: _Context, overrides: tuple[str, ...], registry, recipes=None) -> Recipe:
    kind = _kind_of(data, ctx, registry)
    _check_keys(data, ["kind", "seed", "background", "title", "description", "output", "model", "print",
                       "audio"] + list(kind.sections), "", ctx)
    seed = _parse_top_seed(data, ctx)
    background = _parse_background(data, ctx)
    texts = {key: _parse_top_text(data, key, ctx) for key in schema.TOP_TEXT}
    audio = _parse_audio_table(data, ctx) if "audio" in data else None
    out, follow_audio = _parse_output(data.get("output"), ctx)
    if isinstance(data.get("audio"), dict) and "duration" in data["audio"]:
        given_length = [k for k in ("frames", "duration") if k in (data.get("output") or {})
                        and f"output.{k}" not in ctx.overridden]
        if given_length:
            raise ctx.error(f"output.{given_length[0]}", "the length is set twice: here and by [audio] "
                                                         "duration = \"audio\"; keep one")
        follow_audio = follow_audio or not any(f"output.{k}" in ctx.overridden for k in ("frames", "duration"))
    if follow_audio:
        out = dataclasses.replace(out, frames=_audio_frames(audio, out.fps, ctx, "output.duration"))
    env = ParseEnv(out.fps, ctx.path.parent, background, Signals(out.fps, audio), recipes)
    model_raw = parse_section(data.get("model"), schema.model_table(kind.default_model, kind.model_help),
                              "model", ctx, env)
    info = _resolve_model(model_raw["name"], kind, ctx)
    as_written, data = data, _with_model_defaults(data, info, kind)
    sections = {name: parse_section(data.get(name), spec, name, ctx, env)
                for name, spec in kind.sections.items()}
    given = data.get("output") if isinstance(data.get("output"), dict) else {}
    source = kind.sequence_source(sections)
    if source is not None and source.native_fps and "fps" not in given:
        # a video or animation without a recipe fps plays at its own rate: sections are read again
        # at that rate (keyframes given in seconds, and the source's frame count, depend on it)
        out = dataclasses.replace(out, fps=source.native_fps)
        if follow_audio:
            out = dataclasses.replace(out, frames=_audio_frames(audio, out.fps, ctx, "output.duration"))
        env = dataclasses.replace(env, fps=out.fps, signals=Signals(out.fps, audio))
        sections = {name: parse_section(data.get(name), spec, name, ctx, env)
                    for name, spec in kind.sections.items()}
    if "frames" not in given and "duration" not in given and not follow_audio:
        implied = kind.frame_count(sections, out)
        if implied is not None:
            out = dataclasses.replace(out, frames=implied)
    if "size" not in given and source is not None and source.is_sequence and min(source.size) > 0:
        out = dataclasses.replace(out, size=tuple(source.size))   # footage renders at its own size
    min_side = kind.min_side_for(info, sections)
    if min(out.size) < min_side:
        raise ctx.error("output.size", f"{'model ' + info.name if min_side == info.min_side else 'this recipe'} "
                                       f"needs frames of at least {min_side} px "
                                       f"on each side; got {out.size[0]}x{out.size[1]}"
                        + ("" if "size" in given else " (the footage's size; set output.size)"))
    shown = out.final_size()   # the video is made of the upscaled frames
    too_large = (out.frames > 1 and out.video != "none"
                 and size_problem(*shown, CODECS[out.video].padded_size(*shown)))
    if too_large:   # before any frame is rendered, not when the video is encoded
        raise ctx.error("output.upscale" if out.upscale is not None else "output.size",
                        too_large + (f" (upscaled {out.upscale.factor} times)" if out.upscale is not None else ""))
    if out.video != "none" and out.frames > 1 and out.frames / out.fps > MAX_VIDEO_SECONDS:
        raise ctx.error("output.fps", f"{out.frames} frames at {out.fps:g} fps last {out.frames / out.fps:.3g} s; a "
                                      f"video lasts at most {MAX_VIDEO_SECONDS // 3600} h (a higher fps, fewer frames, "
                                      "or video = \"none\")")
    _check_cycles(sections, kind.sections, out.frames, ctx)
    _check_expanded(sections, kind.sections, out.frames, ctx)
    settings = kind.settings(sections, info, out, ctx.error)
    written = _written(as_written)   # a model's default layers filled in are not the recipe's words
    inert = kind.inert(sections, written)
    for key in sorted(set(inert) & written, key=lambda key: (key in ctx.overridden, find_line(ctx.text, key) or 0)):
        note(f"{ctx.where(key, ': ')}: does nothing here: {inert[key]}"
             + (" (set with --set)" if key in ctx.overridden else ""))
    print_settings = _parse_print(data.get("print"), out, ctx) if "print" in data else None
    try:
        backend, backend_reason = resolve_backend(model_raw["backend"])
        require_backend(backend)
    except BackendError as err:
        raise ctx.error("model.backend", str(err)) from None
    resolved = _resolved(data, out, model_raw["name"], seed, backend)
    precision, precision_reason = resolve_precision(model_raw["precision"], backend)
    return Recipe(path=ctx.path, kind=kind, seed=seed, output=out, model=info,
                  requested_precision=model_raw["precision"], precision=precision,
                  requested_backend=model_raw["backend"], backend=backend,
                  backend_reason=backend_reason, precision_reason=precision_reason,
                  sections=sections, settings=settings, resolved=resolved, overrides=overrides,
                  print=print_settings, background=background, audio=audio, inert=frozenset(inert), **texts)


def _written(data: dict) -> frozenset[str]:
    """The key paths the recipe writes: each table and each key of a table (``"motion"``,
    ``"motion.zoom"``), and the top-level keys."""
    paths = set()
    for name, value in data.items():
        paths.add(name)
        if isinstance(value, dict):
            paths.update(f"{name}.{key}" for key in value)
    return frozenset(paths)


def _parse_audio_table(data: dict, ctx: _Context) -> AudioSettings:
    env = ParseEnv(1.0, ctx.path.parent)
    return parse_audio(data["audio"], env, lambda raw, spec, name: parse_section(raw, spec, name, ctx, env),
                       ctx.error)


def _parse_top_text(data: dict, key: str, ctx: _Context) -> str | None:
    if key not in data:
        return None
    try:
        return schema.TOP_TEXT[key].parse(data[key], ParseEnv())
    except FieldError as err:
        raise ctx.error(key, str(err)) from None


def _parse_print(raw: Any, out: OutputSettings, ctx: _Context) -> PrintSettings:
    """The ``[print]`` table; its size is checked at its own dpi and bleed, its frame against the count."""
    from ..prints.paper import SizeError, parse_memory, parse_size
    clean = parse_section(raw, schema.PRINT, "print", ctx, ParseEnv(out.fps, ctx.path.parent))
    if clean["size"] is not None:
        try:
            parse_size(clean["size"], clean["dpi"], "portrait", clean["bleed"])
        except SizeError as err:
            raise ctx.error("print.size", str(err)) from None
    if clean["frame"] is not None and clean["frame"] >= out.frames:
        raise ctx.error("print.frame", f"frame {clean['frame']} is not in the recipe: it has frames "
                                       f"0..{out.frames - 1}")
    memory = parse_memory(clean["max_memory"]) if clean["max_memory"] else None
    return PrintSettings(clean["size"], clean["dpi"], clean["orientation"], clean["bleed"], clean["format"],
                         clean["frame"], clean["steps"], memory)


def _parse_background(data: dict, ctx: _Context) -> tuple[float, float, float]:
    try:
        return schema.BACKGROUND.parse(data.get("background", schema.BACKGROUND.default), ParseEnv())
    except FieldError as err:
        raise ctx.error("background", str(err)) from None


def _parse_top_seed(data: dict, ctx: _Context) -> int:
    try:
        return schema.SEED.parse(data.get("seed", 0), ParseEnv())
    except FieldError as err:
        raise ctx.error("seed", str(err)) from None


def _parse_output(raw: Any, ctx: _Context) -> tuple[OutputSettings, bool]:
    """The ``[output]`` table, and whether its length follows the soundtrack (``duration = "audio"``:
    the caller sets the frames then)."""
    clean = parse_section(raw, schema.OUTPUT, "output", ctx, ParseEnv(1.0, ctx.path.parent))
    raw = raw or {}
    if "frames" in raw and "duration" in raw:
        raise ctx.error("output.duration", "give either frames or duration, not both")
    follow_audio = clean["duration"] == "audio"
    if follow_audio:
        clean["duration"] = None
    frames = clean["frames"]
    if frames is None:
        frames = max(1, round(clean["duration"] * clean["fps"])) if clean["duration"] else 1
    out = OutputSettings(size=clean["size"], frames=frames, fps=clean["fps"], video=clean["video"],
                         quality=clean["quality"], loop=clean["loop"], upscale=clean["upscale"])
    if out.upscale is not None and max(out.final_size()) > 16384:
        raise ctx.error("output.upscale", f"upscaled frames would be {out.final_size()[0]}x{out.final_size()[1]}, "
                                          "over 16384 px; upscale less or render smaller")
    return out, follow_audio


def _resolved(data: dict, out: OutputSettings, model_name: str, seed: int, backend: str) -> dict:
    """Plain-data copy of the recipe with output defaults filled in and the backend resolved (written
    next to the frames and into every picture, so `render run PICTURE` renders on the same backend)."""
    resolved = copy.deepcopy(data)
    resolved["seed"] = seed
    resolved.setdefault("model", {})["name"] = model_name
    resolved["model"]["backend"] = backend
    output = resolved.setdefault("output", {})
    output.update(size=list(out.size), frames=out.frames, fps=out.fps, video=out.video,
                  quality=out.quality, loop=out.loop)
    output.pop("duration", None)
    return resolved
