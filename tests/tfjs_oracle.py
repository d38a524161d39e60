"""A plain numpy reading of a TensorFlow.js layers model, written from the format's description only.

Independent of :mod:`render.models` (nothing from ``render`` is imported here), so the tests can hold
the product's reader and converted Keras model against it:

* ``model.json``: ``modelTopology`` is a Keras functional model config (or holds one under
  ``model_config``); ``weightsManifest`` is a list of groups, each ``{"paths": [shard files],
  "weights": [{"name", "shape", "dtype", "quantization"?}]}``; a group's shards concatenated are
  its weights one after another, little-endian, in manifest order.
* A quantised weight (``{"dtype": "uint8", "min": m, "scale": s}``) is stored as one byte per value
  ``q`` and stands for ``m + s * q``.

The forward pass supports what the ESRGAN packages' networks use: InputLayer, Conv2D (any kernel,
stride 1, ``same`` or ``valid``, relu or linear), Concatenate (channels), Add, UpSampling2D
(nearest), ``MultiplyBeta`` (``x * beta``) and ``PixelShuffle<r>x`` (TensorFlow's ``depth_to_space``,
NHWC: ``out[b, h*r + i, w*r + j, c] = in[b, h, w, (i*r + j)*C + c]``).  Everything runs in float64.
"""

from __future__ import annotations

import json
import re

import numpy as np


def read_weights(model: dict, shard_bytes) -> dict[str, np.ndarray]:
    """``{name: float64 array}`` from the manifest of ``model`` (the parsed model.json);
    ``shard_bytes(path)`` gives a shard's bytes (path as the manifest writes it)."""
    out = {}
    for group in model["weightsManifest"]:
        data = b"".join(shard_bytes(path) for path in group["paths"])
        at = 0
        for spec in group["weights"]:
            shape = [int(n) for n in spec["shape"]]
            count = 1
            for n in shape:
                count *= n
            quant = spec.get("quantization")
            if quant is not None:
                assert quant["dtype"] == "uint8", quant
                raw = data[at:at + count]
                at += count
                q = np.array(list(raw), dtype=np.float64)      # one byte per value
                values = float(quant["min"]) + float(quant["scale"]) * q
            else:
                assert spec.get("dtype", "float32") == "float32", spec
                raw = data[at:at + 4 * count]
                at += 4 * count
                values = np.frombuffer(raw, dtype="<f4").astype(np.float64)
            assert values.size == count, f"shards end inside {spec['name']}"
            out[spec["name"]] = values.reshape(shape)
        assert at == len(data), "bytes no weight uses"
    return out


def _same_pads(size: int, k: int) -> tuple[int, int]:
    """TF's 'same' padding at stride 1: k - 1 in total, the larger half after."""
    total = k - 1
    return total // 2, total - total // 2


def conv2d(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray | None, padding: str) -> np.ndarray:
    """NHWC convolution (cross-correlation, as Keras computes it) by explicit sliding windows."""
    kh, kw, cin, cout = kernel.shape
    b, h, w, c = x.shape
    assert c == cin
    if padding == "same":
        (top, bottom), (left, right) = _same_pads(h, kh), _same_pads(w, kw)
        x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    oh, ow = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    out = np.zeros((b, oh, ow, cout))
    for y in range(oh):
        for xx in range(ow):
            window = x[:, y:y + kh, xx:xx + kw, :]                 # (b, kh, kw, cin)
            out[:, y, xx, :] = np.tensordot(window, kernel, axes=([1, 2, 3], [0, 1, 2]))
    if bias is not None:
        out = out + bias
    return out


def depth_to_space(x: np.ndarray, r: int) -> np.ndarray:
    """TensorFlow's definition, index by index."""
    b, h, w, depth = x.shape
    c = depth // (r * r)
    out = np.zeros((b, h * r, w * r, c))
    for bb in range(b):
        for hh in range(h):
            for ww in range(w):
                for i in range(r):
                    for j in range(r):
                        for cc in range(c):
                            out[bb, hh * r + i, ww * r + j, cc] = x[bb, hh, ww, (i * r + j) * c + cc]
    return out


def upsample_nearest(x: np.ndarray, size) -> np.ndarray:
    sy, sx = size
    b, h, w, c = x.shape
    out = np.zeros((b, h * sy, w * sx, c))
    for y in range(h * sy):
        for xx in range(w * sx):
            out[:, y, xx, :] = x[:, y // sy, xx // sx, :]
    return out


def _pair(v):
    return tuple(v) if isinstance(v, (list, tuple)) else (v, v)


def forward(model: dict, weights: dict[str, np.ndarray], image: np.ndarray) -> np.ndarray:
    """The model's (single) output for the NHWC ``image``."""
    topology = model["modelTopology"]
    config = topology.get("model_config", topology)["config"]
    values: dict[str, np.ndarray] = {}
    pending = list(config["layers"])
    while pending:                      # evaluate in dependency order, whatever the listed order
        progressed = False
        for layer in list(pending):
            name, cls, conf = layer["name"], layer["class_name"], layer["config"]
            sources = [entry[0] for entry in (layer["inbound_nodes"][0] if layer["inbound_nodes"] else [])]
            if any(s not in values for s in sources):
                continue
            ins = [values[s] for s in sources]
            if cls == "InputLayer":
                out = np.asarray(image, np.float64)
            elif cls == "Conv2D":
                assert _pair(conf.get("strides", 1)) == (1, 1) and _pair(conf.get("dilation_rate", 1)) == (1, 1)
                kernel = weights[f"{name}/kernel"]
                bias = weights.get(f"{name}/bias") if conf.get("use_bias", True) else None
                out = conv2d(ins[0], kernel, bias, conf.get("padding", "valid"))
                act = conf.get("activation", "linear")
                if act == "relu":
                    out = np.maximum(out, 0.0)
                else:
                    assert act == "linear", act
            elif cls == "Concatenate":
                out = np.concatenate(ins, axis=-1)
            elif cls == "Add":
                out = ins[0]
                for more in ins[1:]:
                    out = out + more
            elif cls == "UpSampling2D":
                assert conf.get("interpolation", "nearest") == "nearest"
                out = upsample_nearest(ins[0], _pair(conf.get("size", 2)))
            elif cls == "MultiplyBeta":
                out = ins[0] * float(conf["beta"])
            elif re.fullmatch(r"PixelShuffle\d+x", cls):
                out = depth_to_space(ins[0], int(conf["scale"]))
            else:
                raise NotImplementedError(cls)
            values[name] = out
            pending.remove(layer)
            progressed = True
        assert progressed, "a layer's inputs never appear"
    (output_name, _, _), = config["output_layers"]
    return values[output_name]


def load(model_json: bytes, shard_bytes) -> tuple[dict, dict[str, np.ndarray]]:
    model = json.loads(model_json)
    return model, read_weights(model, shard_bytes)
