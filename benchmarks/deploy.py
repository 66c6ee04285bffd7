"""What exports where, for every cell: the README's "Deploy" table, regenerated.

    python -m benchmarks.deploy                 # every cell (~3-5 minutes on a 2-core CPU)
    python -m benchmarks.deploy --cells MinGRUCell LayerNormLSTMCell --steps 100
    python -m benchmarks.deploy --scaling      # sequence-model cost per step against T

For each cell, the model `FusedRNN(cell, return_sequences=True) -> Dense(2)` (dynamic batch
and T; tests/export/models.py) goes through: a `.keras` file (save, load, predict), a
SavedModel (Keras's `model.export(..., format="tf_saved_model")`, reloaded with
`tf.saved_model.load`), LiteRT (Keras's `model.export(..., format="litert")`, run in
ai-edge-litert's interpreter without the Flex delegate), ONNX (`model.export(...,
format="onnx")`, onnxruntime), and `rnncells.streaming_model` stepped in Keras and as a LiteRT
file (`rnncells.export` gives the same files; the tests check both). Every column is the
largest absolute difference from `model.predict` on a random batch (B=2, T=--steps); the
streaming LiteRT model's size and its per-step latency (batch 1, median of --repeats
invocations after a warm-up, one thread) are measured here.
Writes benchmarks/results/deploy_<device>.json and prints a Markdown table.

`--scaling`: the exported SEQUENCE model `FusedRNN(LayerNormGRUCell(64))` on batch 4 x 8
features, LiteRT and onnxruntime (one thread each), time per step at T = 250 ... 4000
(one call after a warm-up call): whether the export loop stays O(1) per step.
"""

import argparse
import json
import os
import pathlib
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import rnncells  # noqa: E402
from benchmarks.sweep import machine_info  # noqa: E402
from rnncells.deploy import run_litert, run_onnx  # noqa: E402
from rnncells.streaming import initial_states  # noqa: E402
from tests.export.models import CELLS, sequence_model  # noqa: E402

RESULTS = pathlib.Path(__file__).parent / "results"


