"""Long-range memory tasks: what the cells are for (issue 21).

    python -m benchmarks.tasks --quick                       # every task small, < 10 min on 2 cores
    python -m benchmarks.tasks --task adding --timesteps 1000 --budget 600
    python -m benchmarks.tasks --task adding --timesteps 5000 --budget 3600
    python -m benchmarks.tasks --task copy --timesteps 100 --models IndRNN keras.LSTM
    python -m benchmarks.tasks --help
    python -m benchmarks.tasks plot A.json B.json out.png   # one figure from result files

Tasks (data from `rnncells.datasets.memory`, seeded with `numpy.random.default_rng`):

- `adding`: two marked values among T uniform ones, regress their sum (T = 100 ... 5000).
  Fresh training batches every step, a fixed test set. Predicting the mean gives MSE 1/6
  (0.167); solved at test MSE < 0.01.
- `copy`: 10 symbols (of 8), a blank of T steps, a delimiter, recall the 10 symbols.
  Metric: accuracy on the 10 recalled symbols (chance 1/8); solved at >= 0.99.
- `digits`, `pdigits`: scikit-learn's 8x8 digits read one pixel per step (T=64), plain or
  with one fixed pixel permutation; metric: test accuracy (1,437 train / 360 test images).

Every run trains one model, `FusedRNN(cell)` over an rnncells cell or Keras's own LSTM/GRU
(the reference), with `model.train_on_batch` (a compiled step, verbose nothing), and stops at
the first of: the solved threshold (early stopping), `--steps`, `--budget` seconds (training
time, evaluations excluded). It evaluates every `--eval-every` steps and prints one line per
evaluation. Output: `--out` (JSON: the machine, the arguments, one row per run:
`{task, model, timesteps, test_mse | accuracy, steps, seconds, steps_per_s, solved, curve}`,
`curve` = [[step, seconds, metric], ...]) and a PNG of the learning curves next to it.

The long-T recipe (`adding` at T >= 500, the defaults of `--task adding`): see
`RECIPES` / docs/tasks.md. `benchmarks/` works from a clone of the repository only.
"""

import argparse
import contextlib
import dataclasses
import datetime
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import rnncells  # noqa: E402
from rnncells.datasets.memory import (  # noqa: E402
    adding_problem,
    copy_memory,
    sequential_digits,
)

RESULTS_DIR = Path(__file__).resolve().parent / "results"
TASKS = ("adding", "copy", "digits", "pdigits")
MODELS = ("IndRNN", "LayerNormLSTM", "LayerNormGRU", "BatchNormLSTM", "MinGRU",
          "keras.LSTM", "keras.GRU")
ADDING_SOLVED_MSE = 0.01
COPY_SOLVED_ACC = 0.99
COPY_LENGTH, COPY_SYMBOLS = 10, 8


@dataclasses.dataclass
class Config:
    """One model's hyper-parameters (units per layer, layers, Adam's learning rate, ...)."""

    units: int = 64
    layers: int = 1
    lr: float = 1e-3
    batch: int = 50
    clipnorm: float = 1.0
    #: IndRNN: lower bound of |u| = min_abs_factor ** (1 / T) on every layer (None: the
    #: paper's: only the last layer, with 0.5).
    min_abs_factor: float = None
    #: learning rate multiplied by `decay` every `decay_every` steps (None: constant).
    decay: float = None
    decay_every: int = 0
    #: IndRNN: the hidden (not last) layers' recurrent weights drawn uniform in [0, this]
    #: (None: the cell's default, [min, 2**(1/T)]): short memory below, long at the top.
    hidden_recurrent_max: float = None


def default_config(task, model, timesteps):
    """The hyper-parameters a run uses unless overridden (the recipes of docs/tasks.md)."""
    if model == "IndRNN":
        if task == "adding" and timesteps >= 500:
            # The long-T recipe (measured, docs/tasks.md): narrow and shallow for steps/s.
            return Config(units=32, layers=2, lr=2e-3, batch=50, decay=0.7, decay_every=1000,
                          hidden_recurrent_max=0.5)
        return Config(units=64, layers=2, lr=2e-3, batch=50)
    if model == "MinGRU":
        return Config(units=64, layers=2, lr=3e-3)
    return Config(units=64, layers=1, lr=3e-3 if task in ("digits", "pdigits") else 1e-3)


