"""The Keras backend rnncells runs on: import-time checks and the few backend questions the
package asks (is this TensorFlow, is this code being traced, run a host call).

rnncells runs on the three backends of Keras 3: TensorFlow, JAX and PyTorch. Cells are
written in `keras.ops`; the fused kernels have a TensorFlow implementation
(`rnncells.kernels.loop`, `scan`, `statistics`, `export_loop`) and one in `keras.ops` for JAX
and PyTorch (`rnncells.kernels.generic`). This module imports no backend at import time
beyond what Keras itself imports.
"""

import importlib.util
import os

import keras

#: Keras backend -> (the package it needs, the rnncells extra that installs it).
SUPPORTED = {
    "tensorflow": ("tensorflow", "rnncells[cpu] (tensorflow-cpu) or rnncells[tensorflow]"),
    "jax": ("jax", "rnncells[jax]"),
    "torch": ("torch", "rnncells[torch]"),
}

_SET_BACKEND = (
    "Set the environment variable KERAS_BACKEND to one of 'tensorflow', 'jax' or 'torch' (or "
    "'backend' in ~/.keras/keras.json) before importing Keras."
)


def name():
    """The Keras backend in use: "tensorflow", "jax" or "torch"."""
    return keras.backend.backend()


def is_tensorflow():
    return name() == "tensorflow"


def require_supported_backend():
    """Raise an ImportError naming the extra to install, or the setting to change, when Keras
    runs on a backend rnncells does not support or whose package is missing."""
    requested = os.environ.get("KERAS_BACKEND")
    backend = requested or name()
    if backend not in SUPPORTED:
        raise ImportError(
            f"rnncells runs on the TensorFlow, JAX and PyTorch backends of Keras 3; Keras is "
            f"set to use {backend!r}. " + _SET_BACKEND)
    package, extra = SUPPORTED[backend]
    if importlib.util.find_spec(package) is None:
        raise ImportError(
            f"Keras is set to the {backend!r} backend, but {package!r} is not installed. "
            f"Install it with `pip install {extra}`"
            + (" or `pip install rnncells[and-cuda]` (tensorflow[and-cuda], NVIDIA GPUs)"
               if backend == "tensorflow" else "")
            + ", or pick another backend. " + _SET_BACKEND)


def is_tracing(x=None):
    """Whether code runs symbolically now: inside a `tf.function` (TensorFlow), or with `x`
    a JAX tracer (JAX; without `x`, False). PyTorch runs eagerly (False)."""
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        return not tf.executing_eagerly()
    if backend == "jax" and x is not None:
        import jax

        return isinstance(x, jax.core.Tracer)
    return False


def current_graph():
    """TensorFlow's graph being built now (None when eager, and on the other backends)."""
    if not is_tensorflow():
        return None
    import tensorflow as tf

    return None if tf.executing_eagerly() else tf.compat.v1.get_default_graph()


def host_call_if(condition, fn):
    """Call `fn()` on the host when the boolean scalar tensor `condition` is true at run time:
    at once when eager, as a host callback when traced (TensorFlow's `py_function`, JAX's
    `debug.callback`). Under XLA on TensorFlow there are no host calls: nothing is called.
    For warnings only (`fn` returns nothing that the computation uses)."""
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        from rnncells._compat import in_xla_context

        if tf.executing_eagerly():
            if bool(condition):
                fn()
            return
        if in_xla_context():
            return

        def call():
            fn()
            return tf.constant(True)

        tf.cond(condition, lambda: tf.py_function(call, [], tf.bool),
                lambda: tf.constant(False))
        return
    if backend == "jax":
        import jax

        if isinstance(condition, jax.core.Tracer):
            jax.debug.callback(lambda c: fn() if bool(c) else None, condition)
            return
    if bool(keras.ops.convert_to_numpy(condition)):
        fn()
