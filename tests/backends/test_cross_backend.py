"""JAX and PyTorch give TensorFlow's numbers: every cell, RNN / FusedRNN, masks, go_backwards,
Bidirectional, the conv layers, gradients, fit, and `.keras` files both ways.

Run on another backend: `KERAS_BACKEND=jax pytest tests/backends` (and `torch`); `make test`
runs both. TensorFlow's numbers come from one subprocess on the TensorFlow backend
(`tests/backends/tf_reference.py`), written to $RNNCELLS_TF_REFERENCE when set (`make test`
shares it between the JAX and PyTorch runs) or to a temporary directory.
"""

import os
import pathlib
import pickle
import subprocess
import sys

import keras
import numpy as np
import pytest

import rnncells
from tests.backends import cases

ROOT = pathlib.Path(__file__).resolve().parents[2]
FORWARD = dict(rtol=1e-5, atol=1e-5)
# Gradients and three SGD steps: float32 sums in another order on each backend.
TRAINED = dict(rtol=1e-4, atol=1e-5)


def _tf_subprocess(*args):
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, "-m", "tests.backends.tf_reference", *args],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(scope="session")
def tf_reference(tmp_path_factory):
    directory = os.environ.get("RNNCELLS_TF_REFERENCE")
    directory = (pathlib.Path(directory) if directory
                 else tmp_path_factory.mktemp("tf_reference"))
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / "reference.pkl").exists():
        _tf_subprocess("measure", str(directory))
    return directory, pickle.loads((directory / "reference.pkl").read_bytes())


def test_runs_on_another_backend_without_importing_tensorflow():
    assert keras.backend.backend() in ("jax", "torch")
    # (Keras's own set_random_seed imports TensorFlow when installed: checked apart from it)
    code = ("import sys, numpy as np, rnncells\n"
            "layer = rnncells.FusedRNN(rnncells.BatchNormLSTMCell(3))\n"
            "layer(np.ones((2, 4, 3), 'float32'), training=True)\n"
            "rnncells.diagnostics.gradient_flow(layer, np.ones((2, 4, 3), 'float32'))\n"
            "print('tensorflow' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, env=os.environ)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "False"


def _compare(actual, expected, tolerance, what):
    assert len(actual) == len(expected), what
    for i, (a, e) in enumerate(zip(actual, expected)):
        np.testing.assert_allclose(a, e, err_msg=f"{what} [{i}]", **tolerance)


@pytest.mark.parametrize("name", list(cases.CASES))
def test_same_numbers_as_tensorflow(name, tf_reference):
    _, reference = tf_reference
    expected = reference[name]
    result, _ = cases.measure(name, weights=expected["weights"])
    np.testing.assert_allclose(result["predict"], expected["predict"], **FORWARD)
    if "gradients" not in result:
        return
    _compare(result["gradients"], expected["gradients"], TRAINED, "gradient")
    _compare(result["fitted"], expected["fitted"], TRAINED, "weight after fit")


@pytest.mark.parametrize("cell", cases.RUNNING_STATISTICS)
def test_rnn_trains_batch_norm_or_refuses_clearly_naming_fused_rnn(cell):
    name = f"{cell}-rnn"
    model = cases.CASES[name][0]()
    x = cases.data(name)[0]
    if cases.trains_in_rnn_here(name):  # PyTorch: an eager loop, the cell updates itself
        before = [keras.ops.convert_to_numpy(w) for w in model.non_trainable_weights]
        model(x, training=True)
        after = [keras.ops.convert_to_numpy(w) for w in model.non_trainable_weights]
        assert any(not np.array_equal(b, a) for b, a in zip(before, after))
    else:  # JAX: statistics cannot leave lax.scan by assignment
        with pytest.raises(RuntimeError, match="FusedRNN"):
            model(x, training=True)


def test_tensorflow_files_load_here_with_the_same_predictions(tf_reference):
    directory, reference = tf_reference
    for name in cases.CASES:
        model = keras.saving.load_model(directory / f"{name}.keras")
        np.testing.assert_allclose(model.predict(cases.data(name)[0], verbose=0),
                                   reference[name]["predict"], err_msg=name, **FORWARD)


def test_files_saved_here_load_on_tensorflow_with_the_same_predictions(tmp_path,
                                                                       tf_reference):
    # Built here with TensorFlow's weights, saved here, loaded there: TensorFlow predicts what
    # it predicted from those weights (that this backend predicts the same from them is
    # test_same_numbers_as_tensorflow's check).
    _, reference = tf_reference
    for name in cases.CASES:
        model = cases.CASES[name][0]()
        model.set_weights(reference[name]["weights"])
        model.save(tmp_path / f"{name}.keras")
    _tf_subprocess("predict", str(tmp_path))
    predictions = pickle.loads((tmp_path / "predictions.pkl").read_bytes())
    assert set(predictions) == set(cases.CASES)
    for name, y in predictions.items():
        np.testing.assert_allclose(y, reference[name]["predict"], err_msg=name, **FORWARD)


def test_fused_rnn_runs_the_ops_kernel_here():
    layer = rnncells.FusedRNN(rnncells.LayerNormGRUCell(3), return_sequences=True)
    layer(np.zeros((2, 4, 3), "float32"))
    assert layer.last_plan.route == "loop"
    scan = rnncells.FusedRNN(rnncells.MinGRUCell(3))
    scan(np.zeros((2, 4, 3), "float32"))
    assert scan.last_plan.route == "scan"
