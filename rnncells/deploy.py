"""Export models that hold rnncells layers: LiteRT (builtin ops only), ONNX, SavedModel.

rnncells' sequence layers (`FusedRNN`, `ConvRNN`, `ConvLSTM*D`/`ConvGRU*D`, also inside
`keras.layers.Bidirectional`) trace an export loop (`rnncells.kernels.export_loop`), a
`tf.while_loop` without TensorLists that the LiteRT converter turns into builtin ops for any
batch size (dynamic included) and tf2onnx into an ONNX `Loop`, whenever Keras's own
`model.export(path, format="litert" or "onnx")` traces them, and inside `export` below for
every format. Training and `predict` keep their loops (TensorLists, which LiteRT runs only
with the Flex delegate when the batch is dynamic).

`export(model, filepath, format=...)` is `model.export` in that context, with the input
signature taken from the model's `keras.Input`s and a warning for plain `keras.layers.RNN`
layers (Keras's loop, Flex ops in LiteRT).

`run_litert` and `run_onnx` run an exported file on NumPy inputs (for checks against
`model.predict`).

Backends: LiteRT and SavedModel are TensorFlow formats, and the export loop is a TensorFlow
loop. On JAX and PyTorch, `export(..., format="onnx")` is Keras's own `model.export` (what
Keras supports there), and the other formats raise a ValueError that says to export on the
TensorFlow backend (a `.keras` file saved on any backend loads there).
"""

import warnings

import keras
import numpy as np

from rnncells import _backend
from rnncells.layers.conv_rnn import ConvRNN
from rnncells.layers.fused_rnn import FusedRNN

#: Formats `export` accepts (those of Keras 3's `model.export`).
FORMATS = ("litert", "onnx", "tf_saved_model")

EXPORT_EXTRA = "pip install 'rnncells[export]'"


def require(*modules, purpose):
    """Import `modules` or raise an ImportError naming the `rnncells[export]` extra."""
    imported = []
    for name in modules:
        try:
            imported.append(__import__(name))
        except ImportError as error:
            raise ImportError(
                f"{purpose} needs the `{name}` package, which is not installed. Install the "
                f"export dependencies with: {EXPORT_EXTRA}") from error
    return imported


def _check_model(model):
    if not isinstance(model, keras.Model):
        raise ValueError(f"`model` must be a keras.Model; received model={model!r} of type "
                         f"{type(model).__name__}.")
    if not model.built:
        raise ValueError(
            f"`model` {model.name!r} has never been built or called, so its input shapes are "
            "unknown. Give it a `keras.Input` (functional or Sequential model) or call it once "
            "on a batch of data before exporting.")


def export(model, filepath, format="litert", verbose=False, **kwargs):
    """Export `model` as Keras's `model.export` does, with rnncells' export loop in every
    format (Keras's LiteRT and ONNX exports select it by themselves), the input signature of
    the model's `keras.Input`s and a warning for plain `keras.layers.RNN` layers.

    Args:
        model: a built (or called) Keras model.
        filepath: where to write: a `.tflite` file (litert), a `.onnx` file (onnx), a
            directory (tf_saved_model).
        format: "litert" (default), "onnx" or "tf_saved_model".
        verbose: print Keras's message when done (default False).
        **kwargs: passed to `model.export` (e.g. `input_signature`, `opset_version`, LiteRT
            converter settings).

    Returns:
        `filepath`.

    Raises:
        ValueError: unknown `format`, a model that was never built or called, or "litert" /
            "tf_saved_model" on the JAX or PyTorch backend.
        ImportError: format "onnx" without tf2onnx/onnx (the `rnncells[export]` extra).

    Examples:
        >>> model = keras.Sequential([keras.Input((None, 3)),
        ...     rnncells.FusedRNN(rnncells.LayerNormLSTMCell(8), return_sequences=True)])
        >>> rnncells.export(model, "model.tflite")  # builtin LiteRT ops, any batch and T
        'model.tflite'
    """
    if format not in FORMATS:
        raise ValueError(f"`format` must be one of {FORMATS}; received format={format!r}.")
    _check_model(model)
    if not _backend.is_tensorflow():
        if format != "onnx":
            raise ValueError(
                f"format={format!r} is a TensorFlow format; Keras runs on the "
                f"{_backend.name()!r} backend, where `export` writes 'onnx' only (Keras's own "
                "model.export). Save the model (`model.save('model.keras')`), load it under "
                f"KERAS_BACKEND=tensorflow and export it there for {format!r}.")
        if _backend.name() == "jax":
            # Keras's ONNX export on JAX converts with jax2onnx (not in the export extra,
            # which would pull JAX into TensorFlow installs).
            try:
                __import__("jax2onnx")
            except ImportError as error:
                raise ImportError(
                    "Exporting to ONNX on the JAX backend needs the `jax2onnx` package (Keras "
                    "converts JAX models with it), which is not installed: pip install "
                    f"jax2onnx onnx (and {EXPORT_EXTRA} to run the file).") from error
        if kwargs.get("input_signature") is None:
            kwargs["input_signature"] = input_signature(model)
        model.export(str(filepath), format=format, verbose=verbose, **kwargs)
        return filepath
    from rnncells.kernels.export_loop import exporting

    if format == "onnx":
        require("tf2onnx", "onnx", purpose="Exporting to ONNX")
    if format in ("litert", "onnx"):
        _warn_about_keras_loops(model, format)
    if kwargs.get("input_signature") is None:
        kwargs["input_signature"] = input_signature(model)
    with exporting(format):
        model.export(str(filepath), format=format, verbose=verbose, **kwargs)
    return filepath


