"""Hypothesis properties (a) finite, (b) no explosion, (c) memory, (d) bounded state.

Every cell of registry.SPECS / MEMORY_SPECS, over random T in 1..300, batch 1..3, units,
input scale 10^[-3, 3] (narrowed per spec where its promise needs it: min_scale, max_scale)
and float32 / mixed_float16. The bounds and their derivations are in registry.py, next to
each cell; the checkers are in checks.py and are shown to fail on the mutants of
test_mutants.py; test_known_limits.py pins where a shipped cell fails them.

Speed: a cell is built once per (spec, units, dtype) and reused across examples, so its probe
is traced once; the number of examples is the profile's max_examples / 5 (ci: 2) per cell,
plus two explicit extreme examples (T = 300 at the smallest and largest input scale).
"""

import keras
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.properties import checks
from tests.properties.registry import MEMORY_SPECS, SPECS, T_MAX

EXAMPLES = max(2, settings().max_examples // 5)
_CELLS = {}


def _cell(spec, units, dtype):
    key = (spec.name, units, dtype)
    if key not in _CELLS:
        keras.mixed_precision.set_global_policy(dtype)
        try:
            _CELLS[key] = spec.make(units)
        finally:
            keras.mixed_precision.set_global_policy("float32")
    return _CELLS[key]


def _case(spec, steps, batch, where, dtype, big, seed):
    units = spec.min_units + (3 if big else 0)
    low, high = np.log10(spec.min_scale), np.log10(spec.max_scale)
    scale = 10.0 ** (low + where * (high - low))  # where in [0, 1] across the spec's range
    rng = np.random.default_rng(seed)
    x = (scale * rng.standard_normal((batch, steps, *spec.step_shape(3)))).astype("float32")
    cell = _cell(spec, units, dtype)
    return cell, x, checks.trace(cell, x)


CASE = dict(
    steps=st.integers(1, T_MAX), batch=st.integers(1, 3),
    where=st.floats(0, 1), dtype=st.sampled_from(["float32", "mixed_float16"]),
    big=st.booleans(), seed=st.integers(0, 2 ** 16),
)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
@settings(max_examples=EXAMPLES)
@given(**CASE)
@example(steps=T_MAX, batch=2, where=1.0, dtype="mixed_float16", big=False, seed=0)
@example(steps=T_MAX, batch=2, where=0.0, dtype="float32", big=False, seed=1)
def test_finite_no_explosion_bounded_state(spec, steps, batch, where, dtype, big, seed):
    cell, x, tr = _case(spec, steps, batch, where, dtype, big, seed)
    finite = checks.check_finite(tr)
    assert finite, finite.message  # (a)
    explosion = checks.check_no_explosion(tr, spec.jacobian_bound(cell, x),
                                          spec.input_bound(cell, x))
    assert explosion, f"{explosion.message} ({spec.why})"  # (b)
    bounded = checks.check_bounded_state(tr, spec.state_bound(cell, x))
    assert bounded, f"{bounded.message} ({spec.why})"  # (d)


@pytest.mark.parametrize("spec", MEMORY_SPECS, ids=lambda s: s.name)
@settings(max_examples=EXAMPLES)
@given(**CASE)
@example(steps=T_MAX, batch=2, where=1.0, dtype="mixed_float16", big=False, seed=0)
@example(steps=T_MAX, batch=2, where=0.0, dtype="float32", big=False, seed=1)
def test_gradient_reaches_step_one(spec, steps, batch, where, dtype, big, seed):
    cell, x, tr = _case(spec, steps, batch, where, dtype, big, seed)
    assert checks.check_finite(tr)
    memory = checks.check_memory(tr, spec.memory_threshold(cell, x))
    assert memory, f"{spec.name}, T={steps}: {memory.message}"  # (c)
