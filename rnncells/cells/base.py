"""The cell protocol every rnncells cell follows: `project` + `recur` = `call`.

- `project(inputs, training)`: the time-parallel part, a function of the input only
  (e.g. `x @ W` and its normalization). Accepts one step `(B, *step_shape)` or a whole
  sequence `(B, T, *step_shape)`.
- `recur(projected_t, states, training)`: the sequential part. Returns `(output, new_states)`.
- `call(inputs, states, training)` = `recur(project(inputs), states)`: what
  `keras.layers.RNN` calls once per step, so every cell is a drop-in Keras cell.

Cells whose recurrence is linear in the state also implement
`scan_coefficients(projected) -> (a, b)` with `h_t = a_t * h_{t-1} + b_t`.

What the fused kernels may do with a cell is stated in ONE place, `fused_spec()` (a
`FusedSpec`); the kernels read nothing else from the cell besides the protocol above, and
they read it through `fused_spec_of(cell)`, which drops every fast path that no longer
describes the cell's equations (see `fast_path_holds`).

Dropout follows Keras's semantics: one input mask and one recurrent mask per sequence,
drawn before the loop and reused at every step, applied only when `training=True`.
"""

import dataclasses
from collections.abc import Callable

import keras
from keras import ops

from rnncells import _validation as validation
from rnncells._compat import DropoutRNNCell
from rnncells._shapes import as_shape

#: How a fused kernel computes the gradients of the loop (see `FusedSpec.backward`).
BACKWARDS = ("per_step", "batched", "autodiff")


@dataclasses.dataclass(frozen=True)
class RunningStatistics:
    """What a fused kernel needs from a cell that keeps running statistics (batch norm), so
    that no kernel reads a weight or an attribute of the cell by a naming convention.

    Attributes:
        collect: `collect(shared_steps)` returns a context manager that yields a list: inside
            it, the statistics `project` and `recur` record are appended to that list as
            `(name, (step_index, share, mean, variance))` instead of being applied.
            `shared_steps`: every row of the batch is at the same step (no mask).
        apply: `apply(records)` updates the moving statistics from the records of a whole
            sequence at once (each entry's tensors stacked over the positions).
        recur_widths: `((name, width), ...)`: the normalizations one `recur` step records,
            in the order it records them, and the feature width of each (the kernels size
            their per-step buffers with it; empty until the cell is built).
        resolve_mask: optional `resolve_mask(sequences, mask)` -> the (B, T) mask that also
            marks the cell's own padded steps (e.g. a `mask_value`), or None.
    """

    collect: Callable
    apply: Callable
    recur_widths: tuple = ()
    resolve_mask: Callable | None = None


@dataclasses.dataclass(frozen=True)
class FusedSpec:
    """The contract between a cell and the fused kernels (`RecurrentCell.fused_spec()`).

    Attributes:
        backward: how the fused loop computes gradients by default: "per_step" (recompute
            one `recur` per step in a reverse loop), "batched" (the reverse loop carries only
            the state gradient; `recur` is then recomputed on all T*B rows at once, so the
            weight gradients are large matmuls) or "autodiff" (TensorFlow differentiates the
            loop; for cells whose `recur` has side effects or updates statistics).
        batchable: whether the "batched" backward is allowed: the rows of the batch are
            independent in `recur`, and `project` draws no random numbers of its own.
        fuse_masks: whether a masked sequence may take the fused path (False: per step).
        project_start_step: `project` takes `start_step=` (the step index held in the last
            state) because its statistics depend on the step.
        scan: the recurrence is linear in its one state (`scan_coefficients`), so a
            parallel scan may run it.
        step_vjp: optional analytic adjoint of one `recur` step, a function
            `(projected_t, states, d_output, d_states, training) -> (d_projected_t,
            d_states_prev, d_weights)` with `d_weights` in the order of `step_vjp_weights`;
            kernels use it instead of differentiating `recur` with a tape.
        step_vjp_weights: the variables `step_vjp` returns gradients for.
        statistics: a `RunningStatistics` when the cell keeps running statistics that
            training updates (batch norm): FusedRNN then runs its statistics kernel, which
            records each step's statistics in the loop and applies them once after it.
            `running_statistics` (read-only) says whether it is set.
    """

    backward: str = "per_step"
    batchable: bool = True
    fuse_masks: bool = True
    project_start_step: bool = False
    scan: bool = False
    step_vjp: Callable | None = None
    step_vjp_weights: tuple = ()
    statistics: RunningStatistics | None = None

    def __post_init__(self):
        if self.backward not in BACKWARDS:
            raise ValueError(f"`backward` must be one of {BACKWARDS}; received "
                             f"backward={self.backward!r}.")
        if self.statistics is not None and not isinstance(self.statistics, RunningStatistics):
            raise ValueError("`statistics` must be None or a `RunningStatistics`; received "
                             f"statistics={self.statistics!r}.")

    @property
    def running_statistics(self):
        """Whether the cell keeps running statistics (`statistics` is set)."""
        return self.statistics is not None


