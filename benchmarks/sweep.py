"""Benchmark sweep: FusedRNN vs keras.layers.RNN(cell) vs Keras's own LSTM/GRU/SimpleRNN.

    python -m benchmarks.sweep --quick     # under 2 minutes on a 2-core CPU
    python -m benchmarks.sweep             # the full sweep (a few tens of minutes on CPU)
    python -m benchmarks.sweep --help      # choose cells, shapes, paths, repeats
    python -m benchmarks.sweep --backend jax   # JAX or PyTorch: benchmarks/backends.py

This sweep measures TensorFlow's routes (the route table is TensorFlow's). With `--backend
jax` or `--backend torch` it hands over to `benchmarks.backends` (FusedRNN vs
keras.layers.RNN(cell) vs Keras's LSTM/GRU on that backend); `--backend tensorflow` is this
sweep.

Every configuration (cell, batch B, timesteps T, input I, units H) is timed along these
paths, inference (`model(x, training=False)`) and training step (forward, backward and an
SGD update) separately:

- `rnn`:       `keras.layers.RNN(cell)` in a custom `tf.function` loop (no XLA)
- `fused`:     `rnncells.FusedRNN(cell)` in the same loop (FusedRNN picks XLA itself)
- `keras`:     `keras.layers.LSTM/GRU/SimpleRNN(H)` in the same loop: the plain-cell
               reference (cuDNN on a GPU); LSTM for *LSTM* cells, GRU for *GRU* cells
- `rnn_fit`, `fused_fit`, `keras_fit`: the same models compiled with Keras's defaults
               (`model.compile(...)`, `jit_compile="auto"`) and run by the functions
               `model.fit` / `model.predict` use, through `train_on_batch` /
               `predict_on_batch`. Note: Keras resolves "auto" to no XLA on a machine without
               an accelerator, so on CPU these run without XLA (the `jit` column says so).

Method: each path is built and traced, run `--warmup` times, then timed in `--repeats`
interleaved rounds (every path once per round, in a rotated order; each call synchronised by
fetching its result), so that load drifting on a shared machine hits all paths alike; the
median is reported, and ratios are computed between paths of the same run. The rounds span
a group: all shapes of one cell's sweep, or one named point (t_growth: all its T). A path whose
timed calls exceed `--budget` seconds stops early (at least `min_repeats` timings: 3, or 1
with --quick).

Work and throughput: the matmul FLOPs of a configuration are those of the cell's 2-D
kernels (kernel, recurrent_kernel): forward `2 * B * T * sum(rows * cols)`, training step
3x that (forward + the two gradient matmuls). The machine's matmul throughput is measured
on a 2048^3 matmul (the peak), on the hoisted projection `(B*T, I) @ (I, G*H)` and on the
per-step `(B, H) @ (H, G*H)` of the reference point (fastest of several calls: what the
machine can do, whatever else runs on it); each row reports GFLOP/s and the
fraction of the 2048^3 figure it reaches.

Memory: the peak bytes the TensorFlow allocator holds during one call, above what it held
before (`tf.config.experimental.get_memory_info`, after `reset_memory_stats`). On a GPU that
is the GPU allocator. On CPU it needs TensorFlow's BFC allocator for host memory, which this
module turns on (`TF_CPU_ALLOCATOR_USE_BFC=true`) when it is imported before TensorFlow (the
command line does that); otherwise the memory columns stay empty.

Named points (the performance targets), run unless `--no-points`:
- `ln_lstm_ref`: LayerNormLSTMCell, B=32, T=100, I=H=128, all six paths.
- `streaming`: LayerNormLSTMCell, B=1, T=200, I=H=32 (rnn, fused).
- `t_growth`: LayerNormLSTMCell, B=32, I=H=128, T = 100, 200, 400, 800: training time and
  peak memory (rnn, fused); the summary gives the growth from the first T to the last.
- `scan_t4096`: MinGRUCell at T=4096 (B=8, I=H=64): FusedRNN (parallel scan) vs RNN(cell)
  (sequential loop), and the kernels alone: `linear_scan` vs `sequential_scan` (a `tf.scan`
  loop), with and without XLA.

Output: a table on stdout, and `sweep_<device>_<quick|full>_<UTC time>.csv` / `.json` in
`--out` (default benchmarks/results/): the machine (CPU model, cores, GPU, TensorFlow and
Keras versions), the arguments, every timed row, the ratios and the named-point summary.
`python -m benchmarks.plot` draws the speed-ups from the JSON.
"""

import os
import sys

if __name__ == "__main__" and "--backend" in sys.argv:
    _at = sys.argv.index("--backend")
    _backend = sys.argv[_at + 1] if _at + 1 < len(sys.argv) else None
    if _backend in ("jax", "torch"):
        from benchmarks import backends

        backends.main(sys.argv[1:])
        raise SystemExit(0)
    del sys.argv[_at:_at + 2]  # tensorflow: this sweep

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")

import argparse  # noqa: E402
import csv  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import rnncells  # noqa: E402
from rnncells.kernels.scan import linear_scan, sequential_scan  # noqa: E402
from rnncells.layers.routes import as_point  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ROUTE_TABLE = Path(rnncells.__file__).resolve().parent / "layers" / "route_table.py"
DEFAULT_CELLS = ("LayerNormLSTMCell", "LayerNormGRUCell", "LayerNormSimpleRNNCell",
                 "MinGRUCell", "MinLSTMCell")
LOOP_PATHS = ("rnn", "fused", "keras")
FIT_PATHS = ("rnn_fit", "fused_fit", "keras_fit")
#: The routes FusedRNN(use_fused="auto") chooses between, as sweep paths (see --routes).
ROUTE_PATHS = ("rnn", "fused_loop", "fused_xla", "fused_batched")
ALL_PATHS = LOOP_PATHS + FIT_PATHS + ROUTE_PATHS[1:]
MODES = ("infer", "train")
CSV_FIELDS = ("point", "cell", "mode", "batch", "timesteps", "input", "units", "path",
              "median_ms", "min_ms", "repeats", "gflop", "gflops_per_s", "fraction_of_peak",
              "jit", "peak_mem_mb", "note")


