"""`.keras` files written by rnncells 0.1.0 still load and predict what 0.1.0 predicted.

The files in tests/data/legacy_0_1_0 were written by tests/data/make_legacy_files.py with the
0.1.0 code (every cell, in keras.layers.RNN and FusedRNN, Bidirectional, the conv layers);
each `.npz` beside a file holds the input and 0.1.0's prediction. A change to weights, configs
or state layouts that breaks old files fails here.
"""

import pathlib

import keras
import numpy as np
import pytest

import rnncells  # noqa: F401  (registers the rnncells classes for deserialization)

DATA = pathlib.Path(__file__).parent / "data" / "legacy_0_1_0"
FILES = sorted(DATA.glob("*.keras"))


def test_every_cell_has_a_legacy_file():
    names = {path.stem for path in FILES}
    assert len(names) >= 30
    for prefix in ("ln_lstm", "ln_gru", "ln_simple_rnn", "bn_lstm", "bn_gru", "peephole",
                   "nas", "esn", "indrnn", "min_gru", "min_lstm", "zoneout", "conv_lstm2d",
                   "conv_gru1d", "bidirectional"):
        assert any(name.startswith(prefix) for name in names), prefix


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
def test_legacy_file_loads_and_predicts_as_before(path, tmp_path):
    reference = np.load(path.with_suffix(".npz"))
    model = keras.saving.load_model(path)
    np.testing.assert_allclose(model.predict(reference["x"], verbose=0), reference["y"],
                               rtol=1e-5, atol=1e-5)
    # and it saves again in the current format, with the same predictions
    model.save(tmp_path / "again.keras")
    again = keras.saving.load_model(tmp_path / "again.keras")
    np.testing.assert_allclose(again.predict(reference["x"], verbose=0), reference["y"],
                               rtol=1e-5, atol=1e-5)
