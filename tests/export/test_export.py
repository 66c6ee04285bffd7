"""LiteRT (builtin ops only) and ONNX exports of rnncells models, compared with `predict`.

Conversions take seconds each, so the models hold many layers at once (every cell in one
model) and the tests convert few of them. The LiteRT interpreter of `ai-edge-litert` has no
Flex delegate: a model that needed a Select TF op fails to run there (shown with the LiteRT
detection switched off, when Keras's `model.export` traces the TensorList loops).
"""

import numpy as np
import pytest

import rnncells
from rnncells.deploy import run_litert, run_onnx
from tests.export import models

pytest.importorskip("ai_edge_litert", reason="the export extra: pip install 'rnncells[export]'")

TOL = 1e-5


def _inputs(model, batch, steps, seed=0):
    """Random inputs for `model`; the last 2 steps of row 0 are zeros (masked by Masking)."""
    rng = np.random.default_rng(seed)
    arrays = []
    for x in model.inputs:
        a = rng.uniform(-1, 1, (batch, steps, *x.shape[2:])).astype("float32")
        a[0, -2:] = 0.0
        arrays.append(a)
    return arrays


def _check(model, path, run, shapes, **run_kwargs):
    for batch, steps in shapes:
        x = _inputs(model, batch, steps)
        expected = model.predict(x, verbose=0)
        got = run(path, x, **run_kwargs)
        np.testing.assert_allclose(got, expected, atol=TOL, rtol=0,
                                   err_msg=f"batch {batch}, T {steps}")


def _names(model):
    return {"names": [x.name for x in model.inputs]}


@pytest.mark.slow
def test_every_cell_runs_in_litert_with_builtin_ops_for_any_batch(tmp_path):
    """Keras's own `model.export` (rnncells.export gives the same file: tested below)."""
    model = models.all_cells_model()
    path = tmp_path / "cells.tflite"
    model.export(str(path), format="litert", verbose=False)
    _check(model, path, run_litert, [(2, 5), (3, 8), (1, 1)], **_names(model))


@pytest.mark.slow
def test_every_cell_runs_in_onnxruntime(tmp_path):
    pytest.importorskip("onnxruntime")
    model = models.all_cells_model()
    path = rnncells.export(model, tmp_path / "cells.onnx", format="onnx")
    _check(model, path, run_onnx, [(2, 5), (3, 8)])


def test_conv_layers_bidirectional_and_masks_in_litert_static_batch_long_sequence(tmp_path):
    model = models.layers_model(batch_size=2)
    path = rnncells.export(model, tmp_path / "layers.tflite")
    _check(model, path, run_litert, [(2, 6), (2, 1000)], **_names(model))


@pytest.mark.slow
def test_conv_layers_bidirectional_and_masks_in_onnxruntime(tmp_path):
    pytest.importorskip("onnxruntime")
    model = models.layers_model()
    path = rnncells.export(model, tmp_path / "layers.onnx", format="onnx")
    _check(model, path, run_onnx, [(3, 6)])


def test_keras_model_export_litert_runs_with_builtin_ops(tmp_path):
    """Keras's own `model.export(format="litert")`, no rnncells call: the layers notice the
    LiteRT trace and take the export loop (dynamic batch and T)."""
    model = models.sequence_model("LayerNormGRUCell")
    path = tmp_path / "plain.tflite"
    model.export(str(path), format="litert", verbose=False)
    _check(model, path, run_litert, [(2, 4), (3, 9)])


def test_keras_model_export_litert_conv_bidirectional_masks_long_sequence(tmp_path):
    model = models.layers_model()
    path = tmp_path / "plain_layers.tflite"
    model.export(str(path), format="litert", verbose=False)
    _check(model, path, run_litert, [(2, 6), (1, 1000)], **_names(model))


def test_tflite_converter_from_keras_model_runs_with_builtin_ops(tmp_path):
    import tensorflow as tf

    model = models.sequence_model("BatchNormLSTMCell", batch_size=2)
    path = tmp_path / "from_keras.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    _check(model, path, run_litert, [(2, 5)])


def test_without_the_litert_detection_keras_export_needs_flex(tmp_path, monkeypatch):
    """The mutant for the checks above: with the detection off, Keras's export keeps the
    TensorList loop, which the builtin-only interpreter refuses (so a passing check means
    builtin ops only)."""
    from rnncells.kernels import export_loop

    monkeypatch.setattr(export_loop, "export_tracing_format", lambda: None)
    model = models.sequence_model("LayerNormGRUCell", head=False)
    path = tmp_path / "plain.tflite"
    model.export(str(path), format="litert", verbose=False)
    with pytest.raises(RuntimeError, match="Flex|Select TensorFlow op"):
        run_litert(path, _inputs(model, 2, 4)[0])


