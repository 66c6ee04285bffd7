"""Per-backend benchmark: FusedRNN vs keras.layers.RNN(cell) vs Keras's LSTM/GRU, on one
Keras backend (TensorFlow, JAX or PyTorch).

    python -m benchmarks.backends --backend jax            # B=32 T=100 I=H=128
    python -m benchmarks.backends --backend torch --quick  # fewer rounds
    python -m benchmarks.sweep --backend jax               # the same (the sweep hands over)

What is timed, per cell: a training step (`model.train_on_batch`: forward, backward, an SGD
update; Keras's defaults: the step is jit-compiled on JAX, eager on PyTorch, a tf.function
without XLA on a TensorFlow CPU) and inference (`model.predict_on_batch`), for three models
with the same input and a Dense head:

- `rnn`:   `keras.layers.RNN(cell)` (Keras's generic loop: lax.scan on JAX, a Python loop on
           PyTorch);
- `fused`: `rnncells.FusedRNN(cell)` (the backend's fused kernel);
- `keras`: `keras.layers.LSTM(H)` or `GRU(H)`, the plain-cell reference (cuDNN on a GPU);
- `compiled` (PyTorch, with `--torch-compile`): `rnncells.FusedRNN(cell, torch_compile=True)`
           (the loop's step through `torch.compile`; its compilation falls in the warm-up).

Method: every model is built and run `--warmup` times, then timed in `--repeats` interleaved
rounds (each path once per round, order rotated, each call synchronised by fetching its
result as NumPy), so load drifting on a shared machine hits all paths alike; the median is
reported and ratios are taken between paths of the same run. Batch-norm cells cannot train
in `keras.layers.RNN` on JAX (their moving statistics cannot leave `lax.scan`): that path is
reported as not run.

Output: a table on stdout and `backends_<backend>_<device>_<UTC time>.json` in `--out`
(default benchmarks/results/) with the machine, the versions and every timing.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
BACKENDS = ("tensorflow", "jax", "torch")
#: cell -> the Keras layer it is compared with
CELLS = {
    "LayerNormLSTMCell": "LSTM",
    "LayerNormGRUCell": "GRU",
    "BatchNormLSTMCell": "LSTM",
    "BatchNormGRUCell": "GRU",
    "IndRNNCell": "SimpleRNN",
    "MinGRUCell": "GRU",
}


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.backends",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=BACKENDS, required=True)
    parser.add_argument("--cells", nargs="+", choices=list(CELLS), default=list(CELLS))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--timesteps", type=int, default=100)
    parser.add_argument("--input", type=int, default=128)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--modes", nargs="+", choices=("train", "infer"),
                        default=["train", "infer"])
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--quick", action="store_true", help="warmup 2, repeats 3")
    parser.add_argument("--torch-compile", action="store_true",
                        help="PyTorch: also time FusedRNN(cell, torch_compile=True)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.quick:
        args.warmup, args.repeats = 2, 3
    if args.torch_compile and args.backend != "torch":
        parser.error("--torch-compile needs --backend torch")
    return args


def _machine(keras):
    info = {"platform": platform.platform(), "processor": platform.processor(),
            "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "keras": keras.__version__, "backend": keras.backend.backend()}
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        info["cpu"] = names[0] if names else None
    except OSError:
        info["cpu"] = None
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        info["jax"] = jax.__version__
        info["devices"] = [str(d) for d in jax.devices()]
    elif backend == "torch":
        import torch

        info["torch"] = torch.__version__
        info["devices"] = ["cuda"] if torch.cuda.is_available() else ["cpu"]
    else:
        import tensorflow as tf

        info["tensorflow"] = tf.__version__
        info["devices"] = [d.name for d in tf.config.list_logical_devices()]
    return info


def _models(keras, rnncells, cell_name, reference, args):
    def model(layer):
        inputs = keras.Input((args.timesteps, args.input))
        m = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))
        m.compile(keras.optimizers.SGD(1e-3), "mse")
        return m

    cell = getattr(rnncells, cell_name)
    models = {
        "rnn": model(keras.layers.RNN(cell(args.units))),
        "fused": model(rnncells.FusedRNN(cell(args.units))),
        "keras": model(getattr(keras.layers, reference)(args.units)),
    }
    if args.torch_compile:
        models["compiled"] = model(rnncells.FusedRNN(cell(args.units), torch_compile=True))
    return models


def _call(keras, model, mode, x, y):
    if mode == "train":
        out = model.train_on_batch(x, y)
    else:
        out = model.predict_on_batch(x)
    return keras.ops.convert_to_numpy(keras.tree.flatten(out)[0])


def run(args):
    os.environ["KERAS_BACKEND"] = args.backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np

    import rnncells

    if keras.backend.backend() != args.backend:
        raise SystemExit(f"Keras was already imported with backend "
                         f"{keras.backend.backend()!r}; run in a new process.")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, args.timesteps, args.input)).astype("float32")
    y = rng.normal(size=(args.batch, 1)).astype("float32")
    rows = []
    for cell_name in args.cells:
        reference = CELLS[cell_name]
        models = _models(keras, rnncells, cell_name, reference, args)
        for mode in args.modes:
            paths = dict(models)
            skipped = {}
            if (mode == "train" and args.backend == "jax"
                    and cell_name.startswith("BatchNorm")):
                skipped["rnn"] = "keras.layers.RNN cannot train it on JAX"
                paths.pop("rnn")
            for model in paths.values():
                for _ in range(args.warmup):
                    _call(keras, model, mode, x, y)
            times = {name: [] for name in paths}
            names = list(paths)
            for r in range(args.repeats):
                for name in names[r % len(names):] + names[:r % len(names)]:
                    start = time.perf_counter()
                    _call(keras, paths[name], mode, x, y)
                    times[name].append(time.perf_counter() - start)
            median = {name: statistics.median(t) for name, t in times.items()}
            row = {"cell": cell_name, "reference": reference, "mode": mode,
                   "median_ms": {k: v * 1e3 for k, v in median.items()},
                   "times_ms": {k: [t * 1e3 for t in v] for k, v in times.items()},
                   "not_run": skipped}
            if "rnn" in median:
                row["fused_over_rnn"] = median["fused"] / median["rnn"]
            row["fused_over_keras"] = median["fused"] / median["keras"]
            if "compiled" in median:
                row["compiled_over_fused"] = median["compiled"] / median["fused"]
                row["compiled_over_keras"] = median["compiled"] / median["keras"]
                if "rnn" in median:
                    row["compiled_over_rnn"] = median["compiled"] / median["rnn"]
            rows.append(row)
            _print_row(row)
    return {"machine": _machine(keras), "arguments": {
        k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(), "rows": rows}


def _print_row(row):
    ms = row["median_ms"]

    def fmt(key):
        return f"{ms[key]:8.1f}" if key in ms else "     n/a"

    ratio = row.get("fused_over_rnn")
    print(f"{row['cell']:<20} {row['mode']:<5} rnn {fmt('rnn')} ms  fused {fmt('fused')} ms  "
          f"{row['reference']:<9} {fmt('keras')} ms  fused/rnn "
          f"{'  n/a' if ratio is None else f'{ratio:5.2f}'}  "
          f"fused/{row['reference']} {row['fused_over_keras']:5.2f}"
          + (f"  compiled {fmt('compiled')} ms  compiled/rnn {row['compiled_over_rnn']:5.2f}  "
             f"compiled/{row['reference']} {row['compiled_over_keras']:5.2f}"
             if "compiled_over_rnn" in row else ""), flush=True)


def main(argv=None):
    args = _parse(sys.argv[1:] if argv is None else argv)
    result = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    device = "gpu" if any("cuda" in d.lower() or "gpu" in d.lower()
                          for d in result["machine"].get("devices", [])) else "cpu"
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = args.out / f"backends_{args.backend}_{device}_{stamp}.json"
    path.write_text(json.dumps(result, indent=1))
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
