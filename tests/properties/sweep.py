"""Measure the envelopes in registry.py: how much of each bound the cells use.

    python -m tests.properties.sweep [--seeds N] [CellName ...]

For every spec (or the named ones), over weight seeds 0..N-1 (default 3), units
{min, min + 3}, T in {2, 7, 60, 300}, the spec's input scales within 1e-3..1e3 and float32 /
mixed_float16: the largest ||d o_T/d s_t||_F / sqrt(n) over t >= 1, the largest
||d o_T/d x_t||_F / (sqrt(n) ||W||_F) (the normalization of the envelope input bounds), and
the largest fraction of each of the spec's bounds (Jacobian, input, state) used; for every
memory spec the smallest ||d o_T/d s_0||_F. Not a test (takes minutes); the measured figures
quoted in registry.py come from it.
"""

import argparse
import math

import keras
import numpy as np

from tests.properties.checks import trace
from tests.properties.registry import MEMORY_SPECS, SPECS, fro, input_weight, state_norm

SCALES = (1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0, 1e3)
STEPS = (2, 7, 60, 300)


def _runs(spec, rng, seeds):
    for seed in range(seeds):
        for dtype in ("float32", "mixed_float16"):
            for units in (spec.min_units, spec.min_units + 3):
                keras.utils.set_random_seed(seed)
                keras.mixed_precision.set_global_policy(dtype)
                try:
                    cell = spec.make(units)
                finally:
                    keras.mixed_precision.set_global_policy("float32")
                for scale in SCALES:
                    if not spec.min_scale <= scale <= spec.max_scale:
                        continue
                    for steps in STEPS:
                        x = (scale * rng.standard_normal(
                            (3, steps, *spec.step_shape(3)))).astype("float32")
                        yield (seed, dtype, units, scale, steps), cell, x, trace(cell, x)


def _worst(current, value, where):
    return max(current, (value, where), key=lambda v: v[0])


def main(names, seeds):
    rng = np.random.default_rng(1)
    for spec in SPECS:
        if names and spec.name not in names:
            continue
        j, xn, fj, fx, fs = ((0.0, None),) * 5
        for where, cell, x, tr in _runs(spec, rng, seeds):
            n = state_norm(cell)
            if where[-1] > 1:
                state = float(tr.state_jacobian[:, 1:].max())
                j = _worst(j, state / n, where)
                fj = _worst(fj, state / spec.jacobian_bound(cell, x), where)
            inputs = float(tr.input_jacobian.max())
            xn = _worst(xn, inputs / (n * fro(input_weight(cell))), where)
            fx = _worst(fx, inputs / spec.input_bound(cell, x), where)
            fs = _worst(fs, float(np.abs(tr.outputs).max()) / spec.state_bound(cell, x), where)
        print(f"{spec.name}: J/sqrt(n) {j[0]:.3g} at {j[1]}; X/(sqrt(n)||W||) {xn[0]:.3g} at "
              f"{xn[1]}; fraction of bounds used: J {fj[0]:.3g}, X {fx[0]:.3g}, "
              f"state {fs[0]:.3g}", flush=True)
    for spec in MEMORY_SPECS:
        if names and spec.name not in names:
            continue
        least = (math.inf, None)
        for where, _, _, tr in _runs(spec, rng, seeds):
            least = min(least, (float(tr.state_jacobian[:, 0].min()), where),
                        key=lambda v: v[0])
        print(f"{spec.name}: min ||d o_T/d s_0|| {least[0]:.3g} at {least[1]}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("names", nargs="*")
    args = parser.parse_args()
    main(args.names, args.seeds)
