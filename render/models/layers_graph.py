"""A Keras functional model from a plain list of layer nodes, the converted form of a TF.js layers model.

A node is ``{"name", "op", "args", "inputs"}`` with ``op`` from a fixed vocabulary (:data:`OPS`) and
``args`` its settings; weights are a ``{"<node>/<weight>": array}`` dict.  Nothing is deserialised
into code: an unknown op is refused.  :func:`nodes_from_keras_config` turns a Keras/TF.js model config
into nodes, keeping only what the wanted outputs need, so layers past a model's frozen trunk are
never converted.

Two layers that the ESRGAN packages define in JavaScript are written here from their definitions:
``MultiplyBeta`` scales its input by ``beta`` (0.2: the residual scaling of RRDB blocks, Wang et al.
2018, "ESRGAN", section 3.2) and ``PixelShuffle<r>x`` is TensorFlow's ``depth_to_space`` with block
``r`` in NHWC: ``out[b, h*r + i, w*r + j, c] = in[b, h, w, (i*r + j)*C + c]`` (Shi et al. 2016,
sub-pixel convolution).
"""

from __future__ import annotations

import re
from typing import Iterable

import numpy as np

from ..backend.kerasops import keras, ops
from ..errors import ModelError

OPS = ("input", "conv2d", "batchnorm", "activation", "add", "concatenate", "maxpool", "avgpool",
       "upsample", "scale", "depth_to_space")
_ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh", "relu6")


def _pair(value) -> list[int]:
    return [int(v) for v in value] if isinstance(value, (list, tuple)) else [int(value), int(value)]


def _node_from_layer(layer: dict) -> dict:
    cls, conf = layer.get("class_name", ""), layer.get("config") or {}
    name = conf.get("name") or layer.get("name")
    if cls == "InputLayer":
        shape = conf.get("batch_input_shape") or conf.get("batch_shape") or [None, None, None, 3]
        return {"op": "input", "args": {"channels": int(shape[-1])}}
    if cls == "Conv2D":
        activation = conf.get("activation", "linear")
        if activation not in _ACTIVATIONS:
            raise ModelError(f"layer {name}: activation {activation} is not supported")
        return {"op": "conv2d", "args": {
            "filters": int(conf["filters"]), "kernel_size": _pair(conf["kernel_size"]),
            "strides": _pair(conf.get("strides", 1)), "padding": conf.get("padding", "valid"),
            "dilation_rate": _pair(conf.get("dilation_rate", 1)), "use_bias": bool(conf.get("use_bias", True)),
            "activation": activation}}
    if cls == "BatchNormalization":
        axis = conf.get("axis", -1)
        axis = axis[0] if isinstance(axis, list) else axis
        if axis not in (-1, 3):
            raise ModelError(f"layer {name}: batch normalisation over axis {axis} is not supported")
        return {"op": "batchnorm", "args": {"epsilon": float(conf.get("epsilon", 1e-3)),
                                            "center": bool(conf.get("center", True)),
                                            "scale": bool(conf.get("scale", True))}}
    if cls == "Activation":
        if conf.get("activation") not in _ACTIVATIONS:
            raise ModelError(f"layer {name}: activation {conf.get('activation')} is not supported")
        return {"op": "activation", "args": {"activation": conf["activation"]}}
    if cls == "Add":
        return {"op": "add", "args": {}}
    if cls == "Concatenate":
        if conf.get("axis", -1) not in (-1, 3):
            raise ModelError(f"layer {name}: concatenation over axis {conf.get('axis')} is not supported")
        return {"op": "concatenate", "args": {}}
    if cls in ("MaxPooling2D", "AveragePooling2D"):
        pool = _pair(conf.get("pool_size", 2))
        return {"op": "maxpool" if cls.startswith("Max") else "avgpool",
                "args": {"pool_size": pool, "strides": _pair(conf.get("strides") or pool),
                         "padding": conf.get("padding", "valid")}}
    if cls == "UpSampling2D":
        if conf.get("interpolation", "nearest") != "nearest":
            raise ModelError(f"layer {name}: only nearest-neighbour upsampling is supported")
        return {"op": "upsample", "args": {"size": _pair(conf.get("size", 2))}}
    if cls == "MultiplyBeta":
        return {"op": "scale", "args": {"factor": float(conf.get("beta", 0.2))}}
    match = re.fullmatch(r"PixelShuffle(\d+)x", cls)
    if match:
        return {"op": "depth_to_space", "args": {"block": int(conf.get("scale", match.group(1)))}}
    raise ModelError(f"layer {name}: {cls} layers are not supported")


def _inbound(layer: dict) -> list[str]:
    nodes = layer.get("inbound_nodes") or []
    if not nodes:
        return []
    if len(nodes) > 1:
        raise ModelError(f"layer {layer.get('name')}: shared layers are not supported")
    return [entry[0] for entry in nodes[0]]


def nodes_from_keras_config(config: dict, outputs: Iterable[str] | None = None) -> list[dict]:
    """A Keras functional model config -> nodes in graph order, with only the layers that the named
    ``outputs`` need (default: the model's own outputs).  Raises :class:`ModelError` for a layer outside
    :data:`OPS` that an output needs, and ``KeyError``-free messages for unknown output names."""
    layers = config.get("config", {}).get("layers") or []
    by_name = {(layer.get("config") or {}).get("name") or layer.get("name"): layer for layer in layers}
    wanted = list(outputs) if outputs is not None else [o[0] for o in config["config"].get("output_layers", [])]
    missing = [name for name in wanted if name not in by_name]
    if missing:
        raise ModelError(f"the model has no layer {', '.join(missing)}")
    needed, stack = set(), list(wanted)
    while stack:
        name = stack.pop()
        if name not in needed:
            needed.add(name)
            stack.extend(_inbound(by_name[name]))
    nodes = []
    for name, layer in by_name.items():
        if name in needed:
            nodes.append(dict(_node_from_layer(layer), name=name, inputs=_inbound(layer)))
    return nodes


