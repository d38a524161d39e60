"""The ``[audio]`` table every kind shares: a soundtrack and the named features expressions read.

::

    [audio]
    file = "assets/drums-and-bass.flac"   # anything the bundled ffmpeg decodes
    offset = 2.0                          # seconds into the file at frame 0
    duration = "audio"                    # optional: frames follow the track (as [output] duration = "audio")

    [audio.features.kick]                 # read as `kick` in expressions
    kind = "onset"                        # onset | rms | band | chroma | beat
    part = "percussive"                   # mix | percussive | harmonic
    attack = 0.0                          # seconds (envelope follower)
    release = 0.15
    normalize = [1, 99]                   # percentiles of the whole track -> 0..1 (false: raw)
    gamma = 1.0

Checked here (names, settings that belong together, the file decodes, the offset lies inside it);
the analysis itself is :mod:`render.audio`, run when a value is first needed.
"""

from __future__ import annotations

import keyword
from pathlib import Path
from typing import Any, Callable

from ..expressions import CONSTANTS, FUNCTIONS
from ..signals import BASE_NAMES, BEAT_NAME
from .fields import Choice, Field, FieldError, Number, ParseEnv, _type_name
from .model import AudioSettings

FEATURE_KINDS = ("onset", "rms", "band", "chroma", "beat")
PARTS = ("mix", "percussive", "harmonic")
NYQUIST = 11025.0  # Hz: the analysis runs at 22050 Hz
RESERVED = set(BASE_NAMES) | {BEAT_NAME} | set(CONSTANTS) | set(FUNCTIONS)


class AudioFile(Field):
    """A soundtrack file relative to the recipe, checked decodable; returns a :class:`render.audio.Track`."""

    default: Any = None
    help = "the soundtrack: WAV, FLAC, OGG, MP3, M4A... (anything the bundled ffmpeg decodes), relative to the recipe"

    def parse(self, raw: Any, env: ParseEnv):
        from ..audio import AudioError, Track
        if not isinstance(raw, str) or not raw.strip():
            raise FieldError(f"expected a file path, got {_type_name(raw)} ({raw!r})")
        path = Path(raw)
        try:
            return Track.open(path if path.is_absolute() else env.base_dir / path)
        except AudioError as err:
            raise FieldError(str(err)) from None

    def json_schema(self) -> dict:
        return self._described({"type": "string", "minLength": 1})


class Percentiles(Field):
    """``[low, high]`` percentiles (0..100, low < high), or false for raw values."""

    default: Any = [1.0, 99.0]
    help = "[low, high] percentiles of the whole track mapped to 0..1 (clipped), or false for raw values"

    def parse(self, raw: Any, env: ParseEnv):
        if raw is False:
            return None
        if (not isinstance(raw, list) or len(raw) != 2
                or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in raw)):
            raise FieldError(f"expected [low, high] percentiles such as [1, 99], or false; got {raw!r}")
        low, high = float(raw[0]), float(raw[1])
        if not 0.0 <= low < high <= 100.0:
            raise FieldError(f"percentiles must satisfy 0 <= low < high <= 100, got [{low:g}, {high:g}]")
        return low, high

    def json_schema(self) -> dict:
        pair = {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 100},
                "minItems": 2, "maxItems": 2}
        return self._described({"anyOf": [pair, {"const": False}]})


class AudioLength(Field):
    """Only the word ``"audio"``: the frame count follows the track (from the offset to its end)."""

    default: Any = None
    help = 'duration = "audio": as many frames as the track lasts after offset (like [output] duration = "audio")'

    def parse(self, raw: Any, env: ParseEnv) -> str:
        if raw != "audio":
            raise FieldError(f'the only value here is "audio" (the video lasts as long as the track); got {raw!r}. '
                             'A length in seconds goes in [output] duration')
        return raw

    def json_schema(self) -> dict:
        return self._described({"const": "audio"})


AUDIO = {
    "file": AudioFile(),
    "offset": Number(0.0, -1e6, 1e6, help="seconds into the file at frame 0 (negative: the track starts that "
                                          "long after frame 0, silence until then)"),
    "duration": AudioLength(),
}

