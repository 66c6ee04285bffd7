"""FusedRNN == keras.layers.RNN(cell): outputs, final states, gradients, weights, layer API.

The central property (`assert_fused_matches_rnn`) runs the same cell weights through
`FusedRNN(cell, use_fused=True)` and `keras.layers.RNN(cell)` on random shapes, masks,
go_backwards and initial states, and compares outputs, final states and the gradients of a
random linear loss with respect to the input, the initial states and every trainable weight
(float32, 1e-5). `_TimeLeakingCell`, a mutant whose `project` mixes time steps when given a
whole sequence, shows the property catches a broken fused path.
"""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

import rnncells
from rnncells import FusedRNN
from rnncells.kernels import loop as loop_module
from rnncells.kernels import scan as scan_module
from rnncells.layers import fused_rnn as fused_module

ATOL = RTOL = 1e-5


def _conv_lstm(units):
    return rnncells.ConvLSTMCell(1, filters=units, kernel_size=2, padding="same")


def _conv_gru(units):
    return rnncells.ConvGRUCell(1, filters=units, kernel_size=2, padding="same")


def _batched(cell):
    """The cell, with its spec asking for the kernel's other hand-written backward."""
    spec = dataclasses.replace(cell.fused_spec(), backward="batched")
    cell.fused_spec = lambda: spec
    return cell


def _features(f):
    return (f,)


def _conv_features(f):
    return (3, f)  # (length, channels) of a rank-1 convolutional step


# Every rnncells cell: (id, make_cell(units), step_shape(features), random_initial_state).
# Append new cells here. BatchNorm cells carry a step counter in their last state, so their
# initial state stays the cell's own (zeros).
CELLS = [
    ("LayerNormLSTMCell", lambda u: rnncells.LayerNormLSTMCell(u), _features, True),
    ("LayerNormLSTMCell-ba2016",
     lambda u: rnncells.LayerNormLSTMCell(u, formulation="ba2016"), _features, True),
    ("LayerNormGRUCell", lambda u: rnncells.LayerNormGRUCell(u), _features, True),
    ("LayerNormGRUCell-batched-backward", lambda u: _batched(rnncells.LayerNormGRUCell(u)),
     _features, True),
    ("LayerNormSimpleRNNCell", lambda u: rnncells.LayerNormSimpleRNNCell(u), _features, True),
    ("MinGRUCell", lambda u: rnncells.MinGRUCell(u), _features, True),
    ("MinLSTMCell", lambda u: rnncells.MinLSTMCell(u), _features, True),
    ("IndRNNCell", lambda u: rnncells.IndRNNCell(u), _features, True),
    ("PeepholeLSTMCell", lambda u: rnncells.PeepholeLSTMCell(u), _features, True),
    ("NASCell", lambda u: rnncells.NASCell(u), _features, True),
    ("ESNCell", lambda u: rnncells.ESNCell(u), _features, True),
    ("Zoneout", lambda u: rnncells.Zoneout(rnncells.PeepholeLSTMCell(u), rate=0.3),
     _features, True),
    ("ConvLSTMCell", _conv_lstm, _conv_features, True),
    ("ConvGRUCell", _conv_gru, _conv_features, True),
    ("BatchNormLSTMCell", lambda u: rnncells.BatchNormLSTMCell(u), _features, False),
    ("BatchNormGRUCell", lambda u: rnncells.BatchNormGRUCell(u), _features, False),
]


@keras.saving.register_keras_serializable(package="rnncells_tests")
class _TimeLeakingCell(rnncells.LayerNormSimpleRNNCell):
    """MUTANT: on a whole sequence, `project` adds the mean over time (a cross-step leak a
    cell author could write by normalizing over the wrong axis); one step is unaffected, so
    keras.layers.RNN(cell) is unchanged but the fused path is wrong."""

    def project(self, inputs, training=None):
        projected = super().project(inputs, training=training)
        if len(inputs.shape) == 3:
            projected = projected + tf.reduce_mean(projected, axis=1, keepdims=True)
        return projected


