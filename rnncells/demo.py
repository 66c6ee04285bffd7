"""`python -m rnncells demo`: train recurrent classifiers on real IMU data and compare them.

Data: seglearn's wrist-watch exercise recordings (6 IMU channels at 50 Hz, 7 exercises),
cut into 128-step windows (stride 64) and split by subject, so the test subjects are never
seen in training. Each model is the same: RNN(32 units) -> Dense(7, softmax).
"""

import dataclasses
import time

import keras
import numpy as np

UNITS = 32


@dataclasses.dataclass
class DemoModel:
    """One row of the demo table: a name and a function returning the recurrent layer."""

    name: str
    make_layer: object
    #: also report accuracy with the test set fed one window at a time (batch-norm cells).
    check_batch_invariance: bool = False


def default_models():
    """The demo's rows: Keras's own LSTM as the reference, then rnncells cells."""
    import rnncells

    return [
        DemoModel("keras.layers.LSTM", lambda: keras.layers.LSTM(UNITS)),
        DemoModel("RNN(LayerNormLSTMCell)",
                  lambda: keras.layers.RNN(rnncells.LayerNormLSTMCell(UNITS))),
        DemoModel("FusedRNN(LayerNormLSTMCell)",
                  lambda: rnncells.FusedRNN(rnncells.LayerNormLSTMCell(UNITS))),
        DemoModel("RNN(LayerNormGRUCell)",
                  lambda: keras.layers.RNN(rnncells.LayerNormGRUCell(UNITS))),
        # ~230 updates in the demo's 6 epochs: momentum 0.9 lets the moving statistics forget
        # the early weights (0.99 keeps ~10% of the initial ones).
        DemoModel("RNN(BatchNormLSTMCell)",
                  lambda: keras.layers.RNN(rnncells.BatchNormLSTMCell(UNITS, momentum=0.9)),
                  check_batch_invariance=True),
    ]


def build_classifier(layer, timesteps, channels, classes, seed):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((timesteps, channels)),
        layer,
        keras.layers.Dense(classes, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def accuracy(model, x, y, batch_size):
    probs = model.predict(x, batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(probs, axis=-1) == y))


def run(epochs=6, batch_size=64, seed=0, models=None, print_fn=print):
    """Train every model, print Keras progress bars, then the comparison table."""
    from rnncells.datasets import load_watch

    data = load_watch()
    classes = len(data.class_names)
    print_fn(
        f"watch IMU data: {len(data.x_train)} training windows (subjects "
        f"{list(data.subjects_train)}), {len(data.x_test)} test windows (subjects "
        f"{list(data.subjects_test)}), window {data.x_train.shape[1]} steps x "
        f"{data.x_train.shape[2]} channels, {classes} classes"
    )
    rows = []
    for spec in models or default_models():
        print_fn(f"\n== {spec.name}")
        model = build_classifier(spec.make_layer(), data.x_train.shape[1],
                                 data.x_train.shape[2], classes, seed)
        start = time.perf_counter()
        model.fit(data.x_train, data.y_train, epochs=epochs, batch_size=batch_size,
                  verbose=1, shuffle=True)
        seconds = time.perf_counter() - start
        row = {
            "model": spec.name,
            "test_acc": accuracy(model, data.x_test, data.y_test, batch_size),
            "train_s": seconds,
            # trainable only: the batch-norm cells' per-step moving statistics are not
            # parameters (they are 2 x max_steps x width non-trainable values)
            "params": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
        }
        if spec.check_batch_invariance:
            row["test_acc_1_at_a_time"] = accuracy(model, data.x_test, data.y_test, 1)
        rows.append(row)
    print_fn("\n" + format_table(rows))
    return rows


def format_table(rows):
    """A plain-text table of the demo's results."""
    header = (f"{'model':<28} {'test acc':>9} {'acc (1 at a time)':>18} {'train s':>8} "
              f"{'trainable params':>16}")
    lines = [header, "-" * len(header)]
    for r in rows:
        single = r.get("test_acc_1_at_a_time")
        single = f"{single:>18.3f}" if single is not None else f"{'-':>18}"
        lines.append(f"{r['model']:<28} {r['test_acc']:>9.3f} {single} {r['train_s']:>8.1f} "
                     f"{r['params']:>16d}")
    return "\n".join(lines)
