"""Import TensorFlow quietly: the engines and model builders import ``tf`` from here.

TensorFlow prints start-up notices (oneDNN, missing CUDA drivers on CPU machines) straight to file
descriptor 2 before its logging is configured, where no environment variable reaches them, burying the
progress bar.  Unless the user has chosen a ``TF_CPP_MIN_LOG_LEVEL`` themselves, this silences
descriptor 2 while TensorFlow imports and discovers devices, then sets the level to 2 (warnings and
info off, errors on).  Set ``TF_CPP_MIN_LOG_LEVEL=0`` to see everything.
"""

from __future__ import annotations

import os
import sys


def _import_tensorflow():
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        import tensorflow
        return tensorflow
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow
        tensorflow.config.list_physical_devices()  # device discovery prints its notices now
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tensorflow


tf = _import_tensorflow()

__all__ = ["tf"]
