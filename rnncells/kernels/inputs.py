"""What every kernel receives, prepared once for all of them (`prepare`).

`FusedRNN` (and the export path, `export_loop.run_layer`) receive the arguments of
`keras.layers.RNN.inner_loop`. They prepare the input once, and every kernel (TensorFlow's
`loop`, `scan`, `statistics`, `export_loop`; JAX's and PyTorch's `ops_loop`) takes the
result in one signature, `(cell, sequences, initial_states, mask, training,
return_sequences, zero_output_for_mask, **options)`, with no `go_backwards` of its own:

- `step_mask`: Keras hands `inner_loop` a list of masks (one per input); the kernels use the
  first, as booleans (B, T), or None.
- `in_compute_dtype`: floating sequences in the cell's compute dtype (mixed precision).
- `processing_order` / `reverse_time`: for `go_backwards`, the sequence and the mask
  reversed along time BEFORE `project`, so position t of the projected sequence is
  processing step t (cells with per-step statistics rely on it) and the outputs come out in
  processing order, as Keras returns them.
- `prepare`: the three above, in that order.
- `running_statistics`: the `RunningStatistics` of a batch-norm cell's `FusedSpec`, the only
  way the statistics kernels reach its statistics.
"""

import keras
from keras import ops

from rnncells.cells.base import fused_spec_of


def step_mask(mask):
    """The (B, T) boolean mask of `inner_loop`'s `mask` argument, or None."""
    if isinstance(mask, (list, tuple)):
        mask = mask[0]
    return None if mask is None else ops.cast(mask, "bool")


def in_compute_dtype(cell, sequences):
    """`sequences` as a tensor, floating ones cast to `cell.compute_dtype`."""
    sequences = ops.convert_to_tensor(sequences)
    dtype = keras.backend.standardize_dtype(sequences.dtype)
    if "float" in dtype and dtype != cell.compute_dtype:
        sequences = ops.cast(sequences, cell.compute_dtype)
    return sequences


def reverse_time(x, go_backwards, axis=1):
    """`x` reversed along its time `axis` when `go_backwards` (1: batch-major, 0: time-major)."""
    return ops.flip(x, axis=axis) if go_backwards else x


def processing_order(sequences, mask, go_backwards):
    """The sequence (B, T, ...) and its mask (B, T) or None in processing order."""
    return (reverse_time(sequences, go_backwards),
            None if mask is None else reverse_time(mask, go_backwards))


def prepare(cell, sequences, mask, go_backwards):
    """`(sequences, mask)` as every kernel takes them: the sequence in the cell's compute
    dtype and the boolean mask (B, T) or None, both in processing order."""
    return processing_order(in_compute_dtype(cell, sequences), step_mask(mask), go_backwards)


def running_statistics(cell):
    """The `RunningStatistics` of `cell` (`FusedSpec.statistics`): how a statistics kernel
    collects and applies what the cell records. Raises a ValueError for a cell without."""
    statistics = fused_spec_of(cell).statistics
    if statistics is None:
        raise ValueError(
            f"{type(cell).__name__} keeps no running statistics (its `fused_spec()` has no "
            "`statistics`): run it with the loop kernel, not the statistics kernel.")
    return statistics