FEATURE = {
    "kind": Choice(None, FEATURE_KINDS, help="onset (strength of note/drum attacks), rms (loudness), band "
                                             "(energy between low and high Hz), chroma (12 pitch classes, a "
                                             "vector: name[0] is C), beat (at each tracked beat)"),
    "part": Choice("mix", PARTS, help="the whole track, or its percussive or harmonic part (HPSS)"),
    "low": Number(None, 0.0, NYQUIST, help="band: lower edge in Hz"),
    "high": Number(None, 0.0, NYQUIST, help="band: upper edge in Hz"),
    "attack": Number(0.0, 0.0, 60.0, help="seconds to rise (envelope follower; 0 = at once)"),
    "release": Number(0.0, 0.0, 60.0, help="seconds to fall (envelope follower; 0 = at once)"),
    "normalize": Percentiles(),
    "gamma": Number(1.0, 0.0, 100.0, low_open=True, help="after normalising: value ** gamma (> 1 keeps only the peaks)"),
    "decay": Number(0.0, 0.0, 60.0, help="beat: 0 = 1.0 on the frame of each beat, else a pulse "
                                         "falling as exp(-seconds since the beat / decay)"),
}


def audio_schema() -> dict:
    """The ``[audio]`` table for ``render schema``."""
    feature = {"type": "object", "properties": {k: f.json_schema() for k, f in FEATURE.items()},
               "required": ["kind"], "additionalProperties": False}
    properties = {k: f.json_schema() for k, f in AUDIO.items()}
    properties["features"] = {"type": "object", "description": "named features: [audio.features.NAME]",
                              "additionalProperties": feature}
    return {"type": "object", "properties": properties, "required": ["file"], "additionalProperties": False}


def parse_audio(raw: Any, env: ParseEnv, section: Callable, error: Callable) -> AudioSettings:
    """The ``[audio]`` table -> :class:`AudioSettings`.  ``section(raw, spec, name)`` validates a table
    (the loader's, so errors carry the line); ``error(key, message)`` makes a recipe error."""
    if not isinstance(raw, dict):
        raise error("audio", "expected a table [audio] with file = \"track.wav\"")
    table = {k: v for k, v in raw.items() if k != "features"}
    clean = section(table, AUDIO, "audio")
    track = clean["file"]
    if track is None:
        raise error("audio.file", "missing: the soundtrack, e.g. file = \"assets/track.flac\"")
    if clean["offset"] >= track.duration:
        raise error("audio.offset", f"{clean['offset']:g} s is past the end of {track.path.name} "
                                    f"({track.duration:.2f} s long)")
    features = _parse_features(raw.get("features", {}), section, error)
    return AudioSettings(track.path, track.digest, track.duration, clean["offset"], features)


def _parse_features(raw: Any, section: Callable, error: Callable) -> dict:
    from ..audio import FeatureSpec
    if not isinstance(raw, dict):
        raise error("audio.features", "expected tables [audio.features.NAME] with kind = \"onset\" (or rms, "
                                      "band, chroma, beat)")
    features = {}
    for name, table in raw.items():
        where = f"audio.features.{name}"
        if not name.isidentifier() or not name.isascii() or keyword.iskeyword(name) or name.startswith("_"):
            raise error(where, "a feature's name is how expressions read it: letters, digits and _, "
                               "starting with a letter, not a Python keyword (e.g. kick, bass_2)")
        if name in RESERVED:
            raise error(where, f"{name!r} is already a name in expressions (t, f, frames, fps, b, pi, "
                               "tau, e and the functions): choose another")
        if not isinstance(table, dict):
            raise error(where, "expected a table: [audio.features." + name + "] with kind = \"onset\"")
        clean = section(table, FEATURE, where)
        kind = clean["kind"]
        if kind is None:
            raise error(f"{where}.kind", "missing: one of " + ", ".join(FEATURE_KINDS))
        if kind == "band":
            for edge in ("low", "high"):
                if clean[edge] is None:
                    raise error(f"{where}.{edge}", "missing: a band needs low and high, in Hz (e.g. 20 and 150)")
            if clean["low"] >= clean["high"]:
                raise error(f"{where}.high", f"must be above low ({clean['low']:g} Hz)")
        else:
            for edge in ("low", "high"):
                if edge in table:
                    raise error(f"{where}.{edge}", f"{edge} applies to kind = \"band\" only")
        if "decay" in table and kind != "beat":
            raise error(f"{where}.decay", "decay applies to kind = \"beat\" only")
        if kind == "beat":
            for key in ("attack", "release", "normalize", "gamma"):
                if key in table:
                    raise error(f"{where}.{key}", f"a beat is an impulse or a decaying pulse (decay): {key} "
                                                 "does not apply")
        try:
            features[name] = FeatureSpec(name=name, kind=kind, part=clean["part"], low=clean["low"],
                                         high=clean["high"], attack=clean["attack"], release=clean["release"],
                                         normalize=clean["normalize"], gamma=clean["gamma"], decay=clean["decay"])
        except ValueError as err:  # the analysis' own checks; the ones above name the key first
            raise error(where, str(err)) from None
    return features

