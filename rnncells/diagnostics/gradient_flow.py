"""`gradient_flow`: how much gradient reaches each time step, and a verdict."""

import dataclasses

import keras
import numpy as np

from rnncells import _validation as validation
from rnncells.diagnostics.probe import SequenceProbe, find_recurrent_cell, recurrent_inputs

VERDICTS = ("healthy", "vanishing", "exploding", "nan")


@dataclasses.dataclass
class GradientFlow:
    """Per-step gradient norms of one sequence and what they mean.

    Attributes:
        input_grad_norms: (T,) ||dL/dx_t|| over the batch and features, t = 0..T-1
            (x_0 is the first input).
        state_grad_norms: (T,) ||dL/dh_t|| over the batch and all states (h and c for an
            LSTM), where h_t is the state entering step t (h_0 the initial state, h_{T-1} the
            state the last step reads).
        ratio: ||dL/dh_0|| / ||dL/dh_{T-1}||: the fraction of gradient that travels T-1 steps
            back (0 when nothing arrives, inf/nan when it overflows).
        decay_rate: least-squares slope of -ln ||dL/dh_t|| against the distance T-1-t, per
            step: > 0 shrinks by exp(-decay_rate) per step back (vanishing), < 0 grows.
        verdict: "nan" if any gradient or output is not finite, else "exploding" if
            ratio > exploding_ratio, "vanishing" if ratio < vanishing_ratio, else "healthy".
        loss: description of the loss the gradients are taken of.
    """

    input_grad_norms: np.ndarray
    state_grad_norms: np.ndarray
    ratio: float
    decay_rate: float
    verdict: str
    loss: str

    @property
    def timesteps(self):
        return len(self.state_grad_norms)


def decay_rate(norms):
    """Slope of -ln(norm) against the distance from the last step (least squares, per step).

    Only finite, non-zero norms enter the fit; with fewer than two the rate is 0 when no
    gradient is missing and inf when gradient vanished to exactly zero.
    """
    norms = np.asarray(norms, "float64")
    distance = np.arange(len(norms))[::-1].astype("float64")
    keep = np.isfinite(norms) & (norms > 0)
    if keep.sum() < 2:
        return 0.0 if keep.all() else float("inf")
    slope = np.polyfit(distance[keep], np.log(norms[keep]), 1)[0]
    return float(-slope)


def verdict_of(ratio, finite, vanishing_ratio, exploding_ratio):
    """The verdict of a `GradientFlow` (see its docstring)."""
    if not finite or np.isnan(ratio):
        return "nan"
    if ratio > exploding_ratio:
        return "exploding"
    if ratio < vanishing_ratio:
        return "vanishing"
    return "healthy"


def gradient_flow(layer_or_model, inputs, loss="last", initial_state=None,
                  vanishing_ratio=1e-4, exploding_ratio=1e4, probe=None):
    """Per-time-step gradient norms ||dL/dx_t||, ||dL/dh_t||, a verdict and the decay rate.

    The recurrent cell is taken from `layer_or_model` (a cell, an RNN layer such as
    `keras.layers.RNN(cell)` / `keras.layers.LSTM`, or a model: its first RNN layer) and run
    over `inputs` in inference mode (no dropout; batch norm with moving statistics). dL/dh_t is
    exact, from one backward pass: the cell is stepped inside `keras.layers.RNN` by a wrapper
    that adds a zero perturbation to the state entering every step (see
    `rnncells.diagnostics.probe`). This works for any Keras cell with the standard
    `call(inputs, states)`. Only the cell is used: it runs forward over `inputs` from the zero
    (or given) initial state, without the RNN layer's `go_backwards`, mask or stored state.

    The loss defaults to the sum of the last step's output over batch and units, so
    ||dL/dh_t|| measures how much the final output depends on the state t steps earlier: the
    quantity that decides whether a sequence-to-one model can learn long dependencies.

    Args:
        layer_or_model: a cell, an RNN layer, or a model containing one (the layers before
            the RNN layer are run on `inputs` to obtain its inputs).
        inputs: array (batch, T, *step_shape), the input of `layer_or_model`.
        loss: "last" (default), "sum" (every output), or a callable
            `loss(outputs) -> scalar` of the layer's outputs (batch, T, *output_shape).
        initial_state: optional list of initial states (default zeros).
        vanishing_ratio: verdict "vanishing" when ||dL/dh_0||/||dL/dh_{T-1}|| is below this
            (default 1e-4).
        exploding_ratio: verdict "exploding" above this (default 1e4).
        probe: a `SequenceProbe` to reuse (its compiled function is traced once), optional.

    Returns:
        A `GradientFlow`.

    Examples:
        >>> flow = gradient_flow(keras.layers.LSTM(16), np.random.randn(4, 200, 3))
        >>> flow.verdict, flow.state_grad_norms.shape
        ('vanishing', (200,))
    """
    vanishing_ratio = validation.positive_float("vanishing_ratio", vanishing_ratio)
    exploding_ratio = validation.positive_float("exploding_ratio", exploding_ratio)
    if not exploding_ratio > vanishing_ratio:
        raise ValueError(
            "Invalid value for argument `exploding_ratio`: expected a number larger than "
            f"vanishing_ratio={vanishing_ratio!r}, received exploding_ratio={exploding_ratio!r}.")
    cell, rnn_layer = find_recurrent_cell(layer_or_model)
    inputs = recurrent_inputs(layer_or_model, rnn_layer, inputs)
    inputs = np.asarray(keras.ops.convert_to_numpy(inputs), "float32")
    if inputs.ndim < 3 or inputs.shape[1] < 1:
        raise ValueError(
            "Invalid value for argument `inputs`: expected an array (batch, T, *step_shape) "
            f"with T >= 1, received shape {inputs.shape}.")
    if probe is None:
        probe = SequenceProbe(cell, inputs.shape[2:])
    result = probe.run(inputs, loss=loss, initial_state=initial_state)
    state = result["state_grad"]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = float(state[0] / state[-1]) if state[-1] != 0 else float(
            0.0 if state[0] == 0 else np.inf)
    return GradientFlow(
        input_grad_norms=result["input_grad"],
        state_grad_norms=state,
        ratio=ratio,
        decay_rate=decay_rate(state),
        verdict=verdict_of(ratio, result["finite"], vanishing_ratio, exploding_ratio),
        loss=loss if isinstance(loss, str) else getattr(loss, "__name__", repr(loss)),
    )
