"""The cells the property suite covers, each with the bounds its equations give.

`SPECS`: one entry per rnncells cell class, built at its default initialization (or the one
named), with
- (b) `jacobian_bound(cell, x)`: B with ||d o_T / d s_t||_F <= B for every t >= 1 and T <= 300
  (s_t the state entering step t; t = 0 is the zero initial state, where a layer norm of
  h_0 @ U = 0 has its largest gain 1/sqrt(eps), so it is left to the memory property), and
  `input_bound(cell, x)`: C with ||d o_T / d x_t||_F <= C for every t;
- (d) `state_bound(cell, x)`: b with |o_t| <= b for every t and element (None: not bounded by
  the equations);
and `why`, the derivation. Two kinds of bounds appear, and each says which it is:
- "proof": follows from the equations and the initialization (diagonal or convex
  recurrences, orthogonal/normalized recurrent matrices, bounded activation slopes);
- "envelope": for gated and layer-normalized cells the worst case over all inputs is not
  T-independent (the products of per-step Jacobian bounds grow like (1 + 5/4)^k), but at
  the initialization the direct paths are contractive (forget gate <= 1, convex GRU update)
  and a layer norm can amplify by at most 1/sqrt(eps) where its input has ~zero variance.
  The envelope is a T-independent constant stated with the largest value measured in a sweep
  (`python -m tests.properties.sweep`: units {min, min + 3}, T in {2, 7, 60, 300}, the
  spec's input scales within 1e-3..1e3, float32 and mixed_float16) and, where noted, in a
  search over weight seeds. Where a shipped cell breaks any envelope (chaotic layer-norm
  cells at tiny inputs, NASCell at large ones) the spec's input range is narrowed
  (`min_scale`, `max_scale`) and test_known_limits.py pins the counterexample. It
  catches exponential growth (IndRNN with |u| = 1.5 reaches 1.5^99 > 1e17 in 100 steps), but
  a loose envelope (1000 for the layer-norm cells) would not catch a mild, saturating blow-up
  like tanh SimpleRNN x3 (~9 at T = 100); the proofs (SimpleRNN, IndRNN, minimal cells, ESN)
  do.

`MEMORY_SPECS`: cells at an initialization that promises memory over T <= 300 steps, with
(c) `memory_threshold(cell, x)` for ||d o_T / d s_0||_F and the input scales it holds for.

Add a spec when a cell is added to rnncells; test_registry_coverage.py fails otherwise.
"""

import dataclasses
import math
from collections.abc import Callable

import keras
import numpy as np

import rnncells
from rnncells.initializers import Chrono

T_MAX = 300  # the longest sequence the properties draw


def fro(weight):
    """Frobenius norm of a weight (any shape)."""
    return float(np.linalg.norm(np.asarray(weight.numpy(), "float64").ravel()))


def mixed(cell):
    return cell.compute_dtype == "float16"


@dataclasses.dataclass
class CellSpec:
    name: str
    make: Callable  # make(units) -> cell
    cls: type
    step_shape: Callable = lambda features: (features,)
    min_units: int = 1
    min_scale: float = 1e-3
    max_scale: float = 1e3
    jacobian_bound: Callable = None  # (cell, x) -> float
    input_bound: Callable = None  # (cell, x) -> float
    state_bound: Callable = None  # (cell, x) -> float
    memory_threshold: Callable = None  # (cell, x) -> float
    why: str = ""


def _sqrt_n(cell):
    size = cell.output_size
    return math.sqrt(size if isinstance(size, int) else math.prod(size))


def _state_n(cell):
    sizes = cell.state_size
    sizes = [sizes] if isinstance(sizes, int) else list(sizes)
    return math.sqrt(sum(s if isinstance(s, int) else math.prod(s) for s in sizes))


def _envelope(constant):
    return lambda cell, x: constant * _state_n(cell)


def _unit(cell, x):
    return 1.0


def _conv(cls, **kwargs):
    def make(units):
        return cls(1, filters=units, kernel_size=3, padding="same", **kwargs)
    return make


def _conv_input_bound(constant):
    # conv operator norm <= sqrt(kernel taps) * ||kernel||_F (3 taps here)
    return lambda cell, x: constant * _state_n(cell) * math.sqrt(3) * fro(cell.kernel)


def _gated_input_bound(constant):
    return lambda cell, x: constant * _state_n(cell) * fro(cell.kernel)


