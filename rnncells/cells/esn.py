"""Echo state network cell (drop-in for tensorflow-addons' ESNCell) and its reservoir initializer.

Weight layout (the same in `keras.layers.RNN(cell)` and `FusedRNN(cell)`, and in tfa 0.23):
recurrent_kernel (U, U) FIRST, then kernel (D, U), bias (U) if use_bias; all three are
non-trainable (a reservoir: only a readout on top of the states is trained).
"""

import keras
from keras import initializers, ops

from rnncells import _validation as validation
from rnncells._serialization import keras_serializable
from rnncells.cells.weights import KernelRecurrentCell


@keras_serializable
class ESNRecurrentInitializer(keras.initializers.Initializer):
    """Sparse reservoir matrix scaled to a spectral radius (the initializer of ESNCell).

    ::

        W = base(shape) * (u <= connectivity),   u ~ Uniform[0, 1) per entry
        W = W * spectral_radius / max|eig(W)|            (use_norm2=False)
        W = W * spectral_radius / ||W||_2                (use_norm2=True)

    `||W||_2` is tfa's "norm 2": the 2-norm of W's entries (sqrt of the sum of squares, the
    Frobenius norm). It bounds the largest |eigenvalue| from above, so max|eig(W)| <=
    spectral_radius also then, without an eigendecomposition. An all-zero W stays zero.

    Args:
        connectivity: fraction of the entries kept, in [0, 1] (default 0.1).
        spectral_radius: target, > 0 (default 0.9; < 1 for the echo state property).
        use_norm2: scale by the 2-norm instead of the eigenvalues (default False).
        base_initializer: draws W before the mask (default "glorot_uniform").
        seed: int seed for the connectivity mask (default None: Keras's global seed).

    Examples:
        >>> w = rnncells.ESNRecurrentInitializer(connectivity=0.5)((8, 8))
        >>> float(np.max(np.abs(np.linalg.eigvals(w))))  # doctest: +SKIP
        0.9
    """

    def __init__(self, connectivity=0.1, spectral_radius=0.9, use_norm2=False,
                 base_initializer="glorot_uniform", seed=None):
        self.connectivity = validation.unit_interval("connectivity", connectivity,
                                                     closed_high=True)
        self.spectral_radius = validation.positive_float("spectral_radius", spectral_radius)
        self.use_norm2 = bool(use_norm2)
        self.base_initializer = initializers.get(base_initializer)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(
                f"Invalid value for argument `seed`: expected an int or None, received "
                f"seed={seed!r}.")
        self.seed = seed

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        if len(shape) != 2 or (not self.use_norm2 and shape[0] != shape[1]):
            allowed = "(n, m)" if self.use_norm2 else "square (n, n) (eigenvalues)"
            raise ValueError(
                f"Invalid value for argument `shape` of ESNRecurrentInitializer: expected a "
                f"{allowed} shape, received shape={shape}.")
        dtype = dtype or keras.backend.floatx()
        weights = ops.cast(self.base_initializer(shape, dtype=dtype), "float32")
        keep = keras.random.uniform(shape, seed=self.seed) <= self.connectivity
        weights = weights * ops.cast(keep, "float32")
        if self.use_norm2:
            norm = ops.sqrt(ops.sum(ops.square(weights)))
            scale = self.spectral_radius / (norm + ops.cast(ops.equal(norm, 0.0), "float32"))
        else:
            radius = ops.max(ops.abs(ops.eig(weights)[0]))
            scale = ops.divide_no_nan(self.spectral_radius, radius)
        return ops.cast(weights * scale, dtype)

    def get_config(self):
        return {
            "connectivity": self.connectivity,
            "spectral_radius": self.spectral_radius,
            "use_norm2": self.use_norm2,
            "base_initializer": initializers.serialize(self.base_initializer),
            "seed": self.seed,
        }


