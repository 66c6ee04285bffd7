"""`from_torch(module)`: a PyTorch `nn.LSTM`, `nn.GRU` or `nn.RNN` as a Keras 3 model.

The result is a `keras.Sequential` of Keras's own recurrent layers (`keras.layers.LSTM`,
`keras.layers.GRU(reset_after=True)`, `keras.layers.SimpleRNN`), one per torch layer, each
wrapped in `keras.layers.Bidirectional(merge_mode="concat")` when the torch module is
bidirectional, holding the torch weights. It gives the same numbers as the torch module in
`eval()` mode, starting from zero states. Only Keras layers, Keras ops and numpy are used,
so the model runs on any Keras backend (TensorFlow, JAX, PyTorch); torch itself is needed
only while converting and is imported lazily (`pip install rnncells[torch]`).

Time axis. The Keras model always takes batch-first input `(batch, time, features)` and
returns `(batch, time, units)`. For a torch module built with `batch_first=False` (torch's
default, `(time, batch, features)`), transpose the input yourself
(`x.transpose(0, 1)` / `np.swapaxes(x, 0, 1)`); the Keras output is then torch's `output`
with its first two axes swapped.

Weight layouts (H = hidden_size, D = the layer's input size; suffix `_reverse` for the
backward direction of a bidirectional torch layer, `_l{k}` for layer k):

- torch stores `weight_ih_l{k}` as `(G*H, D)` and `weight_hh_l{k}` as `(G*H, H)`, gate
  blocks stacked along the rows, and two bias vectors `bias_ih_l{k}`, `bias_hh_l{k}` of
  shape `(G*H,)` (absent with `bias=False`). Keras stores `kernel` as `(D, G*H)` and
  `recurrent_kernel` as `(H, G*H)`, gate blocks side by side along the columns. So every
  Keras matrix is the transpose of the torch matrix, after reordering the gate blocks.
- LSTM (G = 4): torch's gate order is (input, forget, cell candidate, output), and Keras's
  column order is (input, forget, cell candidate, output) too: no reordering. Both add the
  two biases unconditionally, so the Keras `bias` `(4H,)` is `bias_ih + bias_hh`. Both use
  sigmoid gates and tanh for the candidate and the output squashing.
- GRU (G = 3): torch's order is (reset r, update z, new n); Keras's is (update z, reset r,
  candidate h). Both are the "reset after" form, in which the reset gate multiplies the
  recurrent projection *including its bias*: torch computes
  `n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`, and Keras with `reset_after=True` keeps
  a bias of shape `(2, 3H)` whose row 0 is added to the input projection and row 1 to the
  recurrent projection before the reset gate multiplies it. So the Keras bias is
  `stack([reorder(bias_ih), reorder(bias_hh)])` and the two biases are not summed. Both
  update the state as `h' = z * h + (1 - z) * n`. With `bias=False`, torch has no bias at
  all and Keras `use_bias=False` has none either.
- RNN (G = 1): `h' = act(W_ih x + b_ih + W_hh h + b_hh)` with act tanh or relu; Keras
  `SimpleRNN(activation=...)` holds `kernel = W_ih.T`, `recurrent_kernel = W_hh.T`,
  `bias = b_ih + b_hh`.

Bidirectional. torch's `output` concatenates the forward direction then the backward one
along the feature axis, and its backward outputs are aligned with the input time steps;
`keras.layers.Bidirectional(merge_mode="concat")` does the same (forward | backward, the
backward layer's sequence reversed back), and each following layer sees that `2H`-wide
concatenation as its input.

Dropout. torch's `dropout` argument drops the outputs of every layer but the last while
training. It becomes a `keras.layers.Dropout(dropout)` between consecutive recurrent
layers: inactive at inference like torch's in `eval()` mode, active when the Keras model is
called with `training=True` (with Keras's own random masks, not torch's).
"""

import keras
import numpy as np

__all__ = ["from_torch"]

_TORCH_MISSING = (
    "rnncells.torch_import.from_torch needs PyTorch to read the torch module and it is not "
    "installed: `pip install rnncells[torch]` (or `pip install torch`)."
)
_ACCEPTED = "torch.nn.LSTM, torch.nn.GRU or torch.nn.RNN"

# torch GRU gate blocks are (r, z, n); Keras GRU wants (z, r, h): take torch blocks 1, 0, 2.
_GRU_TORCH_BLOCKS_FOR_KERAS = (1, 0, 2)


