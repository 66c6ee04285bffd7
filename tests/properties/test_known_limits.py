"""Where the properties do NOT hold for a shipped cell: findings of this suite, kept as tests.

Layer-norm cells at their default initialization, with inputs far smaller than the norm's
epsilon (x ~ 1e-3): LN(x @ W) ~ 0, so the cell runs almost autonomously, while LN(h @ U)
rescales the recurrent drive to unit variance however small h is. For some weight draws
that autonomous map is chaotic and ||d o_T / d s_t|| grows exponentially with T - t; in
float16 the gradients overflow. The same weights are healthy at input scale 1. The property
suite therefore checks the layer-norm cells at input scales >= registry.LN_MIN_SCALE, and
these tests pin the counterexamples (if a change to the cells removes them, these tests fail
and the restriction can go).

NASCell with large inputs: its block l3 = relu(a3 * b3) multiplies the input term a3 = x @ W
into the recurrent term b3 = m @ R, so d m_T / d m_t scales with |x|: checked up to
registry.NAS_MAX_SCALE.
"""

import keras
import numpy as np
import pytest

import rnncells
from tests.properties import checks
from tests.properties.registry import LN_MIN_SCALE, NAS_MAX_SCALE, SPECS

SPEC = {s.name: s for s in SPECS}


def _x(batch, steps, scale):
    return (scale * np.random.default_rng(0).standard_normal((batch, steps, 3))).astype(
        "float32")


@pytest.mark.parametrize("name, make, seed, batch, steps", [
    ("LayerNormGRUCell", lambda: rnncells.LayerNormGRUCell(5), 2, 2, 150),
    ("LayerNormLSTMCell", lambda: rnncells.LayerNormLSTMCell(5), 0, 3, 145),
])
def test_layer_norm_cells_explode_on_tiny_inputs_but_not_on_unit_inputs(name, make, seed,
                                                                        batch, steps):
    keras.utils.set_random_seed(seed)
    cell = make()
    spec = SPEC[name]
    tiny = _x(batch, steps, 1e-3)
    exploded = checks.check_no_explosion(checks.trace(cell, tiny),
                                         spec.jacobian_bound(cell, tiny))
    assert not exploded and exploded.value > 100 * exploded.limit, exploded.message
    unit = _x(batch, steps, 1.0)
    assert checks.check_no_explosion(checks.trace(cell, unit), spec.jacobian_bound(cell, unit))
    assert LN_MIN_SCALE > 1e-3


def test_layer_norm_gru_gradients_overflow_in_float16_on_tiny_inputs():
    keras.utils.set_random_seed(2)
    keras.mixed_precision.set_global_policy("mixed_float16")
    cell = rnncells.LayerNormGRUCell(5)
    keras.mixed_precision.set_global_policy("float32")
    assert not checks.check_finite(checks.trace(cell, _x(2, 150, 1e-3)))
    assert checks.check_finite(checks.trace(cell, _x(2, 150, 1.0)))


def test_nas_cell_explodes_on_large_inputs_but_not_on_moderate_ones():
    keras.utils.set_random_seed(8)
    cell = rnncells.NASCell(5)
    spec = SPEC["NASCell"]
    large = _x(2, 300, 1e3)
    exploded = checks.check_no_explosion(checks.trace(cell, large),
                                         spec.jacobian_bound(cell, large))
    assert not exploded and exploded.value > 100 * exploded.limit, exploded.message
    moderate = _x(2, 300, NAS_MAX_SCALE)
    assert checks.check_no_explosion(checks.trace(cell, moderate),
                                     spec.jacobian_bound(cell, moderate))
