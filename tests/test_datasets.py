"""The watch data loader: real data from the installed seglearn package, split by subject."""

import importlib.util

import numpy as np
import pytest

from rnncells.datasets import load_watch, watch, window_recordings


def test_windows_and_subject_split():
    data = load_watch(window=128, stride=64, test_subjects=(8, 9, 10))
    assert data.x_train.shape[1:] == (128, 6) and data.x_test.shape[1:] == (128, 6)
    assert data.x_train.dtype == np.float32
    assert len(data.class_names) == 7 and len(data.channel_names) == 6
    assert set(data.subjects_train).isdisjoint(data.subjects_test)
    assert sorted(data.subjects_train + data.subjects_test) == list(range(1, 11))
    assert set(np.unique(data.y_train)) == set(range(7))
    # standardized with the training statistics
    np.testing.assert_allclose(data.x_train.mean(axis=(0, 1)), 0.0, atol=1e-3)
    np.testing.assert_allclose(data.x_train.std(axis=(0, 1)), 1.0, atol=1e-3)


def test_window_recordings_counts_and_contents():
    recs = [np.arange(10 * 2).reshape(10, 2), np.arange(3 * 2).reshape(3, 2)]
    x, y, g = window_recordings(recs, [0, 1], [5, 6], window=4, stride=3)
    # starts 0, 3, 6 for the first recording (6 + 4 <= 10); none for the 3-step one
    assert x.shape == (3, 4, 2)
    np.testing.assert_array_equal(x[1], recs[0][3:7])
    np.testing.assert_array_equal(y, [0, 0, 0])
    np.testing.assert_array_equal(g, [5, 5, 5])


@pytest.mark.parametrize("kwargs, argument", [
    ({"window": 0}, "window"), ({"stride": 0}, "stride"),
])
def test_window_arguments_checked(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        window_recordings([np.zeros((5, 1))], [0], [1], **kwargs)


@pytest.mark.parametrize("subjects", [(), (11,), tuple(range(1, 11))])
def test_test_subjects_checked(subjects):
    with pytest.raises(ValueError, match="test_subjects"):
        load_watch(test_subjects=subjects)


def test_missing_seglearn_names_the_package(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(watch.importlib.util, "find_spec",
                        lambda name, *a: None if name == "seglearn" else real(name, *a))
    with pytest.raises(ImportError, match="pip install seglearn"):
        load_watch()


def test_memory_tasks_are_exported_and_check_their_arguments():
    from rnncells import datasets

    x, y = datasets.adding_problem(3, 2, seed=0)  # the shortest: one marker in each step
    np.testing.assert_array_equal(x[..., 1], 1.0)
    np.testing.assert_allclose(y[:, 0], x[..., 0].sum(axis=1), rtol=1e-6)
    with pytest.raises(ValueError, match="timesteps"):
        datasets.adding_problem(3, 1)
    with pytest.raises(ValueError, match="blank"):
        datasets.copy_memory(3, 0)
    assert datasets.sequential_digits is not None