#: The methods that carry a cell's equations. A fast path written for one class's equations
#: (an analytic `step_vjp`, `scan_coefficients`) is void in a subclass that overrides one of
#: them, unless that subclass declares `fast_paths_hold = True` in its own class body.
EQUATION_METHODS = ("project", "recur")


def fast_path_holds(cls, owner):
    """Whether a fast path defined by class `owner` still describes the equations of `cls`.

    True when `cls` is `owner`, or when no class between them in the MRO defines one of
    EQUATION_METHODS without declaring `fast_paths_hold = True` in its own body. (The
    declaration is not inherited: a subclass of a subclass that declared it must declare it
    again if it changes the equations once more.) An `owner` outside the MRO of `cls` (a
    free function) is held to the class that defines `fused_spec`, by the caller.
    """
    for klass in cls.__mro__:
        if klass is owner:
            return True
        own = vars(klass)
        if any(name in own for name in EQUATION_METHODS) and not own.get(
                "fast_paths_hold", False):
            return False
    return True


def _defining_class(cls, name):
    """The first class in the MRO of `cls` whose own body defines `name` (or None)."""
    return next((klass for klass in cls.__mro__ if name in vars(klass)), None)


def _step_vjp_owner(cell, step_vjp):
    """The class whose equations an analytic adjoint was written for: the class defining the
    bound method (`self.step_vjp`), else the class defining the `fused_spec` that gave it."""
    if getattr(step_vjp, "__self__", None) is cell:
        owner = _defining_class(type(cell), step_vjp.__func__.__name__)
        if owner is not None:
            return owner
    return _defining_class(type(cell), "fused_spec")


def fused_spec_of(cell):
    """The `FusedSpec` the kernels use for `cell`: its `fused_spec()` without the fast paths
    that its class inherited but no longer describe its equations.

    A subclass that overrides `recur` (or `project`) of a cell with an analytic `step_vjp`
    gets the tape's gradient of its own step instead; one that inherits `scan_coefficients`
    while overriding `recur` gets the loop instead of the parallel scan. Anything that is not
    an rnncells cell (e.g. a bare object with a `recur` method) gets the default spec.
    """
    if not isinstance(cell, RecurrentCell):
        return FusedSpec()
    spec = cell.fused_spec()
    void = {}
    if spec.step_vjp is not None and not fast_path_holds(
            type(cell), _step_vjp_owner(cell, spec.step_vjp)):
        void.update(step_vjp=None, step_vjp_weights=())
    if spec.scan and not fast_path_holds(
            type(cell), _defining_class(type(cell), "scan_coefficients")):
        void["scan"] = False
    return dataclasses.replace(spec, **void) if void else spec


