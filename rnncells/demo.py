"""`python -m rnncells demo`: train recurrent models on two tasks and compare them.

1. watch: seglearn's wrist-watch exercise recordings (6 IMU channels at 50 Hz, 7
   exercises), cut into 128-step windows (stride 64) and split by subject, so the test
   subjects are never seen in training. Each model: RNN(32 units) -> Dense(7, softmax),
   trained over several seeds; the table gives the mean and spread of the test accuracy, so
   differences smaller than the run-to-run spread read as such.
2. adding (long-range memory): two marked values among T=200 uniform ones, regress their
   sum (`rnncells.datasets.memory.adding_problem`). Predicting the mean gives MSE 0.167;
   solved at test MSE < 0.01. A two-layer FusedRNN(IndRNNCell) learns it in a few hundred
   updates; Keras's LSTM stays at the mean.

Every model is deterministic under its seed: `keras.utils.set_random_seed(seed)` before
building and before training (the data order and the training batches come from the seed).
Progress is one printed line per trained model, no progress bars.
"""

import dataclasses
import time

import keras
import numpy as np

UNITS = 32
WATCH_SEEDS = (0, 1)
ADDING_TIMESTEPS = 200
ADDING_STEPS = 600
ADDING_BATCH = 50
ADDING_SOLVED_MSE = 0.01


@dataclasses.dataclass
class DemoModel:
    """One row of the demo table: a name and a function returning the recurrent layer(s)."""

    name: str
    make_layer: object
    #: also report accuracy with the test set fed one window at a time (batch-norm cells).
    check_batch_invariance: bool = False
    #: Adam's learning rate.
    lr: float = 3e-3


def default_models():
    """The watch rows: Keras's own LSTM as the reference, then rnncells cells."""
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


def default_adding_models(timesteps=ADDING_TIMESTEPS):
    """The adding rows: Keras's LSTM, then two IndRNN layers (the paper's initialization:
    the last layer's recurrent weights in [0.5**(1/T), 2**(1/T)], all bounded by 2**(1/T))."""
    import rnncells

    def indrnn():
        return [
            rnncells.FusedRNN(rnncells.IndRNNCell(UNITS, max_steps=timesteps),
                              return_sequences=True),
            rnncells.FusedRNN(rnncells.IndRNNCell(UNITS, max_steps=timesteps,
                                                  recurrent_min_abs=0.5 ** (1 / timesteps))),
        ]

    return [
        DemoModel("keras.layers.LSTM", lambda: keras.layers.LSTM(UNITS), lr=2e-3),
        DemoModel("FusedRNN(IndRNNCell) x2", indrnn, lr=2e-3),
    ]


def _layers(spec):
    made = spec.make_layer()
    return list(made) if isinstance(made, (list, tuple)) else [made]