def weight_names(node: dict) -> list[str]:
    """The weights a node holds, in the order its Keras layer keeps them (TF.js names them
    ``<layer>/<weight>``)."""
    op, args = node["op"], node["args"]
    if op == "conv2d":
        return ["kernel", "bias"] if args["use_bias"] else ["kernel"]
    if op == "batchnorm":
        return (["gamma"] if args["scale"] else []) + (["beta"] if args["center"] else []) \
            + ["moving_mean", "moving_variance"]
    return []


class Scale(keras.layers.Layer):
    """``x * factor`` (ESRGAN's residual scaling, ``MultiplyBeta``)."""

    def __init__(self, factor: float, **kwargs):
        super().__init__(**kwargs)
        self.factor = float(factor)

    def call(self, x):
        return x * self.factor


class DepthToSpace(keras.layers.Layer):
    """NHWC ``(B, H, W, r*r*C)`` -> ``(B, H*r, W*r, C)`` in TensorFlow's ``depth_to_space`` order."""

    def __init__(self, block: int, **kwargs):
        super().__init__(**kwargs)
        self.block = int(block)

    def call(self, x):
        r = self.block
        shape = ops.shape(x)
        b, h, w, c = shape[0], shape[1], shape[2], shape[3] // (r * r)
        x = ops.reshape(x, (b, h, w, r, r, c))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        return ops.reshape(x, (b, h * r, w * r, c))

    def compute_output_shape(self, shape):
        r = self.block
        scaled = [None if n is None else n * r for n in shape[1:3]]
        return (shape[0], *scaled, shape[3] // (r * r))


def _activation(name: str):
    return (lambda x: ops.relu6(x)) if name == "relu6" else name


def _layer(node: dict):
    op, args, name = node["op"], node["args"], node["name"]
    if op == "conv2d":
        return keras.layers.Conv2D(args["filters"], tuple(args["kernel_size"]), tuple(args["strides"]),
                                   padding=args["padding"], dilation_rate=tuple(args["dilation_rate"]),
                                   use_bias=args["use_bias"], activation=_activation(args["activation"]),
                                   name=name)
    if op == "batchnorm":
        return keras.layers.BatchNormalization(epsilon=args["epsilon"], center=args["center"],
                                               scale=args["scale"], name=name)
    if op == "activation":
        return keras.layers.Activation(_activation(args["activation"]), name=name)
    if op == "add":
        return keras.layers.Add(name=name)
    if op == "concatenate":
        return keras.layers.Concatenate(axis=-1, name=name)
    if op == "maxpool":
        return keras.layers.MaxPooling2D(tuple(args["pool_size"]), tuple(args["strides"]), args["padding"], name=name)
    if op == "avgpool":
        return keras.layers.AveragePooling2D(tuple(args["pool_size"]), tuple(args["strides"]), args["padding"],
                                             name=name)
    if op == "upsample":
        return keras.layers.UpSampling2D(tuple(args["size"]), interpolation="nearest", name=name)
    if op == "scale":
        return Scale(args["factor"], name=name)
    if op == "depth_to_space":
        return DepthToSpace(args["block"], name=name)
    raise ModelError(f"layer {name}: unknown op {op}")


def build_model(nodes: list[dict], weights: dict[str, np.ndarray], outputs: Iterable[str],
                name: str = "converted") -> keras.Model:
    """The Keras model of ``nodes`` with ``weights`` set, returning ``outputs`` (a list when several).

    Input: NHWC float of any height and width.  Raises :class:`ModelError` when a weight is missing or
    has the wrong shape."""
    tensors: dict[str, object] = {}
    inputs, layers = [], []
    for node in nodes:
        if node["op"] not in OPS:
            raise ModelError(f"layer {node['name']}: unknown op {node['op']}")
        if node["op"] == "input":
            tensors[node["name"]] = keras.Input((None, None, node["args"]["channels"]), name=node["name"])
            inputs.append(tensors[node["name"]])
            continue
        layer = _layer(node)
        sources = [tensors[source] for source in node["inputs"]]
        tensors[node["name"]] = layer(sources if node["op"] in ("add", "concatenate") else sources[0])
        layers.append((layer, node))
    for layer, node in layers:
        names = weight_names(node)
        if names:
            arrays = []
            for weight in names:
                key = f"{node['name']}/{weight}"
                if key not in weights:
                    raise ModelError(f"the weights hold no {key}")
                arrays.append(np.asarray(weights[key], np.float32))
            expected = [tuple(w.shape) for w in layer.get_weights()]
            if [a.shape for a in arrays] != expected:
                raise ModelError(f"layer {node['name']}: weights of shapes {[a.shape for a in arrays]}, "
                                 f"expected {expected}")
            layer.set_weights(arrays)
    outs = [tensors[o] for o in outputs]
    return keras.Model(inputs[0] if len(inputs) == 1 else inputs, outs if len(outs) > 1 else outs[0], name=name)
