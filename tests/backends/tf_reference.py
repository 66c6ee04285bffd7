"""TensorFlow's numbers for the cross-backend suite (run in a subprocess, TensorFlow backend).

    python -m tests.backends.tf_reference measure OUT_DIR
        every case of `tests.backends.cases`: `OUT_DIR/reference.pkl` (what `measure` returns,
        by case) and `OUT_DIR/<case>.keras` (the model with those weights);
    python -m tests.backends.tf_reference predict DIR
        loads every `DIR/<case>.keras` (saved on another backend) and writes
        `DIR/predictions.pkl` (TensorFlow's predictions on each case's input).
"""

import os
import pathlib
import pickle
import sys

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import rnncells  # noqa: E402, F401  (registers the classes for loading)
from tests.backends import cases  # noqa: E402


def main(argv):
    mode, directory = argv[0], pathlib.Path(argv[1])
    assert keras.backend.backend() == "tensorflow"
    if mode == "measure":
        directory.mkdir(parents=True, exist_ok=True)
        reference = {}
        for name in cases.CASES:
            reference[name], model = cases.measure(name)
            model.save(directory / f"{name}.keras")
        (directory / "reference.pkl").write_bytes(pickle.dumps(reference))
    elif mode == "predict":
        predictions = {}
        for path in sorted(directory.glob("*.keras")):
            model = keras.saving.load_model(path)
            predictions[path.stem] = model.predict(cases.data(path.stem)[0], verbose=0)
        (directory / "predictions.pkl").write_bytes(pickle.dumps(predictions))
    else:
        raise SystemExit(f"unknown mode {mode!r}: expected 'measure' or 'predict'")


if __name__ == "__main__":
    main(sys.argv[1:])
