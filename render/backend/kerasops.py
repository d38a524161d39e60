"""Keras imported on the chosen backend: modules that build or run models import ``keras`` and
``ops`` from here, so Keras never starts on a backend the recipe did not choose.

The engines assume Keras' defaults, float32 and channels-last images; a user's ``keras.json`` may set
others (``floatx = "float16"`` would change pixels without changing frame keys), so they are pinned
for this process here."""

from __future__ import annotations

from . import current

current()

import keras  # noqa: E402
from keras import ops  # noqa: E402

keras.config.set_floatx("float32")
keras.config.set_image_data_format("channels_last")

__all__ = ["keras", "ops"]
