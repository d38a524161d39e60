"""A kind's recipe format as a JSON Schema (draft 2020-12), built from the same field specs that
validate recipes: types, ranges, defaults, enums and each field's help as its description.

Editors with a TOML language server (Taplo, Even Better TOML) read the ``#:schema`` comment at the
top of a recipe and complete and check keys as the user types.
"""

from __future__ import annotations

from . import schema
from .audio_table import audio_schema

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _table(spec: dict, description: str) -> dict:
    return {"type": "object", "description": description, "additionalProperties": False,
            "properties": {key: field.json_schema() for key, field in spec.items()}}


def recipe_json_schema(kind) -> dict:
    """The JSON Schema of recipes of ``kind`` (a :class:`render.kinds.base.Kind`)."""
    properties = {
        "kind": {"const": kind.name, "description": kind.description},
        "seed": schema.SEED.json_schema(),
        "background": schema.BACKGROUND.json_schema(),
        **{key: field.json_schema() for key, field in schema.TOP_TEXT.items()},
        "output": _table(schema.OUTPUT, "frame size, length and video"),
        "model": _table(schema.model_table(kind.default_model, kind.model_help), "the network"),
    }
    properties["print"] = _table(schema.PRINT, "print-resolution output (render print)")
    properties["audio"] = dict(audio_schema(), description="a soundtrack: muxed into the video, its features "
                                                           "read by expressions")
    for name, spec in kind.sections.items():
        properties[name] = _table(spec, f"[{name}] settings of the {kind.name} kind")
    return {"$schema": DIALECT, "title": f"neural-render {kind.name} recipe",
            "description": kind.description, "type": "object", "required": ["kind"],
            "additionalProperties": False, "properties": properties}