def _run(layer, x, initial_state, mask, loss_weights, training=False, traced=False):
    """Outputs (output, *states) and gradients of a fixed random linear loss; `traced`: in a
    tf.function (where the fused loop may take XLA)."""
    x = tf.constant(x)
    initial = None if initial_state is None else [tf.constant(s) for s in initial_state]

    def run(x, initial):
        with tf.GradientTape() as tape:
            tape.watch(x)
            if initial is not None:
                tape.watch(initial)
            results = layer(x, initial_state=initial, mask=mask, training=training)
            loss = tf.add_n([tf.reduce_sum(r * w) for r, w in zip(results, loss_weights)])
        sources = [x] + (initial or []) + list(layer.trainable_weights)
        return results, tape.gradient(loss, sources,
                                      unconnected_gradients=tf.UnconnectedGradients.ZERO)

    results, grads = (tf.function(run) if traced else run)(x, initial)
    return [np.asarray(r) for r in results], [np.asarray(g) for g in grads]


def assert_fused_matches_rnn(make_cell, step_shape, batch, steps, features, units, seed,
                             masked, go_backwards, return_sequences, random_initial_state,
                             zero_output_for_mask=False, training=False, jit=False,
                             tolerance=ATOL, traced=False):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, steps, *step_shape(features))).astype("float32")
    mask = None
    if masked:
        mask = rng.random((batch, steps)) > 0.35
    options = dict(return_sequences=return_sequences, return_state=True,
                   go_backwards=go_backwards, zero_output_for_mask=zero_output_for_mask)
    fused = FusedRNN(make_cell(units), use_fused=True, jit=jit, **options)
    per_step = keras.layers.RNN(make_cell(units), **options)
    fused(x)
    per_step(x)
    # Weights saved from one load into the other (same names, shapes and order).
    assert [w.shape for w in fused.weights] == [w.shape for w in per_step.weights]
    per_step.set_weights(fused.get_weights())
    initial = None
    states = fused.cell.get_initial_state(batch)
    if random_initial_state:
        initial = [rng.normal(size=tuple(s.shape)).astype("float32") for s in states]
    # (Both layers are called equally often, so their dropout seed generators stay in step.)
    shapes = [tuple(r.shape) for r in per_step(x, initial_state=initial, mask=mask)]
    fused(x, initial_state=initial, mask=mask)
    loss_weights = [rng.normal(size=s).astype("float32") for s in shapes]
    expected, expected_grads = _run(per_step, x, initial, mask, loss_weights, training, traced)
    got, got_grads = _run(fused, x, initial, mask, loss_weights, training, traced)
    assert len(got) == len(expected) and len(got_grads) == len(expected_grads)
    for name, a, b in zip(["output"] + [f"state {i}" for i in range(len(got) - 1)], got,
                          expected):
        np.testing.assert_allclose(a, b, atol=tolerance, rtol=tolerance, err_msg=name)
    names = ["d input"] + [f"d initial state {i}" for i in range(len(initial or []))]
    names += [f"d {w.path}" for w in fused.trainable_weights]
    for name, a, b in zip(names, got_grads, expected_grads):
        np.testing.assert_allclose(a, b, atol=tolerance, rtol=tolerance, err_msg=name)


shapes = st.fixed_dictionaries({
    "batch": st.integers(1, 3),
    "steps": st.integers(1, 5),
    "features": st.integers(1, 4),
    "units": st.integers(1, 4),
    "seed": st.integers(0, 2**16),
    "masked": st.booleans(),
    "go_backwards": st.booleans(),
    "return_sequences": st.booleans(),
    "zero_output_for_mask": st.booleans(),
})


@pytest.mark.parametrize("name,make_cell,step_shape,random_initial",
                         CELLS, ids=[c[0] for c in CELLS])
