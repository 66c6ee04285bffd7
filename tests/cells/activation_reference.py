"""NumPy references (float64) of every rnncells cell with a chosen `activation` (act) and
`recurrent_activation` (sig), the equations written out from the cells' documented math.

Written independently of rnncells' code: each step takes the cell's weights by name (see
`weights_by_name`) and returns the new states (first = output). Dropout is off (inference).

    LayerNormLSTMCell (tfa formulation, eps 1e-3):
        z = LN(x W; gk, bk) + LN(h U; gr, br) + b ; i, f, g, o = split(z)
        c' = LN(sig(f) c + sig(i) act(g); gs, bs) ; h' = sig(o) act(c')   (c' normalized)
    LayerNormGRUCell (eps 1e-3): gx = LN(x W; gk) + b0 ; gh = LN(h U; gr) + b1
        z = sig(gx_z + gh_z) ; r = sig(gx_r + gh_r) ; h' = z h + (1 - z) act(gx_h + r gh_h)
    LayerNormSimpleRNNCell (eps 1e-5): h' = act(LN(x W + h U; gamma) + b)
    BatchNormLSTMCell / BatchNormGRUCell at inference: as the LSTM / GRU above with
        BN_t(v) = (v - moving_mean[t]) / sqrt(moving_variance[t] + 1e-3) * gamma (+ beta)
        in place of LN (t = step, clipped to max_steps - 1; LSTM: h' = sig(o) act(BN(c')),
        the raw c' is carried)
    PeepholeLSTMCell: i = sig(z_i + p_i c) ; f = sig(z_f + p_f c) ; c' = f c + i act(z_c)
        o = sig(z_o + p_o c') ; h' = o act(c')
    ESNCell (leaky 1): h' = act(x W + h W_r + b)
    IndRNNCell: h' = act(x W + b + u * h)
    MinGRUCell: z = s(x W_z + b_z) ; h' = (1 - z) h + z act(x W_h + b_h)   (s: sigmoid, fixed)
    MinLSTMCell: f = s(k_f), i = s(k_i) ; h' = f/(f+i) h + i/(f+i) act(k_h)
    ConvLSTMCell / ConvGRUCell (rank 1, "same" padding, stride 1, channels_last): the LSTM /
        GRU above with x W, h U replaced by 1-D convolutions (no norm, no recurrent bias)
"""

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# Activations, written from their definitions (not from Keras).
ACTIVATIONS = {
    "tanh": np.tanh,
    "sigmoid": sigmoid,
    "relu": lambda z: np.maximum(z, 0.0),
    "leaky_relu": lambda z: np.where(z >= 0, z, 0.2 * z),  # Keras's default slope
    "LeakyReLU(0.1)": lambda z: np.where(z >= 0, z, 0.1 * z),
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
    # Keras 3: relu6(x + 3) / 6 = clip(x / 6 + 1 / 2, 0, 1)
    "hard_sigmoid": lambda z: np.clip(z / 6.0 + 0.5, 0.0, 1.0),
    None: lambda z: z,
}


def weights_by_name(cell):
    """{name: float64 array}; the name is the weight's path below the cell with "/" -> "_"
    (so `kernel_norm_gamma` and a norm sublayer's `kernel_norm/gamma` read the same)."""
    out = {}
    for weight in cell.weights:
        parts = weight.path.split("/")
        below = parts[parts.index(cell.name) + 1:] if cell.name in parts else parts[-1:]
        out["_".join(below)] = np.asarray(weight.numpy(), np.float64)
    return out


def pick(w, *names):
    """The first of `names` in w, else the unique key ending with the last name."""
    for name in names:
        if name in w:
            return w[name]
    matches = [k for k in w if k.endswith(names[-1])]
    if len(matches) != 1:
        raise KeyError(f"none of {names} in {sorted(w)}")
    return w[matches[0]]


def ln(x, gamma, beta=None, eps=1e-3):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps) * gamma
    return y if beta is None else y + beta


def _lstm_update(z, c, act, sig, state_norm):
    zi, zf, zg, zo = np.split(z, 4, axis=-1)
    c_new = sig(zf) * c + sig(zi) * act(zg)
    c_out = state_norm(c_new)
    return sig(zo) * act(c_out), c_new, c_out


def _gru_update(gx, gh, h, act, sig):
    xz, xr, xh = np.split(gx, 3, axis=-1)
    hz, hr, hh = np.split(gh, 3, axis=-1)
    z, r = sig(xz + hz), sig(xr + hr)
    return z * h + (1 - z) * act(xh + r * hh)


def layer_norm_lstm(w, act, sig):
    def step(x, h, c):
        z = (ln(x @ w["kernel"], pick(w, "kernel_norm_gamma"), pick(w, "kernel_norm_beta"))
             + ln(h @ w["recurrent_kernel"], pick(w, "recurrent_norm_gamma"),
                  pick(w, "recurrent_norm_beta"))
             + w["bias"])
        gamma, beta = pick(w, "state_norm_gamma"), pick(w, "state_norm_beta")
        h_new, _, c_norm = _lstm_update(z, c, act, sig, lambda v: ln(v, gamma, beta))
        return h_new, c_norm
    return step


