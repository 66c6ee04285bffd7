"""Normalization math shared by the cells (pure functions; the weights live in the cells).

Statistics are always computed in float32, also under `mixed_float16` / `mixed_bfloat16`,
and the result is cast back to the input's dtype.
"""

from keras import ops


def layer_norm(x, gamma=None, beta=None, epsilon=1e-3, axis=-1):
    """(x - mean(x)) / sqrt(var(x) + epsilon) * gamma + beta over `axis` (biased variance).

    Works on any rank; `gamma` and `beta` broadcast against the normalized axes.
    """
    dtype = x.dtype
    x32 = ops.cast(x, "float32")
    mean, variance = ops.moments(x32, axes=axis if isinstance(axis, (list, tuple)) else [axis],
                                 keepdims=True)
    y = (x32 - mean) * ops.rsqrt(variance + epsilon)
    if gamma is not None:
        y = y * ops.cast(gamma, "float32")
    if beta is not None:
        y = y + ops.cast(beta, "float32")
    return ops.cast(y, dtype)