# ----------------------------------------------------------------------------- machine
def machine_info():
    """CPU model, cores, GPUs, versions: what the results file says about the machine."""
    gpus = []
    for device in tf.config.list_physical_devices("GPU"):
        try:
            details = tf.config.experimental.get_device_details(device)
        except (ValueError, RuntimeError):
            details = {}
        gpus.append(details.get("device_name", device.name))
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "gpus": gpus,
        "device": "GPU" if gpus else "CPU",
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "rnncells": rnncells.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_allocator_bfc": os.environ.get("TF_CPU_ALLOCATOR_USE_BFC", ""),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def _cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_device():
    return "GPU:0" if tf.config.list_physical_devices("GPU") else "CPU:0"


# ----------------------------------------------------------------------------- timing
def _sync(value):
    for tensor in tf.nest.flatten(value):
        if hasattr(tensor, "numpy"):
            tensor.numpy()


def time_interleaved(calls, warmup, repeats, budget_s=8.0, min_repeats=3):
    """Seconds per call of each of `calls` (name -> fn), measured in interleaved rounds.

    Each fn is called `warmup` times untimed; then each round times every fn once, in an
    order rotated per round, so that load drifting on a shared machine spreads over all
    paths instead of biasing the ones timed last. A fn whose timed calls already add up to
    `budget_s` stops once it has `min_repeats` timings (slow paths get fewer repeats).
    """
    for fn in calls.values():
        for _ in range(warmup):
            _sync(fn())
    names = list(calls)
    times = {name: [] for name in names}
    for round_index in range(repeats):
        shift = round_index % len(names) if names else 0
        for name in names[shift:] + names[:shift]:
            if len(times[name]) >= min_repeats and sum(times[name]) > budget_s:
                continue
            start = time.perf_counter()
            _sync(calls[name]())
            times[name].append(time.perf_counter() - start)
    return times


def peak_memory_mb(fn):
    """Peak allocator bytes above the starting level during one call of fn(), in MiB."""
    device = memory_device()
    try:
        tf.config.experimental.reset_memory_stats(device)
        before = tf.config.experimental.get_memory_info(device)["current"]
        _sync(fn())
        peak = tf.config.experimental.get_memory_info(device)["peak"]
    except (ValueError, RuntimeError, tf.errors.OpError):
        return None
    if peak == 0:  # the default CPU allocator keeps no statistics
        return None
    return (peak - before) / 2**20


def matmul_gflops(m, k, n, warmup=2, repeats=7):
    """GFLOP/s of an (m, k) @ (k, n) float32 matmul in a tf.function, from the fastest of
    `repeats` calls: the machine's capability (load from other processes only slows calls)."""
    a = tf.random.normal((m, k))
    b = tf.random.normal((k, n))

    @tf.function
    def product(a, b):
        return tf.reduce_sum(tf.matmul(a, b)[:1])

    seconds = min(time_interleaved({"mm": lambda: product(a, b)}, warmup, repeats,
                                   budget_s=float("inf"))["mm"])
    return 2.0 * m * k * n / seconds / 1e9


# ----------------------------------------------------------------------------- models
#: Cells whose sweep builds something other than `Cell(units)` on (B, T, I) inputs.
CONV_CELLS = ("ConvLSTMCell", "ConvGRUCell")
#: Length of the spatial axis of the rank-1 convolutional cells' steps: (B, T, L, I).
CONV_LENGTH = 8


def available_cells():
    """Every rnncells cell the sweep can build: the dense cells, the rank-1 convolutional
    cells (steps (B, L, I)) and Zoneout (around a PeepholeLSTMCell)."""
    names = []
    for name in getattr(rnncells, "__all__", []):
        cls = getattr(rnncells, name, None)
        if isinstance(cls, type) and issubclass(cls, rnncells.cells.base.RecurrentCell):
            names.append(name)
    return names


def make_cell(name, units):
    if name.startswith("keras."):
        return getattr(keras.layers, name.split(".", 1)[1])(units)
    cls = getattr(rnncells, name, None)
    if name not in available_cells():
        raise ValueError(
            f"Invalid value for argument `--cells`: unknown cell {name!r}; allowed: "
            f"{', '.join(available_cells())}, 'all', or keras.LSTMCell / keras.GRUCell.")
    if name in CONV_CELLS:
        return cls(1, filters=units, kernel_size=3, padding="same")
    if name == "Zoneout":
        return cls(rnncells.PeepholeLSTMCell(units), rate=0.1)
    return cls(units)


def step_shape(cell_name, features):
    """The shape of one input step (without batch) the sweep feeds `cell_name`."""
    return (CONV_LENGTH, features) if cell_name in CONV_CELLS else (features,)


def reference_layer_name(cell_name):
    if "LSTM" in cell_name or cell_name == "Zoneout":
        return "LSTM"
    if "GRU" in cell_name:
        return "GRU"
    return "SimpleRNN"


#: FusedRNN options of the fused paths: `fused` is what a user gets (`use_fused="auto"`,
#: the measured route table); the others force one route of it, to measure that route.
FUSED_OPTIONS = {
    "fused": {},
    "fused_loop": dict(use_fused=True, jit=False),
    "fused_xla": dict(use_fused=True, jit=True),
    "fused_batched": dict(use_fused=True, jit=False, backward="batched"),
}


def make_recurrent_layer(path, cell_name, units):
    """The recurrent layer of `path` ("rnn", "fused*", "keras", with or without "_fit")."""
    kind = path.replace("_fit", "")
    if kind == "rnn":
        if cell_name in CONV_CELLS:  # keras.layers.RNN takes no rank-3 states: Keras's
            # per-step loop as FusedRNN runs it on its per-step route
            return rnncells.FusedRNN(make_cell(cell_name, units), use_fused=False)
        return keras.layers.RNN(make_cell(cell_name, units))
    if kind in FUSED_OPTIONS:
        return rnncells.FusedRNN(make_cell(cell_name, units), **FUSED_OPTIONS[kind])
    if cell_name in CONV_CELLS:
        return getattr(keras.layers, f"Conv{reference_layer_name(cell_name)}1D")(
            units, 3, padding="same")
    return getattr(keras.layers, reference_layer_name(cell_name))(units)