@settings(max_examples=3)
@given(case=shapes)
def test_fused_matches_keras_rnn_outputs_states_and_gradients(name, make_cell, step_shape,
                                                              random_initial, case):
    assert_fused_matches_rnn(make_cell, step_shape, random_initial_state=random_initial,
                             **case)


@settings(max_examples=6)
@given(case=shapes)
def test_layer_norm_lstm_property_deeper(case):
    assert_fused_matches_rnn(lambda u: rnncells.LayerNormLSTMCell(u), _features,
                             random_initial_state=True, **case)


def test_the_property_catches_a_time_leaking_mutant():
    with pytest.raises(AssertionError):
        assert_fused_matches_rnn(lambda u: _TimeLeakingCell(u), _features, batch=2, steps=4,
                                 features=3, units=3, seed=0, masked=False,
                                 go_backwards=False, return_sequences=True,
                                 random_initial_state=False)
    # ... while the same check passes on the sound parent cell.
    assert_fused_matches_rnn(lambda u: rnncells.LayerNormSimpleRNNCell(u), _features, batch=2,
                             steps=4, features=3, units=3, seed=0, masked=False,
                             go_backwards=False, return_sequences=True,
                             random_initial_state=False)


@pytest.mark.parametrize("backward", ["per_step", "batched"])
def test_dropout_masks_match_keras_and_the_backward_reuses_the_forward_masks(backward):
    # One input mask and one recurrent mask per sequence, drawn as keras.layers.RNN draws
    # them (same seed -> same masks); the hand-written backward recomputes recur (and, when
    # "batched", project on all T*B rows with tiled masks) after the layer reset the masks,
    # so equal gradients show it re-installed the forward's masks.
    def make_cell(units):
        cell = rnncells.LayerNormLSTMCell(units, dropout=0.4, recurrent_dropout=0.4, seed=7)
        return _batched(cell) if backward == "batched" else cell

    for masked in (False, True):
        assert_fused_matches_rnn(make_cell, _features, batch=3, steps=4, features=3, units=4,
                                 seed=1, masked=masked, go_backwards=False,
                                 return_sequences=True, random_initial_state=True,
                                 training=True)


@pytest.mark.parametrize("training", [False, True])
def test_traced_xla_loop_matches_keras_rnn(training):
    # What the GPU test (test_gpu.py) runs on the GPU, here on CPU: in a tf.function with
    # jit="auto" a small step takes the XLA loop, forward and backward.
    assert_fused_matches_rnn(lambda u: rnncells.LayerNormLSTMCell(u), _features, batch=2,
                             steps=4, features=3, units=3, seed=5, masked=True,
                             go_backwards=True, return_sequences=True,
                             random_initial_state=True, training=training, jit="auto",
                             traced=True)


@pytest.mark.parametrize("make_cell", [lambda u: rnncells.BatchNormLSTMCell(u),
                                       lambda u: rnncells.BatchNormGRUCell(u)],
                         ids=["BatchNormLSTMCell", "BatchNormGRUCell"])
@pytest.mark.parametrize("masked,go_backwards", [(False, False), (False, True)])
def test_batch_norm_cells_in_training_match_keras_rnn(make_cell, masked, go_backwards):
    # Per-step batch statistics: the sequence-wide project must use step t at position t.
    # Masked: FusedRNN leaves padded entries out of the statistics, which keras.layers.RNN
    # (the cell does not see its mask) cannot; tests/cells/test_batch_norm_statistics.py
    # compares that case with a NumPy reference.
    assert_fused_matches_rnn(make_cell, _features, batch=3, steps=4, features=3, units=3,
                             seed=2, masked=masked, go_backwards=go_backwards,
                             return_sequences=True, random_initial_state=False,
                             training=True)


