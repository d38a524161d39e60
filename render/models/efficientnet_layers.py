"""EfficientNet-Lite0 as plain data: its stages, its nameable layers and its input convention.

No Keras here, so the catalog can list the layers and validate a recipe without starting TensorFlow;
:mod:`render.models.efficientnet` builds the network from these numbers and a state dict.

EfficientNet-Lite (Tan and Le's EfficientNet without squeeze-and-excitation, with ReLU6 instead of
swish and the stem and head kept at 32 and 1280 channels) is a 3x3 stride-2 stem convolution, seven
stages of inverted-residual blocks (a 1x1 expansion, a depthwise convolution, a linear 1x1
projection; a residual sum where shape allows), a 1x1 head convolution to 1280 channels, global
average pooling and a 1000-class ImageNet classifier.
"""

from __future__ import annotations

# per stage: (blocks, depthwise kernel, stride of its first block, expansion ratio, output channels)
STAGES = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
CLASSES = 1000
BN_EPSILON = 1e-3          # the TensorFlow original's, kept by the PyTorch port

# The PyTorch port pads like TensorFlow's 'same' but computes the padding once, for this image side,
# and keeps it for every input size (see render.models.efficientnet)
PORT_IMAGE_SIZE = 224

# The smallest input side: five stride-2 steps leave one activation per 32 pixels
MIN_SIDE = 32


def _layers() -> dict[str, tuple[int, int]]:
    stride, table = 2, {}
    for stage, (_blocks, _kernel, first_stride, _expand, channels) in enumerate(STAGES, start=1):
        stride *= first_stride
        table[f"stage{stage}"] = (channels, stride)
    table["head"] = (HEAD_CHANNELS, stride)
    return table


# name -> (channels, stride in input pixels): the last layer of each stage, then the head (after its
# ReLU6), in network order
LAYERS: dict[str, tuple[int, int]] = _layers()
EFFICIENTNET_LITE0_LAYERS = LAYERS       # the name the catalog imports

# Input convention: RGB in 0..255, minus 127, divided by 128 (about -1..1), i.e. x01 * 255 / 128 - 127 / 128
PREPROCESS = "efficientnet"
MEAN_RGB = 127.0
STDDEV_RGB = 128.0
