"""Per-step gradients of a recurrent cell: the machinery behind `gradient_flow`.

How dL/dh_t is obtained. `keras.layers.RNN` only hands back the outputs, not the gradient
with respect to the intermediate states, so the cell is run inside `SequenceProbe`, a thin
wrapper cell: at every step t it reads, next to x_t, a perturbation delta_t (always zero) and
feeds `h_t + delta_t` to the wrapped cell. Then

    dL/d(delta_t) = dL/dh_t          (h_t: the state entering step t, h_0 the initial state)

(the partial derivative w.r.t. the state vector: for an LSTM the pair (h_t, c_t), each
treated as an independent input of step t), and one backward pass through
`keras.layers.RNN(wrapper)` gives dL/dx_t and dL/dh_t for every t at once. The wrapped cell
is called through its public `call(inputs, states, training)` (via `__call__`), so this works
for any Keras cell (rnncells cells, `keras.layers.LSTMCell`, ...) and any state shape (states
are flattened in the wrapper and restored before the cell sees them). The gradient is the
backend's own (`rnncells.diagnostics.autodiff`); on TensorFlow the forward and backward run
in one compiled `tf.function`.

Jacobians. With `jacobian=True` every batch row is repeated `n` times (n = size of the cell's
output) and row (b, k) uses the loss e_k . o_T, so the gradient that row receives is row k of
the Jacobian d o_T / d h_t of sample b: one backward pass gives the full Jacobians
d o_T / d h_t and d o_T / d x_t of every sample at every step; their Frobenius norms are
returned. Rows of a batch never interact in inference mode (a cell for which they do fails
`check_batch_invariance`), so the repetition does not change the computation.
"""

import math

import keras
import numpy as np
from keras import ops

from rnncells.diagnostics.autodiff import input_gradient


def find_recurrent_cell(layer_or_model):
    """Return `(cell, rnn_layer)` for a cell, an RNN layer or a model containing one.

    A cell is anything with `state_size` and `call(inputs, states)`; an RNN layer is any layer
    with a `cell` attribute (`keras.layers.RNN`, `LSTM`, `GRU`, `SimpleRNN`, rnncells'
    `FusedRNN`). In a model the first such layer (depth first) is used.
    """
    if isinstance(layer_or_model, keras.layers.Bidirectional):
        name = layer_or_model.name
        raise ValueError(
            f"Invalid value for argument `layer_or_model`: the Bidirectional layer {name!r} "
            "runs two RNN layers, one of them over the reversed sequence, so it has no single "
            "per-step gradient. Pass one direction with the inputs that layer receives, e.g. "
            f"`layer = model.get_layer({name!r}).forward_layer` (or `.backward_layer`, which "
            "reads the sequence reversed).")
    cell = getattr(layer_or_model, "cell", None)
    if cell is not None and hasattr(cell, "state_size"):
        return cell, layer_or_model
    if hasattr(layer_or_model, "state_size") and hasattr(layer_or_model, "call"):
        return layer_or_model, None
    for layer in getattr(layer_or_model, "layers", None) or []:
        if isinstance(layer, keras.layers.Bidirectional):
            find_recurrent_cell(layer)  # raises, naming the layer and what to pass instead
        try:
            return find_recurrent_cell(layer)
        except ValueError:
            continue
    raise ValueError(
        "Invalid value for argument `layer_or_model`: expected a recurrent cell, an RNN layer "
        "(keras.layers.RNN, LSTM, GRU, SimpleRNN, FusedRNN) or a model containing one; "
        f"received {type(layer_or_model).__name__}, which has none."
    )


def zero_states(cell, batch, dtype="float32"):
    """The initial states of `cell` for `batch` rows: its own `get_initial_state` when it has
    one (rnncells and Keras cells), else zeros of the shapes its `state_size` gives (any
    Keras cell: a layer with `state_size` and `call` needs no `get_initial_state`)."""
    if callable(getattr(cell, "get_initial_state", None)):
        states = cell.get_initial_state(batch_size=batch)
        return list(states) if isinstance(states, (list, tuple)) else [states]
    return [ops.zeros((batch, *shape), dtype=dtype) for shape in _shapes(cell.state_size)]


def _shapes(size):
    """A cell's `state_size` as a list of per-state shapes (tuples, batch excluded)."""
    if isinstance(size, int):
        return [(size,)]
    if hasattr(size, "as_list"):  # a TensorShape
        return [tuple(size.as_list())]
    size = list(size)
    if all(isinstance(s, int) for s in size) and len(size) > 0:
        return [(s,) for s in size]
    return [tuple(s.as_list()) if hasattr(s, "as_list") else
            (s,) if isinstance(s, int) else tuple(s) for s in size]