# ---------------------------------------------------------------------------- the paths
def _counting(monkeypatch, module, name):
    calls = []
    original = getattr(module, name)

    def spy(*args, **kwargs):
        calls.append(name)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return calls


def test_spy_proves_the_fused_loop_ran(monkeypatch):
    loops = _counting(monkeypatch, loop_module, "run_sequence")
    cell = rnncells.LayerNormLSTMCell(3)
    layer = FusedRNN(cell, return_sequences=True)
    layer(np.zeros((2, 4, 3), "float32"))  # builds the cell
    steps = _counting(monkeypatch, cell, "call")
    projections = []
    original_project = cell.project
    monkeypatch.setattr(cell, "project", lambda inputs, training=None: (
        projections.append(tuple(inputs.shape)), original_project(inputs, training))[1])
    loops.clear()
    layer(np.zeros((2, 4, 3), "float32"))
    assert layer.fused_path == "loop"
    assert loops == ["run_sequence"]
    assert projections == [(2, 4, 3)]  # one projection of the whole sequence
    assert steps == []  # never the per-step cell call


def test_spy_proves_the_parallel_scan_ran_for_linear_recurrences(monkeypatch):
    scans = _counting(monkeypatch, scan_module, "linear_scan")
    loops = _counting(monkeypatch, loop_module, "run_sequence")
    layer = FusedRNN(rnncells.MinGRUCell(3))
    layer(np.ones((2, 5, 3), "float32"))
    assert layer.fused_path == "scan"
    assert scans == ["linear_scan"] and loops == []


def test_auto_falls_back_for_a_foreign_cell_and_true_raises(monkeypatch):
    loops = _counting(monkeypatch, loop_module, "run_sequence")
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    layer = FusedRNN(keras.layers.SimpleRNNCell(3))
    assert layer.fused_path == "per_step"
    assert not fused_module.can_fuse(keras.layers.SimpleRNNCell(3))
    reference = keras.layers.RNN(keras.layers.SimpleRNNCell(3))
    reference(x)
    layer(x)
    layer.set_weights(reference.get_weights())
    np.testing.assert_allclose(layer(x), reference(x), atol=ATOL)
    assert loops == []
    with pytest.raises(ValueError, match="SimpleRNNCell is not an rnncells RecurrentCell"):
        FusedRNN(keras.layers.SimpleRNNCell(3), use_fused=True)
    with pytest.raises(ValueError, match="unroll=True"):
        FusedRNN(rnncells.LayerNormGRUCell(3), unroll=True, use_fused=True)
    assert FusedRNN(rnncells.LayerNormGRUCell(3), use_fused=False).fused_path == "per_step"


@pytest.mark.parametrize("value", ["yes", 1.0, None])
def test_bad_use_fused_names_the_argument_and_allowed_values(value):
    with pytest.raises(ValueError, match=r"`use_fused` must be one of .*received use_fused="):
        FusedRNN(rnncells.LayerNormGRUCell(3), use_fused=value)


@pytest.mark.parametrize("make_cell,keras_layer", [
    (lambda: keras.layers.LSTMCell(4), lambda: keras.layers.LSTM(4, return_sequences=True)),
    (lambda: keras.layers.GRUCell(4), lambda: keras.layers.GRU(4, return_sequences=True)),
])
def test_keras_lstm_and_gru_cells_run_keras_own_layer_with_the_same_weights(make_cell,
                                                                           keras_layer):
    x = np.random.default_rng(1).normal(size=(2, 5, 3)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    layer = FusedRNN(make_cell(), return_sequences=True, use_fused=True)
    reference = keras_layer()
    layer(x)
    reference(x)
    assert layer.fused_path == "keras"
    assert len(layer.weights) == len(reference.weights) == 3  # no duplicated cell weights
    layer.set_weights(reference.get_weights())
    np.testing.assert_allclose(layer(x, mask=mask), reference(x, mask=mask), atol=ATOL)


# ---------------------------------------------------------------------------- layer API
def test_bidirectional_matches_bidirectional_keras_rnn():
    x = np.random.default_rng(2).normal(size=(3, 5, 2)).astype("float32")
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], bool)
    fused = keras.layers.Bidirectional(
        FusedRNN(rnncells.LayerNormGRUCell(3), return_sequences=True))
    reference = keras.layers.Bidirectional(
        keras.layers.RNN(rnncells.LayerNormGRUCell(3), return_sequences=True))
    fused(x)
    reference(x)
    assert fused.forward_layer.fused_path == fused.backward_layer.fused_path == "loop"
    assert fused.backward_layer.go_backwards and not fused.forward_layer.go_backwards
    reference.set_weights(fused.get_weights())
    np.testing.assert_allclose(fused(x, mask=mask), reference(x, mask=mask), atol=ATOL)


