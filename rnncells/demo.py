"""`python -m rnncells demo`: train recurrent models on two tasks and compare them.

1. watch: seglearn's wrist-watch exercise recordings (6 IMU channels at 50 Hz, 7
   exercises), cut into 128-step windows (stride 64) and split by subject, so the test
   subjects are never seen in training. Each model: RNN(32 units) -> Dense(7, softmax),
   trained over several seeds; the table gives the mean and spread of the test accuracy, so
   differences smaller than the run-to-run spread read as such. For the batch-norm cell,
   "same 1 at a time" is the fraction of 128 test windows classified the same when fed one
   at a time as in one batch (1.0: the moving statistics make it batch-invariant).
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
ADDING_STEPS = 800
ADDING_BATCH = 50
ADDING_SOLVED_MSE = 0.01
#: test windows fed one at a time for the batch-invariance column.
INVARIANCE_N = 128


def _print(line):
    print(line, flush=True)  # line by line also when stdout is a pipe or a file


@dataclasses.dataclass
class DemoModel:
    """One row of the demo table: a name and a function returning the recurrent layer(s)."""

    name: str
    make_layer: object
    #: also report accuracy with the test set fed one window at a time (batch-norm cells).
    check_batch_invariance: bool = False
    #: Adam's learning rate (a number or a Keras schedule).
    lr: object = 3e-3


def default_models():
    """The watch rows: Keras's own LSTM as the reference, then rnncells cells in FusedRNN
    (`keras.layers.RNN(cell)` computes the same, slower: benchmarks/sweep.py)."""
    import rnncells

    return [
        DemoModel("keras.layers.LSTM", lambda: keras.layers.LSTM(UNITS)),
        DemoModel("FusedRNN(LayerNormLSTMCell)",
                  lambda: rnncells.FusedRNN(rnncells.LayerNormLSTMCell(UNITS))),
        DemoModel("FusedRNN(LayerNormGRUCell)",
                  lambda: rnncells.FusedRNN(rnncells.LayerNormGRUCell(UNITS))),
        # ~230 updates in the demo's 6 epochs: momentum 0.9 lets the moving statistics forget
        # the early weights (0.99 keeps ~10% of the initial ones).
        DemoModel("FusedRNN(BatchNormLSTMCell)",
                  lambda: rnncells.FusedRNN(rnncells.BatchNormLSTMCell(UNITS, momentum=0.9)),
                  check_batch_invariance=True),
    ]


def adding_schedule(lr=2e-3):
    """Adam's learning rate on the adding task: `lr`, times 0.7 every 200 updates."""
    return keras.optimizers.schedules.ExponentialDecay(lr, 200, 0.7, staircase=True)


def default_adding_models(timesteps=ADDING_TIMESTEPS):
    """The adding rows: Keras's LSTM, then two IndRNN layers (benchmarks/tasks.py's long-T
    recipe: the first layer's recurrent weights uniform in [0, 0.5] (short memory: it picks
    the marked values), the last layer's in [0.5**(1/T), 2**(1/T)] (it keeps them), all
    bounded by 2**(1/T)), both with the same learning-rate schedule."""
    import rnncells

    def indrnn():
        return [
            rnncells.FusedRNN(rnncells.IndRNNCell(
                UNITS, max_steps=timesteps,
                recurrent_initializer=keras.initializers.RandomUniform(0.0, 0.5)),
                return_sequences=True),
            rnncells.FusedRNN(rnncells.IndRNNCell(UNITS, max_steps=timesteps,
                                                  recurrent_min_abs=0.5 ** (1 / timesteps))),
        ]

    return [
        DemoModel("keras.layers.LSTM", lambda: keras.layers.LSTM(UNITS), lr=adding_schedule()),
        DemoModel("FusedRNN(IndRNNCell) x2", indrnn, lr=adding_schedule()),
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


def same_class_one_at_a_time(model, x):
    """Fraction of the windows `x` classified the same fed one at a time as in one batch
    (1.0 for a batch-invariant model: batch-norm cells use their moving statistics)."""
    batched = np.argmax(model.predict(x, batch_size=len(x), verbose=0), axis=-1)
    single = np.argmax(np.concatenate([np.asarray(model.predict_on_batch(x[i:i + 1]))
                                       for i in range(len(x))]), axis=-1)
    return float(np.mean(batched == single))


def trainable_params(model):
    # trainable only: the batch-norm cells' per-step moving statistics are not parameters
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def run_watch(epochs=6, batch_size=64, seeds=WATCH_SEEDS, models=None, print_fn=_print,
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
                singles.append(same_class_one_at_a_time(model, data.x_test[:INVARIANCE_N]))
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
            row["same_class_1_at_a_time"] = float(np.mean(singles))
        rows.append(row)
    return rows


def run_adding(timesteps=ADDING_TIMESTEPS, steps=ADDING_STEPS, batch_size=ADDING_BATCH,
               seed=0, models=None, print_fn=_print, test_size=500):
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


def run(epochs=6, batch_size=64, seed=0, models=None, print_fn=_print, seeds=None,
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
              f"{'same 1 at a time':>16} {'train s':>8} {'params':>7}")
    lines = [header, "-" * len(header)]
    for r in rows:
        single = r.get("same_class_1_at_a_time")
        single = f"{single:>16.3f}" if single is not None else f"{'-':>16}"
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