def _ln_input_bound(eps):
    # one more layer norm (of x @ W) in front of the recurrent chain: gain <= 1/sqrt(eps)
    return lambda cell, x: (1.0 / eps) * _state_n(cell) * fro(cell.kernel) / math.sqrt(eps)


def _candidate_max(cell, x):
    """max |x @ W_h + b_h|: the minimal cells' candidate block (the last `units` columns)."""
    projected = keras.ops.convert_to_numpy(
        keras.ops.cast(cell.project(keras.ops.cast(x, cell.compute_dtype)), "float32"))
    return float(np.max(np.abs(projected[..., -cell.units:])))


def _minimal_state_bound(cell, x):
    # h_t = a_t h_{t-1} + (1 - a_t) h~_t with a in [0, 1], h_0 = 0: a convex combination, so
    # |h_t| <= max_s |h~_s| (1% slack for float16 rounding of a).
    return _candidate_max(cell, x) * (1.01 if mixed(cell) else 1.0 + 1e-5)


def _minimal_input_bound(gate_blocks):
    # d o_T/d x_t = diag(prod_{s>t} a_s) d(a_t h_{t-1} + b_t)/d x_t with prod a <= 1; the
    # gate derivative is sigma' (<= 1/4) times (h~ - h) (|.| <= 2 max|h~|), the candidate's is
    # <= 1: <= (1/2) max|h~| sum ||W_gate||_F + ||W_h||_F.
    def bound(cell, x):
        kernel = np.asarray(cell.kernel.numpy(), "float64")
        u = cell.units
        gates = sum(np.linalg.norm(kernel[:, k * u:(k + 1) * u]) for k in range(gate_blocks))
        value = 0.5 * _candidate_max(cell, x) * gates + np.linalg.norm(kernel[:, -u:])
        return value * (1.05 if mixed(cell) else 1.0 + 1e-4)
    return bound


def _indrnn_factor(cell):
    # |u| <= 2^(1/T_MAX); in float16 u is rounded (relative error <= 2^-11 per factor):
    # (1 + 2^-11)^300 < 1.16.
    return 2.0 * (1.16 if mixed(cell) else 1.0 + 1e-5)


def _indrnn_state_bound(cell, x):
    # h_t = relu(p_t + u h_{t-1}) <= |p_t| + |u| h_{t-1}: |h_T| <= sum_k |u|^k max|p|
    # <= 2 T max|p| for T <= T_MAX (|u|^k <= 2^(k/T_MAX) <= 2), p = x @ W + b.
    p = x.astype("float64") @ np.asarray(cell.kernel.numpy(), "float64")
    p = p + np.asarray(cell.bias.numpy(), "float64")
    return _indrnn_factor(cell) * x.shape[1] * float(np.max(np.abs(p))) * 1.01


def _chrono():
    return Chrono(2 * T_MAX)


#: Layer-norm cells explode below this input scale (a finding of this suite, shown in
#: test_known_limits.py): when x @ W is small against the norm's epsilon, LN(x @ W) ~ 0 and
#: the cell runs almost autonomously, while LN(h @ U) keeps the recurrent drive at unit
#: variance however small h is; for some initializations that map is chaotic and
#: ||d o_T/d s_t|| grows exponentially (1e12 over 150 steps at input scale 1e-3), and in
#: float16 the gradients overflow. At input scale >= 0.1 the input drive dominates.
LN_MIN_SCALE = 0.1

#: NASCell's recurrent Jacobian grows with the input size (the a3 * b3 block): checked up to
#: this input scale; test_known_limits.py pins the explosion at 1e3.
NAS_MAX_SCALE = 10.0

