"""Keras's per-weight arguments (initializer, regularizer, constraint), written once.

A Keras cell takes three arguments per weight, named after a prefix: `kernel_initializer`,
`kernel_regularizer`, `kernel_constraint` for `kernel`; `recurrent_*` for `recurrent_kernel`;
`bias_*` for `bias` (and `gamma_*`, `projection_*`, ... for other weights). `WeightArguments`
resolves a triplet (`initializers.get`, ...), serializes it for `get_config` and passes it to
`add_weight`, so a cell writes each of those steps once per weight, not three times.

`KernelRecurrentCell` is the base of the cells that take Keras's kernel / recurrent_kernel /
bias arguments and activations (the dense, convolutional, IndRNN, minimal and ESN cells). A
cell declares which of them it takes (`activation_arguments`, `weight_arguments`); the others
are neither accepted (unless left at their defaults) nor written to its config, so no subclass
has to delete inherited config keys.
"""

import inspect

from keras import constraints, initializers, ops, regularizers

from rnncells import activations
from rnncells.cells.base import RecurrentCell

#: the three arguments of a weight, with the Keras module that resolves / serializes each.
_KINDS = (("initializer", initializers), ("regularizer", regularizers),
          ("constraint", constraints))


class WeightArguments:
    """Mixin for Keras layers: the initializer / regularizer / constraint of named weights.

    The triplet of prefix `p` lives in the attributes `p_initializer`, `p_regularizer` and
    `p_constraint` (Keras's names, read by users and by `get_config`).
    """

    def set_weight_arguments(self, prefix, initializer, regularizer=None, constraint=None):
        """Resolve and store the triplet of `prefix` (strings, configs or objects)."""
        for (kind, module), value in zip(_KINDS, (initializer, regularizer, constraint)):
            setattr(self, f"{prefix}_{kind}", module.get(value))

    def weight_arguments_config(self, *prefixes):
        """The `get_config` entries of the triplets of `prefixes`."""
        return {f"{prefix}_{kind}": module.serialize(getattr(self, f"{prefix}_{kind}"))
                for prefix in prefixes for kind, module in _KINDS}

    def add_weight_with_arguments(self, prefix, shape, name, **overrides):
        """`add_weight(shape, name)` with the triplet of `prefix`; `overrides` (e.g. an
        `initializer`, `trainable`) replace or extend it. A missing attribute counts as None."""
        arguments = {kind: getattr(self, f"{prefix}_{kind}", None) for kind, _ in _KINDS}
        return self.add_weight(shape=shape, name=name, **{**arguments, **overrides})


def unit_forget_bias(base, block):
    """LSTM bias initializer: `base` everywhere but 1 on the forget block (gate order i, f, c,
    o, blocks of `block` entries), as Keras's `unit_forget_bias=True`."""

    def init(shape, dtype=None):
        return ops.concatenate([
            base((block,), dtype=dtype),
            initializers.get("ones")((block,), dtype=dtype),
            base((shape[-1] - 2 * block,), dtype=dtype),
        ])

    return init


class KernelRecurrentCell(WeightArguments, RecurrentCell):
    """Base of the cells with Keras's kernel / recurrent_kernel / bias and activation arguments.

    Args:
        activation: default "tanh". recurrent_activation: activation of the gates (default
            "sigmoid").
        use_bias: default True.
        kernel_initializer ("glorot_uniform"), recurrent_initializer ("orthogonal"),
        bias_initializer ("zeros"); kernel_/recurrent_/bias_ regularizer and constraint (None).
        dropout, recurrent_dropout, seed, **kwargs: see `RecurrentCell`.

    A subclass lists in `activation_arguments` the activations it takes (a SimpleRNN only
    "activation", NAS none) and in `weight_arguments` the weights whose triplets it takes
    (the minimal cells have no recurrent kernel: "kernel", "bias"). An argument it does not
    take must be left at its default (else ValueError), is not stored and is not in its config.
    """

    activation_arguments = ("activation", "recurrent_activation")
    weight_arguments = ("kernel", "recurrent", "bias")

    def __init__(
        self,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform", kernel_regularizer=None, kernel_constraint=None,
        recurrent_initializer="orthogonal", recurrent_regularizer=None, recurrent_constraint=None,
        bias_initializer="zeros", bias_regularizer=None, bias_constraint=None,
        **kwargs,
    ):
        passed = dict(locals())
        arguments = {name: passed[name] for name in _DEFAULTS}
        super().__init__(**kwargs)
        taken = {"use_bias", *self.activation_arguments} | {
            f"{prefix}_{kind}" for prefix in self.weight_arguments for kind, _ in _KINDS}
        for name, value in arguments.items():
            if name in taken:
                continue
            if not _is_default(value, _DEFAULTS[name]):
                raise ValueError(
                    f"Invalid argument `{name}` for {type(self).__name__}: the cell has no "
                    f"such {'activation' if 'activation' in name else 'weight'}; received "
                    f"{name}={value!r}. Allowed: leave it out.")
        for name in self.activation_arguments:
            setattr(self, name, activations.get(arguments[name]))
        self.use_bias = bool(use_bias)
        for prefix in self.weight_arguments:
            self.set_weight_arguments(prefix,
                                      *(arguments[f"{prefix}_{kind}"] for kind, _ in _KINDS))

    def input_projection(self, inputs, training):
        """Dropout on the input, then x @ kernel (a dense kernel), for one step or a sequence."""
        sequence = self.is_sequence(inputs)
        inputs = self.apply_input_dropout(inputs, training, sequence)
        return ops.matmul(inputs, self.cast_weight(self.kernel))

    def add_bias(self, z, row=None):
        """z + bias (row `row` of a 2-D bias, e.g. Keras's GRU input / recurrent rows), or z
        unchanged without a bias."""
        if not self.use_bias:
            return z
        bias = self.cast_weight(self.bias)
        return z + (bias if row is None else bias[row])

    def get_config(self):
        config = {name: activations.serialize(getattr(self, name))
                  for name in self.activation_arguments}
        config["use_bias"] = self.use_bias
        config.update(self.weight_arguments_config(*self.weight_arguments))
        return {**super().get_config(), **config}


_DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(KernelRecurrentCell.__init__).parameters.items()
    if parameter.default is not inspect.Parameter.empty
}


def _is_default(value, default):
    return value is default or (isinstance(value, str) and value == default)
