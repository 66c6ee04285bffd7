"""Combinations users run that no single-cell test covers.

- `.keras` round trips: BatchNormGRUCell, the ConvLSTM1D/2D/3D and ConvGRU1D/2D/3D layers,
  every FusedRNN path (loop, scan, keras, per_step) and Bidirectional(FusedRNN);
- keras.layers.Masking in front of RNN and FusedRNN, for every dense cell (conv cells: an
  explicit mask): equal to running each row on its unpadded prefix (masked steps repeat the
  last output);
- FusedRNN == RNN(cell) in training mode with dropout and recurrent dropout, for every cell
  that takes them (see `test_fused_equals_rnn_in_training_with_dropout` for the masks);
- stateful FusedRNN on the scan and keras paths;
- mixed_float16 `fit` with loss scaling, one model per cell family;
- a bad `initial_state` (count, shape) to FusedRNN: a clear ValueError, on the loop and scan
  paths, for symbolic inputs, conv cells, an ESN's bare tensor, Bidirectional's split and a
  stateful layer; valid ones (unknown dims, any batch) run as in keras.layers.RNN.
"""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import rnncells
from rnncells import FusedRNN

B, T, F, U = 3, 5, 2, 3


def _x(shape=(B, T, F), seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


# Every dense cell (one step (B, F)): name -> make(**kwargs).
DENSE = {
    "LayerNormLSTMCell": lambda **kw: rnncells.LayerNormLSTMCell(U, **kw),
    "LayerNormGRUCell": lambda **kw: rnncells.LayerNormGRUCell(U, **kw),
    "LayerNormSimpleRNNCell": lambda **kw: rnncells.LayerNormSimpleRNNCell(U, **kw),
    "BatchNormLSTMCell": lambda **kw: rnncells.BatchNormLSTMCell(U, max_steps=T, **kw),
    "BatchNormGRUCell": lambda **kw: rnncells.BatchNormGRUCell(U, max_steps=T, **kw),
    "PeepholeLSTMCell": lambda **kw: rnncells.PeepholeLSTMCell(U, **kw),
    "NASCell": lambda **kw: rnncells.NASCell(U, **kw),
    "ESNCell": lambda **kw: rnncells.ESNCell(U, **kw),
    "IndRNNCell": lambda **kw: rnncells.IndRNNCell(U, **kw),
    "MinGRUCell": lambda **kw: rnncells.MinGRUCell(U, **kw),
    "MinLSTMCell": lambda **kw: rnncells.MinLSTMCell(U, **kw),
    "Zoneout": lambda **kw: rnncells.Zoneout(rnncells.PeepholeLSTMCell(U, **kw), rate=0.3,
                                             seed=kw.get("seed")),
}


def test_every_exported_dense_cell_is_listed():
    from rnncells.cells.base import RecurrentCell
    exported = {n for n in rnncells.__all__ if isinstance(getattr(rnncells, n), type)
                and issubclass(getattr(rnncells, n), RecurrentCell)
                and getattr(rnncells, n) is not RecurrentCell}  # the public base class
    assert exported - set(DENSE) == {"ConvLSTMCell", "ConvGRUCell"}  # covered by their layers


def _round_trip(model, x, tmp_path):
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    return loaded


# ------------------------------------------------------------------ .keras round trips
@pytest.mark.parametrize("name", ["BatchNormGRUCell"])
def test_keras_file_round_trip_of_a_cell_in_rnn(name, tmp_path):
    x = _x()
    model = keras.Sequential([keras.Input((T, F)), keras.layers.RNN(DENSE[name]())])
    model.compile("sgd", "mse")
    model.fit(x, np.zeros((B, U)), verbose=0)  # moving statistics away from their init
    loaded = _round_trip(model, x, tmp_path)
    for a, b in zip(loaded.weights, model.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


CONV_LAYERS = [(cls, rank) for cls, rank in (
    (rnncells.ConvLSTM1D, 1), (rnncells.ConvLSTM2D, 2), (rnncells.ConvLSTM3D, 3),
    (rnncells.ConvGRU1D, 1), (rnncells.ConvGRU2D, 2), (rnncells.ConvGRU3D, 3))]


@pytest.mark.parametrize("cls,rank", CONV_LAYERS, ids=lambda v: getattr(v, "__name__", ""))
def test_keras_file_round_trip_of_conv_layers(cls, rank, tmp_path):
    shape = (2, 3, *([4] * rank), 2)
    model = keras.Sequential([keras.Input(shape[1:]),
                              cls(2, 3, padding="same", return_sequences=True)])
    x = _x(shape)
    loaded = _round_trip(model, x, tmp_path)
    assert type(loaded.layers[0]) is cls


def _fused_case(path):
    if path == "loop":
        return FusedRNN(rnncells.LayerNormLSTMCell(U), return_sequences=True, use_fused=True)
    if path == "scan":
        return FusedRNN(rnncells.MinGRUCell(U), return_sequences=True, use_fused=True)
    if path == "keras":
        return FusedRNN(keras.layers.LSTMCell(U), return_sequences=True)
    return FusedRNN(rnncells.LayerNormGRUCell(U), return_sequences=True, use_fused=False)


@pytest.mark.parametrize("path", ["loop", "scan", "keras", "per_step"])
def test_keras_file_round_trip_of_every_fused_path(path, tmp_path):
    layer = _fused_case(path)
    assert layer.fused_path == path
    model = keras.Sequential([keras.Input((T, F)), layer])
    loaded = _round_trip(model, _x(), tmp_path)
    assert isinstance(loaded.layers[0], FusedRNN) and loaded.layers[0].fused_path == path


def test_keras_file_round_trip_of_bidirectional_fused(tmp_path):
    model = keras.Sequential([keras.Input((T, F)), keras.layers.Bidirectional(
        FusedRNN(rnncells.LayerNormGRUCell(U), return_sequences=True, use_fused=True))])
    loaded = _round_trip(model, _x(), tmp_path)
    bi = loaded.layers[0]
    assert isinstance(bi.forward_layer, FusedRNN) and bi.forward_layer.fused_path == "loop"
    assert isinstance(bi.backward_layer, FusedRNN) and bi.backward_layer.go_backwards


# ------------------------------------------------------------------ Masking
LENGTHS = (5, 3, 1)  # unpadded steps per row; the rest is zero padding


@pytest.mark.parametrize("layer_cls", [keras.layers.RNN, FusedRNN],
                         ids=["RNN", "FusedRNN"])
@pytest.mark.parametrize("name", sorted(DENSE))
def test_masking_layer_equals_running_each_row_on_its_prefix(name, layer_cls):
    cell = DENSE[name]()
    x = _x()
    for row, length in enumerate(LENGTHS):
        x[row, length:] = 0.0
    model = keras.Sequential([keras.Input((T, F)), keras.layers.Masking(0.0),
                              layer_cls(cell, return_sequences=True)])
    got = np.asarray(model(x))
    alone = keras.layers.RNN(cell, return_sequences=True)  # the same cell and weights
    for row, length in enumerate(LENGTHS):
        prefix = np.asarray(alone(x[row:row + 1, :length]))[0]
        expected = np.concatenate([prefix, np.repeat(prefix[-1:], T - length, 0)])
        np.testing.assert_allclose(got[row], expected, rtol=1e-5, atol=1e-6,
                                   err_msg=f"{name} row {row}")


CONV_CELLS = {"ConvLSTMCell": lambda: rnncells.ConvLSTMCell(1, U, 3, padding="same"),
              "ConvGRUCell": lambda: rnncells.ConvGRUCell(1, U, 3, padding="same")}


@pytest.mark.parametrize("layer_cls", [keras.layers.RNN, FusedRNN], ids=["RNN", "FusedRNN"])
@pytest.mark.parametrize("name", sorted(CONV_CELLS))
def test_conv_cells_with_a_mask_equal_each_row_on_its_prefix(name, layer_cls):
    """keras.layers.Masking reduces the last axis only, so a (B, T, length, C) sequence gets
    a (B, T, length) mask that RNN cannot use: conv sequences take an explicit (B, T) mask."""
    cell = CONV_CELLS[name]()
    x = _x((B, T, 4, F))
    mask = np.arange(T)[None, :] < np.array(LENGTHS)[:, None]
    got = np.asarray(layer_cls(cell, return_sequences=True)(x, mask=mask))
    alone = keras.layers.RNN(cell, return_sequences=True)
    for row, length in enumerate(LENGTHS):
        prefix = np.asarray(alone(x[row:row + 1, :length]))[0]
        expected = np.concatenate([prefix, np.repeat(prefix[-1:], T - length, 0)])
        np.testing.assert_allclose(got[row], expected, rtol=1e-5, atol=1e-6,
                                   err_msg=f"{name} row {row}")


# ------------------------------------------------------------------ dropout in training
DROPOUT_CELLS = sorted(n for n in DENSE if n not in ("MinGRUCell", "MinLSTMCell", "Zoneout"))


def _same_weights(cells, x):
    """Build each cell once (equal calls keep equal generator states), copy the first's
    weights into the others."""
    for cell in cells:
        keras.layers.RNN(cell)(x)
    for cell in cells[1:]:
        cell.set_weights(cells[0].get_weights())


@pytest.mark.parametrize("jit", [False, True], ids=["plain", "xla"])
@pytest.mark.parametrize("name", DROPOUT_CELLS + ["MinGRUCell"])
def test_fused_equals_rnn_in_training_with_dropout(name, jit):
    """Two cells with the same weights and the same dropout `seed`, called equally often:
    their seed generators stay in step and both layers draw the input mask, then the
    recurrent mask, once per sequence with the same shapes, so RNN(cell_a) and
    FusedRNN(cell_b) see the same masks (also under XLA, jit=True).
    (Checked: the two outputs differ from the no-dropout output, and from a third cell with
    another seed, so equal masks are not an accident of no dropout.) The minimal cells take
    no recurrent dropout (their gates read only x)."""
    kw = dict(dropout=0.4, seed=11)
    if name not in ("MinGRUCell", "MinLSTMCell"):
        kw["recurrent_dropout"] = 0.3
    x = _x()
    cell_a, cell_b, other = DENSE[name](**kw), DENSE[name](**kw), DENSE[name](**{**kw,
                                                                               "seed": 12})
    _same_weights([cell_a, cell_b, other], x)
    rnn = keras.layers.RNN(cell_a, return_sequences=True)
    fused = FusedRNN(cell_b, return_sequences=True, use_fused=True, jit=jit)
    with tf.GradientTape(persistent=True) as tape:
        out_rnn, out_fused = rnn(x, training=True), fused(x, training=True)
        loss_rnn, loss_fused = tf.reduce_sum(out_rnn ** 2), tf.reduce_sum(out_fused ** 2)
    np.testing.assert_allclose(np.asarray(out_fused), np.asarray(out_rnn), rtol=1e-5,
                               atol=1e-6)
    for g_f, g_r in zip(tape.gradient(loss_fused, cell_b.trainable_weights),
                        tape.gradient(loss_rnn, cell_a.trainable_weights)):
        np.testing.assert_allclose(np.asarray(g_f), np.asarray(g_r), rtol=1e-4, atol=1e-5)
    plain = np.asarray(keras.layers.RNN(cell_a, return_sequences=True)(x, training=False))
    third = np.asarray(keras.layers.RNN(other, return_sequences=True)(x, training=True))
    assert not np.allclose(np.asarray(out_rnn), plain, atol=1e-4)
    assert not np.allclose(np.asarray(out_rnn), third, atol=1e-4)


class FixedUniform:
    """Stands in for keras.random.uniform: one fixed table (states, B, T, S) of draws. A
    whole-sequence draw (B, T, S) gets the next state's table; a one-step draw (B, S) gets
    step t of it, in the per-step order (state 0, state 1, ...) of step 0, then step 1.
    `skip`: one-step draws before the loop (keras.layers.RNN calls the cell once at step 0 to
    learn its output shape and discards the result), read from step 0."""

    def __init__(self, states, steps, skip=0, seed=0):
        self.table = np.random.default_rng(seed).random((states, B, steps, U)).astype("float32")
        self.calls, self.skip = 0, skip

    def __call__(self, shape, *args, **kwargs):
        states = self.table.shape[0]
        k, self.calls = self.calls, self.calls + 1
        k = k - self.skip if k >= self.skip else k
        if len(shape) == 3:
            return tf.constant(self.table[k % states])
        return tf.constant(self.table[k % states][:, k // states])


def test_zoneout_fused_equals_rnn_in_training_with_masks_fixed(monkeypatch):
    """Zoneout draws its keep masks as one (B, T, S) draw per sequence on the fused path and
    one (B, S) draw per step in keras.layers.RNN: the same seed gives different masks. Fixed
    another way: keras.random.uniform replaced by `FixedUniform`, so both layers read the same
    table (the inner cell's dropout masks stay on the same-seed route)."""
    x = _x()
    kw = dict(dropout=0.4, recurrent_dropout=0.3, seed=11)
    cell_a, cell_b = DENSE["Zoneout"](**kw), DENSE["Zoneout"](**kw)
    _same_weights([cell_a, cell_b], x)
    results = []
    for layer, skip, draws in ((keras.layers.RNN(cell_a, return_sequences=True), 2, 2 * T + 2),
                               (FusedRNN(cell_b, return_sequences=True, use_fused=True), 0, 2)):
        fixed = FixedUniform(states=2, steps=T, skip=skip)
        monkeypatch.setattr(keras.random, "uniform", fixed)
        with tf.GradientTape() as tape:
            out = layer(x, training=True)
            loss = tf.reduce_sum(out ** 2)
        monkeypatch.undo()
        assert fixed.calls == draws  # per step (+ Keras's step-0 probe) / per sequence
        results.append((np.asarray(out), tape.gradient(loss, layer.cell.trainable_weights)))
    (out_rnn, g_rnn), (out_fused, g_fused) = results
    np.testing.assert_allclose(out_fused, out_rnn, rtol=1e-5, atol=1e-6)
    for a, b in zip(g_fused, g_rnn):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
    plain = np.asarray(keras.layers.RNN(cell_a, return_sequences=True)(x))
    assert not np.allclose(out_rnn, plain, atol=1e-4)


# ------------------------------------------------------------------ stateful
@pytest.mark.parametrize("path", ["scan", "keras"])
def test_stateful_fused_continues_where_it_stopped(path):
    x = _x((B, 6, F))
    layer = _fused_case(path)
    layer.stateful = True
    layer = FusedRNN.from_config({**layer.get_config(), "stateful": True})
    assert layer.fused_path == path
    layer(x[:, :3])
    reference = keras.layers.RNN(type(layer.cell).from_config(layer.cell.get_config()),
                                 return_sequences=True)
    reference(x)
    reference.set_weights(layer.get_weights())
    layer.reset_state()
    first, second = np.asarray(layer(x[:, :3])), np.asarray(layer(x[:, 3:]))
    np.testing.assert_allclose(np.concatenate([first, second], 1), reference(x), rtol=1e-5,
                               atol=1e-6)
    layer.reset_state()
    np.testing.assert_allclose(layer(x[:, :3]), np.asarray(reference(x))[:, :3], rtol=1e-5,
                               atol=1e-6)


# ------------------------------------------------------------------ mixed precision fit
FAMILIES = {
    "layer_norm": lambda: FusedRNN(rnncells.LayerNormLSTMCell(U)),
    "batch_norm": lambda: FusedRNN(rnncells.BatchNormGRUCell(U, max_steps=T)),
    "minimal_scan": lambda: FusedRNN(rnncells.MinGRUCell(U)),
    "indrnn": lambda: FusedRNN(rnncells.IndRNNCell(U)),
    "peephole_zoneout": lambda: FusedRNN(rnncells.Zoneout(rnncells.PeepholeLSTMCell(U))),
    "nas": lambda: keras.layers.RNN(rnncells.NASCell(U)),
    "conv": lambda: rnncells.ConvLSTM1D(U, 3, padding="same"),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_mixed_float16_fit_with_loss_scaling(family):
    keras.mixed_precision.set_global_policy("mixed_float16")
    conv = family == "conv"
    shape = (8, T, 4, F) if conv else (8, T, F)
    x = _x(shape)
    y = (x.reshape(8, -1).sum(-1, keepdims=True) > 0).astype("float32")
    model = keras.Sequential([keras.Input(shape[1:]), FAMILIES[family](),
                              keras.layers.Flatten(),
                              keras.layers.Dense(1, dtype="float32")])
    model.compile(keras.optimizers.Adam(0.01), "mse")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    before = model.evaluate(x, y, verbose=0)
    history = model.fit(x, y, batch_size=4, epochs=3, verbose=0)
    after = model.evaluate(x, y, verbose=0)
    assert np.all(np.isfinite(history.history["loss"])) and after < before, (before, after)
    assert model.layers[0].compute_dtype == "float16"


# ------------------------------------------------------------------ bad initial_state
def _states(case):
    count = {"too_many": 3, "too_few": 0}.get(case)
    if count is None:  # wrong shape, right count (filled in per path)
        return None
    return [np.zeros((B, U), "float32")] * count


def _bad_initial_state(path, case):
    """A fused layer and an initial_state of the wrong count or shape for its cell."""
    layer = _fused_case(path)
    sizes = layer.cell.state_size
    count = len(sizes) if isinstance(sizes, (list, tuple)) else 1
    given = _states(case)
    if given is None:
        given = [np.zeros((B, U + 1), "float32")] * count
    elif case == "too_few":
        given = [np.zeros((B, U), "float32")] * (count - 1) or [np.zeros((B, 1, 1), "float32")]
    return layer, given


def _clear_message(layer, given):
    """A regex of what the message must say: the argument, the cell's state sizes and the
    count and shapes received."""
    parts = [f"`initial_state` of FusedRNN({type(layer.cell).__name__})",
             f"state_size={layer.cell.state_size!r}", f"received {len(given)} tensor",
             ", ".join(str(g.shape) for g in given)]
    return ".*".join(re.escape(part) for part in parts)


BAD_CASES = [(path, case) for path in ("loop", "scan")
             for case in ("too_many", "too_few", "wrong_shape")]


@pytest.mark.parametrize("path, case", BAD_CASES)
def test_bad_initial_state_is_a_clear_error(path, case):
    layer, given = _bad_initial_state(path, case)
    with pytest.raises(ValueError, match=_clear_message(layer, given)):
        layer(_x(), initial_state=given)


def test_bad_initial_state_check_catches_the_unchecked_mutant(monkeypatch):
    """Mutant: FusedRNN without its check. No case gives the clear error (one, scan with
    too many states, runs without any error), so the test above can fail."""
    monkeypatch.setattr(FusedRNN, "check_initial_state", lambda self, initial_state: None)
    unclear = []
    for path, case in BAD_CASES:
        layer, given = _bad_initial_state(path, case)
        try:
            layer(_x(), initial_state=given)
            unclear.append((path, case, "no error"))
        except Exception as error:  # noqa: BLE001 - any error but the clear one
            if "`initial_state`" not in str(error):
                unclear.append((path, case, type(error).__name__))
    assert len(unclear) == len(BAD_CASES), unclear
    assert ("scan", "too_many", "no error") in unclear


def _rng_states(*shapes):
    rng = np.random.default_rng(1)
    return [rng.normal(size=shape).astype("float32") for shape in shapes]


def _conv_cell():
    return rnncells.ConvLSTMCell(1, 2, 3, padding="same")


# Valid initial states the check must accept: (make cell, x shape, states, bare tensor?).
GOOD_STATES = {
    "batch_differs_from_units": (lambda: rnncells.LayerNormLSTMCell(U), (2, T, F),
                                 _rng_states((2, U), (2, U)), False),
    "esn_bare_tensor": (lambda: rnncells.ESNCell(U, seed=1), (B, T, F),
                        _rng_states((B, U)), True),
    "conv_shapes": (_conv_cell, (B, T, 4, F), _rng_states((B, 4, 2), (B, 4, 2)), False),
    "scan": (lambda: rnncells.MinGRUCell(U), (B, T, F), _rng_states((B, U)), False),
}


@pytest.mark.parametrize("name", sorted(GOOD_STATES))
def test_valid_initial_state_runs_as_in_rnn(name):
    make_cell, shape, states, bare = GOOD_STATES[name]
    x = _x(shape)
    cell = make_cell()
    given = states[0] if bare else states
    expected = keras.layers.RNN(cell, return_sequences=True)(x, initial_state=given)
    got = FusedRNN(cell, return_sequences=True)(x, initial_state=given)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    zeros = FusedRNN(cell, return_sequences=True)(x)
    assert not np.allclose(got, zeros, atol=1e-3)  # the given state was used


def test_initial_state_check_on_symbolic_inputs():
    sequences = keras.Input((T, F))
    unknown, wide = keras.Input((None,)), keras.Input((U + 1,))
    layer = FusedRNN(rnncells.LayerNormLSTMCell(U))
    # Unknown feature dims are not errors: the model builds and runs.
    model = keras.Model([sequences, unknown], layer(sequences, initial_state=[unknown] * 2))
    h = _rng_states((B, U))[0]
    np.testing.assert_allclose(model([_x(), h]), layer(_x(), initial_state=[h, h]), atol=1e-6)
    with pytest.raises(ValueError, match=r"`initial_state`.*\(None, 4\), \(None, 3\)"):
        layer(sequences, initial_state=[wide, keras.Input((U,))])
    esn = FusedRNN(rnncells.ESNCell(U))
    assert esn(sequences, initial_state=keras.Input((U,))).shape == (None, U)
    with pytest.raises(ValueError, match="`initial_state` of FusedRNN\\(ESNCell\\)"):
        esn(sequences, initial_state=wide)


BAD_STATES = {
    "esn_bare_tensor": (lambda: FusedRNN(rnncells.ESNCell(U)), (B, T, F),
                        np.zeros((B, U + 1), "float32")),
    "conv_channels": (lambda: FusedRNN(_conv_cell()), (B, T, 4, F),
                      [np.zeros((B, 4, 3), "float32")] * 2),
    "conv_rank": (lambda: FusedRNN(_conv_cell()), (B, T, 4, F),
                  [np.zeros((B, 2), "float32")] * 2),
    "bidirectional_odd_count": (
        lambda: keras.layers.Bidirectional(FusedRNN(rnncells.LayerNormLSTMCell(U))),
        (B, T, F), [np.zeros((B, U), "float32")] * 3),
}


@pytest.mark.parametrize("name", sorted(BAD_STATES))
def test_bad_initial_state_variants_are_clear_errors(name):
    make_layer, shape, given = BAD_STATES[name]
    with pytest.raises(ValueError, match="`initial_state` of FusedRNN"):
        make_layer()(_x(shape), initial_state=given)


def test_bidirectional_splits_a_valid_initial_state():
    states = _rng_states(*[(B, U)] * 4)
    layer = keras.layers.Bidirectional(FusedRNN(rnncells.LayerNormLSTMCell(U)))
    out = layer(_x(), initial_state=states)
    forward = layer.forward_layer(_x(), initial_state=states[:2])
    np.testing.assert_allclose(out[:, :U], forward, atol=1e-6)


def test_stateful_layer_checks_a_given_initial_state():
    layer = FusedRNN(rnncells.MinGRUCell(U), stateful=True)
    layer(_x())
    h = _rng_states((B, U))[0]
    np.testing.assert_allclose(layer(_x(), initial_state=[h]),
                               FusedRNN(layer.cell)(_x(), initial_state=[h]), atol=1e-6)
    with pytest.raises(ValueError, match="`initial_state` of FusedRNN\\(MinGRUCell\\)"):
        layer(_x(), initial_state=[np.zeros((B, U + 1), "float32")])


def test_initial_state_check_accepts_unknown_dims_and_rank():
    from rnncells._shapes import check_initial_state
    check_initial_state([tf.TensorSpec(None)], U, "layer")  # unknown rank
    # None on either side matches; the batch axis is never compared.
    check_initial_state([tf.TensorSpec((7, 5, None, 2))], [(None, 4, 2)], "layer")
    with pytest.raises(ValueError, match=r"state_size=\[\(None, 4, 2\)\].*\(7, 5, 3, 2\)"):
        check_initial_state([tf.TensorSpec((7, 5, 3, 2))], [(None, 4, 2)], "layer")


def test_conv_layers_check_initial_state_too():
    """ConvRNN and ConvLSTM*D/ConvGRU*D: the same check (valid states run as in RNN)."""
    x = _x((B, T, 4, F))
    good = _rng_states((B, 4, 2), (B, 4, 2))
    cell = _conv_cell()
    np.testing.assert_allclose(
        rnncells.ConvRNN(cell, return_sequences=True)(x, initial_state=good),
        keras.layers.RNN(cell, return_sequences=True)(x, initial_state=good), atol=1e-6)
    with pytest.raises(ValueError, match=r"`initial_state` of ConvRNN\(ConvLSTMCell\).*"
                                         r"received 1 tensor"):
        rnncells.ConvRNN(_conv_cell())(x, initial_state=good[:1])
    with pytest.raises(ValueError, match=r"`initial_state` of ConvGRU1D\(ConvGRUCell\).*"
                                         r"\(3, 4, 3\)"):
        rnncells.ConvGRU1D(2, 3, padding="same")(x, initial_state=[np.zeros((B, 4, 3))])
    symbolic = keras.Input((T, 4, F))
    with pytest.raises(ValueError, match="`initial_state` of ConvLSTM1D"):
        rnncells.ConvLSTM1D(2, 3, padding="same")(symbolic,
                                                  initial_state=[keras.Input((4, 5))] * 2)
