"""Import-time checks: a TensorFlow build must be installed and Keras must run on it."""

import importlib.util
import os

_SET_BACKEND = (
    "Set the environment variable KERAS_BACKEND=tensorflow (or 'backend' in "
    "~/.keras/keras.json) before importing Keras."
)


def require_tensorflow_backend():
    """Raise an ImportError that names what to install when TensorFlow is missing."""
    if importlib.util.find_spec("tensorflow") is None:
        raise ImportError(
            "rnncells needs TensorFlow (>=2.16, with Keras 3) and none is installed. "
            "Install one build: `pip install rnncells[cpu]` (tensorflow-cpu), "
            "`pip install rnncells[and-cuda]` (tensorflow[and-cuda], NVIDIA GPUs) or "
            "`pip install tensorflow`."
        )
    requested = os.environ.get("KERAS_BACKEND")
    if requested not in (None, "", "tensorflow"):
        raise ImportError(
            f"rnncells runs on the TensorFlow backend of Keras 3; KERAS_BACKEND={requested!r}. "
            + _SET_BACKEND
        )
    import keras

    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise ImportError(
            f"rnncells runs on the TensorFlow backend of Keras 3; Keras is using {backend!r}. "
            + _SET_BACKEND
        )
