"""Fixed stress cases: every spec's cell at set widths, input scales and lengths.

The hypothesis examples are random and few under the `ci` profile (two per cell); these
cases are the same for every run, so a mild blow-up at a width or scale the random draw
misses (e.g. the recurrent layer-norm gain of LayerNormLSTMCell doubled, which exceeds its
envelope only at the wider width) is caught in CI. Each spec's bounds are checked on each
case; test_stress_cases.py also runs each bound's mutant (registry `mutants`) on them.
"""

import dataclasses

import keras
import numpy as np

from tests.properties import checks
from tests.properties import mutants as mutant_lib

BOUNDS = ("jacobian", "input", "state")


@dataclasses.dataclass(frozen=True)
class Case:
    units: int
    scale: float
    steps: int

    def __str__(self):
        return f"units={self.units} scale={self.scale:g} T={self.steps}"


def cases(spec):
    """Widths {min, min + 3}, scales {low, 1, high} clipped to the spec's range, T 100
    (and T 8 at the smallest width, unit scale)."""
    low, high = max(spec.min_scale, 0.1), min(spec.max_scale, 10.0)
    grid = [Case(spec.min_units, 1.0, 8)]
    for units in (spec.min_units, spec.min_units + 3):
        grid += [Case(units, scale, 100) for scale in sorted({low, 1.0, high})]
    return grid


def inputs(spec, case, seed=0):
    shape = (2, case.steps, *spec.step_shape(3))
    return (case.scale * np.random.default_rng(seed).standard_normal(shape)).astype("float32")


def evaluate(spec, cell, case):
    """{"finite", "jacobian", "input", "state": Check} of one case."""
    x = inputs(spec, case)
    tr = checks.trace(cell, x)
    return {
        "finite": checks.check_finite(tr),
        "jacobian": checks.check_no_explosion(tr, spec.jacobian_bound(cell, x)),
        "input": checks.check_no_explosion(tr, float("inf"), spec.input_bound(cell, x)),
        "state": checks.check_bounded_state(tr, spec.state_bound(cell, x)),
    }


def run(spec, mutate=None, stop_on=None):
    """Evaluate every case on the spec's cell (broken by `mutate` if given), one cell per
    width, built at seed 0. Returns [(case, results)]; stops at the first case where the
    check `stop_on` fails."""
    out, built = [], {}
    for case in cases(spec):
        if case.units not in built:
            keras.utils.set_random_seed(0)
            cell = mutant_lib.build(spec.make(case.units), spec.step_shape(3))
            built[case.units] = cell if mutate is None else mutate(cell)
        results = evaluate(spec, built[case.units], case)
        out.append((case, results))
        if stop_on is not None and not results[stop_on]:
            break
    return out