def _err(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def _stream_keras(step, x):
    states, outputs = initial_states(step, x.shape[0]), []
    for t in range(x.shape[1]):
        y, *states = [np.asarray(v) for v in step([x[:, t], *states])]
        outputs.append(y)
    return np.stack(outputs, 1)


def _litert_step_latency(path, step, repeats):
    """Median seconds of one invocation of the streaming LiteRT model at batch 1."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    runner = interpreter.get_signature_runner()
    names = [i.name for i in step.inputs]
    feed = dict(zip(names, [np.zeros((1, *i.shape[1:]), i.dtype) for i in step.inputs]))
    feed[names[0]] = np.random.default_rng(0).uniform(-1, 1, feed[names[0]].shape).astype(
        "float32")
    for _ in range(10):
        runner(**feed)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        runner(**feed)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(name, steps, repeats, workdir):
    model = sequence_model(name)
    x = np.random.default_rng(0).uniform(
        -1, 1, (2, steps, *model.inputs[0].shape[2:])).astype("float32")
    expected = model.predict(x, verbose=0)
    row = {"cell": name}

    path = workdir / f"{name}.keras"
    model.save(path)
    row["keras_file"] = _err(keras.saving.load_model(path).predict(x, verbose=0), expected)

    saved = workdir / f"{name}_savedmodel"
    model.export(str(saved), format="tf_saved_model", verbose=False)
    reloaded = tf.saved_model.load(str(saved))  # keep it referenced while it runs
    row["saved_model"] = _err(reloaded.serve(x), expected)

    litert = workdir / f"{name}.tflite"
    model.export(str(litert), format="litert", verbose=False)
    row["litert"] = _err(run_litert(litert, x), expected)
    row["litert_kb"] = litert.stat().st_size / 1024

    onnx = workdir / f"{name}.onnx"
    model.export(str(onnx), format="onnx", verbose=False)  # called above (predict)
    row["onnx"] = _err(run_onnx(onnx, x), expected)

    step = rnncells.streaming_model(model)
    row["streaming"] = _err(_stream_keras(step, x), expected)
    step_path = workdir / f"{name}_step.tflite"
    step.export(str(step_path), format="litert", verbose=False)
    names = [i.name for i in step.inputs]
    states, outputs = initial_states(step, x.shape[0]), []
    for t in range(steps):
        y, *states = run_litert(step_path, [x[:, t], *states], names=names)
        outputs.append(y)
    row["streaming_litert"] = _err(np.stack(outputs, 1), expected)
    row["streaming_litert_kb"] = step_path.stat().st_size / 1024
    row["step_us"] = 1e6 * _litert_step_latency(step_path, step, repeats)
    return row


def table(rows):
    head = ("| cell | .keras | SavedModel | LiteRT | ONNX | streaming (Keras) | streaming LiteRT "
            "| LiteRT KB (seq / step) | step latency (us) |")
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        lines.append(
            f"| {r['cell']} | {r['keras_file']:.0e} | {r['saved_model']:.0e} | "
            f"{r['litert']:.0e} | {r['onnx']:.0e} | {r['streaming']:.0e} | "
            f"{r['streaming_litert']:.0e} | {r['litert_kb']:.0f} / "
            f"{r['streaming_litert_kb']:.0f} | {r['step_us']:.0f} |")
    return "\n".join(lines)


def scaling(workdir, lengths=(250, 1000, 4000)):
    """Microseconds per step of the exported sequence model, by format and T."""
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    model = keras.Sequential([keras.Input((None, 8)), rnncells.FusedRNN(
        rnncells.LayerNormGRUCell(64), return_sequences=True)])
    litert = rnncells.export(model, workdir / "scaling.tflite")
    onnx = rnncells.export(model, workdir / "scaling.onnx", format="onnx")
    interpreter = Interpreter(model_path=str(litert), num_threads=1)
    runner = interpreter.get_signature_runner()
    (litert_name,) = interpreter.get_signature_list()["serving_default"]["inputs"]
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(onnx), options, providers=["CPUExecutionProvider"])
    onnx_name = session.get_inputs()[0].name
    calls = {"litert": lambda x: runner(**{litert_name: x}),
             "onnx": lambda x: session.run(None, {onnx_name: x})}
    rows = []
    for steps in lengths:
        x = np.random.default_rng(0).uniform(-1, 1, (4, steps, 8)).astype("float32")
        row = {"T": steps}
        for name, call in calls.items():
            call(x)
            start = time.perf_counter()
            call(x)
            row[f"{name}_us_per_step"] = 1e6 * (time.perf_counter() - start) / steps
        rows.append(row)
    return rows


def main(argv=None, out=sys.stdout):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="+", default=list(CELLS), choices=list(CELLS))
    parser.add_argument("--steps", type=int, default=50, help="sequence length T")
    parser.add_argument("--repeats", type=int, default=500, help="timed LiteRT steps")
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    parser.add_argument("--scaling", action="store_true",
                        help="only the per-step cost of the exported sequence model vs T")
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(0)
    if args.scaling:
        with tempfile.TemporaryDirectory() as tmp:
            rows = scaling(pathlib.Path(tmp))
        for row in rows:
            print(row, file=out)
        path = args.out / f"deploy_scaling_{machine_info()['device'].lower()}.json"
        args.out.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"machine": machine_info(), "rows": rows}, indent=1))
        print(f"written: {path}", file=out)
        return rows, path
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.cells:
            rows.append(measure(name, args.steps, args.repeats, pathlib.Path(tmp)))
            print(rows[-1], file=out, flush=True)
    info = machine_info()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"deploy_{info['device'].lower()}.json"
    path.write_text(json.dumps({"machine": info, "steps": args.steps, "rows": rows},
                               indent=1))
    print(table(rows), file=out)
    print(f"written: {path}", file=out)
    return rows, path


if __name__ == "__main__":
    main()
