"""Fixed stress cases (stress.py) for every spec: the healthy cell meets each bound on every
case, and each bound's mutant (registry `mutants`) breaks that bound on at least one case.

Runs alongside the hypothesis examples of test_cell_properties.py, which are random and few
under the `ci` profile.
"""

import pytest

from tests.properties import stress
from tests.properties.registry import SPECS


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_healthy_cell_meets_every_bound_on_every_stress_case(spec):
    for case, results in stress.run(spec):
        for name, result in results.items():
            assert result, f"{spec.name} {case}: {name}: {result.message} ({spec.why})"


def test_every_bound_has_a_kind_and_a_mutant():
    for spec in SPECS:
        assert set(spec.kinds) == set(stress.BOUNDS), spec.name
        assert set(spec.kinds.values()) <= {"derived", "envelope"}, spec.name
        assert set(spec.mutants) == set(stress.BOUNDS), spec.name
        for kind in set(spec.kinds.values()):  # the reason says which kind it gives
            assert kind in spec.why, (spec.name, kind)


@pytest.mark.parametrize("bound", stress.BOUNDS)
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_each_bound_catches_its_mutant(spec, bound):
    mutate = spec.mutants[bound]
    runs = stress.run(spec, mutate=mutate, stop_on=bound)
    case, results = runs[-1]
    assert not results[bound], (
        f"{spec.name}: the {bound} bound does not catch the mutant "
        f"'{mutate.describe}' on any stress case")
