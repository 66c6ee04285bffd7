"""Deliberately broken cells for the property checks: each registry bound names one.

Two kinds:
- forward mutants: a weight changed at initialization (e.g. the recurrent layer-norm gain
  doubled), an input-only gate no longer convex; they change what the cell computes;
- gradient mutants: the forward pass is unchanged but a derivative is off by a factor `gain`
  (what a wrong hand-written backward, or a missing normalization on the backward path,
  produces): `v * gain - stop_gradient(v) * (gain - 1)` equals v and has derivative gain.
  `state_gradient(gain)` multiplies d(step)/d(state) by gain at every step, so over T steps
  the state Jacobian grows by gain^(T - 1) -- the smallest per-step growth a bound catches
  is the measure of its sensitivity; `input_gradient(gain)` multiplies d(step)/d(x_t)
  only, so only the input half of the no-explosion check can see it.
- `louder_output(factor)`: the output (not the carried state) multiplied by factor.

Each is a function `mutate(cell) -> cell` applied to the spec's built cell (same weights).
"""

import keras
import numpy as np
from keras import ops

_SUBCLASSES = {}


def _subclass(cls, kind, call):
    key = (cls, kind)
    if key not in _SUBCLASSES:
        _SUBCLASSES[key] = type(f"{kind}{cls.__name__}", (cls,), {"call": call})
    return _SUBCLASSES[key]


def _gain(v, gain):
    return v * gain - ops.stop_gradient(v) * (gain - 1.0)


def _mutate(cell, kind, wrap):
    base = type(cell)

    def call(self, inputs, states, training=None, **kwargs):
        return wrap(lambda i, s: super(mutant, self).call(i, s, training=training, **kwargs),
                    inputs, states)

    mutant = _subclass(base, kind, call)
    cell.__class__ = mutant
    return cell


def state_gradient(gain):
    def mutate(cell):
        return _mutate(cell, f"StateGradientX{gain}",
                       lambda run, x, states: run(x, [_gain(s, gain) for s in states]))
    mutate.describe = f"d(step)/d(state) x{gain} per step (forward unchanged)"
    return mutate


def input_gradient(gain):
    def mutate(cell):
        return _mutate(cell, f"InputGradientX{gain}",
                       lambda run, x, states: run(_gain(x, gain), states))
    mutate.describe = f"d(step)/d(x_t) x{gain} (forward unchanged)"
    return mutate


def louder_output(factor):
    def wrap(run, x, states):
        output, new_states = run(x, states)
        return output * factor, new_states

    def mutate(cell):
        return _mutate(cell, f"LouderX{factor}", wrap)
    mutate.describe = f"output x{factor} (carried state unchanged)"
    return mutate


def _assign(cell, parts, new_value):
    weights = [w for w in cell.weights if all(p in w.path for p in parts)]
    if not weights:
        raise ValueError(f"no weight of {type(cell).__name__} matches {parts}: "
                         f"{[w.path for w in cell.weights]}")
    for w in weights:
        w.assign(new_value(np.asarray(w.numpy())).astype(w.dtype))
    return cell


def scale_weights(factor, *parts):
    """Multiply every weight whose path contains all of `parts` (e.g. "recurrent_norm",
    "gamma") by factor."""
    def mutate(cell):
        return _assign(cell, parts, lambda w: w * factor)
    mutate.describe = f"{'/'.join(parts)} x{factor} at initialization"
    return mutate


def set_weights(value, *parts):
    """Set every weight whose path contains all of `parts` to the constant `value`."""
    def mutate(cell):
        return _assign(cell, parts, lambda w: np.full_like(w, value))
    mutate.describe = f"{'/'.join(parts)} = {value} at initialization"
    return mutate


def build(cell, step_shape):
    """Build `cell` for steps of `step_shape` (keras.layers.RNN on zeros)."""
    if not cell.built:
        keras.layers.RNN(cell)(np.zeros((1, 2, *step_shape), "float32"))
    return cell


def non_convex_scan(cell):
    """h_t = (1 + a_t) h_{t-1} + b_t: the minimal cells' coefficient pushed above 1, so h is
    no longer a convex combination (state and Jacobian grow like prod (1 + a))."""
    base = type(cell)

    def scan_coefficients(self, projected):
        a, b = super(mutant, self).scan_coefficients(projected)
        return 1.0 + a, b

    key = (base, "NonConvex")
    if key not in _SUBCLASSES:
        _SUBCLASSES[key] = type(f"NonConvex{base.__name__}", (base,),
                                {"scan_coefficients": scan_coefficients})
    mutant = _SUBCLASSES[key]
    cell.__class__ = mutant
    return cell


non_convex_scan.describe = "scan coefficient a -> 1 + a (not convex)"
