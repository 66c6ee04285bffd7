"""Batch-norm cells: FusedRNN vs keras.layers.RNN(cell) vs keras.layers.LSTM / GRU.

Times the training step (forward + backward + SGD update, `tf.function`, no XLA) of
`Sequential([RNN layer, Dense(1)])` for each path, interleaved in one process (rounds with
the order rotated), and prints the medians and the ratios the targets are stated in::

    python -m benchmarks.batch_norm                 # B=32, T=100, I=H=128, training step
    python -m benchmarks.batch_norm --batch 8 --timesteps 20 --units 16 --repeats 5
    python -m benchmarks.batch_norm --mode inference

The machine is shared: compare the ratios of one run, not absolute times across runs.
"""

import argparse
import os
import statistics
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import rnncells  # noqa: E402
from benchmarks.sweep import loop_functions, time_interleaved  # noqa: E402

PATHS = {
    "keras LSTM": lambda units: keras.layers.LSTM(units),
    "RNN(BatchNormLSTMCell)": lambda units: keras.layers.RNN(rnncells.BatchNormLSTMCell(units)),
    "FusedRNN(BatchNormLSTMCell)": lambda units: rnncells.FusedRNN(
        rnncells.BatchNormLSTMCell(units)),
    "keras GRU": lambda units: keras.layers.GRU(units),
    "RNN(BatchNormGRUCell)": lambda units: keras.layers.RNN(rnncells.BatchNormGRUCell(units)),
    "FusedRNN(BatchNormGRUCell)": lambda units: rnncells.FusedRNN(
        rnncells.BatchNormGRUCell(units)),
}

RATIOS = (
    ("FusedRNN(BatchNormLSTMCell)", "RNN(BatchNormLSTMCell)"),
    ("FusedRNN(BatchNormLSTMCell)", "keras LSTM"),
    ("RNN(BatchNormLSTMCell)", "keras LSTM"),
    ("FusedRNN(BatchNormGRUCell)", "RNN(BatchNormGRUCell)"),
    ("FusedRNN(BatchNormGRUCell)", "keras GRU"),
    ("RNN(BatchNormGRUCell)", "keras GRU"),
)


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--timesteps", type=int, default=100)
    parser.add_argument("--features", type=int, default=128)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--mode", choices=("training", "inference"), default="training")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--paths", nargs="*", default=list(PATHS), choices=list(PATHS))
    return parser


def main(argv=None, out=sys.stdout):
    args = build_parser().parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, args.timesteps, args.features)).astype("float32")
    y = rng.normal(size=(args.batch, 1)).astype("float32")
    calls = {}
    for name in args.paths:
        model = keras.Sequential([keras.Input((args.timesteps, args.features)),
                                  PATHS[name](args.units), keras.layers.Dense(1)])
        infer, train = loop_functions(model)
        calls[name] = ((lambda infer=infer: infer(x)) if args.mode == "inference"
                       else (lambda train=train: train(x, y)))
    times = time_interleaved(calls, warmup=args.warmup, repeats=args.repeats, budget_s=60.0)
    medians = {name: statistics.median(t) for name, t in times.items()}
    print(f"{args.mode} step, B={args.batch} T={args.timesteps} I={args.features} "
          f"H={args.units}, medians of {args.repeats} interleaved rounds; load average "
          f"{os.getloadavg()[0]:.1f}", file=out)
    for name, seconds in medians.items():
        print(f"  {name:30s} {seconds * 1e3:8.1f} ms", file=out)
    for a, b in RATIOS:
        if a in medians and b in medians:
            print(f"  {a} / {b}: {medians[a] / medians[b]:.2f}", file=out)
    return medians


if __name__ == "__main__":
    main()
