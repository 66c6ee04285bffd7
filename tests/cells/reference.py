"""NumPy reference implementations of the layer-norm cells, equations written out.

These are written from the equations in the issue / papers, independently of rnncells'
code, and run in float64.
"""

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def ln(x, gamma=None, beta=None, eps=1e-3):
    """Layer norm over the last axis: (x - mean) / sqrt(var + eps) * gamma + beta."""
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return y


def ln_lstm_step(x, h, c, w, formulation="tfa", eps=1e-3):
    """One step of the layer-norm LSTM. `w` maps weight names to arrays.

    tfa:    z = LN_k(xW) + LN_r(hU) + b; c' = LN_s(s(f) c + s(i) tanh(g)); h' = s(o) tanh(c')
    ba2016: z = LN_k(xW; no beta) + LN_r(hU; no beta) + b; c' = s(f) c + s(i) tanh(g);
            h' = s(o) tanh(LN_s(c'))  and the raw c' is carried.
    """
    z = (ln(x @ w["kernel"], w["kernel_norm_gamma"], w.get("kernel_norm_beta"), eps)
         + ln(h @ w["recurrent_kernel"], w["recurrent_norm_gamma"],
              w.get("recurrent_norm_beta"), eps)
         + w["bias"])
    zi, zf, zg, zo = np.split(z, 4, axis=-1)
    c_new = sigmoid(zf) * c + sigmoid(zi) * np.tanh(zg)
    c_norm = ln(c_new, w["state_norm_gamma"], w["state_norm_beta"], eps)
    h_new = sigmoid(zo) * np.tanh(c_norm)
    return h_new, (c_norm if formulation == "tfa" else c_new)


def ln_gru_step(x, h, w, eps=1e-3):
    """gx = LN(xW; gamma) + b0; gh = LN(hU; gamma) + b1 (blocks z, r, h);
    z = s(gx_z + gh_z); r = s(gx_r + gh_r); n = tanh(gx_h + r * gh_h); h' = z h + (1-z) n."""
    gx = ln(x @ w["kernel"], w["kernel_norm_gamma"], None, eps) + w["bias"][0]
    gh = ln(h @ w["recurrent_kernel"], w["recurrent_norm_gamma"], None, eps) + w["bias"][1]
    xz, xr, xh = np.split(gx, 3, axis=-1)
    hz, hr, hh = np.split(gh, 3, axis=-1)
    z = sigmoid(xz + hz)
    r = sigmoid(xr + hr)
    n = np.tanh(xh + r * hh)
    return z * h + (1 - z) * n


def ln_simple_rnn_step(x, h, w, eps=1e-5):
    """h' = tanh(LN(xW + hU; gamma, no beta) + b)  (tensorflow-addons LayerNormSimpleRNNCell)."""
    return np.tanh(ln(x @ w["kernel"] + h @ w["recurrent_kernel"], w["layernorm_gamma"], None,
                      eps)
                   + w["bias"])


def run_sequence(step, x, states):
    """Apply `step(x_t, *states) -> new states (first = output)` over axis 1 of x."""
    outputs = []
    for t in range(x.shape[1]):
        new = step(x[:, t], *states)
        states = new if isinstance(new, tuple) else (new,)
        outputs.append(states[0])
    return np.stack(outputs, axis=1), states