@keras_serializable
class ESNCell(KernelRecurrentCell):
    """Echo state network cell (Jaeger 2001): a fixed random reservoir with leaky integration.

    ::

        h' = (1 - leaky) * h + leaky * act(x @ W + h @ W_r + b)

    W_r is drawn by `ESNRecurrentInitializer`: `recurrent_initializer`, then only a fraction
    `connectivity` of its entries kept, then scaled so that its largest |eigenvalue| is
    `spectral_radius` (or its 2-norm, an upper bound, when `use_norm2`). No weight is
    trainable.

    Weights, in order (as tfa, so `cell.set_weights(tfa_cell.get_weights())` works):
    recurrent_kernel (U, U), kernel (D, U), bias (U) if use_bias; all non-trainable.

    Args (tfa's names and defaults):
        units: positive int, size of the reservoir.
        connectivity: probability that a reservoir connection exists, in [0, 1] (default 0.1).
        leaky: leaking rate, in [0, 1] (default 1: no leaky integration).
        spectral_radius: > 0 (default 0.9; keep it < 1 for the echo state property).
        use_norm2: scale by the 2-norm instead of the eigenvalues (default False).
        use_bias: default True. activation: default "tanh" (None means linear).
        kernel_initializer "glorot_uniform", recurrent_initializer "glorot_uniform" (the
        reservoir before masking and scaling), bias_initializer "zeros".
        Beyond tfa: dropout, recurrent_dropout (default 0), seed (also seeds the mask).

    State: one tensor h (batch, units); `state_size` is the int `units`, as tfa's. The new
    state comes back as a bare tensor, as tfa's (`out, state = cell(x, state)`), except when
    the state came in as a list of exactly one tensor `[h]`: then `[h']`, as Keras's own
    single-state cells do (`keras.layers.StackedRNNCells` relies on it).
    `get_initial_state(batch_size)` returns `[zeros]`, as every Keras 3 cell.

    Call arguments:
        inputs: (batch, features). states: h (batch, units), or a list whose first item is h.
        training: bool (dropout).
    Returns: (h', h'), or (h', [h']) for states `[h]`.

    Examples:
        >>> keras.layers.RNN(rnncells.ESNCell(10))(np.zeros((2, 5, 3), "float32")).shape
        TensorShape([2, 10])
    """

    activation_arguments = ("activation",)
    #: a reservoir is not trained: initializers only (tfa's arguments), no regularizer or
    #: constraint triplets.
    weight_arguments = ()

    def __init__(self, units, connectivity=0.1, leaky=1, spectral_radius=0.9, use_norm2=False,
                 use_bias=True, activation="tanh", kernel_initializer="glorot_uniform",
                 recurrent_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(activation=activation, use_bias=use_bias, **kwargs)
        self.units = validation.positive_int("units", units)
        self.leaky = validation.unit_interval("leaky", leaky, closed_high=True)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        # Validates connectivity, spectral_radius and seed.
        self.reservoir_initializer = ESNRecurrentInitializer(
            connectivity=connectivity, spectral_radius=spectral_radius, use_norm2=use_norm2,
            base_initializer=self.recurrent_initializer, seed=self.seed)
        self.connectivity = self.reservoir_initializer.connectivity
        self.spectral_radius = self.reservoir_initializer.spectral_radius
        self.use_norm2 = self.reservoir_initializer.use_norm2

    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self):
        return self.units

    def build(self, input_shape):
        input_shape = self.check_step_input_shape(input_shape)
        self.recurrent_kernel = self.add_weight_with_arguments(
            "recurrent", (self.units, self.units), "recurrent_kernel",
            initializer=self.reservoir_initializer, trainable=False)
        self.kernel = self.add_weight_with_arguments("kernel", (input_shape[-1], self.units),
                                                     "kernel", trainable=False)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight_with_arguments("bias", (self.units,), "bias",
                                                       trainable=False)
        self.built = True

    def project(self, inputs, training=None):
        return self.add_bias(self.input_projection(inputs, training))

    def recur(self, projected, states, training=None):
        nested = isinstance(states, (list, tuple))
        h_tm1 = states[0] if nested else states
        h_rec = self.apply_recurrent_dropout(h_tm1, training)
        candidate = self.activation(projected
                                    + ops.matmul(h_rec, self.cast_weight(self.recurrent_kernel)))
        h = (1 - self.leaky) * h_tm1 + self.leaky * candidate
        return h, ([h] if nested and len(states) == 1 else h)

    def get_config(self):
        config = {
            "units": self.units,
            "connectivity": self.connectivity,
            "leaky": self.leaky,
            "spectral_radius": self.spectral_radius,
            "use_norm2": self.use_norm2,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
        }
        return {**super().get_config(), **config}