def make_model(path, cell_name, timesteps, features, units):
    layer = make_recurrent_layer(path, cell_name, units)
    model = keras.Sequential([keras.Input((timesteps, *step_shape(cell_name, features))),
                              layer, keras.layers.Flatten(), keras.layers.Dense(1)])
    return model, layer


def matmul_flops_per_step(layer):
    """2 * rows * cols summed over the recurrent layer's 2-D kernels (kernel, recurrent_kernel;
    not a 2-D bias such as GRU's (2, 3H)): the matmul FLOPs per example and step."""
    return sum(2 * int(w.shape[0]) * int(w.shape[1]) for w in layer.weights
               if len(w.shape) == 2 and "kernel" in w.name)


def loop_functions(model):
    """The custom tf.function inference and training step of `model` (no XLA)."""
    optimizer = keras.optimizers.SGD(0.01)
    optimizer.build(model.trainable_variables)

    @tf.function(jit_compile=False)
    def infer(x):
        return model(x, training=False)

    @tf.function(jit_compile=False)
    def train(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return loss

    return infer, train


def fit_functions(model):
    """Inference and training step as `model.fit` / `model.predict` run them: the compiled
    functions of `model.compile` with Keras's defaults (`jit_compile="auto"`), called through
    `predict_on_batch` / `train_on_batch` (one batch, no callbacks or data pipeline)."""
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    return model.predict_on_batch, model.train_on_batch, model.jit_compile


# ----------------------------------------------------------------------------- configurations
class Config:
    """One timed configuration: a cell at (B, T, I, H) along some paths and modes."""

    def __init__(self, point, cell, batch, timesteps, features, units, paths, modes=MODES,
                 memory=False):
        self.point, self.cell = point, cell
        self.batch, self.timesteps, self.features, self.units = batch, timesteps, features, units
        self.paths, self.modes, self.memory = tuple(paths), tuple(modes), memory

    def key(self):
        return (self.point, self.cell, self.batch, self.timesteps, self.features, self.units)


def sweep_configs(args):
    """The sweep grid: 'star' varies one axis at a time around --center, 'grid' is the product."""
    paths = tuple(p for p in args.paths if args.fit or not p.endswith("_fit"))
    center_b, center_t, center_i, center_h = args.center
    shapes = []
    if args.design == "grid":
        inputs = args.input or [None]
        for b in args.batch:
            for t in args.timesteps:
                for h in args.units:
                    for i in inputs:
                        shapes.append((b, t, i or h, h))
    elif args.design == "center":
        shapes.append((center_b, center_t, center_i, center_h))
    else:
        shapes.append((center_b, center_t, center_i, center_h))
        shapes += [(b, center_t, center_i, center_h) for b in args.batch]
        shapes += [(center_b, t, center_i, center_h) for t in args.timesteps]
        shapes += [(center_b, center_t, h, h) for h in args.units]
        shapes += [(center_b, center_t, i, center_h) for i in (args.input or [])]
    unique = list(dict.fromkeys(shapes))
    # Convolutional cells (CONV_LENGTH positions per step) stop at ROUTE_CONV_MAX: beyond
    # it a training step takes seconds on a CPU.
    return [Config("sweep", cell, b, t, i, h, paths, args.modes)
            for cell in args.cells for (b, t, i, h) in unique
            if cell not in CONV_CELLS or (b <= ROUTE_CONV_MAX[0] and h <= ROUTE_CONV_MAX[1])]


#: The default grid of `--routes`: batch x units at T = ROUTE_TIMESTEPS (--timesteps adds
#: other T: the table has a T axis, since the ratios move with T for some cells at large
#: batch, docs/performance.md). Conv cells (spatial length CONV_LENGTH) stop at ROUTE_CONV_MAX.
ROUTE_BATCH = (1, 32, 256)
ROUTE_UNITS = (32, 128, 512)
ROUTE_TIMESTEPS = 25
ROUTE_CONV_MAX = (32, 128)
#: XLA is measured where a step holds at most this many batch * units elements (above it,
#: XLA's single-threaded CPU matmuls lose by far and compile for tens of seconds).
ROUTE_XLA_MAX = 32 * 128


def route_paths(cell_name, batch, units, mode):
    """The FusedRNN routes worth timing for one cell, shape and mode (sweep path names)."""
    spec = make_cell(cell_name, 1).fused_spec()
    paths = ["rnn", "fused_loop"]
    if spec.scan or spec.running_statistics:  # the scan and the statistics kernel take
        return paths                             # neither the loop's XLA nor its backward
    if batch * units <= ROUTE_XLA_MAX:
        paths.append("fused_xla")
    if (mode == "train" and spec.batchable and spec.backward != "autodiff" and batch > 1
            and cell_name not in CONV_CELLS):
        paths.append("fused_batched")
    return paths


def route_configs(args):
    """One configuration per cell and grid point, each its own interleaved group."""
    configs = []
    for cell in args.cells:
        conv = cell in CONV_CELLS
        for b in args.batch:
            for h in args.units:
                if conv and (b > ROUTE_CONV_MAX[0] or h > ROUTE_CONV_MAX[1]):
                    continue
                for t in args.timesteps:
                    configs += [Config("routes", cell, b, t, h, h,
                                       route_paths(cell, b, h, mode), (mode,))
                                for mode in args.modes]
    return configs


#: Sweep path -> FusedRNN route (rnncells.layers.routes.ROUTES).
PATH_ROUTES = {"rnn": "per_step", "fused_loop": "fused", "fused_xla": "fused_xla",
               "fused_batched": "fused_batched"}


#: The XLA route is taken only when it beats the fastest other route by this factor: the
#: T=25 measurement leaves out its compilation (seconds, on the first call of a model) and
#: that its CPU loops scale worse with T than the others (docs/performance.md).
XLA_MARGIN = 1.10
#: A fused route is taken only when it beats RNN(cell)'s own loop (per_step) by this factor:
#: below it the two are a tie within the noise of this machine, and the per-step route is
#: RNN(cell) itself (FusedRNN / RNN(cell) = 1 by construction). With 5%, fused routes
#: measured 1.05-1.09x faster here came out 1.17-1.23x slower in later grid runs.
FUSED_MARGIN = 1.10


def route_table(rows):
    """{cell: {mode: [(batch, units, timesteps, fastest route, its speed-up over
    RNN(cell)), ...]}}."""
    best = {}
    for row in rows:
        if row["point"] != "routes" or row.get("median_ms") is None:
            continue
        key = (row["cell"], row["mode"], row["batch"], row["units"], row["timesteps"])
        best.setdefault(key, {})[PATH_ROUTES[row["path"]]] = row["median_ms"]
    table = {}
    for (cell, mode, batch, units, timesteps), times in sorted(best.items()):
        route = min(times, key=times.get)
        others = {r: ms for r, ms in times.items() if r != "fused_xla"}
        if route == "fused_xla" and others and (
                min(others.values()) < XLA_MARGIN * times[route]):
            route = min(others, key=others.get)
        if route != "per_step" and "per_step" in times and (
                times["per_step"] < FUSED_MARGIN * times[route]):
            route = "per_step"
        speedup = times.get("per_step", float("nan")) / times[route]
        table.setdefault(cell, {}).setdefault(mode, []).append(
            (batch, units, timesteps, route, round(speedup, 2)))
    return table


def merge_points(before, now):
    """The points of `before` and `now` as 5-tuples (`routes.as_point`: an earlier 4-tuple is
    a T=25 point), sorted; a point of `now` replaces the same (batch, units, timesteps)."""
    points = {as_point(p)[:3]: as_point(p) for p in before}
    points.update({as_point(p)[:3]: as_point(p) for p in now})
    return [points[k] for k in sorted(points)]


def write_route_table(table, machine, date, path, dates=None):
    """Write the table module; points measured in an earlier run and not now are kept
    (MEASURED_AT gives the runs a cell's points come from)."""
    dates = dates or {cell: date for cell in table}
    if Path(path).exists():
        earlier = {}
        exec(Path(path).read_text(encoding="utf-8"), earlier)  # the module this writes
        merged = {}
        for cell in sorted(set(earlier.get("MEASURED", {})) | set(table)):
            before = earlier.get("MEASURED", {}).get(cell, {})
            now = table.get(cell, {})
            merged[cell] = {}
            for mode in ("infer", "train"):  # points measured now replace the same points
                points = merge_points(before.get(mode, []), now.get(mode, []))
                if points:
                    merged[cell][mode] = points
            kept_points = {(m, as_point(p)[:3]) for m, ps in before.items() for p in ps} - {
                (m, as_point(p)[:3]) for m, ps in now.items() for p in ps}
            if kept_points:  # some points of this cell come from the earlier run(s)
                previous = earlier.get("MEASURED_AT", {}).get(cell, "?")
                dates[cell] = f"{previous}; {date}" if cell in table else previous
        table = merged
    lines = [
        '"""The measured route table of `rnncells.layers.routes` (generated; do not edit).',
        "",
        "Regenerate: python -m benchmarks.sweep --routes  (--cells NAME ...: only those cells)",
        "Each entry: (batch, units, timesteps, fastest route, its speed-up over",
        "keras.layers.RNN(cell)), training step / inference, medians of interleaved rounds.",
        '"""',
        "",
        f"MACHINE = {machine!r}",
        "",
        "#: cell -> UTC times of the runs its points come from",
        "MEASURED_AT = {",
        *[f"    {cell!r}: {dates[cell]!r}," for cell in sorted(table)],
        "}",
        "",
        "#: cell -> mode -> [(batch, units, timesteps, route, speed-up), ...]",
        "MEASURED = {",
    ]
    for cell in sorted(table):
        lines.append(f"    {cell!r}: {{")
        for mode, points in table[cell].items():
            lines.append(f"        {mode!r}: [")
            for b, t in dict.fromkeys((p[0], p[2]) for p in points):  # a line per (B, T)
                row = [f"{tuple(p)!r}," for p in points if (p[0], p[2]) == (b, t)]
                halves = [row] if len(" ".join(row)) <= 86 else [row[:2], row[2:]]
                lines += ["            " + " ".join(half) for half in halves]
            lines.append("        ],")
        lines.append("    },")
    lines.append("}")
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def rebuild_route_table(json_paths, table_path, out):
    """The route table from saved --routes results, without timing anything."""
    table, machine, origin = {}, None, {}
    for path in json_paths:
        with open(path, encoding="utf-8") as f:
            result = json.load(f)
        machine = result["machine"]
        stamp = machine["date_utc"][:16]  # to the minute, UTC
        for cell, modes in route_table(result["rows"]).items():
            for mode, points in modes.items():
                table.setdefault(cell, {})[mode] = merge_points(
                    table.get(cell, {}).get(mode, []), points)
                origin.update({(cell, mode, as_point(p)[:3]): stamp for p in points})
    dates = {}  # the runs the final points come from (a later run replaces a point)
    for (cell, _, _), stamp in origin.items():
        dates.setdefault(cell, set()).add(stamp)
    dates = {cell: "; ".join(sorted(stamps)) for cell, stamps in dates.items()}
    if Path(table_path).exists():
        Path(table_path).unlink()  # rebuilt from the files alone
    write_route_table(table, f"{machine['cpu']}, {machine['cores']} cores, TensorFlow "
                      f"{machine['tensorflow']}", None, table_path, dates=dates)
    print(f"rebuilt {table_path} from {len(json_paths)} result file(s)", file=out)
    return table, (table_path,)


def point_configs(args):
    fit = FIT_PATHS if args.fit else ()
    t_growth = (100, 800) if args.quick else (100, 200, 400, 800)
    configs = [
        Config("ln_lstm_ref", "LayerNormLSTMCell", 32, 100, 128, 128, LOOP_PATHS + fit,
               memory=True),
        Config("streaming", "LayerNormLSTMCell", 1, 200, 32, 32, ("rnn", "fused")),
        Config("streaming", "LayerNormGRUCell", 1, 200, 32, 32, ("rnn", "fused")),
    ]
    configs += [Config("t_growth", "LayerNormLSTMCell", 32, t, 128, 128, ("rnn", "fused"),
                       modes=("train",), memory=True) for t in t_growth]
    configs.append(Config("scan_t4096", "MinGRUCell", 8, 4096, 64, 64, ("rnn", "fused")))
    return configs


# ----------------------------------------------------------------------------- running
def run_group(configs, args, peak_gflops, log):
    """Time every path and mode of a group of configurations; return their rows.

    All calls of the group (every configuration x path) are timed in the same interleaved
    rounds, per mode, so that comparisons inside the group (paths of one shape, or one path
    across T for the growth point) see the same machine load.
    """
    rows, calls, info = [], {}, {}
    for index, config in enumerate(configs):
        log(f"[{config.point}] {config.cell} B={config.batch} T={config.timesteps} "
            f"I={config.features} H={config.units}")
        rows += _build_calls(index, config, calls, info, log)
    modes = list(dict.fromkeys(mode for config in configs for mode in config.modes))
    for mode in modes:
        mode_calls = {key[:2]: fn for key, fn in calls.items() if key[2] == mode}
        timings = time_interleaved(mode_calls, args.warmup, args.repeats, args.budget,
                                   args.min_repeats)
        for (index, path), times in timings.items():
            config = configs[index]
            flops_fwd, jit = info[(index, path)]
            measure_memory = (config.memory or args.memory) and not path.endswith("_fit")
            memory = peak_memory_mb(mode_calls[(index, path)]) if measure_memory else None
            median = statistics.median(times)
            gflop = flops_fwd * (3 if mode == "train" else 1) / 1e9
            rate = gflop / median
            rows.append({
                **_shape(config), "path": path, "mode": mode, "median_ms": median * 1e3,
                "min_ms": min(times) * 1e3, "repeats": len(times), "gflop": gflop,
                "gflops_per_s": rate,
                "fraction_of_peak": rate / peak_gflops if peak_gflops else None,
                "jit": str(jit), "peak_mem_mb": memory, "note": "",
            })
            log(_format_row(rows[-1]))
    return rows


def _shape(config):
    return dict(point=config.point, cell=config.cell, batch=config.batch,
                timesteps=config.timesteps, input=config.features, units=config.units)


def _build_calls(index, config, calls, info, log):
    """Build and trace the paths of one configuration into `calls[(index, path, mode)]`;
    return the rows of paths that were skipped or failed."""
    rows = []
    rng = np.random.default_rng(0)
    x = rng.normal(size=(config.batch, config.timesteps,
                         *step_shape(config.cell, config.features))).astype("float32")
    y = rng.normal(size=(config.batch, 1)).astype("float32")
    x_t, y_t = tf.constant(x), tf.constant(y)
    for path in config.paths:
        keras.utils.set_random_seed(0)
        try:
            model, layer = make_model(path, config.cell, config.timesteps, config.features,
                                      config.units)
            flops_fwd = config.batch * config.timesteps * matmul_flops_per_step(layer)
            if path.endswith("_fit"):
                infer, train, jit = fit_functions(model)
                fns = {"infer": lambda f=infer: f(x), "train": lambda f=train: f(x, y)}
            else:
                infer, train = loop_functions(model)
                jit = False
                fns = {"infer": lambda f=infer: f(x_t), "train": lambda f=train: f(x_t, y_t)}
            for mode in config.modes:  # trace / compile now: a failure belongs to this path
                _sync(fns[mode]())
        except Exception as err:  # a path that cannot run is reported, not fatal
            first_line = str(err).splitlines()[0][:200] if str(err) else ""
            message = f"{type(err).__name__}: {first_line}"
            log(f"  {path}: failed: {message}")
            rows += [{**_shape(config), "path": path, "mode": mode,
                      "note": f"failed: {message}"} for mode in config.modes]
            continue
        for mode in config.modes:
            calls[(index, path, mode)] = fns[mode]
        info[(index, path)] = (flops_fwd, jit)
    return rows


def run_scan_kernels(args, log, batch=8, timesteps=4096, units=64):
    """linear_scan vs sequential_scan (tf.scan) on (B, T, H) coefficients, with/without XLA."""
    rows = []
    rng = np.random.default_rng(0)
    a = tf.constant(rng.uniform(0.5, 1.0, (batch, timesteps, units)).astype("float32"))
    b = tf.constant(rng.normal(size=(batch, timesteps, units)).astype("float32"))
    h0 = tf.zeros((batch, units))
    shape = dict(point="scan_t4096", cell="kernel", batch=batch, timesteps=timesteps,
                 input=units, units=units)
    calls = {"infer": {}, "train": {}}
    for name, scan in (("linear_scan", linear_scan), ("sequential_scan", sequential_scan)):
        for jit in (False, True):
            path = f"{name}{'_xla' if jit else ''}"
            infer = tf.function(lambda a, b, scan=scan: scan(a, b, h0), jit_compile=jit)

            def grads(a, b, scan=scan):
                with tf.GradientTape() as tape:
                    tape.watch([a, b])
                    loss = tf.reduce_sum(tf.square(scan(a, b, h0)))
                return tape.gradient(loss, [a, b])

            train = tf.function(grads, jit_compile=jit)
            for mode, fn in (("infer", lambda f=infer: f(a, b)),
                             ("train", lambda f=train: f(a, b))):
                if args.quick and mode == "train" and path == "sequential_scan_xla":
                    # XLA's gradient of a 4096-step tf.scan takes seconds per call (and more
                    # to compile): left to the full run.
                    rows.append({**shape, "path": path, "mode": mode,
                                 "note": "skipped in --quick (seconds per call)"})
                    continue
                try:
                    _sync(fn())
                except Exception as err:  # XLA may not compile a kernel on some builds
                    rows.append({**shape, "path": path, "mode": mode,
                                 "note": f"failed: {type(err).__name__}"})
                    log(f"  {path} {mode}: failed: {type(err).__name__}")
                    continue
                calls[mode][path] = fn
    for mode, mode_calls in calls.items():
        timings = time_interleaved(mode_calls, args.warmup, args.repeats, args.budget,
                                   args.min_repeats)
        for path, times in timings.items():
            rows.append({**shape, "path": path, "mode": mode,
                         "median_ms": statistics.median(times) * 1e3,
                         "min_ms": min(times) * 1e3, "repeats": len(times),
                         "jit": str(path.endswith("_xla")), "note": ""})
            log(_format_row(rows[-1]))
    return rows


FIRST_CALL_CELLS = ("LayerNormLSTMCell", "LayerNormGRUCell")


def run_first_calls(args, log, batch=32, timesteps=100, units=128, rounds=3):
    """Seconds of the FIRST `train_on_batch` of a freshly compiled model (tracing, graph
    building and one step: what the first call of `model.fit` pays), per path; `rounds`
    fresh models per path, built in alternation, the median reported."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, timesteps, units)).astype("float32")
    y = rng.normal(size=(batch, 1)).astype("float32")
    times = {}
    for _ in range(1 if args.quick else rounds):
        for cell in FIRST_CALL_CELLS:
            for path in ("keras_fit", "rnn_fit", "fused_fit"):
                keras.utils.set_random_seed(0)
                model, _ = make_model(path, cell, timesteps, units, units)
                _, train, _ = fit_functions(model)
                start = time.perf_counter()
                _sync(train(x, y))
                times.setdefault((cell, path), []).append(time.perf_counter() - start)
    rows = []
    for (cell, path), seconds in times.items():
        rows.append({"point": "first_call", "cell": cell, "mode": "train", "batch": batch,
                     "timesteps": timesteps, "input": units, "units": units, "path": path,
                     "median_ms": statistics.median(seconds) * 1e3,
                     "min_ms": min(seconds) * 1e3, "repeats": len(seconds), "note": ""})
        log(_format_row(rows[-1]))
    return rows


# ----------------------------------------------------------------------------- summaries
def ratios(rows):
    """Speed-ups within one run, per configuration and mode: >1 means the fused path wins."""
    table = {}
    for row in rows:
        if row.get("median_ms") is None:
            continue
        key = (row["point"], row["cell"], row["mode"], row["batch"], row["timesteps"],
               row["input"], row["units"])
        table.setdefault(key, {})[row["path"]] = row["median_ms"]
    out = []
    pairs = (("fused_vs_rnn", "rnn", "fused"), ("fused_fit_vs_rnn_fit", "rnn_fit", "fused_fit"),
             ("fused_vs_keras", "keras", "fused"), ("fused_vs_keras_fit", "keras_fit", "fused"),
             ("rnn_vs_keras", "keras", "rnn"),
             ("scan_vs_loop", "sequential_scan", "linear_scan"),
             ("scan_vs_loop_xla", "sequential_scan_xla", "linear_scan_xla"))
    for key, times in table.items():
        entry = dict(zip(("point", "cell", "mode", "batch", "timesteps", "input", "units"), key))
        for name, slow, fast in pairs:
            if slow in times and fast in times:
                entry[name] = times[slow] / times[fast]
        if len(entry) > 7:
            out.append(entry)
    return out


def named_summary(rows):
    """The issue-5 targets, computed from this run's rows (None where a path was skipped)."""
    def ms(point, path, mode, **shape):
        for row in rows:
            if (row["point"] == point and row["path"] == path and row["mode"] == mode
                    and row.get("median_ms") is not None
                    and all(row[k] == v for k, v in shape.items())):
                return row["median_ms"], row.get("peak_mem_mb")
        return None, None

    def ratio(num, den):
        return num / den if num is not None and den else None

    summary = {}
    rnn, _ = ms("ln_lstm_ref", "rnn", "train")
    fused, _ = ms("ln_lstm_ref", "fused", "train")
    keras_lstm, _ = ms("ln_lstm_ref", "keras", "train")
    rnn_fit, _ = ms("ln_lstm_ref", "rnn_fit", "train")
    fused_fit, _ = ms("ln_lstm_ref", "fused_fit", "train")
    keras_fit, _ = ms("ln_lstm_ref", "keras_fit", "train")
    summary["ln_lstm_train_ms"] = {"rnn": rnn, "fused": fused, "keras_lstm": keras_lstm,
                                   "rnn_fit": rnn_fit, "fused_fit": fused_fit,
                                   "keras_lstm_fit": keras_fit}
    summary["ln_lstm_fused_vs_rnn (target >= 2)"] = ratio(rnn, fused)
    summary["ln_lstm_fused_fit_vs_rnn_fit (target >= 1.5)"] = ratio(rnn_fit, fused_fit)
    summary["ln_lstm_fused_vs_keras_lstm (target >= 1)"] = ratio(keras_lstm, fused)
    for cell, tag in (("LayerNormLSTMCell", "ln_lstm"), ("LayerNormGRUCell", "ln_gru")):
        for mode in MODES:
            slow, _ = ms("streaming", "rnn", mode, cell=cell)
            fast, _ = ms("streaming", "fused", mode, cell=cell)
            summary[f"streaming_{tag}_{mode}_fused_vs_rnn (target >= 5)"] = ratio(slow, fast)
        fused_first, _ = ms("first_call", "fused_fit", "train", cell=cell)
        keras_first, _ = ms("first_call", "keras_fit", "train", cell=cell)
        summary[f"first_call_{tag}_fused_fit_over_keras_fit (target <= 1.5)"] = ratio(
            fused_first, keras_first)
    growth_ts = sorted({r["timesteps"] for r in rows if r["point"] == "t_growth"})
    if len(growth_ts) >= 2:
        first, last = growth_ts[0], growth_ts[-1]
        for path in ("rnn", "fused"):
            t0, m0 = ms("t_growth", path, "train", timesteps=first)
            t1, m1 = ms("t_growth", path, "train", timesteps=last)
            tag = f"t_growth_{path}_T{first}_to_T{last}"
            target = "target <= 9" if (first, last) == (100, 800) else f"linear: {last / first:g}"
            summary[f"{tag}_time ({target})"] = ratio(t1, t0)
            summary[f"{tag}_peak_memory ({target})"] = ratio(m1, m0)
    for mode in MODES:
        slow, _ = ms("scan_t4096", "rnn", mode)
        fast, _ = ms("scan_t4096", "fused", mode)
        summary[f"mingru_t4096_{mode}_fused_scan_vs_rnn_loop (target >= 3)"] = ratio(slow, fast)
        for suffix in ("", "_xla"):
            slow, _ = ms("scan_t4096", f"sequential_scan{suffix}", mode)
            fast, _ = ms("scan_t4096", f"linear_scan{suffix}", mode)
            summary[f"kernel_t4096_{mode}_linear_vs_sequential{suffix}"] = ratio(slow, fast)
    return summary


def never_slower(rows):
    """Per cell and mode: the worst time ratio FusedRNN (auto) / RNN(cell) over this run's
    sweep points (target <= 1.05) and where, and the ratio to Keras's LSTM/GRU at each batch
    of the center's T, I, H (training)."""
    by_shape = {}
    for row in rows:
        if row["point"] == "sweep" and row.get("median_ms") is not None:
            key = (row["cell"], row["mode"], row["batch"], row["timesteps"], row["units"],
                   row["input"])
            by_shape.setdefault(key, {})[row["path"]] = row["median_ms"]
    out = {}
    for (cell, mode, b, t, h, i), times in sorted(by_shape.items()):
        if "fused" not in times or "rnn" not in times:
            continue
        entry = out.setdefault(f"{cell} {mode}", {"worst_fused_over_rnn": 0.0})
        value = times["fused"] / times["rnn"]
        if value > entry["worst_fused_over_rnn"]:
            entry.update(worst_fused_over_rnn=round(value, 3), at=f"B={b} T={t} I={i} H={h}")
        if mode == "train" and "keras" in times:
            entry[f"fused_over_keras B={b} T={t} I={i} H={h}"] = round(
                times["fused"] / times["keras"], 3)
    return out


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


def _format_row(row):
    return (f"  {row['cell'][:22]:22s} {row['mode']:5s} B={row['batch']:<4d} "
            f"T={row['timesteps']:<5d} I={row['input']:<4d} H={row['units']:<4d} "
            f"{row['path']:20s} {_fmt(row.get('median_ms'), '9.2f')} ms  "
            f"{_fmt(row.get('gflops_per_s'), '7.1f')} GFLOP/s  "
            f"{_fmt(row.get('fraction_of_peak'), '6.1%')} of peak  "
            f"mem {_fmt(row.get('peak_mem_mb'), '7.1f')} MiB  jit={row.get('jit', '-')}")


def print_ratios(entries, out):
    names = ("fused_vs_rnn", "fused_fit_vs_rnn_fit", "fused_vs_keras", "rnn_vs_keras",
             "scan_vs_loop", "scan_vs_loop_xla")
    print("\nSpeed-ups (time of the slower path / time of the faster; > 1: the second wins)",
          file=out)
    header = f"{'point':12s} {'cell':22s} {'mode':5s} {'B':>4s} {'T':>5s} {'I':>4s} {'H':>4s} "
    print(header + " ".join(f"{n:>20s}" for n in names), file=out)
    for e in entries:
        line = (f"{e['point']:12s} {e['cell'][:22]:22s} {e['mode']:5s} {e['batch']:4d} "
                f"{e['timesteps']:5d} {e['input']:4d} {e['units']:4d} ")
        print(line + " ".join(f"{_fmt(e.get(n), '20.2f')}" for n in names), file=out)


# ----------------------------------------------------------------------------- main
def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.sweep",
        description="Time FusedRNN vs keras.layers.RNN(cell) vs Keras LSTM/GRU (inference "
                    "and training step), write CSV/JSON to benchmarks/results/.")
    parser.add_argument("--routes", action="store_true",
                        help="time every route FusedRNN(use_fused='auto') chooses between, for "
                             "every cell (default --cells all) on the route grid, and write the "
                             "table it chooses from (--route-table)")
    parser.add_argument("--table-from", nargs="+", type=Path, default=None, metavar="JSON",
                        help="rebuild the route table from the rows of earlier --routes runs "
                             "(later files win per point) instead of measuring")
    parser.add_argument("--route-table", type=Path, default=ROUTE_TABLE,
                        help=f"where --routes writes the table (default {ROUTE_TABLE})")
    parser.add_argument("--quick", action="store_true",
                        help="a small sweep, under 2 minutes on a 2-core CPU")
    parser.add_argument("--cells", nargs="+", default=None,
                        help=f"cell names, or 'all' (default: {' '.join(DEFAULT_CELLS)})")
    parser.add_argument("--design", choices=("star", "grid", "center"), default="star",
                        help="star: vary one axis at a time around --center (default); "
                             "grid: every combination of --batch x --timesteps x --units "
                             "(x --input); center: the center only")
    parser.add_argument("--center", nargs=4, type=int, default=None, metavar=("B", "T", "I", "H"),
                        help="the star's center (default 32 100 128 128)")
    parser.add_argument("--batch", nargs="+", type=int, default=None,
                        help="batch sizes (default 1 8 128 around the center; quick: none)")
    parser.add_argument("--timesteps", nargs="+", type=int, default=None,
                        help="timesteps (default 25 400 around the center; quick: none)")
    parser.add_argument("--units", nargs="+", type=int, default=None,
                        help="units H, with input I = H (default 32; quick: none)")
    parser.add_argument("--input", nargs="+", type=int, default=None,
                        help="input sizes I at the center's H (default: none)")
    parser.add_argument("--paths", nargs="+", choices=ALL_PATHS, default=None,
                        help="paths of the sweep rows (default: rnn fused keras; the named "
                             "points choose their own)")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--no-fit", dest="fit", action="store_false",
                        help="skip every *_fit path (model.compile defaults)")
    parser.add_argument("--no-points", dest="points", action="store_false",
                        help="skip the named target points")
    parser.add_argument("--points-only", action="store_true", help="only the named points")
    parser.add_argument("--memory", action="store_true",
                        help="measure peak memory on every row (default: named points only)")
    parser.add_argument("--warmup", type=int, default=None,
                        help="untimed calls after tracing (default 2; quick 1)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed calls, median reported (default 7; quick 5)")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds of timed calls per path after which it stops repeating "
                             "(default 8; quick 1)")
    parser.add_argument("--matmul-size", type=int, default=2048,
                        help="n of the n^3 matmul that measures peak GFLOP/s (default 2048)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR,
                        help="directory for the CSV and JSON (default benchmarks/results/)")
    return parser


