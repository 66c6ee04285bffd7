"""The property suite covers every cell rnncells exports."""

import rnncells
from rnncells.cells.base import RecurrentCell
from tests.properties.registry import MEMORY_SPECS, SPECS


def exported_cells():
    """Every cell class rnncells exports (not the public base class `RecurrentCell`)."""
    return {getattr(rnncells, name) for name in rnncells.__all__
            if isinstance(getattr(rnncells, name), type)
            and issubclass(getattr(rnncells, name), RecurrentCell)
            and getattr(rnncells, name) is not RecurrentCell}


def test_every_exported_cell_has_a_spec():
    covered = {spec.cls for spec in SPECS}
    missing = sorted(cls.__name__ for cls in exported_cells() - covered)
    assert not missing, f"add these cells to tests/properties/registry.py SPECS: {missing}"
    assert len(exported_cells()) >= 14  # the cells at the time of writing; the set only grows


def test_memory_specs_cover_the_cells_that_promise_memory():
    # LSTM/GRU families (chrono), IndRNN (bounds), the gated layer-norm cells; see registry.py.
    promised = {rnncells.LayerNormLSTMCell, rnncells.LayerNormGRUCell, rnncells.PeepholeLSTMCell,
                rnncells.ConvLSTMCell, rnncells.ConvGRUCell, rnncells.BatchNormLSTMCell,
                rnncells.BatchNormGRUCell, rnncells.IndRNNCell}
    assert promised <= {spec.cls for spec in MEMORY_SPECS}
