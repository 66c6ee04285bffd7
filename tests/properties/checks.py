"""The four properties as plain Python checkers (each returns a `Check`, never asserts).

They take a `Trace`: one forward and one backward pass of a cell over a sequence
(`rnncells.diagnostics.SequenceProbe` with `jacobian=True`), giving for every sample b and
step t the Frobenius norms of the full Jacobians

    J_state[b, t] = || d o_T / d s_t ||_F      s_t: the state entering step t (s_0 = 0)
    J_input[b, t] = || d o_T / d x_t ||_F

(o_T the last output), the outputs o_t and whether they, the final states and the
gradients were all finite. The mutant tests call the same checkers on deliberately broken
cells and assert that they report a failure.
"""

import dataclasses

import numpy as np

from rnncells.diagnostics import SequenceProbe

_PROBES = {}


@dataclasses.dataclass
class Check:
    ok: bool
    value: float
    limit: float
    message: str

    def __bool__(self):
        return self.ok


@dataclasses.dataclass
class Trace:
    outputs: np.ndarray  # (batch, T, n_out)
    state_jacobian: np.ndarray  # (batch, T)
    input_jacobian: np.ndarray  # (batch, T)
    finite: bool


def trace(cell, x):
    """Run `cell` over `x` (batch, T, *step) in inference mode; Jacobian norms per step."""
    key = id(cell)
    if key not in _PROBES or _PROBES[key][0] is not cell:
        _PROBES[key] = (cell, SequenceProbe(cell, x.shape[2:]))
    # Short sequences run eagerly (tracing costs more than stepping a few times).
    result = _PROBES[key][1].run(x, jacobian=True, compiled=x.shape[1] > 40)
    return Trace(result["outputs"], result["state_jacobian"], result["input_jacobian"],
                 result["finite"])


def check_finite(tr):
    """(a) outputs, final states and gradients (Jacobians) are all finite."""
    return Check(tr.finite, float(tr.finite), 1.0,
                 "outputs, states and gradients finite" if tr.finite
                 else "non-finite output, state or gradient")


def check_no_explosion(tr, state_bound, input_bound=None, skip_first=True):
    """(b) max_t ||d o_T/d s_t||_F <= state_bound (t >= 1 with skip_first) and
    max_t ||d o_T/d x_t||_F <= input_bound (when given)."""
    states = tr.state_jacobian[:, 1:] if skip_first else tr.state_jacobian
    worst = float(np.nanmax(states)) if states.size else 0.0
    if not np.isfinite(states).all():
        worst = float("inf")
    if not worst <= state_bound:
        return Check(False, worst, state_bound,
                     f"||d o_T/d s_t||_F reaches {worst:.3g} > bound {state_bound:.3g}")
    if input_bound is not None:
        worst_x = float(np.max(tr.input_jacobian)) if np.isfinite(tr.input_jacobian).all() \
            else float("inf")
        if not worst_x <= input_bound:
            return Check(False, worst_x, input_bound,
                         f"||d o_T/d x_t||_F reaches {worst_x:.3g} > bound {input_bound:.3g}")
    return Check(True, worst, state_bound, "no explosion")


def check_memory(tr, threshold):
    """(c) the gradient reaching step 1: min_b ||d o_T/d s_0||_F >= threshold."""
    reached = float(np.min(tr.state_jacobian[:, 0]))
    if not np.isfinite(reached):
        reached = float("nan")
    ok = bool(reached >= threshold)
    return Check(ok, reached, threshold,
                 f"||d o_T/d s_0||_F = {reached:.3g} {'>=' if ok else '<'} {threshold:.3g}")


def check_bounded_state(tr, bound):
    """(d) every output |o_t| <= bound, elementwise."""
    worst = float(np.max(np.abs(tr.outputs))) if np.isfinite(tr.outputs).all() else float("inf")
    ok = bool(worst <= bound)
    return Check(ok, worst, bound, f"max |o_t| = {worst:.3g} {'<=' if ok else '>'} {bound:.3g}")
