"""The demo job and the command line, on the real data with a short run."""

import dataclasses

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
    adding_models = [demo.DemoModel(
        "tiny IndRNN", lambda: rnncells.FusedRNN(rnncells.IndRNNCell(4, max_steps=10),
                                                 jit=False))]
    rows, adding_rows = demo.run(epochs=1, batch_size=32, models=models, seeds=(0,),
                                 adding_steps=3, adding_timesteps=10,
                                 adding_models=adding_models, print_fn=printed.append)
    assert len(rows) == 1 and len(adding_rows) == 1
    row = rows[0]
    assert row["test_accs"] == [row["test_acc"]] and row["test_acc_std"] == 0.0
    # It learns: one epoch (77 updates) beats always answering the most frequent test class
    # (17.4% of the 7 classes) by half of that again (measured: 0.39; 0.15 at 10 updates).
    majority = np.bincount(load_watch().y_test).max() / len(load_watch().y_test)
    assert row["test_acc"] > 1.5 * majority and row["train_s"] > 0
    # trainable parameters: LN-GRU(8) on 6 channels = kernel 6x24 + recurrent 8x24 + bias 2x24
    # + two norm gammas of 24; the Dense(7) head = 8x7 + 7
    assert row["params"] == (6 * 24 + 8 * 24 + 2 * 24 + 2 * 24) + (8 * 7 + 7)
    # a layer-norm cell has no batch statistics, so feeding one at a time changes nothing
    assert row["same_class_1_at_a_time"] == 1.0
    assert adding_rows[0]["steps"] == 3 and adding_rows[0]["params"] == (2 * 4 + 4 + 4) + 5
    table = printed[-1]
    assert "tiny LN-GRU" in table and "test acc (mean ± std)" in table
    assert "same 1 at a time" in table
    assert "adding T=10" in table and "tiny IndRNN" in table
    assert "subjects" in printed[0]
    # one line per trained model and seed, no progress bars
    assert any(line.startswith("  watch  tiny LN-GRU") for line in printed)
    assert not any("\r" in line or "━" in line for line in printed)


def small_watch(n_train=256, n_test=128):
    data = load_watch()
    return dataclasses.replace(data, x_train=data.x_train[:n_train],
                               y_train=data.y_train[:n_train], x_test=data.x_test[:n_test],
                               y_test=data.y_test[:n_test])


def test_every_model_is_deterministic_under_its_seed():
    models = [demo.DemoModel("tiny LSTM", lambda: keras.layers.LSTM(4))]
    data = small_watch()
    twice = [demo.run_watch(epochs=1, batch_size=64, seeds=(0,), models=models, data=data,
                            print_fn=lambda s: None)[0]["test_acc"] for _ in range(2)]
    assert twice[0] == twice[1]
    adding_models = [demo.DemoModel(
        "tiny IndRNN x2", lambda: [
            rnncells.FusedRNN(rnncells.IndRNNCell(3, max_steps=8), return_sequences=True,
                              jit=False),
            rnncells.FusedRNN(rnncells.IndRNNCell(3, max_steps=8), jit=False)])]
    mses = [demo.run_adding(timesteps=8, steps=4, seed=0, models=adding_models, test_size=16,
                            print_fn=lambda s: None)[0]["test_mse"] for _ in range(2)]
    assert mses[0] == mses[1]


def test_default_models_cover_reference_and_rnncells_cells():
    names = [m.name for m in demo.default_models()]
    assert names[0] == "keras.layers.LSTM"
    assert "FusedRNN(LayerNormLSTMCell)" in names and "FusedRNN(BatchNormLSTMCell)" in names
    adding = [m.name for m in demo.default_adding_models()]
    assert adding[0] == "keras.layers.LSTM" and "FusedRNN(IndRNNCell) x2" in adding


def test_cli_rejects_unknown_command(capsys):
    try:
        main(["no-such-command"])
    except SystemExit as exc:
        assert exc.code == 2
    else:  # pragma: no cover
        raise AssertionError("argparse should exit")
    assert "invalid choice" in capsys.readouterr().err