def test_without_the_onnx_detection_the_fused_loop_does_not_convert(tmp_path, monkeypatch):
    """The mutant for the ONNX check below: tf2onnx leaves the fused LSTM loop's nested
    function call unconverted, and onnxruntime refuses the file."""
    pytest.importorskip("onnxruntime")
    from rnncells.kernels import export_loop

    monkeypatch.setattr(export_loop, "export_tracing_format", lambda: None)
    model = models.sequence_model("LayerNormLSTMCell")
    x = _inputs(model, 2, 6)
    model.predict(x, verbose=0)
    path = tmp_path / "plain.onnx"
    model.export(str(path), format="onnx", verbose=False)
    with pytest.raises(Exception, match="PartitionedCall"):
        run_onnx(path, x)


def test_keras_model_export_onnx_matches(tmp_path):
    """Keras's own ONNX export (the fused loop of this cell does not convert: the layer takes
    the export loop there too)."""
    pytest.importorskip("onnxruntime")
    model = models.sequence_model("LayerNormLSTMCell")
    x = _inputs(model, 2, 6)
    model.predict(x, verbose=0)  # Keras's ONNX export needs a called model
    path = tmp_path / "plain.onnx"
    model.export(str(path), format="onnx", verbose=False)
    _check(model, path, run_onnx, [(2, 6), (3, 11)])


def test_a_plain_keras_rnn_layer_is_named_in_a_warning_and_needs_flex(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((None, 3)), keras.layers.RNN(
        rnncells.LayerNormGRUCell(2), return_sequences=True, name="plain_rnn")])
    with pytest.warns(UserWarning, match="'plain_rnn'.*FusedRNN"):
        path = rnncells.export(model, tmp_path / "plain.tflite")
    with pytest.raises(RuntimeError, match="Flex|Select TensorFlow op"):
        run_litert(path, _inputs(model, 2, 4)[0])


def test_the_onnx_export_warning_speaks_of_onnx_not_of_litert(tmp_path):
    import keras

    pytest.importorskip("tf2onnx")
    model = keras.Sequential([keras.Input((None, 3)), keras.layers.RNN(
        rnncells.LayerNormGRUCell(2), return_sequences=True, name="plain_rnn")])
    with pytest.warns(UserWarning, match="'plain_rnn'.*onnx export.*tf2onnx") as caught:
        rnncells.export(model, tmp_path / "plain.onnx", format="onnx")
    assert not any("Flex" in str(w.message) or "LiteRT" in str(w.message) for w in caught)


def test_onnx_export_without_tf2onnx_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "tf2onnx", None)
    model = models.sequence_model("MinGRUCell")
    with pytest.raises(ImportError, match=r"rnncells\[export\]"):
        rnncells.export(model, tmp_path / "m.onnx", format="onnx")


def test_export_rejects_bad_format_and_unbuilt_models(tmp_path):
    model = models.sequence_model("MinGRUCell")
    with pytest.raises(ValueError, match="format='tflite'"):
        rnncells.export(model, tmp_path / "m.tflite", format="tflite")
    import keras

    unbuilt = keras.Sequential([rnncells.FusedRNN(rnncells.MinGRUCell(2))])
    with pytest.raises(ValueError, match="never been built or called"):
        rnncells.export(unbuilt, tmp_path / "m.tflite")


def test_rnncells_saved_model_converts_with_builtin_ops_only(tmp_path):
    """`rnncells.export(format="tf_saved_model")` holds the export loop: a user's own
    converter (here builtin ops ONLY, no Select TF ops allowed) converts it."""
    import tensorflow as tf

    model = models.sequence_model("LayerNormLSTMCell")
    saved = rnncells.export(model, tmp_path / "saved", format="tf_saved_model")
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    path = tmp_path / "own.tflite"
    path.write_bytes(converter.convert())
    _check(model, path, run_litert, [(2, 5), (1, 9)])


def test_a_plain_saved_model_keeps_the_regular_loop_which_builtins_cannot_convert(tmp_path):
    """The counterpart of the test above (so it can fail): Keras's own SavedModel export
    keeps the TensorList loop, fast in TensorFlow, which builtin ops alone cannot express."""
    import tensorflow as tf

    model = models.sequence_model("LayerNormLSTMCell")
    model.export(str(tmp_path / "plain"), format="tf_saved_model", verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(tmp_path / "plain"))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    with pytest.raises(Exception, match="TensorList"):
        converter.convert()


@pytest.mark.slow
@pytest.mark.parametrize("format", ["litert", "onnx"])
def test_every_layer_with_return_sequences_false_exports(tmp_path, format):
    """Keras's default `return_sequences=False` (a ConvGRU2D used to export to an ONNX file
    that onnxruntime refused to load)."""
    if format == "onnx":
        pytest.importorskip("onnxruntime")
    model = models.last_outputs_model()
    path = rnncells.export(model, tmp_path / f"last.{'tflite' if format == 'litert' else 'onnx'}",
                           format=format)
    if format == "litert":
        _check(model, path, run_litert, [(2, 5), (1, 3)], **_names(model))
    else:
        _check(model, path, run_onnx, [(2, 5), (1, 3)])