def _warn_about_keras_loops(model, format):
    """Warn about recurrent layers that keep Keras's TensorList loop (Flex ops in LiteRT)."""
    for layer in _all_layers(model):
        if isinstance(layer, keras.layers.RNN) and not isinstance(layer, (FusedRNN, ConvRNN)):
            consequence = ("LiteRT then needs the Flex delegate" if format == "litert" else
                           "tf2onnx may leave ops that ONNX runtimes cannot load")
            warnings.warn(
                f"Layer {layer.name!r} ({type(layer).__name__}) runs Keras's own recurrent "
                f"loop, which the {format} export keeps as TensorList ops ({consequence}). "
                "Wrap its cell in rnncells.FusedRNN (same weights) to export it with the "
                "export loop.", UserWarning, stacklevel=3)


def _all_layers(layer):
    """`layer`'s sublayers, recursively (Bidirectional's forward and backward included)."""
    for sub in getattr(layer, "layers", None) or []:
        yield sub
        yield from _all_layers(sub)
    for name in ("forward_layer", "backward_layer", "layer"):
        sub = getattr(layer, name, None)
        if isinstance(sub, keras.layers.Layer):
            yield sub
            yield from _all_layers(sub)


def input_signature(model):
    """`model.export`'s input signature from the model's `keras.Input`s (None if it has none).

    Keras infers it only for a model that has been called (ONNX export of a model built from
    `keras.Input` but never called fails otherwise); the inputs give it without a call.
    """
    inputs = getattr(model, "inputs", None)
    if not inputs:
        return None
    if not _backend.is_tensorflow():
        specs = [keras.InputSpec(shape=x.shape, dtype=x.dtype) for x in inputs]
        return specs if len(specs) == 1 else [specs]
    import tensorflow as tf

    specs = [tf.TensorSpec(x.shape, x.dtype, name=x.name) for x in inputs]
    return specs if len(specs) == 1 else [specs]


def _as_list(inputs):
    return list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]


def run_litert(filepath, inputs, names=None):
    """Run a `.tflite` file in the LiteRT interpreter (`ai-edge-litert`) on NumPy inputs.

    Args:
        filepath: the `.tflite` file.
        inputs: an array, or a list of arrays (any batch size and sequence length the model
            accepts).
        names: the model's input names in the order of `inputs` (`[x.name for x in
            model.inputs]`); needed for several inputs: a LiteRT signature keeps the names,
            not the order.

    Returns:
        The output array, or a list of arrays in the model's output order.
    """
    require("ai_edge_litert", purpose="Running a LiteRT model")
    from ai_edge_litert.interpreter import Interpreter

    arrays = [np.asarray(x) for x in _as_list(inputs)]
    interpreter = Interpreter(model_path=str(filepath))
    signatures = interpreter.get_signature_list()
    (key,) = signatures
    expected = signatures[key]["inputs"]
    if names is None:
        if len(expected) != 1:
            raise ValueError(f"The LiteRT model takes {len(expected)} inputs ({expected}): pass "
                             "`names`, the model's input names in the order of `inputs`.")
        names = expected
    if sorted(names) != sorted(expected) or len(arrays) != len(names):
        raise ValueError(f"The LiteRT model takes inputs {expected}; received {len(arrays)} "
                         f"arrays named {names}.")
    result = interpreter.get_signature_runner(key)(**dict(zip(names, arrays)))
    outputs = [result[name] for name in sorted(result, key=_suffix)]
    return outputs[0] if len(outputs) == 1 else outputs


def _suffix(name):
    """Keras names signature outputs `output_0`, `output_1`, ...: order by the number."""
    head, _, tail = name.rpartition("_")
    return (head, int(tail)) if tail.isdigit() else (name, -1)


def run_onnx(filepath, inputs):
    """Run an `.onnx` file in onnxruntime on NumPy inputs (list in the model's input order).

    Returns the output array, or a list of arrays in the model's output order.
    """
    (ort,) = require("onnxruntime", purpose="Running an ONNX model")
    session = ort.InferenceSession(str(filepath), providers=["CPUExecutionProvider"])
    arrays = [np.asarray(x) for x in _as_list(inputs)]
    names = [i.name for i in session.get_inputs()]
    if len(names) != len(arrays):
        raise ValueError(f"The ONNX model takes {len(names)} inputs ({names}); received "
                         f"{len(arrays)} arrays.")
    outputs = session.run(None, dict(zip(names, arrays)))
    return outputs[0] if len(outputs) == 1 else outputs
