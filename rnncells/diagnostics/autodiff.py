"""Gradients for the diagnostics, with each backend's own differentiation.

Keras 3 has no backend-neutral gradient API, so the two gradients the diagnostics need are
written once per backend here: TensorFlow's `GradientTape`, JAX's `value_and_grad` (variables
read through a `keras.StatelessScope`, so nothing is assigned while tracing), PyTorch's
`autograd.grad`.
"""

import keras
from keras import ops


def input_gradient(fn, x):
    """`(aux, dL/dx)` for `loss, aux = fn(x)`; `x` a float32 tensor, `aux` any nest."""
    aux, grad, _ = gradients(fn, x, [])
    return aux, grad


def weight_gradients(loss_fn, weights):
    """The gradients of `loss_fn()` (a scalar) with respect to the Keras variables `weights`
    (zeros where a weight does not reach the loss), as NumPy arrays. Variables that the call
    assigns (moving statistics) are left as they were on JAX; on TensorFlow and PyTorch the
    caller restores them."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn()
        grads = tape.gradient(loss, weights)
    elif backend == "jax":
        import jax

        def loss_of(values):
            with keras.StatelessScope(state_mapping=list(zip(weights, values))):
                return loss_fn()

        grads = jax.grad(loss_of)([w.value for w in weights])
    else:
        import torch

        loss = loss_fn()
        grads = torch.autograd.grad(loss, [w.value for w in weights], allow_unused=True)
    return [ops.convert_to_numpy(ops.zeros(w.shape)) if g is None else ops.convert_to_numpy(g)
            for w, g in zip(weights, grads)]


def gradients(fn, x, weights):
    """`(aux, dL/dx, [dL/dw for w in weights])` for `loss, aux = fn(x)`, in one backward
    pass; `x` a float32 tensor, `weights` Keras variables (a weight that does not reach the
    loss gets zeros). Variables the call assigns (moving statistics) are left as they were
    on JAX; on TensorFlow and PyTorch the caller restores them."""
    backend = keras.backend.backend()
    x = ops.convert_to_tensor(x, "float32")
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            loss, aux = fn(x)
        grads = tape.gradient(loss, [x, *weights])
    elif backend == "jax":
        import jax

        def loss_of(x, values):
            with keras.StatelessScope(state_mapping=list(zip(weights, values))):
                return fn(x)

        (_, aux), grads = jax.value_and_grad(loss_of, argnums=(0, 1), has_aux=True)(
            x, [w.value for w in weights])
        grads = [grads[0], *grads[1]]
    else:
        import torch

        x = x.detach().requires_grad_(True)
        loss, aux = fn(x)
        grads = torch.autograd.grad(loss, [x, *[w.value for w in weights]], allow_unused=True)
        aux = keras.tree.map_structure(lambda t: t.detach(), aux)
    grads = [ops.zeros_like(target) if g is None else g
             for g, target in zip(grads, [x, *[w.value for w in weights]])]
    return aux, grads[0], grads[1:]
