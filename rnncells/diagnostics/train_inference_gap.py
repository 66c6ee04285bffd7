"""`train_inference_gap`: does a model compute something else in training mode?

A layer with running statistics (batch norm) normalizes with the batch's statistics in
training mode and with its moving statistics at inference. When the moving statistics do not
describe the data (too few updates, stale statistics of weights that have since changed, a
`training` flag wired wrong), a model that looks good while training is poor at inference,
and its validation loss swings. This diagnostic makes the gap visible: it runs the same batch
in both modes and reports, for every layer, how far its training-mode output is from its
inference-mode output when both get the same (inference-mode) input, so the layer that
disagrees is named even when later layers amplify the gap.

Nothing it measures changes the model: every non-trainable variable (moving statistics,
update counts) is put back after the training-mode calls.
"""

import dataclasses

import keras
import numpy as np

from rnncells import _validation as validation


@dataclasses.dataclass
class TrainInferenceGap:
    """Result of `train_inference_gap`.

    Attributes:
        output_gap: relative gap of the model's output, ||train - infer|| / ||infer||
            (root mean squares over the batch).
        layers: {layer name: relative gap of that layer alone (same input in both modes)},
            in the model's layer order.
        worst_layer: the name of the layer with the largest gap (None without layers).
        worst_gap: its gap.
        statistics_layer: the layer with the largest gap among those holding non-trainable
            variables (moving statistics: the layers this diagnostic is about; dropout is
            not one), None if none.
        statistics_gap: its gap (0 if none).
        threshold: the gap above which the model counts as disagreeing.
        passed: output_gap <= threshold and worst_gap <= threshold (and all finite).
    """

    output_gap: float
    layers: dict
    worst_layer: object
    worst_gap: float
    statistics_layer: object
    statistics_gap: float
    threshold: float
    passed: bool

    def __bool__(self):
        return self.passed

    def __str__(self):
        verdict = "agree" if self.passed else "DISAGREE"
        return (f"training and inference modes {verdict}: output gap {self.output_gap:.3g}, "
                f"largest layer gap {self.worst_gap:.3g} ({self.worst_layer}), threshold "
                f"{self.threshold:.3g}")


def _numpy(values):
    return [np.asarray(keras.ops.convert_to_numpy(v), "float64")
            for v in keras.tree.flatten(values)]


def relative_gap(train, infer):
    """||train - infer|| / ||infer|| over all tensors (inf when not finite; 0 when equal)."""
    a, b = _numpy(train), _numpy(infer)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = sum(float(np.square(x - y).sum()) for x, y in zip(a, b))
        scale = sum(float(np.square(y).sum()) for y in b)
    if not np.isfinite(diff) or not np.isfinite(scale):
        return float("inf")
    if diff == 0.0:
        return 0.0
    return float(np.sqrt(diff / max(scale, 1e-30)))


class _Frozen:
    """Context: every non-trainable variable of `model` is put back on exit."""

    def __init__(self, model):
        self.variables = list(model.non_trainable_variables)

    def __enter__(self):
        self.values = [np.array(keras.ops.convert_to_numpy(v)) for v in self.variables]

    def __exit__(self, *exc):
        for variable, value in zip(self.variables, self.values):
            variable.assign(value)
        return False


def _layer_inputs(model, layers, x):
    """The inference-mode input of each layer (None where the graph does not say it)."""
    try:
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        tracer = keras.Model(inputs, [layer.input for layer in layers])
    except (AttributeError, ValueError, TypeError):
        return [None] * len(layers)
    values = tracer(x, training=False)
    return values if len(layers) > 1 else [values]


def train_inference_gap(model, x, threshold=0.25):
    """Run `x` through `model` in training and in inference mode; report the gap per layer.

    Args:
        model: a built Keras model (Sequential or functional; for a subclassed model only
            the output gap is measured).
        x: a batch of inputs the model takes (training-size batches give the statistics
            training would see).
        threshold: relative gap above which the modes disagree (default 0.25, > 0).

    Returns:
        A `TrainInferenceGap` (truthy when the modes agree). Dropout layers (and cells with
        dropout) also differ between the modes by design; their entries show it.

    Examples:
        >>> gap = train_inference_gap(model, x_train[:64])
        >>> print(gap)               # names the layer that disagrees
        >>> gap.layers["rnn"]
    """
    threshold = validation.positive_float("threshold", threshold)
    layers = [layer for layer in getattr(model, "layers", [])
              if not isinstance(layer, keras.layers.InputLayer)]
    with _Frozen(model):
        output_gap = relative_gap(model(x, training=True), model(x, training=False))
        gaps = {}
        for layer, inputs in zip(layers, _layer_inputs(model, layers, x)):
            if inputs is None:
                continue
            gaps[layer.name] = relative_gap(layer(inputs, training=True),
                                            layer(inputs, training=False))
    worst = max(gaps, key=gaps.get) if gaps else None
    worst_gap = gaps[worst] if worst is not None else 0.0
    with_statistics = {layer.name: gaps[layer.name] for layer in layers
                       if layer.name in gaps and layer.non_trainable_weights}
    statistics_layer = (max(with_statistics, key=with_statistics.get) if with_statistics
                        else None)
    passed = bool(output_gap <= threshold and worst_gap <= threshold)
    return TrainInferenceGap(output_gap=output_gap, layers=gaps, worst_layer=worst,
                             worst_gap=worst_gap, statistics_layer=statistics_layer,
                             statistics_gap=with_statistics.get(statistics_layer, 0.0),
                             threshold=threshold, passed=passed)
