"""pix2pix networks (Isola et al., 2017) in Keras: a U-Net generator and a PatchGAN discriminator.

- ``unet_generator(size, in_channels, out_channels, ngf)``: images ``(batch, size, size, in)`` in
  -1..1 -> ``(batch, size, size, out)`` in -1..1 (tanh).  4x4 stride-2 convolutions down to 1x1
  (LeakyReLU 0.2, batch norm after the first), transposed convolutions back up (ReLU, batch norm),
  each decoder level concatenated with its encoder twin.  The paper's dropout noise is left out, so
  training is deterministic and a resumed run repeats an unbroken one exactly.
- ``patch_discriminator(in_channels, out_channels, ndf)``: the (condition, image) pair -> a map of
  real/fake logits, one per overlapping patch (three stride-2 layers, then two stride-1 ones).
"""

from __future__ import annotations

import zlib

from ..backend.kerasops import keras


def _init(name: str, seed: int):
    """N(0, 0.02) weights (as in the paper) seeded by the layer's name and ``seed`` alone, so the
    same model starts from the same weights in any process, whatever was built before it."""
    return keras.initializers.RandomNormal(0.0, 0.02, seed=(zlib.crc32(name.encode()) + seed) % 2**31)


def _down(x, filters, norm, name, seed=0):
    x = keras.layers.Conv2D(filters, 4, strides=2, padding="same", use_bias=not norm,
                            kernel_initializer=_init(name, seed), name=f"{name}_conv")(x)
    if norm:
        x = keras.layers.BatchNormalization(name=f"{name}_norm")(x)
    return keras.layers.LeakyReLU(0.2, name=f"{name}_act")(x)


def _up(x, filters, name, seed=0):
    x = keras.layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False,
                                     kernel_initializer=_init(name, seed), name=f"{name}_deconv")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_norm")(x)
    return keras.layers.ReLU(name=f"{name}_act")(x)


def unet_generator(size: int = 64, in_channels: int = 1, out_channels: int = 3, ngf: int = 32,
                   seed: int = 0) -> keras.Model:
    if size < 8 or size & (size - 1):
        raise ValueError(f"the U-Net needs a power-of-two size of at least 8, got {size}")
    inputs = keras.Input((size, size, in_channels), name="condition")
    skips, x, side, level = [], inputs, size, 0
    while side > 1:
        filters = ngf * min(8, 2 ** level)
        x = _down(x, filters, norm=level > 0, name=f"down{level}", seed=seed)
        skips.append(x)
        side //= 2
        level += 1
    for depth, skip in enumerate(reversed(skips[:-1])):
        x = _up(x, skip.shape[-1], name=f"up{depth}", seed=seed)
        x = keras.layers.Concatenate(name=f"skip{depth}")([x, skip])
    x = keras.layers.Conv2DTranspose(out_channels, 4, strides=2, padding="same",
                                     kernel_initializer=_init("to_image", seed), name="to_image")(x)
    outputs = keras.layers.Activation("tanh", name="image")(x)
    return keras.Model(inputs, outputs, name="pix2pix_unet")


def patch_discriminator(in_channels: int = 1, out_channels: int = 3, ndf: int = 32, seed: int = 0) -> keras.Model:
    condition = keras.Input((None, None, in_channels), name="condition")
    image = keras.Input((None, None, out_channels), name="image")
    x = keras.layers.Concatenate(name="pair")([condition, image])
    for level, filters in enumerate((ndf, ndf * 2, ndf * 4)):
        x = _down(x, filters, norm=level > 0, name=f"d{level}", seed=seed)
    x = keras.layers.Conv2D(ndf * 8, 4, padding="same", use_bias=False, kernel_initializer=_init("d3", seed),
                            name="d3_conv")(x)
    x = keras.layers.BatchNormalization(name="d3_norm")(x)
    x = keras.layers.LeakyReLU(0.2, name="d3_act")(x)
    logits = keras.layers.Conv2D(1, 4, padding="same", kernel_initializer=_init("patches", seed), name="patches")(x)
    return keras.Model([condition, image], logits, name="pix2pix_patchgan")
