"""The demo job and the command line, on the real data with a short run."""

import keras
import numpy as np

import rnncells
from rnncells import demo
from rnncells.__main__ import main
from rnncells.datasets import load_watch


def test_demo_trains_and_prints_table():
    printed = []
    models = [
        demo.DemoModel("tiny LN-GRU", lambda: keras.layers.RNN(rnncells.LayerNormGRUCell(8)),
                       check_batch_invariance=True),
    ]
    rows = demo.run(epochs=1, batch_size=32, models=models, print_fn=printed.append)
    assert len(rows) == 1
    row = rows[0]
    # It learns: one epoch (77 updates) beats always answering the most frequent test class
    # (17.4% of the 7 classes) by half of that again (measured: 0.39; 0.15 at 10 updates).
    majority = np.bincount(load_watch().y_test).max() / len(load_watch().y_test)
    assert row["test_acc"] > 1.5 * majority and row["train_s"] > 0
    # trainable parameters: LN-GRU(8) on 6 channels = kernel 6x24 + recurrent 8x24 + bias 2x24
    # + two norm gammas of 24; the Dense(7) head = 8x7 + 7
    assert row["params"] == (6 * 24 + 8 * 24 + 2 * 24 + 2 * 24) + (8 * 7 + 7)
    # a layer-norm cell has no batch statistics, so feeding one at a time changes nothing
    assert row["test_acc_1_at_a_time"] == row["test_acc"]
    table = printed[-1]
    assert "tiny LN-GRU" in table and "test acc" in table
    assert "subjects" in printed[0]


def test_default_models_cover_reference_and_rnncells_cells():
    names = [m.name for m in demo.default_models()]
    assert names[0] == "keras.layers.LSTM"
    assert "RNN(LayerNormLSTMCell)" in names


def test_cli_rejects_unknown_command(capsys):
    try:
        main(["no-such-command"])
    except SystemExit as exc:
        assert exc.code == 2
    else:  # pragma: no cover
        raise AssertionError("argparse should exit")
    assert "invalid choice" in capsys.readouterr().err
