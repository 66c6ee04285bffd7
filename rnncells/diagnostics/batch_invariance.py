"""`check_batch_invariance`: does a row's prediction depend on the other rows of its batch?

In inference mode every row of a batch must be predicted independently. A model that uses
batch statistics at inference (batch norm called with `training=True`) scores well on
full training-size batches and badly one sample at a time; this
check catches it by predicting the same rows whole, one by one and in shuffled batches.
"""

import dataclasses

import keras
import numpy as np

from rnncells import _validation as validation


@dataclasses.dataclass
class BatchInvariance:
    """Result of `check_batch_invariance`.

    Attributes:
        max_abs_diff: the largest |difference| between the whole-batch prediction and the
            row-by-row or shuffled-batch predictions, over all rows and outputs.
        row_by_row_diff: the largest |difference| whole vs one row at a time.
        shuffled_diff: the largest |difference| whole vs shuffled batches.
        tolerance: the allowed difference, atol + rtol * max |whole prediction|.
        passed: max_abs_diff <= tolerance (and every prediction finite).
    """

    max_abs_diff: float
    row_by_row_diff: float
    shuffled_diff: float
    tolerance: float
    passed: bool

    def __bool__(self):
        return self.passed


def _predict(model, x):
    out = model(x, training=False)
    return [np.asarray(keras.ops.convert_to_numpy(o), "float64")
            for o in keras.tree.flatten(out)]


def _max_diff(a, b):
    with np.errstate(invalid="ignore"):
        diffs = [np.abs(x - y) for x, y in zip(a, b)]
    if any(not np.isfinite(d).all() for d in diffs):
        return float("inf")
    return float(max(d.max() for d in diffs))


def check_batch_invariance(model, x, batch_size=None, shuffles=2, seed=0, atol=1e-5,
                           rtol=1e-4):
    """Predict `x` whole, row by row and in shuffled batches; report the largest difference.

    Predictions are `model(batch, training=False)` (inference mode). The whole-batch
    prediction is the reference; row i of every other prediction must equal its row i.

    Args:
        model: a Keras model or layer (anything called as `model(x, training=False)`).
        x: array (rows, ...) with at least 2 rows, or a list/tuple of arrays with the same
            number of rows (a model with several inputs).
        batch_size: size of the shuffled batches (default: half the rows, at least 2).
        shuffles: number of random permutations to predict in batches (default 2, >= 1).
        seed: seed of the permutations (default 0).
        atol, rtol: tolerance = atol + rtol * max |prediction| (defaults 1e-5, 1e-4: float32
            round-off of a different batch shape; use ~1e-2 under mixed_float16).

    Returns:
        A `BatchInvariance` (truthy when passed).

    Examples:
        >>> report = check_batch_invariance(model, x_val[:32])
        >>> assert report.passed, report
    """
    inputs = list(x) if isinstance(x, (list, tuple)) else [x]
    inputs = [np.asarray(keras.ops.convert_to_numpy(a)) for a in inputs]
    rows = inputs[0].shape[0]
    if rows < 2 or any(a.shape[0] != rows for a in inputs):
        raise ValueError(
            "Invalid value for argument `x`: expected at least 2 rows (and the same number "
            f"of rows in every input), received shapes {[a.shape for a in inputs]}.")
    shuffles = validation.positive_int("shuffles", shuffles)
    if batch_size is None:
        batch_size = max(2, rows // 2)
    batch_size = validation.positive_int("batch_size", batch_size)

    def feed(index):
        parts = [a[index] for a in inputs]
        return parts if isinstance(x, (list, tuple)) else parts[0]

    whole = _predict(model, feed(slice(None)))
    single = [_predict(model, feed(slice(i, i + 1))) for i in range(rows)]
    row_by_row = [np.concatenate([s[k] for s in single]) for k in range(len(whole))]
    row_diff = _max_diff(whole, row_by_row)

    rng = np.random.default_rng(seed)
    shuffled_diff = 0.0
    for _ in range(shuffles):
        order = rng.permutation(rows)
        chunks = [_predict(model, feed(order[i:i + batch_size]))
                  for i in range(0, rows, batch_size)]
        permuted = [np.concatenate([c[k] for c in chunks]) for k in range(len(whole))]
        restored = [np.empty_like(p) for p in permuted]
        for r, p in zip(restored, permuted):
            r[order] = p
        shuffled_diff = max(shuffled_diff, _max_diff(whole, restored))

    scale = max(float(np.abs(w).max()) for w in whole) if all(
        np.isfinite(w).all() for w in whole) else float("inf")
    tolerance = atol + rtol * scale
    worst = max(row_diff, shuffled_diff)
    return BatchInvariance(max_abs_diff=worst, row_by_row_diff=row_diff,
                           shuffled_diff=shuffled_diff, tolerance=tolerance,
                           passed=bool(np.isfinite(worst) and worst <= tolerance))
