"""Zoneout (Krueger et al. 2017) as a wrapper that works for every rnncells cell.

Design: `Zoneout(cell)` follows the cell protocol itself. `project` is the inner cell's
`project`; when training it also draws the zoneout keep masks there, one per step and unit, for
one step `(B, *state)` or a whole sequence `(B, T, *state)`, and returns
`[inner_projected, keep_masks]`. `recur` runs the inner `recur`, then mixes each new state with
the previous one using that step's masks. So `recur` stays a pure function of its arguments:
`keras.layers.RNN` (which calls `call` = `recur(project(x_t))` once per step) draws a new mask
every step, and `FusedRNN` (which calls `project` on the whole sequence, then `recur` per step)
draws all of them at once, and a backward pass that recomputes `recur` sees the same masks as
the forward (the wrapper asks fused kernels not to recompute `project`: `fused_spec`).
The weights are the inner cell's, under the same names; the inner cell's dropout
and DropConnect masks are drawn and reset through this wrapper.
"""

import keras
from keras import ops

from rnncells import _backend
from rnncells import _validation as validation
from rnncells._serialization import keras_serializable
from rnncells.cells.base import FusedSpec, RecurrentCell, fused_spec_of

AUTO = "auto"


@keras_serializable
class Zoneout(RecurrentCell):
    """Zoneout on the states of a cell: each unit keeps its previous value with prob. `rate`.

    For every state s (e.g. h and c of an LSTM), with s' the inner cell's new state::

        training:   d ~ Bernoulli(rate), per example, unit and STEP (a new draw every step,
                    made in `project`: see the module docstring)
                    s_t = d * s_{t-1} + (1 - d) * s'_t
        inference:  s_t = rate * s_{t-1} + (1 - rate) * s'_t     (the expectation over d)

    The output is the zoned-out state it equals (h for the LSTM/GRU family), so outputs and
    states agree as in the paper. Masked steps in `keras.layers.RNN` keep the state as usual.

    Args:
        cell: an rnncells cell (it must implement `project` and `recur`).
        rate: zoneout probability in [0, 1), a float for all states or a list with one rate
            per state, e.g. `[0.05, 0.5]` for an LSTM's [h, c] (the paper's z_h, z_c).
            Default 0.1. States a cell lists in its `zoneout_exempt_states` attribute
            (indices of bookkeeping states such as a step counter) always get rate 0.
        output_state_index: which state the output is zoned out with: "auto" (default) takes
            `cell.output_state_index` if the cell defines it, else 0 (Keras's convention:
            h is the first state); an int picks a state; None leaves the output as the inner
            cell returned it (for cells whose output is not one of their states).
        seed: int seed of the zoneout masks (default None).
        **kwargs: `keras.layers.Layer` arguments; the dtype policy defaults to the cell's.

    Call arguments: those of the inner cell (inputs, states, training).
    Returns: (output, new_states) with the inner cell's shapes.

    Examples:
        >>> cell = rnncells.Zoneout(rnncells.PeepholeLSTMCell(8), rate=[0.05, 0.5])
        >>> keras.layers.RNN(cell)(np.zeros((2, 5, 3), "float32")).shape
        TensorShape([2, 8])
    """

    def __init__(self, cell, rate=0.1, output_state_index=AUTO, seed=None, **kwargs):
        if not (callable(getattr(cell, "project", None))
                and callable(getattr(cell, "recur", None))):
            raise ValueError(
                "Invalid value for argument `cell`: expected an rnncells cell implementing "
                f"`project` and `recur`, received cell={cell!r}.")
        if fused_spec_of(cell).project_start_step:
            raise ValueError(
                "Invalid value for argument `cell`: Zoneout does not wrap cells whose projection "
                "reads the step index from their state (per-step batch normalization), received "
                f"cell={type(cell).__name__}. Use zoneout on a cell without per-step statistics.")
        kwargs.setdefault("dtype", cell.dtype_policy)
        super().__init__(seed=seed, **kwargs)
        self.cell = cell
        self.step_input_rank = getattr(cell, "step_input_rank", 2)
        count = len(self._state_sizes())
        exempt = set(getattr(cell, "zoneout_exempt_states", ()))
        if isinstance(rate, (list, tuple)):
            rates = list(rate)
            if len(rates) != count:
                raise ValueError(
                    f"Invalid value for argument `rate`: expected a float or a list of {count} "
                    f"floats (one per state of {type(cell).__name__}), received rate={rate!r}.")
            if any(rates[i] != 0 for i in exempt):
                raise ValueError(
                    f"Invalid value for argument `rate`: the states {sorted(exempt)} of "
                    f"{type(cell).__name__} are bookkeeping (e.g. step counters) and allow only "
                    f"rate 0; received rate={rate!r}.")
        else:
            rates = [0.0 if i in exempt else rate for i in range(count)]
        self.rates = [validation.unit_interval("rate", r) for r in rates]
        self.rate = (list(self.rates) if isinstance(rate, (list, tuple))
                     else validation.unit_interval("rate", rate))
        if output_state_index == AUTO:
            index = getattr(cell, "output_state_index", 0)
        elif output_state_index is None:
            index = None
        elif (isinstance(output_state_index, bool) or not isinstance(output_state_index, int)
              or not 0 <= output_state_index < count):
            raise ValueError(
                "Invalid value for argument `output_state_index`: expected 'auto', None or an "
                f"int in [0, {count}), received output_state_index={output_state_index!r}.")
        else:
            index = output_state_index
        self.output_state_index = output_state_index
        self._output_index = index

    def _state_sizes(self):
        size = self.cell.state_size
        return list(size) if isinstance(size, (list, tuple)) else [size]

    @property
    def state_size(self):
        return self.cell.state_size

    @property
    def output_size(self):
        return self.cell.output_size

    def build(self, input_shape):
        if not self.cell.built:
            self.cell.build(input_shape)
        self.built = True

    def get_initial_state(self, batch_size=None):
        return self.cell.get_initial_state(batch_size=batch_size)

    # ------------------------------------------------------------------ the protocol
    def _draws_masks(self, training):
        return bool(training) and any(rate > 0 for rate in self.rates)

    def project(self, inputs, training=None):
        """The inner projection; when training, `[inner_projected, keep_masks]`.

        keep_masks holds one 0/1 mask (compute dtype) per state with a rate > 0, of shape
        `(B, *state)` for one step or `(B, T, *state)` for a sequence: 1 = keep the previous
        value, drawn with probability `rate`.
        """
        projected = self.cell.project(inputs, training=training)
        if not self._draws_masks(training):
            return projected
        sequence = len(inputs.shape) == self.step_input_rank + 1
        if (not sequence and getattr(self, "_in_rnn_loop", False)
                and _backend.name() == "jax" and _backend.is_tracing(inputs)):
            raise RuntimeError(
                "Zoneout draws new masks at every step, which keras.layers.RNN's loop on the "
                "JAX backend (a jax.lax.scan) cannot do: the random state would leak out of "
                "the scan. Use rnncells.FusedRNN(Zoneout(...)), which draws the masks of the "
                "whole sequence before its loop; inference (training=False) works in either "
                "layer.")
        shape = ops.shape(inputs)
        lead = (shape[0], shape[1]) if sequence else (shape[0],)
        masks = []
        for size, rate in zip(self._state_sizes(), self.rates):
            if rate > 0:
                state_shape = tuple(size) if isinstance(size, (list, tuple)) else (size,)
                noise = keras.random.uniform(lead + state_shape, seed=self.seed_generator)
                masks.append(ops.cast(noise < rate, self.compute_dtype))
        return [projected, masks]

    def recur(self, projected, states, training=None):
        masks = None
        if self._draws_masks(training):
            projected, masks = projected
            masks = iter(masks)
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        output, new_states = self.cell.recur(projected, states, training=training)
        nested = isinstance(new_states, (list, tuple))
        new_list = list(new_states) if nested else [new_states]
        mixed = []
        for previous, new, rate in zip(states, new_list, self.rates):
            keep = next(masks) if masks is not None and rate > 0 else None
            mixed.append(self.zoneout(previous, new, rate, keep))
        if self._output_index is not None:
            output = mixed[self._output_index]
        return output, (mixed if nested else mixed[0])

    @staticmethod
    def zoneout(previous, new, rate, keep=None):
        """One state: `previous` where keep == 1, else `new` (training, `keep` given); without
        `keep` (inference) the expectation rate * previous + (1 - rate) * new."""
        if rate == 0:
            return new
        previous = ops.cast(previous, new.dtype)
        if keep is not None:
            return ops.where(ops.cast(keep, "bool"), previous, new)
        return rate * previous + (1 - rate) * new

    def fused_spec(self):
        """The inner cell's spec, except: never the "batched" backward (it recomputes
        `project`, which would draw new zoneout masks; "per_step" recomputes only `recur`,
        whose masks come in with the saved projection), no scan, and no start step."""
        inner = fused_spec_of(self.cell)
        return FusedSpec(backward="autodiff" if inner.backward == "autodiff" else "per_step",
                         batchable=False, fuse_masks=inner.fuse_masks)

    # ------------------------------------------------------------------ the inner cell's masks
    def get_dropout_mask(self, step_input):
        # keras.layers.RNN (and FusedRNN) call this before their loop, reset_dropout_mask after
        self._in_rnn_loop = True
        return self._delegate("get_dropout_mask", step_input)

    def get_recurrent_dropout_mask(self, state):
        return self._delegate("get_recurrent_dropout_mask", state)

    def reset_dropout_mask(self):
        self._in_rnn_loop = False
        self._delegate("reset_dropout_mask")

    def reset_recurrent_dropout_mask(self):
        self._delegate("reset_recurrent_dropout_mask")

    def get_dropout_masks(self):
        return self._delegate("get_dropout_masks") or {}

    def set_dropout_masks(self, masks):
        self._delegate("set_dropout_masks", masks)

    def _delegate(self, method, *args):
        fn = getattr(self.cell, method, None)
        return fn(*args) if fn is not None else None

    def get_config(self):
        config = {
            "cell": keras.saving.serialize_keras_object(self.cell),
            "rate": self.rate,
            "output_state_index": self.output_state_index,
            "seed": self.seed,
        }
        base_config = super().get_config()
        for key in ("dropout", "recurrent_dropout"):  # the inner cell's, in its own config
            base_config.pop(key)
        return {**base_config, **config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["cell"] = keras.saving.deserialize_keras_object(config["cell"])
        return cls(**config)
