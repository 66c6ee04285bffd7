"""The train/inference gap of batch-norm cells after a short fit, with and without
`rnncells.precise_statistics`.

A classifier `RNN layer(32) -> Dense(classes)` is fitted for 50 updates with default
arguments (Adam 1e-3, batch 32, the cell's default momentum), then its accuracy on the
training set is measured in training mode (batch statistics, batches of 32) and in inference
(moving statistics); the gap is their difference. Then `precise_statistics(model, x_train)`
re-estimates the moving statistics and inference is measured again.

    python -m benchmarks.batch_norm_gap                  # both cells, both data sets, 3 seeds
    KERAS_BACKEND=jax python -m benchmarks.batch_norm_gap

Data sets: scikit-learn's 8x8 digits read row by row (T=8, 8 features, 10 classes) and the
watch IMU windows (T=128, 6 channels, 7 classes; needs seglearn).
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import rnncells  # noqa: E402


def digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.images / 16.0).astype("float32")  # (n, 8, 8): rows as steps
    return x, data.target.astype("int32")


def watch():
    from rnncells.datasets.watch import load_watch

    data = load_watch()
    return data.x_train.astype("float32"), data.y_train.astype("int32")


DATASETS = {"digits": digits, "watch": watch}
CELLS = {"BatchNormLSTMCell": rnncells.BatchNormLSTMCell,
         "BatchNormGRUCell": rnncells.BatchNormGRUCell}


def _accuracy(model, x, y, training, batch_size=32):
    correct = 0
    for start in range(0, len(x), batch_size):
        p = model(x[start:start + batch_size], training=training)
        correct += int(np.sum(np.argmax(keras.ops.convert_to_numpy(p), -1)
                              == y[start:start + batch_size]))
    return correct / len(x)


def run(dataset, cell, seed, updates=50, batch_size=32):
    x, y = DATASETS[dataset]()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))[:updates * batch_size]
    x, y = x[order], y[order]
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input(x.shape[1:]),
        rnncells.FusedRNN(CELLS[cell](32, max_steps=x.shape[1])),
        keras.layers.Dense(int(y.max()) + 1, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, shuffle=False)
    train_mode = _accuracy(model, x, y, True, batch_size)
    before = _accuracy(model, x, y, False, batch_size)
    rnncells.precise_statistics(model, x, batch_size=batch_size)
    after = _accuracy(model, x, y, False, batch_size)
    return {"dataset": dataset, "cell": cell, "seed": seed, "backend": keras.backend.backend(),
            "train_mode": train_mode, "inference": before, "gap": abs(train_mode - before),
            "inference_precise": after, "gap_precise": abs(train_mode - after)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--cells", nargs="+", default=list(CELLS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default=None, help="JSON file for the rows")
    args = parser.parse_args(argv)
    rows = []
    for dataset in args.datasets:
        for cell in args.cells:
            for seed in range(args.seeds):
                row = run(dataset, cell, seed)
                rows.append(row)
                print(f"{row['backend']:10} {dataset:7} {cell:18} seed {seed}: train-mode "
                      f"{row['train_mode']:.3f}, inference {row['inference']:.3f} (gap "
                      f"{row['gap']:.3f}), after precise_statistics {row['inference_precise']:.3f}"
                      f" (gap {row['gap_precise']:.3f})", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
