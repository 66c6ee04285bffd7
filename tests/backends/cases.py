"""The models the cross-backend suite runs on every backend, and what it measures on each.

`CASES` maps a name to a model factory and its input shape; `measure(case)` builds the model,
loads the weights TensorFlow drew (`weights`, so ESN reservoirs and initializers are the
same), and returns what is compared across backends: inference outputs, the gradients of a
fixed linear loss of the training-mode outputs, and the weights after three SGD steps of
`fit` (batch-norm moving statistics included). `tests/backends/tf_reference.py` writes
TensorFlow's numbers; `test_cross_backend.py` recomputes them on JAX or PyTorch.

Keep it lean: it runs twice (JAX, PyTorch) in `make test`.
"""

import keras
import numpy as np

import rnncells
from rnncells.diagnostics.autodiff import weight_gradients

B, T, F, U = 4, 6, 3, 5


def _dense(make_cell, layer="fused", masked=False, go_backwards=False):
    def build():
        inputs = keras.Input((T, F))
        x = keras.layers.Masking(0.0)(inputs) if masked else inputs
        kwargs = dict(return_sequences=True, go_backwards=go_backwards)
        if layer == "fused":
            rnn = rnncells.FusedRNN(make_cell(), **kwargs)
        elif layer == "bidirectional":
            rnn = keras.layers.Bidirectional(rnncells.FusedRNN(make_cell(), **kwargs))
        else:
            rnn = keras.layers.RNN(make_cell(), **kwargs)
        return keras.Model(inputs, keras.layers.Dense(2)(rnn(x)))

    return build


def _conv(layer_cls):
    def build():
        inputs = keras.Input((T, 5, 2))
        y = layer_cls(3, 2, padding="same", return_sequences=True)(inputs)
        return keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(y)))

    return build


DENSE_CELLS = {
    "ln_lstm": lambda: rnncells.LayerNormLSTMCell(U),
    "ln_gru": lambda: rnncells.LayerNormGRUCell(U),
    "ln_simple_rnn": lambda: rnncells.LayerNormSimpleRNNCell(U),
    "peephole": lambda: rnncells.PeepholeLSTMCell(U),
    "nas": lambda: rnncells.NASCell(U, projection=3, use_bias=True),
    "esn": lambda: rnncells.ESNCell(U, connectivity=0.5),
    "indrnn": lambda: rnncells.IndRNNCell(U),
    "min_gru": lambda: rnncells.MinGRUCell(U),
    "min_lstm": lambda: rnncells.MinLSTMCell(U),
    "bn_lstm": lambda: rnncells.BatchNormLSTMCell(U, max_steps=4, momentum=0.5),
    "bn_gru": lambda: rnncells.BatchNormGRUCell(U, max_steps=4, momentum=0.5),
    "zoneout": lambda: rnncells.Zoneout(rnncells.LayerNormLSTMCell(U), rate=0.2),
}

#: cells whose training-mode numbers are random draws (compared at inference only).
STOCHASTIC = ("zoneout",)
#: cells that keras.layers.RNN cannot train on JAX (moving statistics inside lax.scan).
RUNNING_STATISTICS = ("bn_lstm", "bn_gru")

#: cells whose unmasked fused path differs from the masked one (batch norm's shared-step
#: statistics, the parallel scan, the loop of the analytic step adjoint): run both.
UNMASKED_TOO = ("ln_lstm", "ln_gru", "min_gru", "bn_lstm", "bn_gru")

CASES = {}
for _name, _make in DENSE_CELLS.items():
    if _name in UNMASKED_TOO:
        CASES[f"{_name}-fused"] = (_dense(_make), (B, T, F))
    CASES[f"{_name}-rnn"] = (_dense(_make, layer="rnn"), (B, T, F))
    CASES[f"{_name}-fused-masked-backwards"] = (
        _dense(_make, masked=True, go_backwards=True), (B, T, F))
CASES["ln_lstm-bidirectional"] = (_dense(DENSE_CELLS["ln_lstm"], layer="bidirectional"),
                                  (B, T, F))
CASES["conv_lstm1d"] = (_conv(rnncells.ConvLSTM1D), (B, T, 5, 2))
CASES["conv_gru1d"] = (_conv(rnncells.ConvGRU1D), (B, T, 5, 2))


def cell_of(name):
    return name.split("-")[0]


def data(name):
    """The case's input (rows padded with zeros at the end for the masked cases), target and
    loss weights, the same on every backend."""
    shape = CASES[name][1]
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype("float32")
    if "masked" in name:
        for row, length in enumerate([T, T - 2, 3, 1][:shape[0]]):
            x[row, length:] = 0.0
    model_out = (shape[0], T, 2) if len(shape) == 3 else (shape[0], 2)
    y = rng.normal(size=model_out).astype("float32")
    r = rng.normal(size=model_out).astype("float32")
    return x, y, r


def trains_in_rnn_here(name):
    """Whether this backend can train the case (keras.layers.RNN on JAX cannot update
    moving statistics inside its scan: the cell raises, naming FusedRNN)."""
    return not (keras.backend.backend() == "jax" and name.endswith("-rnn")
                and cell_of(name) in RUNNING_STATISTICS)


def measure(name, weights=None):
    """What the suite compares for case `name` (a dict of NumPy arrays / lists)."""
    keras.utils.set_random_seed(0)
    model = CASES[name][0]()
    if weights is not None:
        model.set_weights(weights)
    x, y, r = data(name)
    result = {"weights": [np.asarray(w) for w in model.get_weights()],
              "predict": model.predict(x, verbose=0)}
    if cell_of(name) in STOCHASTIC or not trains_in_rnn_here(name):
        return result, model
    start = model.get_weights()

    def loss():
        return keras.ops.sum(model(x, training=True) * keras.ops.convert_to_tensor(r))

    result["gradients"] = weight_gradients(loss, model.trainable_weights)
    model.set_weights(start)
    model.compile(keras.optimizers.SGD(0.05), "mse")
    model.fit(np.concatenate([x] * 3), np.concatenate([y] * 3), batch_size=len(x),
              epochs=1, shuffle=False, verbose=0)
    result["fitted"] = [np.asarray(w) for w in model.get_weights()]
    model.set_weights(start)
    return result, model
