"""Read a TensorFlow.js layers model: its topology and its weights as numpy arrays (no TensorFlow).

A layers model is a ``model.json`` (``modelTopology``: the Keras model config; ``weightsManifest``:
groups of shard files and, in order, the weights they hold, each with a name, shape, dtype and an
optional ``quantization``) and binary shards whose bytes, concatenated per group, are the weights one
after another, little-endian.

Some packages ship both as JavaScript modules instead (``model.min.js`` exporting the same object
as a JavaScript literal, and shards exporting one base64 string).  Those are read as data by a small
literal parser: nothing in them is run.

Quantised weights (``{"dtype": "uint8", "scale": s, "min": m}``, TF.js's affine quantisation) come
back as ``m + s * q`` in float32; ``{"dtype": "float16"}`` as float32 too.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Callable

import numpy as np

from ..errors import ModelError

_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.uint8}


def parse_js_literal(text: str, where: str = "model file"):
    """A JavaScript object/array/string/number literal (as minifiers write them: unquoted keys,
    ``!0``/``!1`` for true/false, ``.5``) -> the Python value.  Anything that is not a literal
    (a call, an operator other than unary minus) raises :class:`ModelError`."""
    tokens = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|(?P<num>-?(?:\d+\.?\d*|\.\d+)'
                        r'(?:[eE][-+]?\d+)?)|(?P<bool>!0|!1)|(?P<word>[A-Za-z_$][\w$]*)|(?P<punct>[{}\[\]:,]))')
    pos, length = 0, len(text)

    def fail(message):
        raise ModelError(f"{where}: not a plain data literal at character {pos}: {message}")

    def token():
        nonlocal pos
        match = tokens.match(text, pos)
        if not match:
            fail(repr(text[pos:pos + 20]))
        pos = match.end()
        return match.lastgroup, match.group(match.lastgroup)

    def value(kind, tok):
        if kind == "str":
            if tok[0] == "'":
                tok = '"' + tok[1:-1].replace('\\\'', "'").replace('"', '\\"') + '"'
            return json.loads(tok)
        if kind == "num":
            return float(tok) if any(c in tok for c in ".eE") else int(tok)
        if kind == "bool":
            return tok == "!0"
        if kind == "word":
            words = {"true": True, "false": False, "null": None, "undefined": None}
            if tok not in words:
                fail(f"the name {tok!r}")
            return words[tok]
        if tok == "{":
            out = {}
            kind, tok = token()
            while tok != "}":
                if kind == "str":
                    key = value(kind, tok)
                elif kind in ("word", "num"):
                    key = tok
                else:
                    fail(f"a key {tok!r}")
                if token()[1] != ":":
                    fail("':' expected")
                out[key] = value(*token())
                kind, tok = after_item("}")
            return out
        if tok == "[":
            items = []
            kind, tok = token()
            while tok != "]":
                items.append(value(kind, tok))
                kind, tok = after_item("]")
            return items
        fail(f"unexpected {tok!r}")

    def after_item(close):
        """The token after an item and its comma (a trailing comma allowed), or the closing bracket."""
        kind, tok = token()
        if tok == ",":
            return token()
        if tok != close:
            fail(f"',' or '{close}' expected, got {tok!r}")
        return kind, tok

    result = value(*token())
    return result


def _exported_literal(text: str, where: str) -> str:
    """The object or array literal a bundled module assigns to ``<x>.exports=``: from its opening
    bracket to the matching close (strings skipped)."""
    match = re.search(r"\bexports\s*=\s*(?=[{\[])", text)
    if not match:
        raise ModelError(f"{where}: no exported value found")
    start, depth, index, quote = match.end(), 0, match.end(), None
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return text[start:index + 1]
        index += 1
    raise ModelError(f"{where}: the exported value never closes")


def read_model_json(data: bytes, where: str = "model.json") -> dict:
    """``model.json`` bytes, or a ``.js`` module exporting the same object -> the dict."""
    text = data.decode("utf-8")
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            raise ModelError(f"{where}: not valid JSON ({err})") from None
    return parse_js_literal(_exported_literal(text, where), where)


def read_shard(data: bytes, name: str) -> bytes:
    """A shard's bytes: a binary file as it is, a ``.js`` module exporting a base64 string decoded."""
    if name.endswith(".js"):
        match = re.search(rb"\bexports\s*=\s*([\"'])([A-Za-z0-9+/=]*)\1", data)
        if not match:
            raise ModelError(f"{name}: the shard module exports no base64 string")
        return base64.b64decode(match.group(2), validate=True)
    return data


def _weight(buffer: bytes, offset: int, spec: dict, where: str) -> tuple[np.ndarray, int]:
    shape = tuple(int(n) for n in spec["shape"])
    count = int(np.prod(shape)) if shape else 1
    quant = spec.get("quantization")
    if quant:
        qtype = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}.get(quant.get("dtype"))
        if qtype is None:
            raise ModelError(f"{where}: {spec['name']}: unsupported quantization {quant.get('dtype')}")
        raw = np.frombuffer(buffer, np.dtype(qtype).newbyteorder("<"), count, offset)
        offset += raw.nbytes
        if qtype == np.float16:
            values = raw.astype(np.float32)
        else:
            values = (np.float32(quant["min"]) + np.float32(quant["scale"]) * raw.astype(np.float32))
    else:
        dtype = _DTYPES.get(spec.get("dtype", "float32"))
        if dtype is None:
            raise ModelError(f"{where}: {spec['name']}: unsupported dtype {spec.get('dtype')}")
        values = np.frombuffer(buffer, np.dtype(dtype).newbyteorder("<"), count, offset)
        offset += values.nbytes
    return values.reshape(shape).astype(np.float32 if values.dtype.kind == "f" else values.dtype), offset


def read_layers_model(open_file: Callable[[str], bytes], model_path: str,
                      shard_suffix: str = "") -> tuple[dict, dict[str, np.ndarray]]:
    """``(model config, {weight name: array})`` of the layers model at ``model_path``.

    ``open_file(path)`` returns the bytes of a file of the package (paths relative to the package
    root; shard paths are relative to the model file's folder, plus ``shard_suffix`` where a package
    renamed them, as ``.min.js``).  The config is the Keras model config
    (``{"class_name": ..., "config": {"layers": [...], ...}}``).  Raises :class:`ModelError` for a
    missing shard, a shard shorter than its manifest or an unsupported weight type."""
    meta = read_model_json(open_file(model_path), model_path)
    topology = meta.get("modelTopology") or {}
    config = topology.get("model_config") or topology
    if not isinstance(config, dict) or "config" not in config:
        raise ModelError(f"{model_path}: no layers-model topology (a graph model is not supported)")
    folder = model_path.rsplit("/", 1)[0] + "/" if "/" in model_path else ""
    weights: dict[str, np.ndarray] = {}
    for group in meta.get("weightsManifest") or []:
        buffer = b"".join(read_shard(open_file(folder + path + shard_suffix), path + shard_suffix) for path in group["paths"])
        offset = 0
        for spec in group["weights"]:
            try:
                weights[spec["name"]], offset = _weight(buffer, offset, spec, model_path)
            except ValueError:
                raise ModelError(f"{model_path}: the shards end before {spec['name']}") from None
        if offset != len(buffer):
            raise ModelError(f"{model_path}: {len(buffer) - offset} bytes in the shards that no weight uses")
    return config, weights