def _import_torch():
    try:
        import torch
    except ImportError as err:  # pragma: no cover - torch is installed in the test env
        raise ImportError(_TORCH_MISSING) from err
    return torch


def _kind(module, torch):
    """'lstm', 'gru' or 'rnn' for a supported torch module; ValueError otherwise."""
    if isinstance(module, torch.nn.LSTM):
        return "lstm"
    if isinstance(module, torch.nn.GRU):
        return "gru"
    if isinstance(module, torch.nn.RNN):
        return "rnn"
    raise ValueError(
        f"from_torch: argument `module` must be a {_ACCEPTED} instance; "
        f"got {type(module).__module__}.{type(module).__name__}."
    )


def _check_options(module, kind):
    proj_size = int(getattr(module, "proj_size", 0) or 0)
    if proj_size > 0:
        raise ValueError(
            f"from_torch: torch.nn.LSTM with proj_size={proj_size} cannot be mapped: Keras "
            "LSTM has no projected hidden state. Only proj_size=0 is supported."
        )
    if kind == "rnn" and module.nonlinearity not in ("tanh", "relu"):
        raise ValueError(
            f"from_torch: torch.nn.RNN with nonlinearity={module.nonlinearity!r} cannot be "
            "mapped; expected 'tanh' or 'relu'."
        )
    dropout = float(module.dropout)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(
            f"from_torch: dropout={dropout} cannot be mapped to keras.layers.Dropout; "
            "expected 0 <= dropout < 1."
        )


def _numpy(tensor, torch):
    """A torch tensor (any device, any float dtype) as a float64 numpy array."""
    return tensor.detach().to(device="cpu", dtype=torch.float64).numpy()


def _gru_reorder(array, hidden):
    """Reorder the gate blocks of a torch GRU array along axis 0 from (r, z, n) to (z, r, n)."""
    blocks = [array[i * hidden:(i + 1) * hidden] for i in _GRU_TORCH_BLOCKS_FOR_KERAS]
    return np.concatenate(blocks, axis=0)


def _keras_weights(module, kind, layer, suffix, torch):
    """Keras weights [kernel, recurrent_kernel(, bias)] of torch layer `layer`, one direction."""
    hidden = module.hidden_size

    def get(name):
        return _numpy(getattr(module, f"{name}_l{layer}{suffix}"), torch)

    w_ih, w_hh = get("weight_ih"), get("weight_hh")
    b_ih = b_hh = None
    if module.bias:
        b_ih, b_hh = get("bias_ih"), get("bias_hh")
    if kind == "gru":
        w_ih, w_hh = _gru_reorder(w_ih, hidden), _gru_reorder(w_hh, hidden)
        if module.bias:
            b_ih, b_hh = _gru_reorder(b_ih, hidden), _gru_reorder(b_hh, hidden)
    weights = [w_ih.T, w_hh.T]
    if module.bias:
        if kind == "gru":
            weights.append(np.stack([b_ih, b_hh], axis=0))  # reset_after: (2, 3H)
        else:
            weights.append(b_ih + b_hh)
    return weights


def _recurrent_layer(module, kind, return_sequences, name):
    common = dict(
        units=module.hidden_size,
        use_bias=bool(module.bias),
        return_sequences=return_sequences,
        name=name,
    )
    if kind == "lstm":
        return keras.layers.LSTM(activation="tanh", recurrent_activation="sigmoid", **common)
    if kind == "gru":
        return keras.layers.GRU(
            activation="tanh", recurrent_activation="sigmoid", reset_after=True, **common
        )
    return keras.layers.SimpleRNN(activation=module.nonlinearity, **common)


def _assign(keras_layer, weights):
    variables = keras_layer.weights
    if len(variables) != len(weights):  # pragma: no cover - guards a Keras layout change
        raise RuntimeError(
            f"from_torch: {keras_layer.name} has {len(variables)} weights, expected "
            f"{len(weights)}."
        )
    keras_layer.set_weights(
        [np.asarray(w, dtype=v.dtype) for w, v in zip(weights, variables)]
    )


