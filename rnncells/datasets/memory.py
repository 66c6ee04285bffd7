"""Synthetic and small real long-range memory tasks, generated with NumPy (nothing downloaded).

- `adding_problem(n, timesteps, seed)`: the adding problem (Hochreiter & Schmidhuber 1997;
  the IndRNN and uRNN papers' form). Input (n, T, 2): channel 0 uniform values in [0, 1),
  channel 1 zero except two markers (1.0), one in the first half and one in the second half.
  Target (n, 1): the sum of the two marked values. Predicting the mean (1.0) gives MSE 1/6.
- `copy_memory(n, blank, seed, length=10, symbols=8)`: the copy task (Arjovsky et al. 2016).
  Input (n, length + blank + length, 1) of symbol ids: `length` symbols in 1..symbols, then
  blanks (0) with a delimiter (symbols + 1) at the last blank, then `length` blanks during
  which the sequence must be repeated. Target (n, length + blank + length) of class ids:
  blanks (0) everywhere except the last `length` steps, which hold the symbols. Guessing
  blanks then a uniform symbol gives cross-entropy `length * log(symbols) / (total length)`.
- `sequential_digits(seed, permute=False)`: scikit-learn's 8x8 digits (1,797 images, shipped
  with scikit-learn) read one pixel per step (T = 64, one feature scaled to [0, 1]), with a
  seeded 80/20 train/test split; `permute=True` reorders the pixels with one fixed
  permutation drawn from `seed` (the same for every image and both splits).
"""

import dataclasses

import numpy as np


def adding_problem(n, timesteps, seed=0):
    """`n` adding-problem sequences of `timesteps` steps: (x (n, T, 2), y (n, 1)) float32.

    One marker is drawn uniformly in the first half ([0, T//2)), the other in the second half
    ([T//2, T)), so both are always present and distinct.
    """
    if timesteps < 2:
        raise ValueError(f"timesteps must be >= 2, got {timesteps}")
    rng = np.random.default_rng(seed)
    values = rng.random((n, timesteps), dtype=np.float32)
    half = timesteps // 2
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, timesteps, size=n)
    markers = np.zeros((n, timesteps), np.float32)
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=-1)
    y = (values[rows, first] + values[rows, second])[:, None].astype(np.float32)
    return x, y


def copy_memory(n, blank, seed=0, length=10, symbols=8):
    """`n` copy-memory sequences: (x (n, total, 1) float32 ids, y (n, total) int32 ids).

    total = length + blank + length. Ids: 0 blank, 1..symbols the symbols, symbols + 1 the
    delimiter ("start recalling", at step length + blank - 1).
    """
    if blank < 1:
        raise ValueError(f"blank must be >= 1, got {blank}")
    rng = np.random.default_rng(seed)
    total = length + blank + length
    seq = rng.integers(1, symbols + 1, size=(n, length))
    x = np.zeros((n, total), np.int32)
    x[:, :length] = seq
    x[:, length + blank - 1] = symbols + 1
    y = np.zeros((n, total), np.int32)
    y[:, -length:] = seq
    return x[..., None].astype(np.float32), y


def copy_memory_baseline(blank, length=10, symbols=8):
    """Cross-entropy (nats per step) of the memoryless answer: blanks, then uniform symbols."""
    return length * np.log(symbols) / (2 * length + blank)


@dataclasses.dataclass
class DigitsSequences:
    """sklearn digits as pixel sequences: x (n, 64, 1) float32 in [0, 1], y (n,) int."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    #: the pixel order (identity unless permuted).
    permutation: np.ndarray


def sequential_digits(seed=0, permute=False, test_fraction=0.2):
    """scikit-learn's 8x8 digits, one pixel per step (T=64), optionally permuted.

    The split and the permutation both come from `numpy.random.default_rng(seed)`.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)  # pixels are 0..16
    y = digits.target.astype(np.int32)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    permutation = rng.permutation(x.shape[1]) if permute else np.arange(x.shape[1])
    x = x[:, permutation]
    n_test = int(round(test_fraction * len(x)))
    test, train = order[:n_test], order[n_test:]
    return DigitsSequences(x[train, :, None], y[train], x[test, :, None], y[test],
                           permutation)