SPECS = [
    CellSpec(
        "LayerNormSimpleRNNCell", lambda u: rnncells.LayerNormSimpleRNNCell(u),
        rnncells.LayerNormSimpleRNNCell, min_units=2, min_scale=LN_MIN_SCALE,
        jacobian_bound=_envelope(1.0 / math.sqrt(1e-5)),
        input_bound=lambda cell, x: (1e5 * _state_n(cell) * fro(cell.kernel)),
        state_bound=_unit,
        why="envelope: one layer norm per step (eps 1e-5), gain <= ||U||_2 |gamma| / "
            "sqrt(var + eps) <= 1/sqrt(eps) = 316 per unit of sqrt(n); measured max at input "
            "scales >= 0.1: 3.9 (sweep), 107 (20 weight seeds, scale 0.1, T = 300: the "
            "thinnest margin; below 0.1 see LN_MIN_SCALE). "
            "Input: one more LN gain. |h| = |tanh(.)| <= 1 (proof)."),
    CellSpec(
        "LayerNormLSTMCell", lambda u: rnncells.LayerNormLSTMCell(u),
        rnncells.LayerNormLSTMCell, min_units=2, min_scale=LN_MIN_SCALE,
        jacobian_bound=_envelope(1e3), input_bound=_ln_input_bound(1e-3),
        state_bound=_unit,
        why="envelope: two layer norms on the recurrent path (LN_r of h @ U, LN_s of c), "
            "eps 1e-3: (1/sqrt(eps))^2 = 1000 per unit of sqrt(n); measured max at input "
            "scales >= 0.1: 109 (sweep, scale 100, T = 300). "
            "|h| = sigma(o) |tanh(LN(c))| <= 1 (proof)."),
    CellSpec(
        "LayerNormGRUCell", lambda u: rnncells.LayerNormGRUCell(u),
        rnncells.LayerNormGRUCell, min_units=2, min_scale=LN_MIN_SCALE,
        jacobian_bound=_envelope(1e3), input_bound=_ln_input_bound(1e-3),
        state_bound=_unit,
        why="envelope: the update h' = z h + (1 - z) n has a direct path <= 1; n reads LN_h "
            "(h @ U) and the gates read it too: two LN gains, (1/sqrt(1e-3))^2 = 1000; measured "
            "max at input scales >= 0.1: 13.6 (sweep; 245 at 0.01). |h| <= 1: convex "
            "combination of h_0 = 0 and tanh values (proof)."),
    CellSpec(
        "MinGRUCell", lambda u: rnncells.MinGRUCell(u), rnncells.MinGRUCell,
        jacobian_bound=lambda cell, x: _sqrt_n(cell) * (1.0 + 1e-5),
        input_bound=_minimal_input_bound(1), state_bound=_minimal_state_bound,
        why="proof: the gates read x only, so d h_T/d h_t = diag(prod a_s), a = 1 - z in "
            "(0, 1): ||.||_F <= sqrt(n). Input and state bounds: see _minimal_input_bound, "
            "_minimal_state_bound."),
    CellSpec(
        "MinLSTMCell", lambda u: rnncells.MinLSTMCell(u), rnncells.MinLSTMCell,
        jacobian_bound=lambda cell, x: _sqrt_n(cell) * (1.0 + 1e-5),
        input_bound=_minimal_input_bound(2), state_bound=_minimal_state_bound,
        why="proof: d h_T/d h_t = diag(prod f'_s), f' = f / (f + i) in (0, 1): <= sqrt(n); "
            "the normalized gate's derivative w.r.t. k_f, k_i is <= 1/4 (sigma' of "
            "softplus differences, each with slope <= 1)."),
    CellSpec(
        "IndRNNCell", lambda u: rnncells.IndRNNCell(u, max_steps=T_MAX),
        rnncells.IndRNNCell,
        jacobian_bound=lambda cell, x: _indrnn_factor(cell) * _sqrt_n(cell),
        input_bound=lambda cell, x: _indrnn_factor(cell) * fro(cell.kernel),
        state_bound=_indrnn_state_bound,
        why="proof (Li et al. 2018): d h_T/d h_t = diag(prod u relu'), |u| <= 2^(1/300), "
            "relu' in {0, 1}: each element <= 2^((T-t)/300) <= 2 for T <= 300, so "
            "||.||_F <= 2 sqrt(n); input: times diag(relu') W^T, <= 2 ||W||_F."),
    CellSpec(
        "ESNCell", lambda u: rnncells.ESNCell(u, connectivity=1.0, use_norm2=True),
        rnncells.ESNCell,
        jacobian_bound=lambda cell, x: _sqrt_n(cell) * (1.0 + 1e-3),
        input_bound=lambda cell, x: fro(cell.kernel) * (1.0 + 1e-3),
        state_bound=_unit,
        why="proof for use_norm2=True: ||W_r||_2 = 0.9 and tanh' <= 1, so each step's "
            "Jacobian (1 - leaky) I + leaky diag(tanh') W_r^T has spectral norm <= 0.9: "
            "||d h_T/d h_t||_F <= sqrt(n) 0.9^(T-t) <= sqrt(n). (With the default "
            "spectral-radius scaling only the asymptotic decay is guaranteed, not this "
            "bound.) |h| <= 1: leaky convex combination of tanh values."),
    CellSpec(
        "ConvLSTMCell", _conv(rnncells.ConvLSTMCell), rnncells.ConvLSTMCell,
        step_shape=lambda f: (4, f), jacobian_bound=_envelope(4.0),
        input_bound=_conv_input_bound(4.0), state_bound=_unit,
        why="envelope 4 per unit of sqrt(n): c-path diag(f) <= 1, other paths through "
            "sigma' <= 1/4 and tanh' <= 1 and the orthogonal recurrent kernel; measured max "
            "0.87. |h| = sigma(o) |tanh(c)| <= 1 (proof)."),
    CellSpec(
        "ConvGRUCell", _conv(rnncells.ConvGRUCell), rnncells.ConvGRUCell,
        step_shape=lambda f: (4, f), jacobian_bound=_envelope(4.0),
        input_bound=_conv_input_bound(4.0), state_bound=_unit,
        why="envelope 4: direct path diag(z) <= 1 plus gated paths; measured max 0.92. "
            "|h| <= 1: convex combination (proof)."),
    CellSpec(
        "PeepholeLSTMCell", lambda u: rnncells.PeepholeLSTMCell(u), rnncells.PeepholeLSTMCell,
        jacobian_bound=_envelope(4.0), input_bound=_gated_input_bound(4.0),
        state_bound=_unit,
        why="envelope 4 (as ConvLSTMCell; the peepholes add sigma' p c terms); measured max "
            "1.21. |h| <= 1 (proof)."),
    CellSpec(
        "NASCell", lambda u: rnncells.NASCell(u), rnncells.NASCell, max_scale=NAS_MAX_SCALE,
        jacobian_bound=_envelope(4.0), input_bound=_gated_input_bound(4.0),
        state_bound=_unit,
        why="envelope 4 at input scales <= 10: l3 = relu(a3 * b3) multiplies the input term "
            "a3 into the recurrent term b3 = m @ R, so the recurrent Jacobian grows with |x| "
            "and no gate bounds it (12 weight seeds, T = 300: max J/sqrt(n) 0.5 at scale 10, "
            "20 at 100, 2100 at 1e3; see NAS_MAX_SCALE). |m| = |tanh(.)| <= 1 (proof)."),
    CellSpec(
        "BatchNormLSTMCell", lambda u: rnncells.BatchNormLSTMCell(u),
        rnncells.BatchNormLSTMCell,
        jacobian_bound=_envelope(4.0), input_bound=_gated_input_bound(4.0),
        state_bound=_unit,
        why="envelope 4 (LSTM paths; at inference BN is the affine map gamma / sqrt(moving "
            "var + eps) = 0.1 / sqrt(1.001) at init); measured max 0.1. |h| <= 1 (proof)."),
    CellSpec(
        "BatchNormGRUCell", lambda u: rnncells.BatchNormGRUCell(u),
        rnncells.BatchNormGRUCell,
        jacobian_bound=_envelope(4.0), input_bound=_gated_input_bound(4.0),
        state_bound=_unit,
        why="envelope 4 (GRU paths, BN affine at inference); measured max 1.0. |h| <= 1: "
            "convex combination (proof)."),
    CellSpec(
        "Zoneout", lambda u: rnncells.Zoneout(rnncells.PeepholeLSTMCell(u), rate=0.1),
        rnncells.Zoneout,
        jacobian_bound=_envelope(4.0),
        input_bound=lambda cell, x: 4.0 * _state_n(cell) * fro(cell.cell.kernel),
        state_bound=_unit,
        why="at inference s_t = 0.1 s_{t-1} + 0.9 s'_t: a convex combination of the inner "
            "cell's Jacobian and the identity, so the inner cell's envelope (4) holds; |h| <= 1 "
            "as for the inner PeepholeLSTMCell (proof)."),
]

