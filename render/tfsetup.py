"""Import TensorFlow quietly: the engines import ``tf`` from here.

Only sets TensorFlow's C++ log level when the user has not chosen one, so progress output is not
buried under start-up notices; nothing else is changed.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

__all__ = ["tf"]