def test_stateful_carries_states_across_calls_and_reset_state_clears_them():
    x = np.random.default_rng(3).normal(size=(2, 6, 3)).astype("float32")
    layer = FusedRNN(rnncells.LayerNormLSTMCell(4), stateful=True, return_sequences=True)
    reference = keras.layers.RNN(rnncells.LayerNormLSTMCell(4), return_sequences=True)
    layer(x[:, :3])
    reference(x)
    reference.set_weights(layer.get_weights())
    layer.reset_state()
    first, second = layer(x[:, :3]), layer(x[:, 3:])
    whole = reference(x)
    np.testing.assert_allclose(np.concatenate([first, second], 1), whole, atol=ATOL)
    layer.reset_states()
    assert all(np.all(keras.ops.convert_to_numpy(s) == 0) for s in layer.states)
    np.testing.assert_allclose(layer(x[:, :3]), whole[:, :3], atol=ATOL)


def test_keras_file_round_trip_keeps_outputs_and_options(tmp_path):
    x = np.random.default_rng(4).normal(size=(2, 5, 3)).astype("float32")
    inputs = keras.Input((5, 3))
    outputs = FusedRNN(rnncells.LayerNormLSTMCell(4), return_sequences=True, use_fused=True,
                       go_backwards=True, name="fused")(inputs)
    model = keras.Model(inputs, outputs)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    layer = loaded.get_layer("fused")
    assert isinstance(layer, FusedRNN) and isinstance(layer.cell, rnncells.LayerNormLSTMCell)
    assert layer.use_fused is True and layer.go_backwards and layer.fused_path == "loop"
    np.testing.assert_allclose(loaded(x), model(x), atol=0)


def test_weights_move_between_fused_per_step_and_keras_rnn(tmp_path):
    # A weights file of the fused path loads into the per-step path of the same layer class
    # (Keras 3 keys .weights.h5 groups by layer class), and get_weights/set_weights move them
    # to and from keras.layers.RNN(cell) in both directions.
    x = np.random.default_rng(5).normal(size=(2, 5, 3)).astype("float32")

    def model_with(**options):
        inputs = keras.Input((5, 3))
        layer = FusedRNN(rnncells.LayerNormGRUCell(4), name="rnn", **options)
        return keras.Model(inputs, layer(inputs))

    fused, per_step = model_with(use_fused=True), model_with(use_fused=False)
    assert per_step.get_layer("rnn").fused_path == "per_step"
    path = tmp_path / "rnn.weights.h5"
    fused.save_weights(path)
    per_step.load_weights(path)
    np.testing.assert_allclose(per_step(x), fused(x), atol=ATOL)
    keras_rnn = keras.layers.RNN(rnncells.LayerNormGRUCell(4))
    keras_rnn(x)
    keras_rnn.set_weights(fused.get_layer("rnn").get_weights())
    np.testing.assert_allclose(keras_rnn(x), fused(x), atol=ATOL)
    keras_rnn.set_weights([w * 0.5 for w in keras_rnn.get_weights()])
    fused.get_layer("rnn").set_weights(keras_rnn.get_weights())
    np.testing.assert_allclose(fused(x), keras_rnn(x), atol=ATOL)


