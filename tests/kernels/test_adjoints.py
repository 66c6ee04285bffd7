"""Every analytic step adjoint (`FusedSpec.step_vjp`) against TensorFlow's autodiff.

For each cell whose spec defines an adjoint, `FusedRNN(cell)` (whose per-step backward then
calls the adjoint instead of differentiating a recomputed `recur`) must give the outputs and
ALL gradients (input, initial states, every weight) of `keras.layers.RNN(cell)` (autodiff of
the per-step loop): float32 at 1e-5 relative, with masks, dropout and go_backwards; float16
(mixed precision) at 2e-2, which is the rounding of a float16 step (2^-10 ~ 1e-3) grown over
a few steps and reductions. `_WrongGammaGRUCell`, a mutant whose adjoint drops one term,
shows that the check catches a wrong adjoint; a spy shows the adjoint actually ran.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import rnncells
from rnncells import FusedRNN
from rnncells.cells import layer_norm
from tests.kernels.test_fused import _features, assert_fused_matches_rnn

# Every cell class with an adjoint, with the options that exercise it.
ADJOINT_CELLS = {
    "LayerNormGRUCell": lambda units, **kw: rnncells.LayerNormGRUCell(units, **kw),
}


def test_the_cells_listed_here_are_all_the_cells_with_an_adjoint():
    with_adjoint = set()
    for name in rnncells.__all__:
        cls = getattr(rnncells, name)
        if isinstance(cls, type) and issubclass(cls, rnncells.cells.base.RecurrentCell) and (
                "step_vjp" in vars(cls)):
            with_adjoint.add(name)
    assert with_adjoint == set(ADJOINT_CELLS)
    for make in ADJOINT_CELLS.values():
        cell = make(3)
        cell.build((None, 2))
        assert cell.fused_spec().step_vjp is not None
        # The adjoint is written for tanh / sigmoid: other activations take the tape.
        other = make(3, activation="relu")
        other.build((None, 2))
        assert other.fused_spec().step_vjp is None


@pytest.mark.parametrize("name", sorted(ADJOINT_CELLS))
@pytest.mark.parametrize("masked,go_backwards,training", [
    (False, False, False), (True, True, False), (True, False, True), (False, True, True)])
def test_adjoint_equals_autodiff_float32(name, masked, go_backwards, training):
    options = dict(dropout=0.3, recurrent_dropout=0.3, seed=5) if training else {}
    assert_fused_matches_rnn(lambda u: ADJOINT_CELLS[name](u, **options), _features,
                             batch=3, steps=4, features=3, units=4, seed=3, masked=masked,
                             go_backwards=go_backwards, return_sequences=True,
                             random_initial_state=True, training=training)


@pytest.mark.parametrize("name", sorted(ADJOINT_CELLS))
def test_adjoint_equals_autodiff_mixed_float16(name):
    keras.mixed_precision.set_global_policy("mixed_float16")
    assert_fused_matches_rnn(lambda u: ADJOINT_CELLS[name](u), _features, batch=3, steps=4,
                             features=3, units=4, seed=4, masked=True, go_backwards=False,
                             return_sequences=True, random_initial_state=False,
                             training=True, tolerance=2e-2)


def test_the_adjoint_runs_in_the_fused_backward(monkeypatch):
    calls = []
    original = layer_norm.layer_norm_gru_step_vjp

    def spy(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(layer_norm, "layer_norm_gru_step_vjp", spy)
    layer = FusedRNN(rnncells.LayerNormGRUCell(3), use_fused=True, jit=False)
    x = tf.constant(np.ones((2, 4, 3), "float32"))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x))
    tape.gradient(loss, layer.trainable_weights)
    assert len(calls) == 4  # once per step of the reverse loop (eager)


@keras.saving.register_keras_serializable(package="rnncells_tests")
class _WrongGammaGRUCell(rnncells.LayerNormGRUCell):
    """MUTANT: its adjoint forgets the gamma gradient (a plausible slip)."""

    def step_vjp(self, projected, states, d_output, d_states, training=None):
        d_p, d_h, d_w = super().step_vjp(projected, states, d_output, d_states, training)
        return d_p, d_h, [d_w[0], tf.zeros_like(d_w[1])] + d_w[2:]


def test_the_check_catches_a_wrong_adjoint():
    def check(make):
        assert_fused_matches_rnn(make, _features, batch=2, steps=3, features=3, units=3,
                                 seed=0, masked=False, go_backwards=False,
                                 return_sequences=True, random_initial_state=False)

    mutant = _WrongGammaGRUCell(3)
    mutant.build((None, 3))
    assert mutant.fused_spec().step_vjp is not None  # the kernels will call it
    with pytest.raises(AssertionError, match="recurrent_norm/gamma"):
        check(lambda u: _WrongGammaGRUCell(u))
    check(lambda u: rnncells.LayerNormGRUCell(u))