MEMORY_WHY = (
    "Chrono initialization (Tallec & Ollivier 2018) with max_timescale 2 T_MAX = 600 gives "
    "unit j a forget bias ln(tau_j), tau_j ~ U[1, 599] (input bias -ln(tau_j)): with small "
    "gate inputs f_j = tau_j / (1 + tau_j), so the c-path keeps prod f >= exp(-T / tau_j) "
    ">= e^-2 for the units with tau_j >= 150 (present with probability >= 94% for 2 units), "
    "and d h_T / d c_0 = sigma(o) tanh'(c) prod f ~ 0.5 * 0.4 * e^-2 = 0.03. Threshold 1e-3 "
    "(a unit forget bias gives sigma(1)^300 ~ 1e-41, the mutants ~0). "
    "Non-normalized cells: input scale <= 1 (larger inputs saturate the gates, which chrono "
    "cannot prevent: measured 0 at 1e3). Layer-normalized cells: any scale (LN(x @ W) has unit "
    "variance), but >= 4 units (a layer norm over 2-3 units is nearly constant, which blocks "
    "the gradient). Measured minima (two sweeps, see `sweep.py`): LN-LSTM 5.9, LN-GRU 0.61, "
    "BN-GRU 0.27, ConvGRU 0.21, Peephole 0.10, ConvLSTM 0.099, BN-LSTM 0.012 (12x the "
    "threshold)."
)


