"""No inherited fast path can lie: a subclass that changes a cell's equations loses them.

A fast path written for one class's equations (LayerNormGRUCell's analytic `step_vjp`,
MinGRUCell's `scan_coefficients`) must not run for a subclass that overrides `recur` or
`project`: FusedRNN then differentiates (or loops over) the subclass's own step. The check
compares FusedRNN with `keras.layers.RNN` (which only calls `call` = `recur(project(x))` and
lets the backend differentiate it) on every route, eagerly and under `tf.function`.
`test_mutant_inherited_adjoint_gives_wrong_gradients` switches the rule off and shows the
comparison then fails: the bug this guards against.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

import rnncells
from rnncells import FusedRNN
from rnncells.cells import base as base_module
from rnncells.cells.base import fast_path_holds, fused_spec_of

ATOL = RTOL = 1e-5


class _ResidualGRU(rnncells.LayerNormGRUCell):
    """A researcher's change: the parent's step, then half of it replaced by the old state."""

    def recur(self, projected, states, training=None):
        output, new_states = super().recur(projected, states, training=training)
        h = 0.5 * new_states[0] + 0.5 * ops.tanh(states[0])
        return h, [h]


class _LoggingGRU(rnncells.LayerNormGRUCell):
    """Overrides `recur` without changing the equations, and says so."""

    fast_paths_hold = True

    def recur(self, projected, states, training=None):
        return super().recur(projected, states, training=training)


class _FromLoggingGRU(_LoggingGRU):
    """A subclass of a declaring subclass that changes the equations again."""

    def recur(self, projected, states, training=None):
        output, new_states = super().recur(projected, states, training=training)
        return output * 2.0, [new_states[0] * 2.0]


class _SquaredMinGRU(rnncells.MinGRUCell):
    """Inherits `scan_coefficients` but makes the recurrence nonlinear in the state."""

    def recur(self, projected, states, training=None):
        output, new_states = super().recur(projected, states, training=training)
        h = new_states[0] - 0.1 * ops.square(states[0])
        return h, [h]


def _copy_weights(source, target_cell, inputs):
    layer = keras.layers.RNN(target_cell, return_sequences=True)
    layer(inputs)
    layer.set_weights(source.get_weights())
    return layer


def _loss_and_grads(layer, inputs, weights, graph):
    def run():
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            out = layer(inputs, training=True)
            loss = tf.reduce_sum(out * weights)
        return out, tape.gradient(loss, [inputs] + layer.trainable_weights)

    return tf.function(run)() if graph else run()


def _assert_fused_matches_rnn(cell_class, graph, **fused_kwargs):
    rng = np.random.default_rng(0)
    inputs = tf.constant(rng.normal(size=(3, 6, 4)).astype("float32"))
    fused = FusedRNN(cell_class(5), return_sequences=True, use_fused=True, **fused_kwargs)
    fused(inputs)
    for w in fused.weights:  # a non-trivial recurrent kernel and norm
        w.assign(rng.normal(scale=0.5, size=w.shape).astype("float32"))
    reference = _copy_weights(fused, cell_class(5), inputs)
    out_weights = tf.constant(rng.normal(size=(3, 6, 5)).astype("float32"))
    out_f, grads_f = _loss_and_grads(fused, inputs, out_weights, graph)
    out_r, grads_r = _loss_and_grads(reference, inputs, out_weights, graph)
    np.testing.assert_allclose(out_f, out_r, atol=ATOL, rtol=RTOL)
    for g_f, g_r, w in zip(grads_f, grads_r, [inputs] + fused.trainable_weights):
        np.testing.assert_allclose(g_f, g_r, atol=ATOL, rtol=RTOL,
                                   err_msg=f"gradient of {getattr(w, 'path', 'inputs')}")
    return fused


# Every loop route, eager and traced; XLA only traced (eager calls never compile).
ROUTES = [(dict(backward=backward, jit=False), graph)
          for backward in ("per_step", "batched", "autodiff") for graph in (False, True)]
ROUTES += [(dict(backward=backward, jit=True), True) for backward in ("per_step", "batched")]


@pytest.mark.parametrize(
    "route,graph", ROUTES,
    ids=lambda v: (f"{v['backward']}-jit{v['jit']}" if isinstance(v, dict)
                   else ("graph" if v else "eager")))
def test_subclass_overriding_recur_gets_its_own_gradients(route, graph):
    _assert_fused_matches_rnn(_ResidualGRU, graph, **route)


def test_spec_drops_the_adjoint_for_a_subclass_and_keeps_it_for_the_owner():
    inputs = np.zeros((2, 3, 4), "float32")
    cells = {}
    for cls in (rnncells.LayerNormGRUCell, _ResidualGRU, _LoggingGRU, _FromLoggingGRU):
        cell = cls(5)
        keras.layers.RNN(cell)(inputs)
        cells[cls] = fused_spec_of(cell).step_vjp is not None
    assert cells == {rnncells.LayerNormGRUCell: True, _ResidualGRU: False,
                     _LoggingGRU: True, _FromLoggingGRU: False}


def test_declared_subclass_keeps_the_adjoint_and_its_numbers():
    _assert_fused_matches_rnn(_LoggingGRU, graph=False, backward="per_step", jit=False)


def test_declaration_is_not_inherited_by_a_further_change():
    _assert_fused_matches_rnn(_FromLoggingGRU, graph=False, backward="per_step", jit=False)


@pytest.mark.parametrize("graph", [False, True], ids=["eager", "graph"])
def test_subclass_inheriting_scan_coefficients_takes_the_loop(graph):
    assert FusedRNN(rnncells.MinGRUCell(3), use_fused=True).fused_path == "scan"
    fused = _assert_fused_matches_rnn(_SquaredMinGRU, graph, jit=False)
    assert fused.fused_path == "loop"


def test_fast_path_holds_walks_the_mro():
    assert fast_path_holds(rnncells.LayerNormGRUCell, rnncells.LayerNormGRUCell)
    assert not fast_path_holds(_ResidualGRU, rnncells.LayerNormGRUCell)
    assert fast_path_holds(_LoggingGRU, rnncells.LayerNormGRUCell)
    assert not fast_path_holds(_FromLoggingGRU, rnncells.LayerNormGRUCell)

    class _OnlyConfig(rnncells.LayerNormGRUCell):  # no equation method overridden
        def get_config(self):
            return super().get_config()

    assert fast_path_holds(_OnlyConfig, rnncells.LayerNormGRUCell)


def test_mutant_inherited_adjoint_gives_wrong_gradients(monkeypatch):
    """MUTANT: the old behaviour (every inherited fast path holds) fails the comparison."""
    monkeypatch.setattr(base_module, "fast_path_holds", lambda cls, owner: True)
    with pytest.raises(AssertionError, match="gradient"):
        _assert_fused_matches_rnn(_ResidualGRU, graph=False, backward="per_step", jit=False)


def test_mutant_inherited_scan_gives_wrong_outputs(monkeypatch):
    """MUTANT: with the old behaviour the subclass runs its parent's parallel scan."""
    monkeypatch.setattr(base_module, "fast_path_holds", lambda cls, owner: True)
    with pytest.raises(AssertionError):
        _assert_fused_matches_rnn(_SquaredMinGRU, graph=False, jit=False)