def make_recurrent(model, cfg, timesteps, return_sequences, last):
    """One recurrent layer of `model`."""
    if model == "keras.LSTM":
        return keras.layers.LSTM(cfg.units, return_sequences=return_sequences)
    if model == "keras.GRU":
        return keras.layers.GRU(cfg.units, return_sequences=return_sequences)
    if model == "IndRNN":
        if cfg.min_abs_factor is not None:
            min_abs = cfg.min_abs_factor ** (1.0 / timesteps)
        else:  # the paper's: only the output layer must remember over all T steps
            min_abs = 0.5 ** (1.0 / timesteps) if last else 0.0
        init = None
        if cfg.hidden_recurrent_max is not None and not last:
            init = keras.initializers.RandomUniform(0.0, cfg.hidden_recurrent_max)
        cell = rnncells.IndRNNCell(cfg.units, max_steps=timesteps, recurrent_min_abs=min_abs,
                                   recurrent_initializer=init)
    elif model == "LayerNormLSTM":
        cell = rnncells.LayerNormLSTMCell(cfg.units)
    elif model == "LayerNormGRU":
        cell = rnncells.LayerNormGRUCell(cfg.units)
    elif model == "BatchNormLSTM":
        cell = rnncells.BatchNormLSTMCell(cfg.units, max_steps=timesteps)
    elif model == "MinGRU":
        cell = rnncells.MinGRUCell(cfg.units)
    else:
        raise ValueError(f"unknown model {model!r}; one of {MODELS}")
    return rnncells.FusedRNN(cell, return_sequences=return_sequences)


def build_model(task, model, cfg, timesteps, features, seed):
    """Input -> `cfg.layers` recurrent layers -> the task's head, compiled."""
    keras.utils.set_random_seed(seed)
    per_step = task == "copy"
    layers = [keras.Input((timesteps, features))]
    for i in range(cfg.layers):
        last = i == cfg.layers - 1
        layers.append(make_recurrent(model, cfg, timesteps, per_step or not last, last))
    if task == "adding":
        layers.append(keras.layers.Dense(1))
        loss = "mse"
    elif task == "copy":
        layers.append(keras.layers.Dense(COPY_SYMBOLS + 2))
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    else:
        layers.append(keras.layers.Dense(10))
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    net = keras.Sequential(layers, name=f"{task}_{model}".replace(".", "_"))
    net.compile(optimizer=keras.optimizers.Adam(cfg.lr, clipnorm=cfg.clipnorm), loss=loss)
    return net


