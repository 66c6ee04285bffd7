"""Property checks for recurrent cells, yours included: `check_cell` and the Hypothesis
strategies it draws from (`rnncells.testing.strategies`).

    from rnncells.testing import check_cell

    def test_my_cell():
        report = check_cell(lambda: MyCell(8), expect_memory=True)
        print(report)

`check_cell` runs the checks rnncells' own cells pass (finite values, no exploding Jacobian,
bounded states, memory, batch independence, FusedRNN equal to keras.layers.RNN, masking,
config and `.keras` round trips) and raises an `AssertionError` naming the property and the
smallest failing input. Needs `hypothesis` (`pip install "rnncells[testing]"`).
"""

from rnncells.testing import strategies
from rnncells.testing._check import PROPERTIES, CellReport, PropertyResult, check_cell

__all__ = ["PROPERTIES", "CellReport", "PropertyResult", "check_cell", "strategies"]