def test_mixed_float16_runs_in_half_precision_and_trains():
    x = np.random.default_rng(6).normal(size=(2, 5, 3)).astype("float32")
    reference = keras.layers.RNN(rnncells.LayerNormLSTMCell(4), return_sequences=True)
    reference(x)
    keras.mixed_precision.set_global_policy("mixed_float16")
    layer = FusedRNN(rnncells.LayerNormLSTMCell(4), return_sequences=True, use_fused=True)
    layer(x)
    layer.set_weights(reference.get_weights())
    with tf.GradientTape() as tape:
        out = layer(x, training=True)
        loss = tf.reduce_sum(tf.cast(out, "float32") ** 2)
    grads = tape.gradient(loss, layer.trainable_weights)
    assert out.dtype == tf.float16
    assert all(w.dtype == "float32" for w in layer.weights)
    np.testing.assert_allclose(np.asarray(out, "float32"), reference(x), atol=2e-2)
    assert sum(g is not None for g in grads) == len(layer.trainable_weights) > 0
    # The gradients equal keras.layers.RNN's in float32 (same weights) to within half-precision
    # rounding: 2^-11 relative per op through 5 steps and three layer norms; measured < 1e-2
    # of the largest gradient, checked at 3e-2.
    keras.mixed_precision.set_global_policy("float32")
    with tf.GradientTape() as tape:
        loss32 = tf.reduce_sum(reference(x, training=True) ** 2)
    for g16, g32 in zip(grads, tape.gradient(loss32, reference.trainable_weights)):
        g32 = np.asarray(g32)
        np.testing.assert_allclose(np.asarray(g16, "float32"), g32, rtol=0,
                                   atol=3e-2 * np.abs(g32).max())


def test_model_fit_with_default_jit_trains():
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(8, 5, 3)).astype("float32"), rng.normal(size=(8, 1))
    model = keras.Sequential([keras.Input((5, 3)), FusedRNN(rnncells.LayerNormLSTMCell(4)),
                              keras.layers.Dense(1)])
    model.compile("adam", "mse")  # jit_compile="auto"
    history = model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert history.history["loss"][-1] < history.history["loss"][0]


@pytest.mark.parametrize("backward", ["per_step", "batched"])
@pytest.mark.parametrize("jit", [False, True])
def test_inference_call_saves_no_states_and_its_gradient_recomputes_them(backward, jit):
    """An inference call (training=False) runs the forward without saving per-step states;
    differentiated anyway (a model called with training=False inside a fine-tuning step),
    its backward recomputes them: the gradients equal RNN(cell)'s."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    fused = FusedRNN(rnncells.LayerNormGRUCell(4), use_fused=True, jit=jit, backward=backward,
                     return_sequences=True, return_state=True)
    per_step = keras.layers.RNN(rnncells.LayerNormGRUCell(4), return_sequences=True,
                                return_state=True)
    fused(x)
    per_step(x)
    per_step.set_weights(fused.get_weights())
    loss_weights = [rng.normal(size=(2, 5, 4)).astype("float32"),
                    rng.normal(size=(2, 4)).astype("float32")]
    expected, expected_grads = _run(per_step, x, None, None, loss_weights, False, True)
    got, got_grads = _run(fused, x, None, None, loss_weights, False, True)
    for a, b in zip(got + got_grads, expected + expected_grads):
        np.testing.assert_allclose(a, b, atol=ATOL, rtol=ATOL)
    graph = tf.function(lambda x: fused(x, training=False)).get_concrete_function(
        tf.TensorSpec((2, 5, 3))).graph.as_graph_def()
    writes = [n for f in graph.library.function for n in f.node_def
              if n.op == "TensorListSetItem"]
    assert len(writes) == 1  # the outputs only: no saved states
