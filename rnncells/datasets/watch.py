"""The wrist-watch IMU exercise recordings shipped by the `seglearn` package.

140 recordings of shoulder-rehabilitation exercises, 6 channels (3-axis accelerometer and
3-axis gyroscope) at 50 Hz, 7 exercise classes, 10 subjects. The file is read from the
installed seglearn package with NumPy; seglearn itself is not imported (it would pull in
pandas), and nothing is downloaded.
"""

import dataclasses
import importlib.util
import os

import numpy as np

WATCH_FILE = os.path.join("data", "watch_dataset.npy")


@dataclasses.dataclass
class WatchDataset:
    """Windowed watch data split by subject.

    Attributes:
        x_train, x_test: float32 arrays (windows, window, 6), standardized with the
            training set's per-channel mean and standard deviation.
        y_train, y_test: int arrays of class indices (windows,).
        subjects_train, subjects_test: the subject ids in each split.
        class_names: the 7 exercise names, indexed by class.
        channel_names: the 6 channel names.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    subjects_train: tuple
    subjects_test: tuple
    class_names: tuple
    channel_names: tuple


def watch_file_path():
    """Path of seglearn's watch_dataset.npy, or an ImportError naming the package to install."""
    spec = importlib.util.find_spec("seglearn")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "The watch dataset is shipped by the `seglearn` package, which is not installed. "
            "Install it with `pip install seglearn` (or `pip install rnncells[demo]`)."
        )
    for folder in spec.submodule_search_locations:
        path = os.path.join(folder, WATCH_FILE)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(
        f"seglearn is installed but {WATCH_FILE} was not found in "
        f"{list(spec.submodule_search_locations)}; reinstall seglearn (>= 1.2)."
    )


def window_recordings(recordings, labels, groups, window=128, stride=64):
    """Cut each recording into windows of `window` steps every `stride` steps.

    Returns (windows (N, window, C) float32, labels (N,), groups (N,)). A recording shorter
    than `window` gives no window; the tail after the last full window is not used.
    """
    if int(window) < 1:
        raise ValueError(f"Invalid value for argument `window`: expected >= 1, received "
                         f"{window!r}.")
    if int(stride) < 1:
        raise ValueError(f"Invalid value for argument `stride`: expected >= 1, received "
                         f"{stride!r}.")
    xs, ys, gs = [], [], []
    for rec, label, group in zip(recordings, labels, groups):
        rec = np.asarray(rec, dtype=np.float32)
        for start in range(0, rec.shape[0] - window + 1, stride):
            xs.append(rec[start:start + window])
            ys.append(label)
            gs.append(group)
    if not xs:
        raise ValueError(f"No recording is at least window={window} steps long.")
    return np.stack(xs), np.asarray(ys), np.asarray(gs)


def load_watch(window=128, stride=64, test_subjects=(8, 9, 10)):
    """Load, window and split the watch data BY SUBJECT (no subject is in both splits).

    Args:
        window: steps per window (default 128, 2.56 s at 50 Hz).
        stride: steps between window starts (default 64, half overlap).
        test_subjects: subject ids held out for testing (default 8, 9, 10 of 1..10).

    Returns:
        A `WatchDataset`.
    """
    data = np.load(watch_file_path(), allow_pickle=True).item()
    subjects = np.asarray(data["subject"])
    known = sorted(int(s) for s in set(subjects.tolist()))
    test_subjects = tuple(int(s) for s in test_subjects)
    unknown = [s for s in test_subjects if s not in known]
    if unknown or not test_subjects or len(test_subjects) == len(known):
        raise ValueError(
            f"Invalid value for argument `test_subjects`: expected a non-empty proper subset "
            f"of the subject ids {known}, received {test_subjects!r}."
        )
    x, y, g = window_recordings(data["X"], data["y"], subjects, window, stride)
    test = np.isin(g, test_subjects)
    x_train, x_test = x[~test], x[test]
    mean = x_train.mean(axis=(0, 1), keepdims=True)
    std = x_train.std(axis=(0, 1), keepdims=True) + 1e-6
    return WatchDataset(
        x_train=((x_train - mean) / std).astype(np.float32),
        y_train=y[~test].astype(np.int64),
        x_test=((x_test - mean) / std).astype(np.float32),
        y_test=y[test].astype(np.int64),
        subjects_train=tuple(s for s in known if s not in test_subjects),
        subjects_test=test_subjects,
        class_names=tuple(data["y_labels"]),
        channel_names=tuple(data["X_labels"]),
    )