def from_torch(module, return_sequences=True, name=None):
    """Convert a PyTorch `nn.LSTM`, `nn.GRU` or `nn.RNN` to a Keras 3 `Sequential` model.

    Each torch layer becomes a Keras `LSTM`, `GRU(reset_after=True)` or `SimpleRNN` (tanh
    or relu) holding the torch weights (see the module docstring for the layouts), wrapped
    in `keras.layers.Bidirectional(merge_mode="concat")` for a bidirectional module, with a
    `keras.layers.Dropout` between layers when torch's `dropout > 0`. The model computes
    what the torch module computes in `eval()` mode from zero initial states. The weights
    are copied: later changes to the torch module do not reach the Keras model.

    The Keras model is always batch-first: it takes `(batch, time, input_size)`. If the
    torch module has `batch_first=False`, transpose your input's first two axes before
    calling the Keras model; its output is then torch's `output` with the first two axes
    swapped.

    Args:
        module: a `torch.nn.LSTM`, `torch.nn.GRU` or `torch.nn.RNN` (nonlinearity "tanh"
            or "relu"), with any `num_layers`, `bidirectional`, `bias`, `batch_first` and
            `dropout`, on any device and of any float dtype.
        return_sequences: if True (default), the model returns the whole output sequence
            of the last layer, `(batch, time, D * hidden_size)` with D = 2 for a
            bidirectional module, like torch's `output`. If False, the last layer returns
            only its final output: torch's `output[:, -1]` for a unidirectional module;
            for a bidirectional one, the forward direction's last step concatenated with
            the backward direction's final state (its output at time step 0), i.e.
            `torch.cat([h_n[-2], h_n[-1]], dim=-1)`.
        name: optional name of the Keras model; its layers are named `{name}_l{k}` (and
            `{name}_dropout{k}`). With None, Keras picks unique names.

    Returns:
        A built `keras.Sequential` with input `keras.Input((None, input_size))`, holding
        the torch weights in float32 (Keras's default dtype policy).

    Raises:
        ValueError: if `module` is not one of the three accepted torch classes (the message
            names `module`), if it is an LSTM with `proj_size > 0`, an RNN with another
            nonlinearity, or if `return_sequences` is not a bool or `name` not a string.
        ImportError: if PyTorch is not installed.

    Examples:
        >>> import numpy as np, torch
        >>> lstm = torch.nn.LSTM(4, 8, num_layers=2, bidirectional=True, batch_first=True)
        >>> model = from_torch(lstm.eval())
        >>> x = np.random.rand(2, 5, 4).astype("float32")
        >>> y = model(x)                      # (2, 5, 16)
        >>> y_torch, _ = lstm(torch.from_numpy(x))
        >>> np.allclose(y, y_torch.detach().numpy(), atol=1e-5)
        True
    """
    torch = _import_torch()
    kind = _kind(module, torch)
    if not isinstance(return_sequences, (bool, np.bool_)):
        raise ValueError(
            f"from_torch: return_sequences must be True or False; got {return_sequences!r}."
        )
    if name is not None and not isinstance(name, str):
        raise ValueError(f"from_torch: name must be a string or None; got {name!r}.")
    _check_options(module, kind)

    num_layers = int(module.num_layers)
    bidirectional = bool(module.bidirectional)
    dropout = float(module.dropout)

    model = keras.Sequential(name=name)
    model.add(keras.Input((None, int(module.input_size))))
    recurrent = []
    for layer in range(num_layers):
        last = layer == num_layers - 1
        layer_name = None if name is None else f"{name}_l{layer}"
        if bidirectional:
            inner_name = None if name is None else f"{layer_name}_{kind}"
            rnn = _recurrent_layer(module, kind, return_sequences or not last, inner_name)
            rnn = keras.layers.Bidirectional(rnn, merge_mode="concat", name=layer_name)
        else:
            rnn = _recurrent_layer(module, kind, return_sequences or not last, layer_name)
        model.add(rnn)
        recurrent.append(rnn)
        if dropout > 0.0 and not last:
            drop_name = None if name is None else f"{name}_dropout{layer}"
            model.add(keras.layers.Dropout(dropout, name=drop_name))

    for layer, rnn in enumerate(recurrent):
        if bidirectional:
            _assign(rnn.forward_layer, _keras_weights(module, kind, layer, "", torch))
            _assign(rnn.backward_layer, _keras_weights(module, kind, layer, "_reverse", torch))
        else:
            _assign(rnn, _keras_weights(module, kind, layer, "", torch))
    return model
