"""examples/conv_cell.py: the user's conv recurrent cell, dead ReLU units vs leaky ReLU / tanh.

The example trains with plain SGD at a high learning rate (3.0) for 200 steps. A unit is dead
when it gets exactly zero gradient on the whole training set (for ReLU: pre-activation <= 0
on every input, so it can never recover).
"""

import importlib.util
import pathlib

import keras
import numpy as np
import pytest

import rnncells

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "conv_cell.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("conv_cell_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def relu_run(example):
    return example.train("relu")


@pytest.fixture(scope="module")
def leaky_run(example):
    return example.train(rnncells.activations.LeakyReLU(0.1))


def test_relu_at_a_high_learning_rate_kills_units(relu_run):
    assert relu_run["steps"] >= 200
    # Some units are dead from the start (non-negative images, zero bias, a filter with no
    # positive weight), and training at a high learning rate kills more of them.
    assert relu_run["dead_after"] > relu_run["dead_before"]
    assert relu_run["dead_after"] >= 0.2
    # A ReLU unit is dead exactly when it is silent (pre-activation <= 0 everywhere).
    assert relu_run["dead_after"] == relu_run["silent_after"]
    assert relu_run["final_loss"] < relu_run["initial_loss"]  # it trains, crippled


def test_leaky_relu_learns_and_no_unit_is_dead(leaky_run, relu_run):
    assert leaky_run["activation"]["config"]["negative_slope"] == 0.1
    assert leaky_run["dead_before"] == 0.0 and leaky_run["dead_after"] == 0.0
    # At learning rate 3.0 leaky ReLU is near the edge of stability: one epoch can spike
    # (measured: epoch 25 at 4.6 with one TensorFlow thread, 1.20 with the default pool; the
    # 24 epochs before agree to 0.01), so "it learns" is the median of the last five epochs
    # below the initial loss, not the loss after the last one.
    assert np.median(leaky_run["losses"][-5:]) < leaky_run["initial_loss"]
    assert np.all(np.isfinite(leaky_run["losses"]))


def test_tanh_learns_at_a_moderate_learning_rate(example):
    result = example.train("tanh", epochs=5, learning_rate=0.5)
    assert result["final_loss"] < result["initial_loss"]
    assert result["dead_after"] == 0.0


def test_the_example_cell_follows_the_cell_protocol(example):
    rng = np.random.default_rng(0)
    x, _ = example.make_data(samples=3, steps=4, seed=1)
    cell = example.UserConvCell(classes=4, activation=rnncells.activations.LeakyReLU(0.1))
    layer = rnncells.ConvRNN(cell, return_sequences=True)
    symbolic = layer(keras.Input(x.shape[1:]))
    out = np.asarray(layer(x))
    assert symbolic.shape == (None, 4, 1, 1, 4) and out.shape == (3, 4, 1, 1, 4)
    np.testing.assert_allclose(out.sum(-1), 1.0, atol=1e-5)  # softmax states
    for v in cell.weights:
        v.assign(rng.normal(size=v.shape).astype("float32") * 0.3)
    whole = np.asarray(cell.project(x))
    steps = np.stack([cell.project(x[:, t]) for t in range(x.shape[1])], axis=1)
    np.testing.assert_allclose(whole, steps, atol=1e-5)
    clone = example.UserConvCell.from_config(cell.get_config())
    assert clone.get_config() == cell.get_config()