def layer_norm_gru(w, act, sig):
    def step(x, h):
        gx = ln(x @ w["kernel"], pick(w, "kernel_norm_gamma")) + w["bias"][0]
        gh = ln(h @ w["recurrent_kernel"], pick(w, "recurrent_norm_gamma")) + w["bias"][1]
        return (_gru_update(gx, gh, h, act, sig),)
    return step


def layer_norm_simple_rnn(w, act, sig):
    def step(x, h):
        pre = x @ w["kernel"] + h @ w["recurrent_kernel"]
        return (act(ln(pre, pick(w, "gamma"), eps=1e-5) + w["bias"]),)
    return step


def _bn(w, prefix, v, t, with_beta=False, eps=1e-3):
    row = min(int(t), w[f"{prefix}_moving_mean"].shape[0] - 1)
    y = ((v - w[f"{prefix}_moving_mean"][row]) / np.sqrt(w[f"{prefix}_moving_variance"][row]
                                                           + eps) * w[f"{prefix}_gamma"])
    return y + w[f"{prefix}_beta"] if with_beta else y


def batch_norm_lstm(w, act, sig):
    def step(x, h, c, t):
        tt = t[0, 0]
        z = (_bn(w, "kernel_norm", x @ w["kernel"], tt)
             + _bn(w, "recurrent_norm", h @ w["recurrent_kernel"], tt) + w["bias"])
        h_new, c_new, _ = _lstm_update(z, c, act, sig,
                                       lambda v: _bn(w, "state_norm", v, tt, with_beta=True))
        return h_new, c_new, t + 1
    return step


def batch_norm_gru(w, act, sig):
    def step(x, h, t):
        tt = t[0, 0]
        gx = _bn(w, "kernel_norm", x @ w["kernel"], tt) + w["bias"][0]
        gh = _bn(w, "recurrent_norm", h @ w["recurrent_kernel"], tt) + w["bias"][1]
        return _gru_update(gx, gh, h, act, sig), t + 1
    return step


def peephole_lstm(w, act, sig):
    def step(x, h, c):
        z = x @ w["kernel"] + h @ w["recurrent_kernel"] + w["bias"]
        zi, zf, zc, zo = np.split(z, 4, axis=-1)
        i = sig(zi + w["input_gate_peephole_weights"] * c)
        f = sig(zf + w["forget_gate_peephole_weights"] * c)
        c_new = f * c + i * act(zc)
        o = sig(zo + w["output_gate_peephole_weights"] * c_new)
        return o * act(c_new), c_new
    return step


def esn(w, act, sig):
    def step(x, h):
        return (act(x @ w["kernel"] + h @ w["recurrent_kernel"] + w["bias"]),)
    return step


def indrnn(w, act, sig):
    def step(x, h):
        return (act(x @ w["kernel"] + w["bias"] + w["recurrent_kernel"] * h),)
    return step


def min_gru(w, act, sig):
    def step(x, h):
        kz, kh = np.split(x @ w["kernel"] + w["bias"], 2, axis=-1)
        z = sigmoid(kz)
        return ((1 - z) * h + z * act(kh),)
    return step


def min_lstm(w, act, sig):
    def step(x, h):
        kf, ki, kh = np.split(x @ w["kernel"] + w["bias"], 3, axis=-1)
        f, i = sigmoid(kf), sigmoid(ki)
        return (f / (f + i) * h + i / (f + i) * act(kh),)
    return step


def conv1d_same(x, kernel):
    """x (B, L, C), kernel (K, C, O), K odd: "same" padding, stride 1."""
    k = kernel.shape[0]
    pad = np.pad(x, ((0, 0), ((k - 1) // 2, k // 2), (0, 0)))
    return sum(pad[:, j:j + x.shape[1]] @ kernel[j] for j in range(k))


def conv_lstm(w, act, sig):
    def step(x, h, c):
        z = conv1d_same(x, w["kernel"]) + w["bias"] + conv1d_same(h, w["recurrent_kernel"])
        h_new, c_new, _ = _lstm_update(z, c, act, sig, lambda v: v)
        return h_new, c_new
    return step


def conv_gru(w, act, sig):
    def step(x, h):
        gx = conv1d_same(x, w["kernel"]) + w["bias"]
        gh = conv1d_same(h, w["recurrent_kernel"])
        return (_gru_update(gx, gh, h, act, sig),)
    return step


def run(step, x, states):
    """Outputs (B, T, ...) of `step` over axis 1 of x from `states`; also the final states."""
    outputs = []
    for t in range(x.shape[1]):
        states = step(x[:, t], *states)
        outputs.append(states[0])
    return np.stack(outputs, axis=1), states
