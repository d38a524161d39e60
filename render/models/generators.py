"""Generator networks built in Keras (imports TensorFlow).

``dcgan_generator`` is the DCGAN generator of the PyTorch DCGAN tutorial: a latent ``(batch, nz)``
goes through five transposed convolutions (4x4 kernels; the first 'valid' to 4x4, then stride 2
'same' up to 64x64) with batch norm and ReLU between them and tanh at the end, giving RGB
``(batch, 64, 64, 3)`` in -1..1.  The embedded face generator's converted weights load into it.
"""

from __future__ import annotations

from pathlib import Path

from ..backend.kerasops import keras

from ..errors import ModelError

BN_EPSILON = 1e-5  # PyTorch's BatchNorm2d default


def dcgan_generator(nz: int = 100, ngf: int = 64, channels: int = 3) -> keras.Model:
    layers = keras.layers
    latent = keras.Input((nz,), name="latent")
    x = layers.Reshape((1, 1, nz), name="to_map")(latent)
    widths = (ngf * 8, ngf * 4, ngf * 2, ngf)
    for index, width in enumerate(widths):
        x = layers.Conv2DTranspose(width, 4, strides=1 if index == 0 else 2,
                                   padding="valid" if index == 0 else "same", use_bias=False,
                                   name=f"deconv{index}")(x)
        x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.9, name=f"norm{index}")(x)
        x = layers.ReLU(name=f"relu{index}")(x)
    x = layers.Conv2DTranspose(channels, 4, strides=2, padding="same", use_bias=False,
                               name=f"deconv{len(widths)}")(x)
    image = layers.Activation("tanh", name="image")(x)
    return keras.Model(latent, image, name="dcgan_generator")


def load_dcgan_faces(weights: Path) -> keras.Model:
    """The embedded DCGAN face generator with its converted weights."""
    model = dcgan_generator()
    try:
        model.load_weights(str(weights))
    except Exception as err:  # h5py and Keras raise many types
        raise ModelError(f"cannot load the face generator weights {weights}: {err}") from None
    return model
