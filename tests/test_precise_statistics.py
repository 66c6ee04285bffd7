"""`rnncells.precise_statistics`: the moving statistics become the batch statistics of the
current weights (also run on JAX and PyTorch: tests/backends' Makefile list)."""

import keras
import numpy as np
import pytest

import rnncells


def _data(rows=96, steps=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, steps, 3)).astype("float32") * 2.0 + 1.0
    return x, (x[:, :, 0].sum(axis=1) > steps).astype("int32")


def _model(cell, steps=6):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((steps, 3)), rnncells.FusedRNN(cell),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    return model


def _outputs(model, x, training):
    return np.asarray(keras.ops.convert_to_numpy(model(x, training=training)))


# Both cells on TensorFlow; one on the other backends (each compile costs there).
@pytest.mark.parametrize("cls", [rnncells.BatchNormGRUCell] + (
    [rnncells.BatchNormLSTMCell] if keras.backend.backend() == "tensorflow" else []))
def test_one_batch_makes_inference_equal_training_mode_on_it(cls):
    x, y = _data()
    model = _model(cls(8, max_steps=6))
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    weights = [w.copy() for w in model.get_weights()]
    train_mode = _outputs(model, x, True)
    gap_before = np.abs(_outputs(model, x, False) - train_mode).max()
    assert rnncells.precise_statistics(model, x, batch_size=len(x)) == 1
    gap_after = np.abs(_outputs(model, x, False) - train_mode).max()
    # the only difference left: moving variances are unbiased (n / (n - 1), n = 96 rows)
    assert gap_after < 5e-3 < gap_before, (gap_before, gap_after)
    cell = model.layers[0].cell
    for prefix in cell._norm_prefixes:
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(getattr(cell, f"{prefix}_moving_count")), 1.0)
    trainable = [w.numpy() for w in model.trainable_weights]
    np.testing.assert_array_equal(trainable[0], weights[0])  # weights untouched


def test_batches_are_averaged_and_unreached_steps_keep_their_statistics():
    x, _ = _data(rows=64, steps=6)
    cell = rnncells.BatchNormGRUCell(4, max_steps=10)  # steps 6..9 never seen
    model = _model(cell)
    model.predict(x, verbose=0)
    old = keras.ops.convert_to_numpy(cell.kernel_norm_moving_mean).copy()
    assert rnncells.precise_statistics(model, x, batch_size=16) == 4
    new = keras.ops.convert_to_numpy(cell.kernel_norm_moving_mean)
    np.testing.assert_array_equal(new[6:], old[6:])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(cell.kernel_norm_moving_count),
                                  [4.0] * 6 + [0.0] * 4)
    # four batches of 16 rows: their mean equals one batch of 64 rows (means average)
    one = _model(rnncells.BatchNormGRUCell(4, max_steps=10))
    one.set_weights(model.get_weights())
    rnncells.precise_statistics(one, x, batch_size=64)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(one.layers[0].cell.kernel_norm_moving_mean)[:6], new[:6],
        rtol=1e-4, atol=1e-5)


def test_a_model_without_batch_norm_cells_is_refused():
    model = _model(rnncells.LayerNormGRUCell(4))
    with pytest.raises(ValueError, match="`model`.*no batch-norm cell"):
        rnncells.precise_statistics(model, _data()[0])