def build_classifier(layer, timesteps, channels, classes, seed, lr=3e-3):
    keras.utils.set_random_seed(seed)
    layers = layer if isinstance(layer, (list, tuple)) else [layer]
    model = keras.Sequential([
        keras.Input((timesteps, channels)),
        *layers,
        keras.layers.Dense(classes, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(lr),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def accuracy(model, x, y, batch_size):
    probs = model.predict(x, batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(probs, axis=-1) == y))


def trainable_params(model):
    # trainable only: the batch-norm cells' per-step moving statistics are not parameters
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def run_watch(epochs=6, batch_size=64, seeds=WATCH_SEEDS, models=None, print_fn=print,
              data=None):
    """Train every watch model once per seed; returns one row per model (mean over seeds).

    `data`: a `WatchDataset` (default `load_watch()`; tests pass a slice)."""
    from rnncells.datasets import load_watch

    data = data or load_watch()
    classes = len(data.class_names)
    print_fn(
        f"watch IMU data: {len(data.x_train)} training windows (subjects "
        f"{list(data.subjects_train)}), {len(data.x_test)} test windows (subjects "
        f"{list(data.subjects_test)}), window {data.x_train.shape[1]} steps x "
        f"{data.x_train.shape[2]} channels, {classes} classes; {epochs} epochs, "
        f"seeds {list(seeds)}"
    )
    rows = []
    for spec in models or default_models():
        accs, singles, seconds = [], [], 0.0
        for seed in seeds:
            keras.utils.set_random_seed(seed)  # before the layers draw their initializers
            model = build_classifier(_layers(spec), data.x_train.shape[1],
                                     data.x_train.shape[2], classes, seed, spec.lr)
            keras.utils.set_random_seed(seed)
            # the shuffling order from NumPy (Keras's `shuffle=True` is not reproducible
            # under a seed on TensorFlow): one permutation per epoch
            rng = np.random.default_rng(seed)
            start = time.perf_counter()
            for _ in range(epochs):
                order = rng.permutation(len(data.x_train))
                model.fit(data.x_train[order], data.y_train[order], epochs=1,
                          batch_size=batch_size, verbose=0, shuffle=False)
            seconds += time.perf_counter() - start
            accs.append(accuracy(model, data.x_test, data.y_test, batch_size))
            if spec.check_batch_invariance:
                singles.append(accuracy(model, data.x_test, data.y_test, 1))
            print_fn(f"  watch  {spec.name:<28} seed {seed}: test acc {accs[-1]:.3f}")
        row = {
            "model": spec.name,
            "test_acc": float(np.mean(accs)),
            "test_acc_std": float(np.std(accs)),
            "test_accs": accs,
            "train_s": seconds / len(seeds),
            "params": trainable_params(model),
        }
        if singles:
            row["test_acc_1_at_a_time"] = float(np.mean(singles))
        rows.append(row)
    return rows


def run_adding(timesteps=ADDING_TIMESTEPS, steps=ADDING_STEPS, batch_size=ADDING_BATCH,
               seed=0, models=None, print_fn=print, test_size=500):
    """Train every adding model for `steps` updates on fresh batches; one row per model."""
    from rnncells.datasets.memory import adding_problem

    x_test, y_test = adding_problem(test_size, timesteps, seed + 1_000_003)
    print_fn(f"adding problem: T={timesteps}, {steps} updates of {batch_size} fresh sequences, "
             f"{test_size} test sequences; predicting the mean gives MSE "
             f"{np.mean((y_test - 1.0) ** 2):.3f}, solved at MSE < {ADDING_SOLVED_MSE}")
    rows = []
    for spec in models or default_adding_models(timesteps):
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([keras.Input((timesteps, 2)), *_layers(spec),
                                  keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.Adam(spec.lr, clipnorm=1.0), loss="mse")
        rng = np.random.default_rng(seed)
        keras.utils.set_random_seed(seed)
        seconds = 0.0
        for _ in range(steps):
            x, y = adding_problem(batch_size, timesteps, int(rng.integers(2**31)))
            start = time.perf_counter()
            model.train_on_batch(x, y)
            seconds += time.perf_counter() - start
        pred = model.predict(x_test, batch_size=250, verbose=0)
        mse = float(np.mean((pred - y_test) ** 2))
        print_fn(f"  adding {spec.name:<28} seed {seed}: test MSE {mse:.4f}")
        rows.append({"model": spec.name, "test_mse": mse, "solved": mse < ADDING_SOLVED_MSE,
                     "steps": steps, "train_s": seconds, "params": trainable_params(model)})
    return rows


def run(epochs=6, batch_size=64, seed=0, models=None, print_fn=print, seeds=None,
        adding=True, adding_steps=ADDING_STEPS, adding_timesteps=ADDING_TIMESTEPS,
        adding_models=None, watch_data=None):
    """Both tasks; prints one line per trained model, then the two tables.

    Returns the watch rows, or (watch rows, adding rows) with `adding`. `seeds`: the watch
    seeds (default `seed`, `seed + 1`); the adding task runs with `seed`."""
    seeds = tuple(seeds) if seeds is not None else tuple(seed + s for s in WATCH_SEEDS)
    start = time.perf_counter()
    rows = run_watch(epochs, batch_size, seeds, models, print_fn, watch_data)
    adding_rows = []
    if adding:
        print_fn("")
        adding_rows = run_adding(adding_timesteps, adding_steps, ADDING_BATCH, seed,
                                 adding_models, print_fn)
    text = format_table(rows)
    if adding_rows:
        text += "\n\n" + format_adding_table(adding_rows, adding_timesteps)
    text += f"\n\n(total {time.perf_counter() - start:.0f} s)"
    print_fn("\n" + text)
    return (rows, adding_rows) if adding else rows


def format_table(rows):
    """A plain-text table of the watch results (mean ± std over seeds)."""
    header = (f"{'watch: model':<28} {'test acc (mean ± std)':>21} {'per seed':>16} "
              f"{'acc (1 at a time)':>18} {'train s':>8} {'params':>7}")
    lines = [header, "-" * len(header)]
    for r in rows:
        single = r.get("test_acc_1_at_a_time")
        single = f"{single:>18.3f}" if single is not None else f"{'-':>18}"
        per_seed = " ".join(f"{a:.3f}" for a in r.get("test_accs", [r["test_acc"]]))
        spread = f"{r['test_acc']:.3f} ± {r.get('test_acc_std', 0.0):.3f}"
        lines.append(f"{r['model']:<28} {spread:>21} {per_seed:>16} {single} "
                     f"{r['train_s']:>8.1f} {r['params']:>7d}")
    return "\n".join(lines)


def format_adding_table(rows, timesteps=ADDING_TIMESTEPS):
    """A plain-text table of the adding results."""
    header = (f"{f'adding T={timesteps}: model':<28} {'test MSE':>9} {'solved':>7} "
              f"{'updates':>8} {'train s':>8} {'params':>7}")
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(f"{r['model']:<28} {r['test_mse']:>9.4f} "
                     f"{('yes' if r['solved'] else 'no'):>7} {r['steps']:>8d} "
                     f"{r['train_s']:>8.1f} {r['params']:>7d}")
    return "\n".join(lines)
