"""The tables every kind shares: the top level, ``[output]``, ``[model]`` and ``[print]``.

Each kind declares its own tables in its module under render/kinds; the loader validates both the
same way, and ``render schema KIND`` turns both into a JSON Schema.
"""

from __future__ import annotations

from typing import Any

from ..outputs.formats import VIDEO_FORMATS
from ..prints.paper import DPI_RANGE, ORIENTATIONS, SizeError, length_px, parse_memory, parse_size
from .fields import Choice, Colour, Duration, FieldError, Number, ParseEnv, Size, Text, Upscale

LOOP_MODES = ("forward", "pingpong")
PRECISIONS = ("auto", "float32", "bfloat16")
BACKENDS = ("auto", "tensorflow", "jax")

SEED = Number(0, 0, 2**31 - 1, integer=True, help="seed of every random choice")
BACKGROUND = Colour("white", help="colour laid under transparent pixels of input pictures (cut-outs, "
                                  'logos): "#rrggbb" or a name; white by default')

OUTPUT = {
    "size": Size([640, 360], help="[width, height] in pixels"),
    "frames": Number(None, 1, 1_000_000, integer=True, help="frame count (or give duration)"),
    "duration": Duration(None, help='length, e.g. "8s"; frames = duration * fps; "audio": as long as the '
                                    'soundtrack after its offset', words=("audio",)),
    "fps": Number(30.0, 0.001, 240, help="frames per second (0.001, a frame each 1000 s, to 240)"),
    "video": Choice("mp4", VIDEO_FORMATS + ("none",), help="container/codec of the video, or none"),
    "quality": Number(18, 0, 63, integer=True, help="crf where the codec has one (lower is better)"),
    "loop": Choice("forward", LOOP_MODES, help="forward, or pingpong (forward then back)"),
    "upscale": Upscale(help='enlarge every frame after rendering: "esrgan-x4", or { model = ["esrgan-x4", '
                            '"esrgan-x2"], tile = 128 }, or { model = "lanczos", factor = 4 }'),
}


def model_table(default_name: str, names_help: str) -> dict:
    """The ``[model]`` table of a kind whose default model is ``default_name``."""
    return {
        "name": Text(default_name, help=names_help),
        "precision": Choice("auto", PRECISIONS,
                            help="compute type; auto = bfloat16 where the device the backend renders on "
                                 "runs it natively"),
        "backend": Choice("auto", BACKENDS,
                          help="Keras backend; auto = TensorFlow unless KERAS_BACKEND or keras.json "
                               "selects JAX"),
    }


class _Checked(Text):
    """A string checked by ``check(text)`` (which raises :class:`SizeError`), kept as written."""

    def check(self, text: str) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def parse(self, raw: Any, env: ParseEnv) -> str:
        text = super().parse(raw, env)
        try:
            self.check(text)
        except SizeError as err:
            raise FieldError(str(err)) from None
        return text


class PaperSize(_Checked):
    """A paper name (A3) or WIDTHxHEIGHT with a unit (60x40cm, 24x36in, 7087x4724px)."""

    def check(self, text: str) -> None:
        parse_size(text, 300)


class Length(_Checked):
    """A length with a unit: "3mm", "0.125in", "0"."""

    def check(self, text: str) -> None:
        length_px(text, 300)


class MemorySize(_Checked):
    """A memory size: "4GiB", "500MB"."""

    def check(self, text: str) -> None:
        parse_memory(text)


TOP_TEXT = {
    "title": Text(None, help="title shown in the gallery (default: the recipe's file name)"),
    "description": Text(None, help="one paragraph for the gallery (default: the recipe's leading comment)"),
}

PRINT = {
    "size": PaperSize(None, help="paper (A4, A3, B2, letter...) or WIDTHxHEIGHT with a unit: 60x40cm, 24x36in, "
                                 "7087x4724px"),
    "dpi": Number(300, DPI_RANGE[0], DPI_RANGE[1], integer=True, help="print resolution, dots per inch"),
    "orientation": Choice("auto", ORIENTATIONS, help="auto follows the frame's shape"),
    "bleed": Length("0mm", help="margin added on every side for trimming, e.g. \"3mm\""),
    "format": Choice("tiff", ("tiff", "png", "jpeg"), help="tiff is 16-bit; png and jpeg 8-bit"),
    "frame": Number(None, 0, 10_000_000, integer=True, help="which frame to print (default: the last)"),
    "steps": Number(None, 0, 100_000, integer=True,
                    help="steps per print octave or scale (default: the frame's own steps)"),
    "max_memory": MemorySize(None, help="choose tiles so the print fits, e.g. \"4GiB\""),
}
