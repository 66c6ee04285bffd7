"""Layers that take a cell say "pass a cell instance" when given the class."""

import keras
import pytest

import rnncells
from rnncells._validation import cell_instance


@pytest.mark.parametrize("make", [
    lambda: rnncells.FusedRNN(rnncells.LayerNormLSTMCell),
    lambda: rnncells.FusedRNN([rnncells.LayerNormGRUCell(3), rnncells.ESNCell]),
    lambda: rnncells.ConvRNN(rnncells.ConvLSTMCell),
])
def test_a_cell_class_is_rejected_naming_the_class(make):
    with pytest.raises(ValueError, match=r"`cell`: expected a cell instance.*received the "
                                         r"class cell=rnncells\..*(LSTM|ESN)Cell.*not its "
                                         r"class"):
        make()


def test_instances_and_lists_of_instances_pass_through():
    cells = [rnncells.LayerNormGRUCell(3), keras.layers.GRUCell(2)]
    assert cell_instance("cell", cells) is cells
    layer = rnncells.FusedRNN(rnncells.LayerNormLSTMCell(2))
    assert isinstance(layer.cell, rnncells.LayerNormLSTMCell)
    assert isinstance(rnncells.ConvRNN(rnncells.ConvLSTMCell(1, 2, 3)).cell,
                      rnncells.ConvLSTMCell)
