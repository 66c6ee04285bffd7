"""Write the `.keras` files of tests/data/legacy_0_1_0 with the rnncells release being replaced.

Run with that release importable (a checkout of it first on sys.path):

    python tests/data/make_legacy_files.py tests/data/legacy_0_1_0

For every model: `<name>.keras` and `<name>.npz` (the input `x`, the prediction `y` made by
that release). tests/test_legacy_files.py loads each file with the current code and checks the
prediction, so a change that breaks old files (weights, configs, state layouts) fails there.
The models are tiny (a few KiB each), with weights perturbed away from their initializers and
batch-norm moving statistics trained a few steps, so every weight matters to the prediction.
"""

import os
import sys

import keras
import numpy as np

import rnncells

T, F = 6, 3


def dense_models():
    """name -> (cell factory, layer kind) for the dense cells."""
    return {
        "ln_lstm_tfa": lambda: rnncells.LayerNormLSTMCell(4),
        "ln_lstm_ba2016": lambda: rnncells.LayerNormLSTMCell(4, formulation="ba2016"),
        "ln_gru": lambda: rnncells.LayerNormGRUCell(4),
        "ln_simple_rnn": lambda: rnncells.LayerNormSimpleRNNCell(4),
        "bn_lstm": lambda: rnncells.BatchNormLSTMCell(4, max_steps=4, momentum=0.5),
        "bn_gru": lambda: rnncells.BatchNormGRUCell(4, max_steps=4, momentum=0.5),
        "peephole_lstm": lambda: rnncells.PeepholeLSTMCell(4),
        "nas": lambda: rnncells.NASCell(4, projection=3, use_bias=True),
        "esn": lambda: rnncells.ESNCell(4, connectivity=0.5),
        "indrnn": lambda: rnncells.IndRNNCell(4, max_timesteps=50),
        "indrnn_layer_norm": lambda: rnncells.IndRNNCell(4, layer_norm=True),
        "min_gru": lambda: rnncells.MinGRUCell(4),
        "min_lstm": lambda: rnncells.MinLSTMCell(4),
        "zoneout_ln_lstm": lambda: rnncells.Zoneout(rnncells.LayerNormLSTMCell(4), rate=0.2),
        "dropconnect_ln_gru": lambda: rnncells.LayerNormGRUCell(4, recurrent_dropconnect=0.3),
    }


def build(name, make_cell, layer):
    inputs = keras.Input((T, F))
    if layer == "rnn":
        rnn = keras.layers.RNN(make_cell(), return_sequences=True)
    elif layer == "fused":
        rnn = rnncells.FusedRNN(make_cell(), return_sequences=True)
    else:  # bidirectional fused
        rnn = keras.layers.Bidirectional(rnncells.FusedRNN(make_cell(), return_sequences=True))
    outputs = keras.layers.Dense(2)(rnn(inputs))
    return keras.Model(inputs, outputs, name=name)


def conv_models():
    def conv_lstm():
        inputs = keras.Input((T, 5, 5, 2))
        x = rnncells.ConvLSTM2D(3, 3, padding="same", return_sequences=True)(inputs)
        return keras.Model(inputs, keras.layers.Dense(2)(x))

    def conv_gru_layer_norm():
        inputs = keras.Input((T, 7, 2))
        x = rnncells.ConvGRU1D(3, 3, normalization="layer", return_sequences=True)(inputs)
        return keras.Model(inputs, keras.layers.Dense(2)(x))

    def conv_rnn_group_norm():
        inputs = keras.Input((T, 4, 4, 4))
        cell = rnncells.ConvLSTMCell(2, 4, 3, padding="same", normalization="group", groups=2)
        x = rnncells.ConvRNN(cell, return_sequences=True)(inputs)
        return keras.Model(inputs, keras.layers.Dense(2)(x))

    return {"conv_lstm2d": conv_lstm, "conv_gru1d_layer_norm": conv_gru_layer_norm,
            "conv_rnn_group_norm": conv_rnn_group_norm}


def perturb(model, rng):
    for weight in model.trainable_weights:
        value = weight.numpy()
        weight.assign(value + rng.normal(0.0, 0.3, value.shape).astype(value.dtype))


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    models = {}
    for name, make_cell in dense_models().items():
        for layer in ("rnn", "fused"):
            models[f"{name}_{layer}"] = lambda n=name, m=make_cell, k=layer: build(n, m, k)
    models["bidirectional_fused_ln_lstm"] = lambda: build(
        "bidi", dense_models()["ln_lstm_tfa"], "bidirectional")
    models.update(conv_models())
    for name, make in models.items():
        model = make()
        perturb(model, rng)
        x = rng.normal(size=(5, *model.input_shape[1:])).astype("float32")
        if model.non_trainable_weights:  # batch norm: move the statistics off (0, 1)
            for _ in range(3):
                model(x, training=True)
        y = model.predict(x, verbose=0)
        model.save(os.path.join(out_dir, f"{name}.keras"))
        np.savez(os.path.join(out_dir, f"{name}.npz"), x=x, y=y)
        print(name, y.shape)


if __name__ == "__main__":
    main(sys.argv[1])
