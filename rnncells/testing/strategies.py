"""Hypothesis strategies for recurrent cells: the cases `check_cell` draws, public so that
your own property tests can draw the same ones.

A `Case` is four small numbers, so Hypothesis shrinks a failure to a short sequence, a
small batch, a plain input scale and a seed; the arrays are made from them with NumPy:

    from hypothesis import given
    from rnncells.testing import strategies

    @given(strategies.cases(max_steps=20))
    def test_my_cell_is_finite(case):
        x = case.inputs((3,))            # (batch, steps, 3), float32
        y = keras.layers.RNN(MyCell(4))(x)
        assert np.isfinite(keras.ops.convert_to_numpy(y)).all()

Needs `hypothesis` (`pip install "rnncells[testing]"`).
"""

import dataclasses
import math

import numpy as np

from rnncells import _validation as validation

try:
    from hypothesis import strategies as st
except ImportError as error:  # tested in tests/testing/test_check_cell.py
    raise ImportError(
        "rnncells.testing needs the `hypothesis` package: pip install \"rnncells[testing]\" "
        "(or pip install hypothesis).") from error

__all__ = ["Case", "cases", "input_scales", "masks", "sequences"]


@dataclasses.dataclass(frozen=True)
class Case:
    """One drawn input: `batch` rows of `steps` steps, entries ~ N(0, scale^2), from `seed`.

    Attributes:
        steps: the number of time steps (>= 1).
        batch: the number of rows (>= 1).
        scale: the standard deviation of the inputs (> 0).
        seed: the NumPy seed the arrays are drawn from.
    """

    steps: int
    batch: int
    scale: float
    seed: int

    def inputs(self, step_shape, dtype="float32"):
        """The input sequence, shape (batch, steps, *step_shape)."""
        rng = np.random.default_rng(self.seed)
        shape = (self.batch, self.steps, *tuple(step_shape))
        return (self.scale * rng.standard_normal(shape)).astype(dtype)

    def mask(self, keep=0.7):
        """A boolean mask (batch, steps): each step kept with probability `keep`, masked
        steps anywhere (leading, in the middle, trailing), at least one kept step per row."""
        rng = np.random.default_rng(self.seed + 1)
        mask = rng.random((self.batch, self.steps)) < keep
        empty = ~mask.any(axis=1)
        mask[empty, rng.integers(0, self.steps, size=int(empty.sum()))] = True
        return mask

    def describe(self):
        return (f"steps={self.steps}, batch={self.batch}, scale={self.scale:.3g}, "
                f"seed={self.seed}")


def _range(name, low, high, kind):
    low, high = kind(name, low), kind(name, high)
    if low > high:
        raise ValueError(f"Invalid value for argument `{name}`: the low end must not exceed "
                         f"the high end, received ({low!r}, {high!r}).")
    return low, high


def input_scales(low=0.1, high=10.0):
    """Input scales drawn log-uniformly in [low, high] (shrinking towards 1 where 1 is in
    range: the plainest scale)."""
    low, high = _range("input_scale", low, high, validation.positive_float)
    lo, hi = math.log10(low), math.log10(high)
    centre = min(max(0.0, lo), hi)
    # Hypothesis shrinks a float towards 0: draw the offset from the plainest exponent.
    return st.floats(lo - centre, hi - centre).map(lambda e: float(10.0 ** (centre + e)))


def cases(max_steps=40, min_steps=1, max_batch=3, min_batch=1, input_scale=(0.1, 10.0)):
    """A strategy of `Case`s: steps in [min_steps, max_steps], batch in [min_batch,
    max_batch], scale log-uniform in `input_scale`, seed in [0, 2^16)."""
    min_steps, max_steps = _range("max_steps", min_steps, max_steps, validation.positive_int)
    min_batch, max_batch = _range("max_batch", min_batch, max_batch, validation.positive_int)
    return st.builds(Case, steps=st.integers(min_steps, max_steps),
                     batch=st.integers(min_batch, max_batch),
                     scale=input_scales(*input_scale), seed=st.integers(0, 2 ** 16 - 1))


def sequences(step_shape, dtype="float32", **case_options):
    """A strategy of input arrays (batch, steps, *step_shape): `cases(**case_options)` made
    into arrays."""
    step_shape = tuple(step_shape)
    return cases(**case_options).map(lambda case: case.inputs(step_shape, dtype))


def masks(**case_options):
    """A strategy of `(case, mask)` pairs: the mask of `Case.mask` (masked steps anywhere,
    at least one kept step per row)."""
    return cases(**case_options).map(lambda case: (case, case.mask()))
