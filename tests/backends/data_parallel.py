"""Run by test_data_parallel.py in a fresh process (two forced host devices, JAX).

Prints one line per model: the largest difference of the weights (moving statistics
included) and of the predictions between a `keras.distribution.DataParallel` fit over the
two devices and a single-device fit, and the number of devices the weights live on.
"""

import os

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
os.environ["KERAS_BACKEND"] = "jax"

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

import rnncells  # noqa: E402

MODELS = {
    "fused-batch_norm_lstm": lambda: rnncells.FusedRNN(
        rnncells.BatchNormLSTMCell(4, max_steps=6)),
    "fused-batch_norm_gru-masked": lambda: rnncells.FusedRNN(
        rnncells.BatchNormGRUCell(4, max_steps=6)),
    "fused-layer_norm_gru": lambda: rnncells.FusedRNN(rnncells.LayerNormGRUCell(4)),
    "rnn-layer_norm_lstm": lambda: keras.layers.RNN(rnncells.LayerNormLSTMCell(4)),
}


def fit(name, distributed):
    keras.utils.set_random_seed(0)
    keras.distribution.set_distribution(
        keras.distribution.DataParallel(devices=jax.devices()) if distributed else None)
    layers = [keras.Input((6, 3))]
    if name.endswith("masked"):
        layers.append(keras.layers.Masking(0.0))
    model = keras.Sequential([*layers, MODELS[name](), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.05), "mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 6, 3)).astype("float32")
    x[::3, 4:] = 0.0  # padding (used by the masked model)
    y = rng.normal(size=(16, 1)).astype("float32")
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    devices = len(model.weights[0].value.sharding.device_set)
    return [np.asarray(w) for w in model.get_weights()], model.predict(x, verbose=0), devices


def main():
    assert len(jax.devices()) == 2
    for name in MODELS:
        single, p_single, n_single = fit(name, False)
        multi, p_multi, n_multi = fit(name, True)
        weights = max(float(np.abs(a - b).max()) for a, b in zip(single, multi))
        print(name, weights, float(np.abs(p_single - p_multi).max()), n_single, n_multi)


if __name__ == "__main__":
    main()
