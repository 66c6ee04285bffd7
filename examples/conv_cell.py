"""A user's convolutional recurrent cell, built from rnncells parts, and why ReLU killed it.

The cell (from a user report): every step sees one row of an image, x_t of shape
(1, W, C), and

    a1 = act(conv(x_t, 1x3, 5 filters, "same"))       # (1, W, 5)
    a2 = act(conv(a1, 1xW, 20 filters, "valid"))      # (1, 1, 20)
    s_t = softmax(conv(concat([a2, s_{t-1}]), 1x1))   # (1, 1, classes), the state and output

With ReLU and a high learning rate it stopped learning: units whose pre-activation is
negative for every input output 0 and get exactly zero gradient, so they never come back
("dead" units), and the gradient reaching the first convolution vanishes. Leaky ReLU keeps a
gradient for every unit at the same learning rate, though 3.0 is near the edge of its
stability: a single epoch's loss can spike, and float summation order (the number of
threads) decides which, if any. tanh learns at a moderate learning rate
(0.5); at 3.0 it saturates (|tanh| rounds to 1 in float32, whose derivative is exactly 0), the
other way units stop learning.

Built from rnncells parts: `RecurrentCell` (the project/recur protocol, dropout masks, input
checks), `rnncells.activations` (`LeakyReLU` with a serializable slope), `ConvRNN` (the
`keras.layers.RNN` that knows convolutional state shapes). The two input convolutions do not
depend on the state, so they live in `project` and run over all steps as one batched conv;
only the 1x1 mixing conv is in the sequential `recur`.

Run it: `python examples/conv_cell.py` trains it with relu, leaky_relu and tanh (200 SGD
steps each) on a small synthetic task (which band of image columns holds the largest
cumulative sum) and prints the loss before/after and the fraction of dead units.
Importable: `train(...)`, `dead_units(...)`, `UserConvCell`.
"""

import keras
import numpy as np
from keras import initializers, ops

import rnncells
from rnncells import activations
from rnncells.cells.base import RecurrentCell


@keras.saving.register_keras_serializable(package="rnncells_examples")
class UserConvCell(RecurrentCell):
    """The user's cell: conv 1x3 (5) -> conv 1xW (20) -> concat state -> conv 1x1 -> softmax.

    Weights: conv1_kernel (1, 3, C, 5), conv1_bias (5), conv2_kernel (1, W, 5, 20),
    conv2_bias (20), mix_kernel (1, 1, 20 + classes, classes), mix_bias (classes).

    Args:
        classes: size of the softmax state/output (default 4).
        activation: of the two input convolutions (default "relu", the user's).
        filters: (conv1 filters, conv2 filters), default (5, 20).
        kernel_initializer: default "he_uniform" (suited to ReLU-family units).

    Call arguments: inputs (batch, 1, W, C); states [s (batch, 1, 1, classes)].
    Returns: (s', [s']).
    """

    step_input_rank = 4

    def __init__(self, classes=4, activation="relu", filters=(5, 20),
                 kernel_initializer="he_uniform", **kwargs):
        super().__init__(**kwargs)
        self.classes = int(classes)
        self.activation = activations.get(activation)
        self.filters = tuple(int(f) for f in filters)
        self.kernel_initializer = initializers.get(kernel_initializer)

    @property
    def state_size(self):
        return [(1, 1, self.classes)]

    @property
    def output_size(self):
        return (1, 1, self.classes)

    def _feature_axes_description(self):
        return "1, width, channels"

    def build(self, input_shape):
        _, _, width, channels = self.check_step_input_shape(input_shape)
        f1, f2 = self.filters

        def weight(name, shape, init):
            return self.add_weight(shape=shape, name=name, initializer=init)

        self.conv1_kernel = weight("conv1_kernel", (1, 3, channels, f1), self.kernel_initializer)
        self.conv1_bias = weight("conv1_bias", (f1,), "zeros")
        self.conv2_kernel = weight("conv2_kernel", (1, width, f1, f2), self.kernel_initializer)
        self.conv2_bias = weight("conv2_bias", (f2,), "zeros")
        self.mix_kernel = weight("mix_kernel", (1, 1, f2 + self.classes, self.classes),
                                 "glorot_uniform")
        self.mix_bias = weight("mix_bias", (self.classes,), "zeros")
        self.built = True

    def pre_activations(self, inputs):
        """(conv1 pre-activation, conv2 pre-activation) for a sequence (B, T, 1, W, C)."""
        steps = ops.reshape(inputs, (-1, *inputs.shape[2:]))
        z1 = ops.conv(steps, self.cast_weight(self.conv1_kernel), padding="same")
        z1 = z1 + self.cast_weight(self.conv1_bias)
        z2 = ops.conv(self.activation(z1), self.cast_weight(self.conv2_kernel), padding="valid")
        return z1, z2 + self.cast_weight(self.conv2_bias)

    def project(self, inputs, training=None):
        sequence = self.is_sequence(inputs)
        inputs = self.apply_input_dropout(inputs, training, sequence)
        if not sequence:
            inputs = inputs[:, None]
        batch_and_time = ops.shape(inputs)[:2]
        _, z2 = self.pre_activations(inputs)
        a2 = ops.reshape(self.activation(z2), (batch_and_time[0], batch_and_time[1], 1, 1, -1))
        return a2 if sequence else a2[:, 0]

    def recur(self, projected, states, training=None):
        mixed = ops.concatenate([projected, states[0]], axis=-1)
        logits = ops.conv(mixed, self.cast_weight(self.mix_kernel)) + self.cast_weight(
            self.mix_bias)
        s = ops.softmax(logits, axis=-1)
        return s, [s]

    def get_config(self):
        config = {
            "classes": self.classes,
            "activation": activations.serialize(self.activation),
            "filters": self.filters,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
        }
        return {**super().get_config(), **config}


