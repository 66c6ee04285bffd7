"""Measure what the envelope bounds and memory thresholds in registry.py are compared with.

    python -m tests.properties.sweep [CellName ...]

For every spec (or the named ones): the largest ||d o_T/d s_t||_F / sqrt(n) over t >= 1 and
the largest ||d o_T/d x_t||_F, over units {min, min + 3}, T in {2, 7, 60, 300}, input scales
1e-3..1e3 and float32 / mixed_float16; for every memory spec the smallest ||d o_T/d s_0||_F.
Not a test (takes minutes); the numbers quoted in registry.py come from it.
"""

import sys

import keras
import numpy as np

from tests.properties.checks import trace
from tests.properties.registry import MEMORY_SPECS, SPECS

SCALES = (1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0, 1e3)
STEPS = (2, 7, 60, 300)


def _runs(spec, rng):
    for dtype in ("float32", "mixed_float16"):
        for units in (spec.min_units, spec.min_units + 3):
            keras.mixed_precision.set_global_policy(dtype)
            try:
                cell = spec.make(units)
            finally:
                keras.mixed_precision.set_global_policy("float32")
            for scale in SCALES:
                if not spec.min_scale <= scale <= spec.max_scale:
                    continue
                for steps in STEPS:
                    x = (scale * rng.standard_normal((3, steps, *spec.step_shape(3)))).astype(
                        "float32")
                    yield (dtype, units, scale, steps), trace(cell, x)


def main(names):
    rng = np.random.default_rng(1)
    for spec in SPECS:
        if names and spec.name not in names:
            continue
        worst_j, worst_x = (0.0, None), (0.0, None)
        for where, tr in _runs(spec, rng):
            n = tr.outputs.shape[-1]
            j = float(tr.state_jacobian[:, 1:].max()) / np.sqrt(n) if where[-1] > 1 else 0.0
            worst_j = max(worst_j, (j, where), key=lambda v: v[0])
            worst_x = max(worst_x, (float(tr.input_jacobian.max()), where), key=lambda v: v[0])
        print(f"{spec.name}: max J/sqrt(n) {worst_j[0]:.3g} at {worst_j[1]}; "
              f"max ||d o_T/d x_t|| {worst_x[0]:.3g} at {worst_x[1]}")
    for spec in MEMORY_SPECS:
        if names and spec.name not in names:
            continue
        least = (np.inf, None)
        for where, tr in _runs(spec, rng):
            least = min(least, (float(tr.state_jacobian[:, 0].min()), where),
                        key=lambda v: v[0])
        print(f"{spec.name}: min ||d o_T/d s_0|| {least[0]:.3g} at {least[1]}")


if __name__ == "__main__":
    main(sys.argv[1:])