def _threshold(value):
    return lambda cell, x: value


def _indrnn_memory(cell, x):
    # proof: with bias 1 and |x @ W| < 1 every pre-activation p + b + u h > 0 (u > 0, h >= 0),
    # so relu' = 1 and d h_T/d h_0 = diag(prod u) with u >= 0.5^(1/T_MAX): each element
    # >= 0.5, ||.||_F >= 0.5 sqrt(n). float16 rounding of u: (1 - 2^-11)^300 > 0.86.
    return 0.5 * _sqrt_n(cell) * (0.86 if mixed(cell) else 1.0 - 1e-4)


MEMORY_SPECS = [
    CellSpec("LayerNormLSTMCell+chrono",
             lambda u: rnncells.LayerNormLSTMCell(u, unit_forget_bias=False,
                                                  bias_initializer=_chrono()),
             rnncells.LayerNormLSTMCell, min_units=4, memory_threshold=_threshold(1e-3)),
    CellSpec("LayerNormGRUCell+chrono",
             lambda u: rnncells.LayerNormGRUCell(
                 u, bias_initializer=Chrono(2 * T_MAX, gates="gru")),
             rnncells.LayerNormGRUCell, min_units=4, memory_threshold=_threshold(1e-3)),
    CellSpec("PeepholeLSTMCell+chrono",
             lambda u: rnncells.PeepholeLSTMCell(u, unit_forget_bias=False,
                                                 bias_initializer=_chrono()),
             rnncells.PeepholeLSTMCell, min_units=2, max_scale=1.0,
             memory_threshold=_threshold(1e-3)),
    CellSpec("ConvLSTMCell+chrono",
             _conv(rnncells.ConvLSTMCell, unit_forget_bias=False, bias_initializer=_chrono()),
             rnncells.ConvLSTMCell, step_shape=lambda f: (4, f), min_units=2, max_scale=1.0,
             memory_threshold=_threshold(1e-3)),
    CellSpec("ConvGRUCell+chrono",
             _conv(rnncells.ConvGRUCell, bias_initializer=Chrono(2 * T_MAX, gates="gru")),
             rnncells.ConvGRUCell, step_shape=lambda f: (4, f), min_units=2, max_scale=1.0,
             memory_threshold=_threshold(1e-3)),
    CellSpec("BatchNormLSTMCell+chrono",
             lambda u: rnncells.BatchNormLSTMCell(u, unit_forget_bias=False,
                                                  bias_initializer=_chrono()),
             rnncells.BatchNormLSTMCell, min_units=2, max_scale=1.0,
             memory_threshold=_threshold(1e-3)),
    CellSpec("BatchNormGRUCell+chrono",
             lambda u: rnncells.BatchNormGRUCell(
                 u, bias_initializer=Chrono(2 * T_MAX, gates="gru")),
             rnncells.BatchNormGRUCell, min_units=2, max_scale=1.0,
             memory_threshold=_threshold(1e-3)),
    CellSpec("IndRNNCell+bounds",
             lambda u: rnncells.IndRNNCell(u, max_steps=T_MAX,
                                           recurrent_min_abs=0.5 ** (1 / T_MAX),
                                           bias_initializer="ones"),
             rnncells.IndRNNCell, max_scale=0.02, memory_threshold=_indrnn_memory,
             why="proof, see _indrnn_memory; scale <= 0.02 keeps |x @ W| < 1 (3 features, "
                 "glorot weights <= 1.2: |x W| <= ||x||_2 ||W_col||_2 < 0.02 * 6 * 2.1)."),
]