class TaskData:
    """Training batches and the fixed test set of one task (all seeded)."""

    def __init__(self, task, timesteps, batch, seed, test_size):
        self.task, self.timesteps, self.batch = task, timesteps, batch
        self.rng = np.random.default_rng(seed)
        test_seed = seed + 1_000_003
        if task == "adding":
            self.x_test, self.y_test = adding_problem(test_size, timesteps, test_seed)
            self.features = 2
        elif task == "copy":
            self.x_test, self.y_test = copy_memory(test_size, timesteps, test_seed,
                                                   COPY_LENGTH, COPY_SYMBOLS)
            self.features = 1
        else:
            d = sequential_digits(seed, permute=task == "pdigits")
            self.x_train, self.y_train = d.x_train, d.y_train
            self.x_test, self.y_test = d.x_test, d.y_test
            self.features = 1
            self._order, self._at = self.rng.permutation(len(self.x_train)), 0
        self.length = self.x_test.shape[1]

    def next_batch(self):
        seed = int(self.rng.integers(2**31))
        if self.task == "adding":
            return adding_problem(self.batch, self.timesteps, seed)
        if self.task == "copy":
            return copy_memory(self.batch, self.timesteps, seed, COPY_LENGTH, COPY_SYMBOLS)
        if self._at + self.batch > len(self._order):  # a new epoch, reshuffled
            self._order, self._at = self.rng.permutation(len(self.x_train)), 0
        idx = self._order[self._at:self._at + self.batch]
        self._at += self.batch
        return self.x_train[idx], self.y_train[idx]

    def evaluate(self, net):
        """The task's metric on the test set: MSE (adding) or accuracy (the others)."""
        # predict_on_batch by chunks: no tf.data pipeline (whose C++ notices under op
        # determinism would interleave with the progress lines)
        out = np.concatenate([np.asarray(net.predict_on_batch(self.x_test[i:i + 250]))
                              for i in range(0, len(self.x_test), 250)])
        if self.task == "adding":
            return float(np.mean((out - self.y_test) ** 2))
        if self.task == "copy":  # accuracy on the recalled symbols only
            pred = np.argmax(out[:, -COPY_LENGTH:], axis=-1)
            return float(np.mean(pred == self.y_test[:, -COPY_LENGTH:]))
        return float(np.mean(np.argmax(out, axis=-1) == self.y_test))

    @property
    def metric(self):
        return "test_mse" if self.task == "adding" else "accuracy"

    def solved(self, value):
        if self.task == "adding":
            return value < ADDING_SOLVED_MSE
        if self.task == "copy":
            return value >= COPY_SOLVED_ACC
        return False  # digits: report the accuracy reached within the budget

    def baseline(self):
        """The memoryless answer's metric."""
        if self.task == "adding":
            return 1.0 / 6.0
        if self.task == "copy":
            return 1.0 / COPY_SYMBOLS
        return 0.1


def set_lr(net, lr):
    net.optimizer.learning_rate.assign(lr)


def run_one(task, model, timesteps, *, budget, steps, eval_every, seed=0, cfg=None,
            test_size=500, print_fn=print):
    """Train one model on one task; returns the JSON row."""
    cfg = cfg or default_config(task, model, timesteps)
    keras.utils.set_random_seed(seed)
    data = TaskData(task, timesteps, cfg.batch, seed, test_size)
    net = build_model(task, model, cfg, data.length, data.features, seed)
    tag = f"{task} T={timesteps} {model}"
    print_fn(f"[{tag}] {cfg} params={net.count_params()}")
    x, y = data.next_batch()
    build_start = time.perf_counter()
    net.train_on_batch(x, y)  # traces and compiles the step (not counted, step 1 is)
    compile_s = time.perf_counter() - build_start
    train_s, step, curve, value, solved = 0.0, 1, [], None, False
    lr = cfg.lr
    while True:
        if step % eval_every == 0 or step >= steps or train_s >= budget:
            value = data.evaluate(net)
            curve.append([step, round(train_s, 4), value])
            solved = data.solved(value)
            print_fn(f"[{tag}] step {step:6d}  {train_s:7.1f} s  "
                     f"{(step - 1) / max(train_s, 1e-9):6.1f} steps/s  {data.metric} {value:.4f}"
                     + ("  solved" if solved else ""))
            if solved or step >= steps or train_s >= budget:
                break
        if cfg.decay and cfg.decay_every and step % cfg.decay_every == 0:
            lr *= cfg.decay
            set_lr(net, lr)
        x, y = data.next_batch()
        start = time.perf_counter()
        loss = net.train_on_batch(x, y)
        train_s += time.perf_counter() - start
        step += 1
        if not math.isfinite(float(np.asarray(loss).ravel()[0])):
            print_fn(f"[{tag}] step {step}: loss is not finite, stopping")
            value = float("nan")
            curve.append([step, round(train_s, 4), value])
            break
    return {
        "task": task, "model": model, "timesteps": timesteps, data.metric: value,
        # seconds to 0.1 ms: a smoke run of two tiny steps must not round to zero; the
        # rate counts the timed steps only (step 1 compiles and is not timed)
        "steps": step, "seconds": round(train_s, 4),
        "steps_per_s": round((step - 1) / max(train_s, 1e-9), 2),
        "compile_s": round(compile_s, 2), "solved": bool(solved),
        "baseline": data.baseline(), "config": dataclasses.asdict(cfg),
        "params": int(net.count_params()), "seed": seed, "curve": curve,
    }


