"""Loaders for data shipped by installed packages (nothing is downloaded)."""

from rnncells.datasets.memory import adding_problem, copy_memory, sequential_digits
from rnncells.datasets.watch import WatchDataset, load_watch, window_recordings

__all__ = ["WatchDataset", "load_watch", "window_recordings", "adding_problem", "copy_memory",
           "sequential_digits"]
