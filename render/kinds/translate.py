"""The ``translate`` kind: pix2pix image-to-image translation, frame by frame (independent frames,
rendered in batches).

``[translate] input`` is one image, a folder of frames, a video or another recipe's frames; each
frame is fitted (scaled to cover and centre-cropped) to the model's square size, turned into the
model's input (a drawing is used as it is; with ``edges = true`` HED finds the edges of a photo
first, drawn dark on white), translated, and resized (Lanczos) to the output size.  A frame's key
covers its own input frame (an image's bytes, another recipe's frame key), so replacing one input
image re-renders that frame only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..media import MediaSource, describe_still, held_note
from ..models.catalog import IMAGE_TO_IMAGE
from ..recipe.fields import Flag, MediaPath, Number
from ..backend import activate
from .base import Kind

TRANSLATE = {
    "input": MediaPath(None, help="what to translate: an image, a folder of frames or a video, relative to the "
                                  "recipe, or another recipe's frames: { recipe = \"walk.toml\" }"),
    "edges": Flag(False, help="run HED edge detection on the input first, so any photo or video can be redrawn"),
    "batch": Number(8, 1, 4096, integer=True, help="frames per model call"),
}


@dataclass(frozen=True)
class TranslateSettings:
    source: MediaSource
    edges: bool
    batch: int
    size: int            # the model's square working size
    in_channels: int


class TranslateKind(Kind):
    name = "translate"
    description = "pix2pix image-to-image translation (line drawing -> picture), frame by frame"
    chained = False
    engine_version = "translate-1"
    sections = {"translate": TRANSLATE}
    roles = (IMAGE_TO_IMAGE,)
    default_model = "edges2faces"
    model_help = "edges2faces (trained here), or a model folder made by `render train pix2pix`"
    default_batch = 8

    def sequence_source(self, sections):
        return sections["translate"]["input"]

    def settings(self, sections, model, output, error) -> TranslateSettings:
        translate = sections["translate"]
        if translate["input"] is None:
            raise error("translate.input", "missing: an image, a folder of frames or a video to translate")
        return TranslateSettings(translate["input"], translate["edges"], translate["batch"], model.image_size,
                                 model.input_channels or 1)

    def key_parts(self, recipe) -> dict[str, Any]:
        return {"edges": recipe.settings.edges}

    def key_row(self, recipe, index, row):
        return dict(row, input=recipe.settings.source.identity(index))

    def batch_size(self, recipe) -> int:
        return recipe.settings.batch

    def summary(self, recipe) -> list[str]:
        s: TranslateSettings = recipe.settings
        width, height = recipe.output.size
        return [(f"input    {s.source.path}: {s.source.describe()}" + held_note(s.source, recipe.output.frames)
                 if s.source.is_sequence else f"input    {describe_still(s.source.path)}")
                + (", HED edges first" if s.edges else ""),
                f"note     each input frame is fitted to the model's {s.size}x{s.size} and the result resized "
                f"to {width}x{height}"]

    def build_engine(self, recipe):
        activate(recipe.backend)   # Keras starts on the recipe's backend
        from ..engines.translate import TranslateEngine
        return TranslateEngine.from_recipe(recipe)


KIND = TranslateKind()