# --quick: every task small (T, step budget, seconds budget per run, evaluation interval).
QUICK = {
    "adding": dict(timesteps=100, steps=600, budget=12.0, eval_every=100),
    "copy": dict(timesteps=20, steps=600, budget=12.0, eval_every=100),
    "digits": dict(timesteps=64, steps=300, budget=10.0, eval_every=100),
    "pdigits": dict(timesteps=64, steps=300, budget=10.0, eval_every=100),
}


def machine():
    import tensorflow as tf

    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "backend": keras.backend.backend(),
            "gpus": len(tf.config.list_physical_devices("GPU"))}


def _label(row, group):
    """The model's name, plus the settings that tell it apart from other runs of the same
    model in the panel (e.g. two schedules); runs with the same settings (e.g. one machine
    idle, one shared) are told apart by their speed."""
    same = [r for r in group if r["model"] == row["model"]]
    if len(same) < 2:
        return row["model"]
    configs = [r.get("config") or {} for r in same]
    differ = sorted(k for k in (row.get("config") or {})
                    if len({repr(c.get(k)) for c in configs}) > 1)
    settings = [f"{k}={row['config'][k]}" for k in differ]
    twins = [r for r, c in zip(same, configs)
             if all(repr(c.get(k)) == repr(row["config"].get(k)) for k in differ)]
    if len(twins) > 1 and "steps_per_s" in row:
        settings.append(f"{row['steps_per_s']:.1f} steps/s")
    return f"{row['model']} ({', '.join(settings)})" if settings else row["model"]


def plot(rows, png_path):
    """Learning curves, one panel per (task, T): metric against training seconds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = {}
    for r in rows:
        groups.setdefault((r["task"], r["timesteps"]), []).append(r)
    n = len(groups)
    cols = min(n, 2)
    nrows = math.ceil(n / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(6.5 * cols, 4 * nrows), squeeze=False)
    for ax, ((task, t), group) in zip(axes.ravel(), sorted(groups.items())):
        for r in group:
            curve = np.asarray(r["curve"], dtype=float)
            if len(curve):
                ax.plot(curve[:, 1], curve[:, 2], marker=".", label=_label(r, group))
        metric = "test MSE" if task == "adding" else "test accuracy"
        ax.axhline(group[0]["baseline"], color="grey", linestyle=":", label="memoryless")
        if task == "adding":
            ax.axhline(ADDING_SOLVED_MSE, color="black", linestyle="--", label="solved")
            ax.set_yscale("log")
        ax.set_title(f"{task}, T={t}")
        ax.set_xlabel("training seconds (2-core CPU)")
        ax.set_ylabel(metric)
        ax.legend(fontsize=7)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(png_path, dpi=90)
    plt.close(fig)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.tasks", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="every task small (< 10 min)")
    p.add_argument("--task", choices=TASKS, action="append",
                   help="task(s) to run (default: all with --quick, else adding)")
    p.add_argument("--models", nargs="+", default=None,
                   help=f"models (default: all of {MODELS}; with --task adding at T >= 500: "
                        "IndRNN and keras.LSTM)")
    p.add_argument("--timesteps", type=int, default=None,
                   help="T (adding, copy: the blank); digits are always 64")
    p.add_argument("--budget", type=float, default=None, help="training seconds per run")
    p.add_argument("--steps", type=int, default=None, help="step budget per run")
    p.add_argument("--eval-every", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--test-size", type=int, default=500)
    for field in dataclasses.fields(Config):
        p.add_argument("--" + field.name.replace("_", "-"), type=type_of(field), default=None,
                       help=f"override every model's {field.name}")
    p.add_argument("--out", default=None, help="JSON path (default benchmarks/results/"
                   "tasks_<name>_cpu_<UTC time>.json); the PNG is written next to it")
    return p.parse_args(argv)


def type_of(field):
    return int if field.name in ("units", "layers", "batch", "decay_every") else float


def plan(args):
    """[(task, T, steps, budget, eval_every)] from the arguments."""
    tasks = args.task or (list(TASKS) if args.quick else ["adding"])
    out = []
    for task in tasks:
        if args.quick:
            q = dict(QUICK[task])
        elif task == "adding":
            t = args.timesteps or 1000
            q = dict(timesteps=t, steps=100_000, budget=600.0, eval_every=200 if t <= 1000 else 100)
        elif task == "copy":
            q = dict(timesteps=args.timesteps or 100, steps=20_000, budget=300.0, eval_every=200)
        else:
            q = dict(timesteps=64, steps=3000, budget=120.0, eval_every=200)
        if args.timesteps and task in ("adding", "copy"):
            q["timesteps"] = args.timesteps
        for key in ("steps", "budget", "eval_every"):
            if getattr(args, key) is not None:
                q[key] = getattr(args, key)
        out.append((task, q))
    return out


def replot(json_paths, png_path):
    """One figure of the curves of several result files (docs/tasks_curves.png)."""
    rows = []
    for path in json_paths:
        rows += json.loads(Path(path).read_text())["rows"]
    plot(rows, png_path)
    return rows


def main(argv=None, print_fn=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "plot":  # python -m benchmarks.tasks plot A.json B.json out.png
        replot(argv[1:-1], argv[-1])
        return None
    args = parse_args(argv)

    def say(line):
        (print_fn or (lambda s: print(s, flush=True)))(line)

    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # no retracing notices between the progress lines
    with op_determinism():
        return _main(args, say)


@contextlib.contextmanager
def op_determinism():
    """TensorFlow's deterministic ops for the block (restored after: tests share a process)."""
    from tensorflow.python.framework import config

    was = config.is_op_determinism_enabled()
    config.enable_op_determinism()
    try:
        yield
    finally:
        if not was:
            config.disable_op_determinism()