class RecurrentCell(keras.layers.Layer, DropoutRNNCell):
    """Base class of rnncells cells: the project/recur protocol, dropout masks, input checks.

    Subclasses implement `build`, `project`, `recur`, `state_size`, `output_size` and extend
    `get_config`. The methods below (dropout masks, initial state, shape checks) are shared.

    Args:
        dropout: fraction of the input units to drop, in [0, 1) (default 0).
        recurrent_dropout: fraction of the recurrent state units to drop, in [0, 1).
        seed: integer seed for the dropout masks (default None).
        **kwargs: `keras.layers.Layer` arguments (name, dtype, ...).
    """

    #: rank of one step of input, batch included ((B, F) -> 2; conv cells override).
    step_input_rank = 2

    def __init__(self, dropout=0.0, recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.dropout = validation.unit_interval("dropout", dropout)
        self.recurrent_dropout = validation.unit_interval("recurrent_dropout", recurrent_dropout)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._dropout_mask = None
        self._recurrent_dropout_mask = None
        self._built_input_shape = None

    # ------------------------------------------------------------------ the protocol
    def project(self, inputs, training=None):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement project().")

    def recur(self, projected, states, training=None):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement recur().")

    def scan_coefficients(self, projected):  # pragma: no cover - optional
        raise NotImplementedError(f"{type(self).__name__} has no linear recurrence.")

    def call(self, inputs, states, training=None):
        projected = self.project(inputs, training=training)
        return self.recur(projected, states, training=training)

    @property
    def output_size(self):
        """The size of the output: by Keras's convention the first state's (h)."""
        sizes = self.state_size
        return sizes[0] if isinstance(sizes, (list, tuple)) else sizes

    def fused_spec(self):
        """What the fused kernels may do with this cell (a `FusedSpec`).

        The default: the per-step recomputing backward and fused masks, unless the cell
        has non-trainable weights (running statistics or fixed weights that `recur` may
        read or update), which get TensorFlow's own differentiation of the loop and a
        per-step loop for masked sequences; a parallel scan for a cell that defines
        `scan_coefficients` and has one state. Cells override this to say more.
        """
        sizes = self.state_size if isinstance(self.state_size, (list, tuple)) else [
            self.state_size]
        fixed = bool(self.non_trainable_weights)
        return FusedSpec(
            backward="autodiff" if fixed else "per_step", fuse_masks=not fixed,
            scan=(len(sizes) == 1 and type(self).scan_coefficients
                  is not RecurrentCell.scan_coefficients))

    def get_initial_state(self, batch_size=None, inputs=None, dtype=None):
        """Zero states, one per `state_size` entry, each `(batch_size, *size)`.

        `inputs` and `dtype` are Keras 2's (and tensorflow-addons') keyword arguments: the
        batch size is taken from `inputs` when `batch_size` is None; `dtype` defaults to the
        compute dtype.
        """
        if batch_size is None and inputs is not None:
            batch_size = ops.shape(inputs)[0]
        sizes = self.state_size if isinstance(self.state_size, (list, tuple)) else [
            self.state_size]
        return [
            ops.zeros((batch_size, *as_shape(size)), dtype=dtype or self.compute_dtype)
            for size in sizes
        ]

    # ------------------------------------------------------------------ input checks
    def check_step_input_shape(self, input_shape):
        """Validate the shape of one step (called from `build`) and remember it."""
        input_shape = tuple(input_shape)
        if len(input_shape) != self.step_input_rank:
            raise ValueError(
                f"{type(self).__name__} expects `inputs` of rank {self.step_input_rank} per "
                f"step (batch, {self._feature_axes_description()}), i.e. rank "
                f"{self.step_input_rank + 1} sequences in keras.layers.RNN; received an input "
                f"step of shape {input_shape}."
            )
        if input_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} needs the last dimension of `inputs` (features) to be "
                f"known when it is built; received shape {input_shape}."
            )
        self._built_input_shape = input_shape
        return input_shape

    def is_sequence(self, inputs):
        """True for `(B, T, ...)` input to `project`, False for one step; raise otherwise."""
        rank = len(inputs.shape)
        if rank not in (self.step_input_rank, self.step_input_rank + 1):
            raise ValueError(
                f"{type(self).__name__}.project expects `inputs` of rank "
                f"{self.step_input_rank} (one step) or {self.step_input_rank + 1} (a "
                f"sequence); received shape {tuple(inputs.shape)}."
            )
        if self._built_input_shape is not None:
            expected = self._built_input_shape[1:]
            got = tuple(inputs.shape[-len(expected):])
            if any(e is not None and g is not None and e != g for e, g in zip(expected, got)):
                raise ValueError(
                    f"{type(self).__name__} was built for input steps of shape "
                    f"(batch, {', '.join(str(e) for e in expected)}); received `inputs` of "
                    f"shape {tuple(inputs.shape)}. The feature dimensions must match."
                )
        return rank == self.step_input_rank + 1

    def _feature_axes_description(self):
        return "features"

    # ------------------------------------------------------------------ dropout
    def _new_mask(self, like, rate):
        return keras.random.dropout(ops.ones_like(like), rate=rate, seed=self.seed_generator)

    def get_dropout_mask(self, step_input):
        """The input dropout mask of the current sequence (drawn once, shape of one step)."""
        if self._dropout_mask is None and self.dropout > 0:
            self._dropout_mask = self._new_mask(step_input, self.dropout)
        return self._dropout_mask

    def get_recurrent_dropout_mask(self, state):
        """The recurrent dropout mask of the current sequence (shape of the first state)."""
        if self._recurrent_dropout_mask is None and self.recurrent_dropout > 0:
            self._recurrent_dropout_mask = self._new_mask(state, self.recurrent_dropout)
        return self._recurrent_dropout_mask

    def reset_dropout_mask(self):
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self):
        self._recurrent_dropout_mask = None

    def get_dropout_masks(self):
        """The masks cached for the current sequence, by name (None where not drawn).

        For kernels whose backward pass recomputes `recur` after the layer has reset the
        masks: take them after the forward, re-install them with `set_dropout_masks` around
        the recomputation. Subclasses with more per-sequence masks add their names.
        """
        return {"dropout": self._dropout_mask,
                "recurrent_dropout": self._recurrent_dropout_mask}

    def set_dropout_masks(self, masks):
        """Install masks returned by `get_dropout_masks` (missing names are set to None)."""
        self._dropout_mask = masks.get("dropout")
        self._recurrent_dropout_mask = masks.get("recurrent_dropout")

    def apply_input_dropout(self, inputs, training, sequence):
        """inputs * mask when training with dropout > 0; the mask is shared over time."""
        if not training or self.dropout == 0:
            return inputs
        step = inputs[:, 0] if sequence else inputs
        mask = self.get_dropout_mask(step)
        if sequence:
            mask = ops.expand_dims(mask, 1)
        return inputs * ops.cast(mask, inputs.dtype)

    def apply_recurrent_dropout(self, state, training):
        """state * mask when training with recurrent_dropout > 0."""
        if not training or self.recurrent_dropout == 0:
            return state
        mask = self.get_recurrent_dropout_mask(state)
        return state * ops.cast(mask, state.dtype)

    # ------------------------------------------------------------------ helpers
    def cast_weight(self, weight):
        """A weight in the compute dtype (also outside `__call__`, e.g. from FusedRNN)."""
        return ops.cast(weight, self.compute_dtype)

    def get_config(self):
        config = {
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }
        base_config = super().get_config()
        return {**base_config, **config}
