"""On a GPU: FusedRNN == keras.layers.RNN(cell) for every cell, and the "keras" path takes
cuDNN. Marked `gpu`; skipped cleanly on machines without one (`-m gpu` selects them).

On the GPU FusedRNN's loop compiles with XLA (`jit="auto"`), so the fused and the per-step
results are computed by different kernels in different orders: compared at 1e-4 with
TensorFloat-32 matmuls turned off (TF32 rounds matmul inputs to 10 bits of mantissa).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from rnncells import FusedRNN
from tests.kernels.test_fused import CELLS, assert_fused_matches_rnn

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not tf.config.list_physical_devices("GPU"),
                       reason="needs a GPU (TensorFlow sees none)"),
]
GPU_TOLERANCE = 1e-4


@pytest.fixture(autouse=True)
def full_float32_matmuls():
    before = tf.config.experimental.tensor_float_32_execution_enabled()
    tf.config.experimental.enable_tensor_float_32_execution(False)
    yield
    tf.config.experimental.enable_tensor_float_32_execution(before)


# Zoneout in training draws its masks from each layer's own seed generator: inference only.
CASES = [(*cell, training) for cell in CELLS for training in (False, True)
         if not (training and cell[0] == "Zoneout")]


@pytest.mark.parametrize("name,make_cell,step_shape,random_initial,training", CASES,
                         ids=[f"{c[0]}-{'train' if c[-1] else 'infer'}" for c in CASES])
@pytest.mark.parametrize("masked,go_backwards", [(False, False), (True, True)])
def test_fused_matches_keras_rnn_on_the_gpu(name, make_cell, step_shape, random_initial,
                                            training, masked, go_backwards):
    with tf.device("/GPU:0"):  # traced: the fused loop takes XLA on the GPU, as in model.fit
        assert_fused_matches_rnn(make_cell, step_shape, batch=3, steps=5, features=4,
                                 units=4, seed=11, masked=masked, go_backwards=go_backwards,
                                 return_sequences=True, random_initial_state=random_initial,
                                 training=training, jit="auto", tolerance=GPU_TOLERANCE,
                                 traced=True)


@pytest.mark.parametrize("make_cell,keras_layer", [
    (lambda: keras.layers.LSTMCell(8), lambda: keras.layers.LSTM(8, return_sequences=True)),
    (lambda: keras.layers.GRUCell(8), lambda: keras.layers.GRU(8, return_sequences=True)),
])
def test_keras_cells_take_cudnn_with_the_same_weights(make_cell, keras_layer):
    x = np.random.default_rng(1).normal(size=(4, 6, 3)).astype("float32")
    layer = FusedRNN(make_cell(), return_sequences=True)
    reference = keras_layer()
    with tf.device("/GPU:0"):
        layer(x)
        reference(x)
        layer.set_weights(reference.get_weights())
        got = layer(x)
    assert layer.fused_path == "keras"
    assert layer.supports_jit is False  # Keras's LSTM/GRU ran its cuDNN kernel
    np.testing.assert_allclose(got, reference(x), atol=GPU_TOLERANCE, rtol=GPU_TOLERANCE)
