"""`unit_health`: dead ReLU units and saturated gates of a recurrent cell over a batch.

What is measured. The cell is stepped over the batch (inference mode) while its
`activation` and `recurrent_activation` attributes are temporarily replaced by recorders that
call the original function and keep its output. Keras's SimpleRNN/LSTM/GRU cells and every
rnncells dense cell apply their nonlinearities through these two attributes; a cell that
calls functions directly is measured only where it uses them (`sites` lists what was seen).

An *activation site* is the k-th call of these functions within one step (for an LSTM:
i, f, the candidate, o, then act(c)); its outputs over all steps and rows form an array
(T, batch, n), n = units (all remaining axes flattened, e.g. conv cells' H*W*C).

- Dead: at a ReLU site ("relu", "relu6") a unit is dead when its output is exactly 0 for every
  row and every step: it passes no gradient on this data. `dead_fraction` = dead units /
  ReLU units over all ReLU sites.
- Saturated: at a sigmoid site ("sigmoid", "hard_sigmoid") a value is saturated when it is
  below `threshold` or above 1 - `threshold`; at a tanh site ("tanh", "hard_tanh",
  "soft_sign") when |y| > 1 - `threshold`. With the default threshold 0.01, sigmoid'(z) < 0.0099
  (4% of its peak 0.25) and tanh'(z) < 0.0199 (2% of its peak 1) there.
  `saturated_fraction` = saturated values / all values at those sites;
  `saturated_unit_fraction` = units saturated at every row and step / all units at those sites.

Not measured is not healthy: a fraction whose sites the cell never called (no ReLU site: no
`dead_fraction`; no sigmoid/tanh site: no saturation) is None, never 0, and `measured` says
which were; `summary()` writes it out.
"""

import dataclasses

import keras
import numpy as np

from rnncells import _validation as validation
from rnncells.diagnostics.probe import find_recurrent_cell, recurrent_inputs, zero_states

RELU = ("relu", "relu6")
SIGMOID = ("sigmoid", "hard_sigmoid")
TANH = ("tanh", "hard_tanh", "soft_sign")


@dataclasses.dataclass
class UnitHealth:
    """Result of `unit_health` (see the module docstring for the definitions).

    Attributes:
        dead_fraction: fraction of ReLU units dead on the batch; None when the cell called no
            ReLU through its `activation`/`recurrent_activation` (not measured).
        saturated_fraction: fraction of sigmoid/tanh values in saturation (None: no such
            site was seen, not measured).
        saturated_unit_fraction: fraction of sigmoid/tanh units saturated everywhere (None
            likewise).
        relu_units: number of ReLU units measured; gate_units: sigmoid/tanh units measured.
        sites: one dict per activation site: attribute, function, units, dead/saturated
            fraction.
    """

    dead_fraction: float | None
    saturated_fraction: float | None
    saturated_unit_fraction: float | None
    relu_units: int
    gate_units: int
    sites: list

    @property
    def measured(self):
        """What was measured: {"dead": bool, "saturation": bool}."""
        return {"dead": self.relu_units > 0, "saturation": self.gate_units > 0}

    def summary(self):
        """One line per measure, "not measured" where the cell gave nothing to measure."""
        dead = ("not measured (no ReLU site seen)" if self.dead_fraction is None
                else f"{self.dead_fraction:.1%} of {self.relu_units} ReLU units")
        saturated = ("not measured (no sigmoid/tanh site seen)"
                     if self.saturated_fraction is None else
                     f"{self.saturated_fraction:.1%} of the values, "
                     f"{self.saturated_unit_fraction:.1%} of {self.gate_units} units")
        return f"dead: {dead}\nsaturated: {saturated}"


def _name(fn):
    return getattr(fn, "__name__", type(fn).__name__)


class _Recorder:
    def __init__(self, attribute, fn, calls):
        self.attribute, self.fn, self.calls = attribute, fn, calls
        self.__name__ = _name(fn)

    def __call__(self, x):
        y = self.fn(x)
        self.calls.append((self.attribute, self.__name__, y))
        return y


