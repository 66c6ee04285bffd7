"""`CompiledPointwise`: a cell's per-step pointwise function as one XLA call.

A building block below both the cells (which decide to use it) and the kernels (which open
`pointwise_compilation()` around their loops); see docs/performance.md for the measurements.
"""

from rnncells import _backend
from rnncells._compat import in_xla_context


class CompiledPointwise:
    """Run a cell's per-step pointwise function as ONE XLA call inside a non-XLA loop.

    A recurrent step on a CPU is bound by per-op overhead: after `h @ U`, a layer-norm LSTM
    step is ~35 small ops forward and ~100 backward. Wrapping that part (norms, gates, state
    update; no matmul, so oneDNN keeps the matmuls) in `tf.function(jit_compile=True)` makes
    it one XLA cluster, forward and backward, in `keras.layers.RNN`, `FusedRNN` and under a
    `GradientTape`. The math stays in the cell: the cell defines the function and decides to
    use it (`@CompiledPointwise` on a module-level function of tensors and Python constants;
    pass weights as tensors, e.g. `cell.cast_weight(w)`, not as variables).

    It runs compiled only where a kernel asks for it (`pointwise_compilation()`, which
    `run_loop`/`run_sequence` open around their forward and hand-written backward): in
    `keras.layers.RNN` and under TensorFlow's own differentiation of a while loop
    (`backward="autodiff"`) the plain function runs, as it was not measured faster there.
    It also runs plain when executing eagerly (every new shape would compile) and inside an
    XLA computation (the whole-loop `jit` path, `jit_compile=True` train steps): there it
    is compiled with the rest anyway, and a nested XLA call's gradient needs compile-time
    constants that the outer computation does not provide. `enabled = False` on the
    instance (or `CompiledPointwise.enabled = False` for all) turns it off.

    Measured gains (and where it did not help): docs/performance.md. TensorFlow only: on JAX
    and PyTorch the plain function runs (JAX compiles the whole train step anyway).
    """

    enabled = True
    _requested = 0  # depth of open `pointwise_compilation()` contexts

    def __init__(self, fn):
        self.fn = fn
        self._compiled = None
        self.__name__ = getattr(fn, "__name__", "pointwise")
        self.__doc__ = fn.__doc__

    @property
    def compiled(self):
        """The XLA-compiled function (TensorFlow; made on first use)."""
        if self._compiled is None:
            import tensorflow as tf

            self._compiled = tf.function(self.fn, jit_compile=True, autograph=False)
        return self._compiled

    @compiled.setter
    def compiled(self, function):
        self._compiled = function

    def runs_compiled(self):
        """Whether a call made now would run the XLA-compiled function."""
        return (self.enabled and CompiledPointwise._requested > 0
                and _backend.current_graph() is not None
                and not in_xla_context())

    def __call__(self, *args, **kwargs):
        if self.runs_compiled():
            return self.compiled(*args, **kwargs)
        return self.fn(*args, **kwargs)


class pointwise_compilation:
    """Context in which `CompiledPointwise` functions may run compiled (see there)."""

    def __enter__(self):
        CompiledPointwise._requested += 1

    def __exit__(self, *exc):
        CompiledPointwise._requested -= 1
        return False
