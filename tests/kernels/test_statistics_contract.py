"""The statistics contract of the fused kernels: a cell with running statistics says
everything the statistics kernels need in `FusedSpec.statistics` (a `RunningStatistics`),
and the kernels go through it (no method or weight read by its name). Runs on every backend."""

import dataclasses

import keras
import numpy as np
import pytest

import rnncells
from rnncells.cells.base import FusedSpec, RunningStatistics, fused_spec_of


def test_a_spec_refuses_anything_but_running_statistics():
    with pytest.raises(ValueError, match="statistics"):
        FusedSpec(statistics={"collect": None})
    assert not FusedSpec().running_statistics
    spec = FusedSpec(statistics=RunningStatistics(collect=lambda shared: None,
                                                  apply=lambda records: None))
    assert spec.running_statistics


@pytest.mark.parametrize("cell_cls,widths", [
    (rnncells.BatchNormLSTMCell, lambda u: (("recurrent_norm", 4 * u), ("state_norm", u))),
    (rnncells.BatchNormGRUCell, lambda u: (("recurrent_norm", 3 * u),)),
])
def test_batch_norm_cells_state_their_recur_statistics_with_widths(cell_cls, widths):
    cell = cell_cls(5)
    assert fused_spec_of(cell).statistics.recur_widths == ()  # not built: nothing to size
    cell.build((None, 3))
    statistics = fused_spec_of(cell).statistics
    assert statistics.recur_widths == widths(5)
    assert statistics.resolve_mask is not None


class _SpiedCell(rnncells.BatchNormGRUCell):
    """Hands the kernels its statistics through wrappers that count the calls."""

    applied = collected = 0

    def fused_spec(self):
        spec = super().fused_spec()
        inner = spec.statistics

        def collect(shared_steps):
            type(self).collected += 1
            return inner.collect(shared_steps)

        def apply(records):
            type(self).applied += 1
            return inner.apply(records)

        return dataclasses.replace(spec, statistics=dataclasses.replace(
            inner, collect=collect, apply=apply))


def test_the_statistics_kernel_collects_and_applies_through_the_spec():
    """The spied cell gets the plain cell's outputs and moving statistics, and the kernel
    reached its statistics only through the spec: collected (project, then the loop) and
    applied exactly once per training call."""
    x = np.random.default_rng(0).normal(size=(4, 6, 3)).astype("float32")
    layers = [rnncells.FusedRNN(cls(5, max_steps=8), return_sequences=True, use_fused=True)
              for cls in (rnncells.BatchNormGRUCell, _SpiedCell)]
    for layer in layers:
        layer(x)
    layers[1].set_weights(layers[0].get_weights())
    _SpiedCell.applied = _SpiedCell.collected = 0
    outs = [keras.ops.convert_to_numpy(layer(x, training=True)) for layer in layers]
    assert _SpiedCell.applied == 1 and _SpiedCell.collected >= 2
    np.testing.assert_allclose(outs[1], outs[0], atol=1e-6)
    for spied, plain in zip(layers[1].cell.non_trainable_weights,
                            layers[0].cell.non_trainable_weights):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(spied),
                                   keras.ops.convert_to_numpy(plain), atol=1e-6)
    moved = [keras.ops.convert_to_numpy(w) for w in layers[1].cell.non_trainable_weights]
    assert any(np.any(w != 0) and np.any(w != 1) for w in moved)


class _MisdeclaredCell(rnncells.BatchNormLSTMCell):
    """Declares one normalization fewer than its `recur` records."""

    def fused_spec(self):
        spec = super().fused_spec()
        return dataclasses.replace(spec, statistics=dataclasses.replace(
            spec.statistics, recur_widths=spec.statistics.recur_widths[:1]))


def test_a_recur_that_records_what_the_spec_does_not_declare_is_refused():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("only TensorFlow's kernel sizes per-step buffers from recur_widths")
    layer = rnncells.FusedRNN(_MisdeclaredCell(4), use_fused=True)
    with pytest.raises(ValueError, match="recur_widths"):
        layer(np.zeros((2, 3, 3), "float32"), training=True)


def test_the_statistics_kernel_refuses_a_cell_without_statistics():
    from rnncells.kernels.inputs import running_statistics

    with pytest.raises(ValueError, match="no running statistics"):
        running_statistics(rnncells.LayerNormGRUCell(3))
