"""The recipe schema: which tables each kind has, their keys, types, ranges and defaults.

Data, not code: adding a kind means adding a table spec here and an engine under render/engines.
"""

from __future__ import annotations

from .fields import Choice, Duration, Number, Size, Text, Vector2

VIDEO_FORMATS = ("mp4", "hevc", "prores", "prores4444", "webm", "gif", "none")
LOOP_MODES = ("forward", "pingpong")

TOP_LEVEL = {
    "kind": Text(None, help="what to render: dream"),
    "seed": Number(0, 0, 2**31 - 1, integer=True, help="seed of every random choice"),
}

OUTPUT = {
    "size": Size([640, 360], help="[width, height] in pixels"),
    "frames": Number(None, 1, 1_000_000, integer=True, help="frame count (or give duration)"),
    "duration": Duration(None, help='length, e.g. "8s"; frames = duration * fps'),
    "fps": Number(30.0, 0, 240, low_open=True, help="frames per second"),
    "video": Choice("mp4", VIDEO_FORMATS, help="container/codec of the video"),
    "quality": Number(18, 0, 63, integer=True, help="crf where the codec has one (lower is better)"),
    "loop": Choice("forward", LOOP_MODES, help="forward, or pingpong (forward then back)"),
}

MODEL = {
    "name": Text("vgg16", help="vgg16 (embedded), vgg16-imagenet, vgg19-imagenet, "
                               "inceptionv3-imagenet, or a path to a .keras file"),
    "precision": Choice("auto", ("auto", "float32", "bfloat16"),
                        help="compute type; auto = bfloat16 where the hardware has it natively"),
}

DREAM = {
    "init": Text("noise", help='start image, relative to the recipe, or "noise"'),
    "layers": None,  # layer table, checked against the model by the loader
    "octaves": Number(3, 1, 12, integer=True, keyframed=True, help="image scales per frame"),
    "octave_scale": Number(1.4, 1.0, 4.0, keyframed=True, help="size ratio between octaves"),
    "steps": Number(8, 0, 1000, integer=True, keyframed=True, help="gradient steps per octave"),
    "step_size": Number(0.02, 0.0, 1.0, keyframed=True, help="step in image units (0..1)"),
    "tile": Number(512, 32, 4096, integer=True,
                   help="largest gradient tile side in pixels (raised to twice the model's minimum side)"),
    "color_coherence": Number(0.5, 0.0, 1.0, keyframed=True,
                              help="pull each frame's colours toward frame 0's (0 = free drift)"),
}

MOTION = {
    "zoom": Number(1.0, 0.5, 2.0, keyframed=True, help="scale per frame (>1 zooms in)"),
    "rotate": Number(0.0, -90.0, 90.0, keyframed=True, help="degrees per frame"),
    "pan": Vector2([0.0, 0.0], -1000.0, 1000.0, help="[x, y] pixels per frame"),
}

DEFAULT_LAYERS = {"block4_conv3": 1.0}

KINDS = {
    "dream": {"output": OUTPUT, "model": MODEL, "dream": DREAM, "motion": MOTION},
}
PLANNED_KINDS = ("style", "walk", "translate")
