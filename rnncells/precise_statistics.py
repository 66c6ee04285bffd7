"""`precise_statistics(model, x)`: re-estimate the moving statistics of every batch-norm cell
of a model from data, as the plain average of the batch statistics of the current weights.

Why. During training the moving statistics average the batch statistics of many different
weights (an exponential average with a warm-up). After a short fit, or after the last
updates moved the weights, they lag behind the weights the model ends with, and inference
(moving statistics) then differs from training mode (batch statistics). A pass over data
with the final weights and no weight update measures the statistics those weights produce
(the "precise BN" of Wu & Johnson 2021).

How. For every batch the cells run in training mode (so each step's batch statistics are
taken and recorded as in `fit`), starting from update counts of 0 and moving statistics of
0: one update then leaves `(1 - m0) * batch statistics` (m0: the warm-up momentum of a first
update), so the batch statistics of every step that had rows are read back exactly. Their
average over the batches, weighted by presence (a step with no unpadded row in a batch does
not count), becomes the moving statistics; a step no batch reached keeps its old values.
The update counts become the number of batches that reached each step, so a later `fit`
continues the warm-up from there. Weights are not changed; dropout inside the model is
active as in training.
"""

import keras
import numpy as np

from rnncells import _validation as validation


def _batch_norm_cells(layer):
    """The batch-norm cells of `layer` (a model, an RNN layer, a cell or a wrapper)."""
    from rnncells.cells.batch_norm import BatchNormRecurrentCell

    found, seen = [], set()

    def visit(obj):
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, BatchNormRecurrentCell):
            found.append(obj)
        for name in ("cell", "forward_layer", "backward_layer", "layer"):
            sub = getattr(obj, name, None)
            if isinstance(sub, keras.layers.Layer):
                visit(sub)
        for sub in getattr(obj, "cells", None) or []:
            visit(sub)
        for sub in getattr(obj, "layers", None) or []:
            visit(sub)

    visit(layer)
    return found


def _weight_from_zero(updates, momentum):
    """1 - prod_{i < n} m_i for n = `updates` (per step): the total weight of n successive
    moving-average updates from 0, with the cells' warm-up m_i = min(momentum, (1+i)/(10+i))."""
    n_max = int(updates.max()) if updates.size else 0
    i = np.arange(max(n_max, 1), dtype="float64")
    prod = np.concatenate([[1.0], np.cumprod(np.minimum(momentum, (1.0 + i) / (10.0 + i)))])
    return 1.0 - prod[updates.astype(int)]


def precise_statistics(model, x, batch_size=32, mask=None):
    """Set the moving statistics of every batch-norm cell in `model` to the average batch
    statistics of its current weights over `x` (see the module docstring).

    Run it after `fit` (or from a callback at the end of training) on training data; it
    brings inference in line with training mode when the moving averages lag behind the
    weights, e.g. after a short fit.

    Args:
        model: a built Keras model or layer holding batch-norm cells (`BatchNormLSTMCell`,
            `BatchNormGRUCell`; in `FusedRNN`, `keras.layers.RNN`, Bidirectional, ...).
        x: the inputs, an array (rows, ...) or a list of arrays (a model with several
            inputs), fed in batches of `batch_size` rows in order.
        batch_size: rows per batch (default 32): the batch size the statistics are taken
            over, normally the training batch size.
        mask: optional (rows, T) boolean mask, passed to `model` when given.

    Returns:
        The number of batches used.

    Raises:
        ValueError: `model` holds no batch-norm cell, or `x` has no rows.

    Examples:
        >>> model.fit(x, y, batch_size=32, epochs=1)
        >>> rnncells.precise_statistics(model, x, batch_size=32)
    """
    cells = _batch_norm_cells(model)
    if not cells:
        raise ValueError(
            "Invalid value for argument `model`: it holds no batch-norm cell "
            "(BatchNormLSTMCell, BatchNormGRUCell), so it has no moving statistics to "
            f"re-estimate; received {getattr(model, 'name', type(model).__name__)!r}.")
    batch_size = validation.positive_int("batch_size", batch_size)
    inputs = list(x) if isinstance(x, (list, tuple)) else [x]
    inputs = [np.asarray(keras.ops.convert_to_numpy(a)) for a in inputs]
    rows = inputs[0].shape[0]
    if rows == 0:
        raise ValueError("Invalid value for argument `x`: it has no rows.")
    variables = [[getattr(c, f"{p}_moving_{s}") for s in ("mean", "variance", "count")]
                 for c in cells for p in c._norm_prefixes]
    momenta = [c.momentum for c in cells for _ in c._norm_prefixes]
    original = [[np.asarray(keras.ops.convert_to_numpy(v)) for v in group]
                for group in variables]
    sums = [[np.zeros(v.shape, "float64") for v in group[:2]] for group in variables]
    counts = [np.zeros(group[2].shape, "float64") for group in variables]
    batches = 0
    try:
        for start in range(0, rows, batch_size):
            for group in variables:
                for variable in group:
                    variable.assign(keras.ops.zeros(variable.shape, "float32"))
            batch = [a[start:start + batch_size] for a in inputs]
            feed = batch if isinstance(x, (list, tuple)) else batch[0]
            if mask is None:
                model(feed, training=True)
            else:
                model(feed, training=True, mask=np.asarray(mask)[start:start + batch_size])
            batches += 1
            for k, group in enumerate(variables):
                updates = np.asarray(keras.ops.convert_to_numpy(group[2]), "float64")
                weight = _weight_from_zero(updates, momenta[k])
                present = updates > 0
                counts[k] += updates
                for j in range(2):
                    value = np.asarray(keras.ops.convert_to_numpy(group[j]), "float64")
                    # n updates from 0 leave a weighted average of their batches times the
                    # weight `weight`; dividing reads that average back (n = 1: the batch's).
                    sums[k][j] += np.where(present[:, None], updates[:, None] * value
                                           / np.maximum(weight, 1e-12)[:, None], 0.0)
    except BaseException:
        for group, values in zip(variables, original):
            for variable, value in zip(group, values):
                variable.assign(value)
        raise
    for k, (group, values) in enumerate(zip(variables, original)):
        reached = counts[k] > 0
        for j in range(2):
            average = sums[k][j] / np.maximum(counts[k], 1.0)[:, None]
            group[j].assign(np.where(reached[:, None], average, values[j]).astype("float32"))
        group[2].assign(np.where(reached, counts[k], values[2]).astype("float32"))
    return batches