def resolve_args(args):
    quick = args.quick
    if args.cells is None:
        args.cells = (available_cells() if args.routes else
                      ["MinGRUCell"] if quick else list(DEFAULT_CELLS))
    elif args.cells == ["all"]:
        args.cells = available_cells()
    if args.routes:  # the route grid unless given
        args.batch = args.batch or list(ROUTE_BATCH)
        args.units = args.units or list(ROUTE_UNITS)
        args.timesteps = args.timesteps or [ROUTE_TIMESTEPS]
    args.center = args.center or [32, 100, 128, 128]
    args.batch = args.batch or ([] if quick else [1, 8, 128])
    args.timesteps = args.timesteps or ([] if quick else [25, 400])
    args.units = args.units or ([] if quick else [32])
    args.paths = args.paths or list(LOOP_PATHS)
    args.warmup = (1 if quick else 2) if args.warmup is None else args.warmup
    args.repeats = args.repeats or (5 if quick else 7)
    args.budget = args.budget or (1.0 if quick else 8.0)
    args.min_repeats = 1 if quick else 3
    for name in args.cells:
        make_cell(name, 1)  # unknown names fail here, before anything is timed
    return args


def main(argv=None, out=None):
    """Run the sweep; return (result dict, (json path, csv path))."""
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")  # retracing notices: every path builds its own tf.functions
    try:
        return _main(argv, out or sys.stdout)
    finally:
        logger.setLevel(level)


