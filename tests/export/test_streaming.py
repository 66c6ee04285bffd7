"""streaming_model: one step at a time reproduces predict, shares the weights, exports."""

import keras
import numpy as np
import pytest

import rnncells
from rnncells.deploy import run_litert, run_onnx
from rnncells.streaming import initial_states


def _stacked():
    """FusedRNN and keras.layers.RNN stacked (a batch-norm cell: step counter as a state),
    then per-step layers."""
    return keras.Sequential([
        keras.Input((None, 3)),
        rnncells.FusedRNN(rnncells.LayerNormLSTMCell(4), return_sequences=True),
        keras.layers.RNN(rnncells.BatchNormGRUCell(5), return_sequences=True),
        keras.layers.LayerNormalization(),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(2, activation="tanh"),
    ])


def _stream(step, x, run=None, **kwargs):
    """Feed x (B, T, ...) one step at a time; outputs stacked as (B, T, ...)."""
    states = initial_states(step, x.shape[0])
    outputs = []
    for t in range(x.shape[1]):
        inputs = [x[:, t], *states]
        result = run(inputs, **kwargs) if run else [np.asarray(v) for v in step(inputs)]
        outputs.append(result[0])
        states = result[1:]
    return np.stack(outputs, 1)


def _x(batch, steps, step_shape=(3,)):
    return np.random.default_rng(0).uniform(-1, 1, (batch, steps, *step_shape)).astype(
        "float32")


def test_stepping_reproduces_predict_at_every_step_and_shares_weights():
    model = _stacked()
    step = rnncells.streaming_model(model)
    x = _x(3, 9)
    np.testing.assert_allclose(_stream(step, x), model.predict(x, verbose=0), atol=1e-5)
    assert {id(w) for w in step.weights} == {id(w) for w in model.weights}


def test_conv_layer_and_last_output_layer():
    model = keras.Sequential([
        keras.Input((None, 6, 2)),
        rnncells.ConvLSTM1D(3, 3, padding="same", return_sequences=True),
        keras.layers.Dense(2),  # per step (and per position)
        rnncells.ConvGRU1D(2, 3),  # return_sequences=False: the last recurrent layer
        keras.layers.Activation("tanh"),
    ])
    step = rnncells.streaming_model(model)
    x = _x(2, 5, (6, 2))
    streamed = _stream(step, x)
    # at step t the stream gives what predict gives for the sequence up to t
    for t in (0, 4):
        np.testing.assert_allclose(streamed[:, t], model.predict(x[:, :t + 1], verbose=0),
                                   atol=1e-5)


def test_a_wrong_state_order_is_caught():
    """The mutant for the check above: feeding the LSTM's two states swapped diverges."""
    model = _stacked()
    step = rnncells.streaming_model(model)
    x = _x(2, 4)

    def swapped(inputs):
        x_t, h, c, *rest = inputs
        return [np.asarray(v) for v in step([x_t, c, h, *rest])]

    assert np.abs(_stream(step, x, run=swapped) - model.predict(x, verbose=0)).max() > 1e-3


def test_streaming_model_exports_to_litert_and_onnx(tmp_path):
    pytest.importorskip("ai_edge_litert", reason="pip install 'rnncells[export]'")
    pytest.importorskip("onnxruntime", reason="pip install 'rnncells[export]'")
    model = _stacked()
    step = rnncells.streaming_model(model)
    x = _x(2, 6)
    expected = model.predict(x, verbose=0)
    names = [i.name for i in step.inputs]
    litert = rnncells.export(step, tmp_path / "step.tflite")
    np.testing.assert_allclose(
        _stream(step, x, run=lambda inputs: run_litert(litert, inputs, names=names)),
        expected, atol=1e-5)
    onnx = rnncells.export(step, tmp_path / "step.onnx", format="onnx")
    np.testing.assert_allclose(
        _stream(step, x, run=lambda inputs: run_onnx(onnx, inputs)), expected, atol=1e-5)


@pytest.mark.parametrize("layer, match", [
    (lambda: keras.layers.Bidirectional(
        rnncells.FusedRNN(rnncells.MinGRUCell(2), return_sequences=True)),
     "'bidi'.*end"),
    (lambda: rnncells.FusedRNN(rnncells.MinGRUCell(2), return_sequences=True,
                               go_backwards=True), "go_backwards"),
    (lambda: keras.layers.Conv1D(2, 3), "mix time steps"),
    (lambda: keras.layers.LayerNormalization(axis=1), "axes"),
])
def test_unsupported_layers_are_named_with_the_reason(layer, match):
    inner = layer()
    inner.name = "bidi" if isinstance(inner, keras.layers.Bidirectional) else inner.name
    model = keras.Sequential([keras.Input((5, 3)), inner, keras.layers.Dense(1)])
    with pytest.raises(ValueError, match=match):
        rnncells.streaming_model(model)


def test_unbuilt_model_is_refused():
    model = keras.Sequential([rnncells.FusedRNN(rnncells.MinGRUCell(2))])
    with pytest.raises(ValueError, match="never built"):
        rnncells.streaming_model(model)


def test_masking_is_named_as_the_layer_that_cannot_stream():
    model = keras.Sequential([keras.Input((5, 3)), keras.layers.Masking(0.0, name="pad"),
                              rnncells.FusedRNN(rnncells.MinGRUCell(2)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="layer 'pad' \\(Masking\\).*without Masking"):
        rnncells.streaming_model(model)