def unit_health(layer_or_model, inputs, threshold=0.01, initial_state=None):
    """Fraction of dead ReLU units and of saturated gates of a cell over a batch.

    Args:
        layer_or_model: a cell, an RNN layer, or a model containing one (see `gradient_flow`).
        inputs: array (batch, T, *step_shape), the input of `layer_or_model`.
        threshold: saturation margin in (0, 0.5) (default 0.01, see the module docstring).
        initial_state: optional list of initial states (default the cell's
            `get_initial_state`, or zeros of its `state_size` for a cell without one).

    Returns:
        A `UnitHealth`.

    Examples:
        >>> health = unit_health(model, x_val[:16])   # model with an RNN layer
        >>> health.dead_fraction, health.saturated_fraction, health.sites[0]["function"]
    """
    threshold = validation.positive_float("threshold", threshold)
    if threshold >= 0.5:
        raise ValueError("Invalid value for argument `threshold`: expected a number in "
                         f"(0, 0.5), received threshold={threshold!r}.")
    cell, rnn_layer = find_recurrent_cell(layer_or_model)
    x = keras.ops.convert_to_tensor(recurrent_inputs(layer_or_model, rnn_layer, inputs))
    batch, steps = x.shape[0], x.shape[1]
    if not cell.built:
        cell.build((batch, *x.shape[2:]))
    if initial_state is None:
        states = zero_states(cell, batch)
    else:
        states = list(initial_state)
    if not isinstance(states, (list, tuple)):
        states = [states]
    calls, per_step = [], []
    originals = {a: getattr(cell, a) for a in ("activation", "recurrent_activation")
                 if callable(getattr(cell, a, None))}
    try:
        for attribute, fn in originals.items():
            setattr(cell, attribute, _Recorder(attribute, fn, calls))
        for t in range(steps):
            calls.clear()
            _, states = cell(x[:, t], list(states), training=False)
            if not isinstance(states, (list, tuple)):
                states = [states]
            per_step.append([(a, n, np.asarray(keras.ops.convert_to_numpy(
                keras.ops.cast(y, "float32"))).reshape(batch, -1)) for a, n, y in calls])
    finally:
        for attribute, fn in originals.items():
            setattr(cell, attribute, fn)
    return _summarize(per_step, threshold)


def _summarize(per_step, threshold):
    sites, dead, relu_units, sat_values, values, sat_units, gate_units = [], 0, 0, 0, 0, 0, 0
    for k, (attribute, name, _) in enumerate(per_step[0] if per_step else []):
        y = np.stack([step[k][2] for step in per_step])  # (T, batch, n)
        site = {"site": k, "attribute": attribute, "function": name, "units": y.shape[-1]}
        if name in RELU:
            site_dead = int((y <= 0).all(axis=(0, 1)).sum())
            dead += site_dead
            relu_units += y.shape[-1]
            site["dead_fraction"] = site_dead / y.shape[-1]
        elif name in SIGMOID or name in TANH:
            if name in SIGMOID:
                saturated = (y < threshold) | (y > 1 - threshold)
            else:
                saturated = np.abs(y) > 1 - threshold
            sat_values += int(saturated.sum())
            values += saturated.size
            site_units = int(saturated.all(axis=(0, 1)).sum())
            sat_units += site_units
            gate_units += y.shape[-1]
            site["saturated_fraction"] = float(saturated.mean())
            site["saturated_unit_fraction"] = site_units / y.shape[-1]
        sites.append(site)
    return UnitHealth(
        dead_fraction=dead / relu_units if relu_units else None,
        saturated_fraction=sat_values / values if values else None,
        saturated_unit_fraction=sat_units / gate_units if gate_units else None,
        relu_units=relu_units,
        gate_units=gate_units,
        sites=sites,
    )
