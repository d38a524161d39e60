"""Keras imported on the chosen backend: modules that build or run models import ``keras`` and
``ops`` from here, so Keras never starts on a backend the recipe did not choose."""

from __future__ import annotations

from . import current

current()

import keras  # noqa: E402
from keras import ops  # noqa: E402

__all__ = ["keras", "ops"]
