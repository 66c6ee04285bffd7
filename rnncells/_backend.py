"""Import-time checks: a TensorFlow build must be installed and Keras must run on it."""

import importlib.util
import os


def require_tensorflow_backend():
    """Raise an ImportError that names what to install when TensorFlow is missing."""
    if importlib.util.find_spec("tensorflow") is None:
        raise ImportError(
            "rnncells needs TensorFlow (>=2.16, with Keras 3) and none is installed. "
            "Install one build: `pip install rnncells[cpu]` (tensorflow-cpu), "
            "`pip install rnncells[and-cuda]` (tensorflow[and-cuda], NVIDIA GPUs) or "
            "`pip install tensorflow`."
        )
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend != "tensorflow":
        raise ImportError(
            f"rnncells runs on the TensorFlow backend of Keras 3; KERAS_BACKEND={backend!r}. "
            "Unset KERAS_BACKEND or set it to 'tensorflow'."
        )
