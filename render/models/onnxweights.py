"""The constant tensors of an ONNX file, read and never run: initialisers, ``Constant`` nodes and the
``DequantizeLinear`` of constants, so an int8-quantised network's weights come out as float32.

The protobuf is parsed by the ``onnx`` package (the format's own reader); nothing in the file is
executed and no runtime is involved.  Dequantisation follows the ONNX operator's definition:
``y = (x - zero_point) * scale``, per tensor (scalar scale) or per axis (1-D scale along ``axis``,
default 1).  Convolutions are listed with their attributes so a port can check the architecture it
expects before it uses the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ModelError

PASS_THROUGH = ("Identity",)


def dequantize(values: np.ndarray, scale: np.ndarray, zero_point: np.ndarray | None = None,
               axis: int = 1) -> np.ndarray:
    """ONNX ``DequantizeLinear``: float32 ``(values - zero_point) * scale``; a 1-D ``scale`` (and
    ``zero_point``) applies along ``axis`` of ``values``, a scalar one to every element."""
    values = np.asarray(values)
    scale = np.asarray(scale, np.float32)
    zero = np.zeros_like(scale, dtype=np.int64) if zero_point is None else np.asarray(zero_point, np.int64)
    if scale.ndim > 1:
        raise ModelError(f"blocked quantisation (a scale of shape {scale.shape}) is not supported")
    if scale.size > 1:   # per axis
        shape = [1] * values.ndim
        shape[axis % values.ndim] = scale.size
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    else:
        scale, zero = scale.reshape(()), zero.reshape(())
    return ((values.astype(np.int64) - zero).astype(np.float32) * scale).astype(np.float32)


@dataclass(frozen=True)
class Convolution:
    """One ``Conv`` node: ``scope`` (its weight's name without the last component), ``kernel``
    float32 ``(out, in / group, kh, kw)`` as ONNX stores it, ``bias`` ``(out,)`` or None, and its
    attributes (``strides``, ``pads`` as ONNX's begin..end list, ``group``, ``dilations``)."""

    scope: str
    kernel: np.ndarray
    bias: np.ndarray | None
    strides: tuple[int, ...]
    pads: tuple[int, ...]
    group: int
    dilations: tuple[int, ...]


class ConstantTensors:
    """Constant values of an ONNX graph by tensor name (see the module)."""

    def __init__(self, data: bytes, source: str = "model"):
        try:
            import onnx
            from onnx import numpy_helper
        except ImportError:  # pragma: no cover - a declared dependency
            raise ModelError("reading ONNX weights needs the onnx package (pip install onnx)") from None
        try:
            self.model = onnx.load_from_string(data)
        except Exception as err:  # the protobuf decoder raises its own DecodeError
            raise ModelError(f"{source}: not an ONNX model ({err})") from None
        self.source = source
        self._to_array = numpy_helper.to_array
        self._attribute = onnx.helper.get_attribute_value
        graph = self.model.graph
        self.nodes = list(graph.node)
        self.initializers = {t.name: t for t in graph.initializer}
        self.producers = {out: node for node in self.nodes for out in node.output}
        self._cache: dict[str, np.ndarray | None] = {}

    def attributes(self, node) -> dict:
        return {a.name: self._attribute(a) for a in node.attribute}

    def value(self, name: str) -> np.ndarray | None:
        """The constant tensor called ``name`` (dequantised to float32 when it is the output of a
        ``DequantizeLinear`` of constants), or None when it depends on an input."""
        if name not in self._cache:
            self._cache[name] = self._resolve(name)
        return self._cache[name]

    def _resolve(self, name: str) -> np.ndarray | None:
        if name in self.initializers:
            return self._to_array(self.initializers[name])
        node = self.producers.get(name)
        if node is None:
            return None
        if node.op_type == "Constant":
            attributes = self.attributes(node)
            if "value" not in attributes:
                raise ModelError(f"{self.source}: constant {name} is not a tensor")
            return self._to_array(attributes["value"])
        if node.op_type in PASS_THROUGH:
            return self.value(node.input[0])
        if node.op_type == "DequantizeLinear":
            values = self.value(node.input[0])
            scale = self.value(node.input[1])
            zero = self.value(node.input[2]) if len(node.input) > 2 and node.input[2] else None
            if values is None or scale is None:
                return None
            return dequantize(values, scale, zero, int(self.attributes(node).get("axis", 1)))
        return None

    def required(self, name: str) -> np.ndarray:
        value = self.value(name)
        if value is None:
            raise ModelError(f"{self.source}: tensor {name} is not a constant")
        return value

    def convolutions(self) -> list[Convolution]:
        """Every ``Conv`` node in graph order with its constant kernel and bias."""
        found = []
        for node in self.nodes:
            if node.op_type != "Conv":
                continue
            attributes = self.attributes(node)
            kernel = self.required(node.input[1]).astype(np.float32)
            bias = self.required(node.input[2]).astype(np.float32) if len(node.input) > 2 and node.input[2] else None
            weight_name = node.input[1]
            producer = self.producers.get(weight_name)
            if producer is not None and producer.op_type == "DequantizeLinear":
                weight_name = producer.input[0]
            scope = weight_name.rsplit("/", 1)[0] if "/" in weight_name else weight_name.rsplit(".", 1)[0]
            spatial = kernel.ndim - 2
            found.append(Convolution(scope, kernel, bias, tuple(attributes.get("strides", [1] * spatial)),
                                     tuple(attributes.get("pads", [0] * 2 * spatial)),
                                     int(attributes.get("group", 1)), tuple(attributes.get("dilations", [1] * spatial))))
        return found

    def float_initializers(self) -> dict[str, np.ndarray]:
        """Every floating-point initialiser by name (float32)."""
        out = {}
        for name, tensor in self.initializers.items():
            array = self._to_array(tensor)
            if np.issubdtype(array.dtype, np.floating):
                out[name] = array.astype(np.float32)
        return out
