"""Smoke tests of `python -m benchmarks.tasks` (a handful of steps with tiny models) and of
the memory-task generators it trains on. Nothing here measures learning."""

import json

import numpy as np
import pytest

from benchmarks import tasks
from rnncells.datasets.memory import adding_problem, copy_memory, sequential_digits

ROW_KEYS = {"task", "model", "timesteps", "steps", "seconds", "steps_per_s", "solved",
            "curve", "config"}


@pytest.mark.parametrize("task", tasks.TASKS)
def test_each_task_runs_a_few_steps_and_writes_rows(task, tmp_path):
    out = tmp_path / "tasks.json"
    printed = []
    rows, path = tasks.main(["--task", task, "--timesteps", "6", "--models", "IndRNN",
                             "keras.GRU", "--steps", "3", "--eval-every", "2", "--units", "4",
                             "--layers", "1", "--test-size", "20", "--batch", "8",
                             "--out", str(out)], print_fn=printed.append)
    assert path == out and out.with_suffix(".png").stat().st_size > 0
    saved = json.loads(out.read_text())
    assert saved["rows"] == json.loads(json.dumps(rows))
    assert {"cores", "tensorflow", "keras"} <= set(saved["machine"])
    metric = "test_mse" if task == "adding" else "accuracy"
    for row in saved["rows"]:
        assert ROW_KEYS | {metric} <= set(row)
        assert row["task"] == task and row["steps"] == 3 and row["seconds"] > 0
        assert row["timesteps"] == (64 if task in ("digits", "pdigits") else 6)
        # evaluated at step 2 and at the step budget (3): [step, seconds, metric]
        assert [c[0] for c in row["curve"]] == [2, 3]
        assert row["curve"][-1][2] == row[metric]
        if metric == "accuracy":
            assert 0.0 <= row[metric] <= 1.0
    # one printed line per evaluation (2 runs x 2), then the table
    assert sum("steps/s" in line and "[" in line for line in printed) == 4
    assert "IndRNN" in printed[-2] and "keras.GRU" in printed[-2]


def test_every_model_builds_for_every_task():
    for task in tasks.TASKS:
        for model in tasks.MODELS:
            cfg = tasks.Config(units=3, layers=2)
            net = tasks.build_model(task, model, cfg, 5, 2, seed=0)
            x = np.zeros((2, 5, 2), "float32")
            out = np.asarray(net(x))
            assert out.shape == {"adding": (2, 1), "copy": (2, 5, 10)}.get(task, (2, 10))


def test_runs_are_deterministic_under_the_seed():
    def once():
        with tasks.op_determinism():
            return tasks.run_one("adding", "IndRNN", 8, budget=60, steps=4, eval_every=4,
                                 seed=3, cfg=tasks.Config(units=4, batch=8), test_size=16,
                                 print_fn=lambda s: None)
    assert once()["test_mse"] == once()["test_mse"]


def test_adding_problem_targets_and_markers():
    x, y = adding_problem(64, 50, seed=1)
    assert x.shape == (64, 50, 2) and y.shape == (64, 1) and x.dtype == np.float32
    markers = x[..., 1]
    assert set(np.unique(markers)) == {0.0, 1.0}
    np.testing.assert_array_equal(markers.sum(axis=1), 2)  # exactly two markers
    first, second = [np.nonzero(row)[0] for row in markers][0]
    assert first < 25 <= second  # one in each half
    assert np.all(markers[:, :25].sum(axis=1) == 1)
    np.testing.assert_allclose(y[:, 0], (x[..., 0] * markers).sum(axis=1), rtol=1e-6)
    assert 0 <= x[..., 0].min() and x[..., 0].max() < 1
    # seeded: the same seed gives the same data, another seed other data
    np.testing.assert_array_equal(adding_problem(64, 50, seed=1)[0], x)
    assert not np.array_equal(adding_problem(64, 50, seed=2)[0], x)


def test_copy_memory_layout():
    x, y = copy_memory(16, blank=30, seed=0, length=10, symbols=8)
    assert x.shape == (16, 50, 1) and y.shape == (16, 50)
    ids = x[..., 0].astype(int)
    assert ids[:, :10].min() >= 1 and ids[:, :10].max() <= 8
    np.testing.assert_array_equal(ids[:, 10:39], 0)
    np.testing.assert_array_equal(ids[:, 39], 9)  # the delimiter, at the last blank
    np.testing.assert_array_equal(ids[:, 40:], 0)
    np.testing.assert_array_equal(y[:, :40], 0)
    np.testing.assert_array_equal(y[:, 40:], ids[:, :10])


def test_sequential_digits_shapes_and_fixed_permutation():
    plain = sequential_digits(seed=0)
    perm = sequential_digits(seed=0, permute=True)
    assert plain.x_train.shape[1:] == (64, 1) and plain.x_test.shape[1:] == (64, 1)
    assert len(plain.x_train) + len(plain.x_test) == 1797 and len(plain.x_test) == 359
    assert 0.0 <= plain.x_train.min() and plain.x_train.max() <= 1.0
    np.testing.assert_array_equal(plain.permutation, np.arange(64))
    assert sorted(perm.permutation) == list(range(64))
    assert not np.array_equal(perm.permutation, np.arange(64))
    # one fixed permutation for every image of both splits, the same split as the plain one
    np.testing.assert_array_equal(perm.x_train, plain.x_train[:, perm.permutation])
    np.testing.assert_array_equal(perm.x_test, plain.x_test[:, perm.permutation])
    np.testing.assert_array_equal(perm.y_test, plain.y_test)
    np.testing.assert_array_equal(sequential_digits(seed=0, permute=True).permutation,
                                  perm.permutation)


def test_plot_labels_tell_runs_of_one_model_apart():
    def row(model, decay_every, steps_per_s):
        return {"model": model, "steps_per_s": steps_per_s,
                "config": {"units": 32, "decay_every": decay_every}}

    alone = [row("IndRNN", 1000, 3.0), row("keras.LSTM", 1000, 1.4)]
    assert [tasks._label(r, alone) for r in alone] == ["IndRNN", "keras.LSTM"]
    runs = [row("IndRNN", 1000, 3.0), row("IndRNN", 2000, 5.0), row("IndRNN", 2000, 7.5)]
    assert [tasks._label(r, runs) for r in runs] == [
        "IndRNN (decay_every=1000)", "IndRNN (decay_every=2000, 5.0 steps/s)",
        "IndRNN (decay_every=2000, 7.5 steps/s)"]