def _main(argv, out):
    args = resolve_args(build_parser().parse_args(argv))
    if args.table_from:
        return rebuild_route_table(args.table_from, args.route_table, out)

    def log(message):
        print(message, file=out, flush=True)

    started = time.perf_counter()
    machine = machine_info()
    log(f"machine: {machine['cpu']}, {machine['cores']} cores, GPU: "
        f"{', '.join(machine['gpus']) or 'none'}, TensorFlow {machine['tensorflow']}, "
        f"Keras {machine['keras']}")

    n = args.matmul_size
    peak = matmul_gflops(n, n, n)
    b, t, i, h = 32, 100, 128, 128
    throughput = {
        f"matmul_{n}^3": peak,
        f"projection_{b * t}x{i}@{i}x{4 * h}": matmul_gflops(b * t, i, 4 * h),
        f"step_{b}x{h}@{h}x{4 * h}": matmul_gflops(b, h, 4 * h, warmup=5, repeats=50),
    }
    for name, value in throughput.items():
        log(f"matmul throughput {name}: {value:.1f} GFLOP/s")

    if args.routes:
        args.points = False
        configs = route_configs(args)
    else:
        configs = [] if args.points_only else sweep_configs(args)
    if args.points or args.points_only:
        configs += point_configs(args)
    groups = {}  # interleaved together: a cell's sweep, or one named point
    for config in configs:
        key = (config.point, config.cell) if config.point in ("sweep", "t_growth") else (
            config.point, config.cell, id(config))
        groups.setdefault(key, []).append(config)
    rows = []
    for group in groups.values():
        rows += run_group(group, args, peak, log)
    if args.points or args.points_only:
        log("[scan_t4096] kernels: linear_scan vs sequential_scan")
        rows += run_scan_kernels(args, log)
        log("[first_call] trace + compile + first step of model.fit's train function")
        rows += run_first_calls(args, log)

    entries = ratios(rows)
    print_ratios(entries, out)
    summary = named_summary(rows) if (args.points or args.points_only) else {}
    worst = never_slower(rows)
    if worst:
        log("\nFusedRNN (auto) / RNN(cell), worst over the sweep points (target <= 1.05):")
        for key, entry in worst.items():
            log(f"  {key}: {entry['worst_fused_over_rnn']:.2f} at {entry.get('at')}")
    if summary:
        log("\nNamed points (performance targets):")
        for key, value in summary.items():
            if isinstance(value, dict):
                log(f"  {key}: " + ", ".join(f"{k}={_fmt(v, '.2f')}" for k, v in value.items()))
            else:
                log(f"  {key}: {_fmt(value, '.2f')}")
    elapsed = time.perf_counter() - started
    result = {
        "machine": machine,
        "arguments": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "matmul_gflops": throughput,
        "rows": rows,
        "ratios": entries,
        "summary": summary,
        "never_slower": worst,
        "elapsed_s": elapsed,
    }
    kind = "routes" if args.routes else "quick" if args.quick else "full"
    if args.routes:
        result["route_table"] = route_table(rows)
        write_route_table(result["route_table"], f"{machine['cpu']}, {machine['cores']} "
                          f"cores, TensorFlow {machine['tensorflow']}", machine["date_utc"][:16],
                          args.route_table)
        log(f"wrote the route table {args.route_table}")
    paths = write_results(result, args.out, machine["device"].lower(), kind)
    log(f"\nwrote {paths[0]} and {paths[1]} ({elapsed:.0f} s)")
    return result, paths


def write_results(result, directory, device, kind):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    stem = directory / f"sweep_{device}_{kind}_{stamp}"
    json_path, csv_path = stem.with_suffix(".json"), stem.with_suffix(".csv")
    with open(json_path, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1, default=float)
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        machine = result["machine"]
        f.write(f"# machine: {machine['cpu']}; cores {machine['cores']}; GPU "
                f"{', '.join(machine['gpus']) or 'none'}; TensorFlow {machine['tensorflow']}; "
                f"Keras {machine['keras']}; {machine['date_utc']}\n")
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for row in result["rows"]:
            writer.writerow({k: row.get(k) for k in CSV_FIELDS})
    return json_path, csv_path


if __name__ == "__main__":
    main()