def make_data(samples=128, steps=6, width=8, classes=4, seed=0):
    """Rows of random images; the label at step t is which of `classes` column bands holds
    the largest cumulative sum of the rows seen so far (it needs memory of past rows)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, size=(samples, steps, 1, width, 1)).astype("float32")
    cumulative = np.cumsum(x[:, :, 0, :, 0], axis=1)
    band = np.argmax(cumulative, axis=-1) * classes // width
    y = np.eye(classes, dtype="float32")[band][:, :, None, None, :]
    return x, y


def build_model(activation="relu", classes=4, width=8, steps=6, seed=0):
    keras.utils.set_random_seed(seed)
    cell = UserConvCell(classes=classes, activation=activation)
    inputs = keras.Input((steps, 1, width, 1))
    outputs = rnncells.ConvRNN(cell, return_sequences=True, unroll=True)(inputs)
    return keras.Model(inputs, outputs), cell


def dead_units(model, cell, x, y):
    """Fraction of the conv1 + conv2 units that get exactly zero gradient on (x, y).

    A unit is dead when no input of the batch gives it a gradient: for ReLU that is a unit
    whose pre-activation is <= 0 everywhere (it outputs 0 and cannot recover); Leaky ReLU and
    tanh units always pass some gradient.
    """
    import tensorflow as tf  # the gradient tape; rnncells runs on the TensorFlow backend

    loss_fn = keras.losses.CategoricalCrossentropy()
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x))
    kernels = [cell.conv1_kernel, cell.conv1_bias, cell.conv2_kernel, cell.conv2_bias]
    g1k, g1b, g2k, g2b = [np.asarray(g) for g in tape.gradient(loss, kernels)]
    grad1 = np.abs(g1k).sum(axis=(0, 1, 2)) + np.abs(g1b)
    grad2 = np.abs(g2k).sum(axis=(0, 1, 2)) + np.abs(g2b)
    per_unit = np.concatenate([grad1, grad2])
    return float(np.mean(per_unit == 0.0))


def silent_units(cell, x):
    """Fraction of conv1 + conv2 units whose pre-activation is <= 0 on every input of x."""
    z1, z2 = cell.pre_activations(ops.convert_to_tensor(x))
    z1, z2 = np.asarray(z1), np.asarray(z2)
    silent1 = np.all(z1.reshape(-1, z1.shape[-1]) <= 0, axis=0)
    silent2 = np.all(z2.reshape(-1, z2.shape[-1]) <= 0, axis=0)
    return float(np.mean(np.concatenate([silent1, silent2])))


def train(activation="relu", epochs=25, learning_rate=3.0, samples=128, batch_size=16,
          seed=0):
    """Train with plain SGD (200 steps at a high learning rate by default).

    Returns a dict: initial/final loss on the training set, per-epoch losses, and the
    fraction of dead units before and after training (`dead_units`, `silent_units`).
    """
    x, y = make_data(samples=samples, seed=seed)
    model, cell = build_model(activation, seed=seed)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate),
                  loss="categorical_crossentropy", jit_compile=False)
    initial_loss = float(model.evaluate(x, y, verbose=0, batch_size=samples))
    dead_before = dead_units(model, cell, x, y)
    history = model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0, shuffle=True)
    final_loss = float(model.evaluate(x, y, verbose=0, batch_size=samples))
    return {
        "activation": activations.serialize(cell.activation),
        "steps": epochs * (-(-samples // batch_size)),
        "initial_loss": initial_loss,
        "final_loss": final_loss,
        "losses": [float(v) for v in history.history["loss"]],
        "dead_before": dead_before,
        "dead_after": dead_units(model, cell, x, y),
        "silent_after": silent_units(cell, x),
    }


def main():
    runs = (("relu", 3.0), (activations.LeakyReLU(0.1), 3.0), ("tanh", 0.5), ("tanh", 3.0))
    for activation, learning_rate in runs:
        result = train(activation, learning_rate=learning_rate)
        print(f"{str(activation):30s} lr {learning_rate:3.1f}  steps {result['steps']:4d}  loss "
              f"{result['initial_loss']:.3f} -> {result['final_loss']:.3f}  dead units "
              f"{result['dead_before']:.0%} -> {result['dead_after']:.0%}")


if __name__ == "__main__":
    main()
