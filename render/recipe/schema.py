"""The tables every kind shares: the top level, ``[output]`` and ``[model]``.

Each kind declares its own tables in its module under render/kinds; the loader validates both the
same way, and ``render schema KIND`` turns both into a JSON Schema.
"""

from __future__ import annotations

from ..outputs.formats import VIDEO_FORMATS
from .fields import Choice, Duration, Number, Size, Text

LOOP_MODES = ("forward", "pingpong")
PRECISIONS = ("auto", "float32", "bfloat16")

SEED = Number(0, 0, 2**31 - 1, integer=True, help="seed of every random choice")

OUTPUT = {
    "size": Size([640, 360], help="[width, height] in pixels"),
    "frames": Number(None, 1, 1_000_000, integer=True, help="frame count (or give duration)"),
    "duration": Duration(None, help='length, e.g. "8s"; frames = duration * fps'),
    "fps": Number(30.0, 0, 240, low_open=True, help="frames per second"),
    "video": Choice("mp4", VIDEO_FORMATS + ("none",), help="container/codec of the video, or none"),
    "quality": Number(18, 0, 63, integer=True, help="crf where the codec has one (lower is better)"),
    "loop": Choice("forward", LOOP_MODES, help="forward, or pingpong (forward then back)"),
}


def model_table(default_name: str, names_help: str) -> dict:
    """The ``[model]`` table of a kind whose default model is ``default_name``."""
    return {
        "name": Text(default_name, help=names_help),
        "precision": Choice("auto", PRECISIONS,
                            help="compute type; auto = bfloat16 where the hardware has it natively"),
    }