def _main(args, say):
    rows = []
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    jobs = plan(args)
    if args.out:
        json_path = Path(args.out)
    else:
        name = "quick" if args.quick else "_".join(
            f"{task}{q['timesteps']}" for task, q in jobs)
        json_path = RESULTS_DIR / f"tasks_{name}_cpu_{stamp}.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    png_path = json_path.with_suffix(".png")
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(Config)
                 if getattr(args, f.name) is not None}
    say(f"tasks: {[(t, q['timesteps']) for t, q in jobs]}, writing {json_path}")
    started = time.perf_counter()
    for task, q in jobs:
        models = args.models
        if models is None:
            models = (["IndRNN", "keras.LSTM"] if task == "adding" and q["timesteps"] >= 500
                      else list(MODELS))
        for model in models:
            cfg = dataclasses.replace(default_config(task, model, q["timesteps"]), **overrides)
            row = run_one(task, model, q["timesteps"], budget=q["budget"], steps=q["steps"],
                          eval_every=q["eval_every"], seed=args.seed, cfg=cfg,
                          test_size=args.test_size, print_fn=say)
            rows.append(row)
            result = {"machine": machine(), "args": vars(args), "created": stamp,
                      "wall_s": round(time.perf_counter() - started, 1), "rows": rows}
            json_path.write_text(json.dumps(result, indent=1))  # after every run
            plot(rows, png_path)
    say("\n" + format_table(rows))
    say(f"wrote {json_path} and {png_path} ({time.perf_counter() - started:.0f} s)")
    return rows, json_path


def solved_text(row):
    """yes / no, or - for the digits tasks (no threshold: the accuracy is the result)."""
    if row["task"] in ("digits", "pdigits"):
        return "-"
    return "yes" if row["solved"] else "no"


def format_table(rows):
    lines = [f"{'task':<8} {'T':>5} {'model':<14} {'metric':>10} {'value':>8} {'solved':>6} "
             f"{'steps':>6} {'seconds':>8} {'steps/s':>7}"]
    for r in rows:
        metric = "test_mse" if "test_mse" in r else "accuracy"
        lines.append(f"{r['task']:<8} {r['timesteps']:>5} {r['model']:<14} {metric:>10} "
                     f"{r[metric]:>8.4f} {solved_text(r):>6} "
                     f"{r['steps']:>6} {r['seconds']:>8.1f} {r['steps_per_s']:>7.1f}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
