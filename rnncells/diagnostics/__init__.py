"""Diagnostics users run on their own models: gradient flow, batch invariance, unit health.

- `gradient_flow(layer_or_model, inputs)`: per-step ||dL/dx_t||, ||dL/dh_t||, verdict, decay.
- `check_batch_invariance(model, x)`: whole vs row-by-row vs shuffled predictions.
- `unit_health(layer_or_model, inputs)`: dead ReLU units, saturated gates.
- `train_inference_gap(model, x)`: training- vs inference-mode outputs, per layer.
- `GradientHealth`: a Keras callback logging these during `fit`, warning and stopping.
- `python -m rnncells diagnose --cell LSTM --cell LayerNormLSTMCell`: compare cells.
"""

from rnncells.diagnostics.batch_invariance import BatchInvariance, check_batch_invariance
from rnncells.diagnostics.callback import GradientHealth, GradientHealthWarning
from rnncells.diagnostics.gradient_flow import GradientFlow, gradient_flow
from rnncells.diagnostics.probe import SequenceProbe
from rnncells.diagnostics.train_inference_gap import TrainInferenceGap, train_inference_gap
from rnncells.diagnostics.unit_health import UnitHealth, unit_health

__all__ = [
    "BatchInvariance",
    "GradientFlow",
    "GradientHealth",
    "GradientHealthWarning",
    "SequenceProbe",
    "TrainInferenceGap",
    "UnitHealth",
    "check_batch_invariance",
    "gradient_flow",
    "train_inference_gap",
    "unit_health",
]