def _shape(size):
    """A cell's `output_size` (int, TensorShape or tuple of ints) as one shape tuple."""
    if isinstance(size, int):
        return (size,)
    return tuple(size.as_list()) if hasattr(size, "as_list") else tuple(size)


class _ProbeCell(keras.layers.Layer):
    """Wraps a cell: input = [x_t flattened, delta_t per state]; state_t + delta_t -> cell."""

    def __init__(self, cell, step_shape, **kwargs):
        super().__init__(dtype=cell.dtype_policy, **kwargs)
        self.cell = cell
        self.step_shape = tuple(step_shape)
        self.state_shapes = _shapes(cell.state_size)
        self.state_sizes = [math.prod(s) for s in self.state_shapes]
        self.state_size = list(self.state_sizes)
        out = getattr(cell, "output_size", None)
        self.output_shape_ = _shape(out) if out is not None else self.state_shapes[0]
        self.output_size = math.prod(self.output_shape_)
        self.input_width = math.prod(self.step_shape)

    def build(self, input_shape):
        if not self.cell.built:
            self.cell.build((input_shape[0], *self.step_shape))
        self.built = True

    def call(self, inputs, states, training=None):
        batch = ops.shape(inputs)[0]
        x = ops.reshape(inputs[:, :self.input_width], (batch, *self.step_shape))
        start, inner_states = self.input_width, []
        for state, size, shape in zip(states, self.state_sizes, self.state_shapes):
            delta = inputs[:, start:start + size]
            start += size
            inner_states.append(ops.reshape(state + delta, (batch, *shape)))
        output, new_states = self.cell(x, inner_states, training=training)
        if not isinstance(new_states, (list, tuple)):
            new_states = [new_states]
        new_states = [ops.reshape(s, (batch, size)) for s, size in
                      zip(new_states, self.state_sizes)]
        return ops.reshape(output, (batch, self.output_size)), new_states


