"""Which route `FusedRNN(use_fused="auto")` takes for a call: the ONE place it is chosen.

Routes (what runs the sequence):
- "per_step": `keras.layers.RNN`'s own loop, one `cell(...)` call per step;
- "fused": the fused path without XLA: `cell.project` on the whole sequence, then the
  compiled loop with the cell's own backward (`FusedSpec.backward`), or the parallel scan for
  linear recurrences;
- "fused_xla": the same loop compiled with XLA, forward and backward;
- "fused_batched": the loop with the "batched" backward (weight gradients formed after the
  loop as large matmuls over all T*B rows).

The choice comes from `route_table.MEASURED`: for each cell class and mode ("train": a
training step, "infer": inference), the fastest route at each measured (batch, units,
timesteps) point, written by `python -m benchmarks.sweep --routes` (medians of interleaved
rounds in one process; the machine and the date are in `route_table.MACHINE`). A call takes
the route of the nearest measured point: distance in log2(batch), log2(units) and
log2(timesteps); an unknown batch counts as 32 and an unknown number of timesteps as
DEFAULT_TIMESTEPS (100); on a tie the first point in the table's order (by batch, units,
timesteps) wins. Entries of the earlier format, (batch, units, route, speed-up), were all
measured at LEGACY_TIMESTEPS (25) and read as such (`as_point`). A cell or mode the
table does not list, any call on a GPU (the table was measured on a CPU) and any call on
the JAX or PyTorch backend (the table was measured on TensorFlow) gets None: the
fused path with the kernels' own defaults (`resolve_options`: XLA on a GPU and for small
steps on a CPU, the cell's backward). Why the routes win where they win:
docs/performance.md.
"""

import math

from rnncells import _backend
from rnncells.layers import route_table

ROUTES = ("per_step", "fused", "fused_xla", "fused_batched")
#: The number of timesteps of a call whose sequence length is not known at tracing.
DEFAULT_TIMESTEPS = 100
#: The number of timesteps of the table's 4-tuple entries (before it had a T axis).
LEGACY_TIMESTEPS = 25


def as_point(entry):
    """A table entry as (batch, units, timesteps, route, speed-up); a 4-tuple entry
    (batch, units, route, speed-up) was measured at LEGACY_TIMESTEPS."""
    if len(entry) == 4:
        batch, units, route, speedup = entry
        return (batch, units, LEGACY_TIMESTEPS, route, speedup)
    if len(entry) == 5:
        return tuple(entry)
    raise ValueError(f"A route table entry must have 4 or 5 fields (batch, units[, timesteps], "
                     f"route, speed-up), got {entry!r}.")


def choose_route(cell_name, training, batch_size, units, device_type=None, table=None,
                 timesteps=None):
    """The measured-fastest route for one call, or None where nothing was measured.

    Args:
        cell_name: the cell's class name (the table's key).
        training: bool, a training step (True) or inference (False).
        batch_size: int, or None when unknown at tracing (taken as 32).
        units: int, the last axis of the cell's first state (units, or filters).
        device_type: "CPU" or "GPU"; default: GPU when TensorFlow sees one.
        table: the measured table (default `route_table.MEASURED`).
        timesteps: int, or None when unknown at tracing (taken as DEFAULT_TIMESTEPS).
    """
    if table is None:
        if not _backend.is_tensorflow():
            return None  # the table was measured on TensorFlow
        table = route_table.MEASURED
    if device_type is None:
        import tensorflow as tf

        device_type = "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
    if device_type.upper() == "GPU":
        return None
    points = table.get(cell_name, {}).get("train" if training else "infer")
    if not points:
        return None
    call = (32 if batch_size is None else batch_size, units,
            DEFAULT_TIMESTEPS if timesteps is None else timesteps)

    def distance(point):
        return sum((math.log2(max(c, 1)) - math.log2(p)) ** 2 for c, p in zip(call, point[:3]))

    return min(map(as_point, points), key=distance)[3]
