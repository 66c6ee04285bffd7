"""Keras's distribution API on JAX: `DataParallel` over two (forced) host devices trains
FusedRNN and keras.layers.RNN to the numbers of one device, batch-norm statistics over the
global batch included (the moving statistics after the fit are those of one device).
"""

import os
import pathlib
import subprocess
import sys

import keras
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.skipif(keras.backend.backend() != "jax",
                    reason="keras.distribution.DataParallel runs on the JAX backend")
def test_data_parallel_on_two_devices_equals_one_device():
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    result = subprocess.run([sys.executable, "-m", "tests.backends.data_parallel"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line.split() for line in result.stdout.strip().splitlines()]
    assert len(lines) == 4
    for name, weights, predictions, single, multi in lines:
        assert (int(single), int(multi)) == (1, 2), name  # it did spread over two devices
        # float32 sums split over two devices: rounding-level differences only
        assert float(weights) < 1e-4 and float(predictions) < 1e-4, name