class SequenceProbe:
    """Runs a cell over a sequence and returns per-step gradient norms (see module doc).

    Build once per cell and reuse: the compiled function is traced once per input signature.

    Args:
        cell: a built or unbuilt Keras recurrent cell.
        step_shape: shape of one input step without the batch, e.g. `(features,)`.
    """

    def __init__(self, cell, step_shape):
        self.cell = cell
        if not cell.built:  # conv cells know their state shape only once built
            cell.build((None, *step_shape))
        self.wrapper = _ProbeCell(cell, step_shape)
        self.layer = keras.layers.RNN(self.wrapper, return_sequences=True, return_state=True,
                                      dtype=cell.dtype_policy)
        self._compiled = None

    def _augment(self, x):
        x = ops.convert_to_tensor(x)
        batch, steps = x.shape[0], x.shape[1]
        flat = ops.reshape(ops.cast(x, "float32"), (batch, steps, self.wrapper.input_width))
        zeros = ops.zeros((batch, steps, sum(self.wrapper.state_sizes)), "float32")
        return ops.concatenate([flat, zeros], axis=-1)

    def _run(self, x_aug, initial, selector, loss_fn):
        def forward(x_aug):
            outputs, *final_states = self.layer(x_aug, initial_state=list(initial),
                                                training=False)
            outputs = ops.cast(outputs, "float32")
            final_states = [ops.cast(state, "float32") for state in final_states]
            if selector is not None:
                loss = ops.sum(outputs[:, -1] * selector)
            else:
                batch, steps = ops.shape(outputs)[0], ops.shape(outputs)[1]
                loss = ops.cast(loss_fn(ops.reshape(
                    outputs, (batch, steps, *self.wrapper.output_shape_))), "float32")
            return loss, (outputs, final_states)

        (outputs, final_states), grad = input_gradient(forward, x_aug)
        return outputs, final_states, grad

    def _compiled_run(self):
        """`_run` in one `tf.function` on TensorFlow (traced once per input signature);
        `_run` itself on the other backends."""
        if self._compiled is None:
            if keras.backend.backend() == "tensorflow":
                import tensorflow as tf

                self._compiled = tf.function(self._run, reduce_retracing=True)
            else:
                self._compiled = self._run
        return self._compiled

    def run(self, x, loss="last", initial_state=None, jacobian=False, compiled=True):
        """Forward + backward over `x` (batch, T, *step_shape).

        Args:
            x: the input sequence.
            loss: "last" (default: L = sum of the last step's output over batch and units),
                "sum" (L = sum of every output), or a callable `loss(outputs) -> scalar` on the
                outputs (batch, T, *output_shape). Ignored when `jacobian=True`.
            initial_state: list of initial states (default zeros).
            jacobian: return Frobenius norms of d o_T/d h_t and d o_T/d x_t per sample.
            compiled: on TensorFlow, run inside `tf.function` (default True) or eagerly.

        Returns a dict of NumPy arrays: "outputs" (batch, T, n_out) float32,
        "final_states" (a list, each (batch, state size) flattened), "finite" (whether
        outputs, final states and gradients are all finite), and either "input_grad" (T,) and
        "state_grad" (T,): ||dL/dx_t|| and ||dL/dh_t|| over the whole batch, or (jacobian)
        "input_jacobian" (batch, T) and "state_jacobian" (batch, T).
        """
        x = np.asarray(x, "float32")
        batch, steps = x.shape[0], x.shape[1]
        wrapper = self.wrapper
        if jacobian:
            n = wrapper.output_size
            x = np.repeat(x, n, axis=0)
            selector = ops.convert_to_tensor(np.tile(np.eye(n, dtype="float32"), (batch, 1)))
        else:
            selector = None
        rows = x.shape[0]
        if initial_state is None:
            initial = [ops.zeros((rows, s), "float32") for s in wrapper.state_sizes]
        else:
            initial = [ops.reshape(ops.cast(s, "float32"), (batch, -1)) for s in initial_state]
            if jacobian:
                initial = [ops.repeat(s, wrapper.output_size, axis=0) for s in initial]
        if selector is None:
            loss_fn = _LOSSES.get(loss, loss) if isinstance(loss, str) else loss
            if not callable(loss_fn):
                raise ValueError(
                    "Invalid value for argument `loss`: expected 'last', 'sum' or a callable "
                    f"loss(outputs) -> scalar, received loss={loss!r}.")
        else:
            loss_fn = None
        run = self._compiled_run() if compiled else self._run
        outputs, final_states, grad_x = run(self._augment(x), initial, selector, loss_fn)
        outputs, grad_x = ops.convert_to_numpy(outputs), ops.convert_to_numpy(grad_x)
        final_states = [ops.convert_to_numpy(state) for state in final_states]
        width = wrapper.input_width
        gx = grad_x[..., :width].astype("float64")
        # The delta read at step t perturbs the state entering step t: dL/dh_t, t = 0..T-1.
        gh = grad_x[..., width:].astype("float64")
        finite = bool(np.isfinite(outputs).all() and np.isfinite(gx).all()
                      and np.isfinite(gh).all()
                      and all(np.isfinite(state).all() for state in final_states))
        result = {"outputs": outputs, "final_states": final_states, "finite": finite}
        with np.errstate(over="ignore", invalid="ignore"):
            if jacobian:
                n = wrapper.output_size
                result["state_jacobian"] = np.sqrt(
                    (gh ** 2).reshape(batch, n, steps, -1).sum(axis=(1, 3)))
                result["input_jacobian"] = np.sqrt(
                    (gx ** 2).reshape(batch, n, steps, -1).sum(axis=(1, 3)))
            else:
                result["state_grad"] = np.sqrt((gh ** 2).sum(axis=(0, 2)))
                result["input_grad"] = np.sqrt((gx ** 2).sum(axis=(0, 2)))
        return result


def _last(outputs):
    return ops.sum(outputs[:, -1])


def _sum(outputs):
    return ops.sum(outputs)


_LOSSES = {"last": _last, "sum": _sum}


def recurrent_inputs(layer_or_model, rnn_layer, x):
    """The inputs `rnn_layer` receives when `layer_or_model` is called on `x`.

    `x` itself when there is no enclosing model or the RNN layer is its first layer;
    otherwise the model's layers up to the RNN layer are run (inference mode).
    """
    layers = getattr(layer_or_model, "layers", None)
    if rnn_layer is None or not layers or layers[0] is rnn_layer:
        return x
    try:
        model_inputs = layer_or_model.inputs
        if len(model_inputs) == 1:
            model_inputs = model_inputs[0]
        feeder = keras.Model(model_inputs, rnn_layer.input)
    except (AttributeError, ValueError, TypeError) as err:
        raise ValueError(
            f"Could not compute the inputs of the RNN layer {rnn_layer.name!r} inside "
            f"{layer_or_model.name!r} ({err}); pass the RNN layer itself and its inputs."
        ) from None
    return feeder(x, training=False)
