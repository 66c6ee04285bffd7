"""The demo job and the command line, on the real data with a short run."""

import keras

import rnncells
from rnncells import demo
from rnncells.__main__ import main


def test_demo_trains_and_prints_table():
    printed = []
    models = [
        demo.DemoModel("tiny LN-GRU", lambda: keras.layers.RNN(rnncells.LayerNormGRUCell(4)),
                       check_batch_invariance=True),
    ]
    rows = demo.run(epochs=1, batch_size=256, models=models, print_fn=printed.append)
    assert len(rows) == 1
    row = rows[0]
    assert 0.0 <= row["test_acc"] <= 1.0 and row["train_s"] > 0
    # trainable parameters: LN-GRU(4) on 6 channels = kernel 6x12 + recurrent 4x12 + bias 2x12
    # + two norm gammas of 12; the Dense(7) head = 4x7 + 7
    assert row["params"] == (6 * 12 + 4 * 12 + 2 * 12 + 2 * 12) + (4 * 7 + 7)
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
