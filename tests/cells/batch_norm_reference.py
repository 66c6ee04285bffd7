"""NumPy reference of the recurrently batch-normalized cells (Cooijmans et al. 2016), float64.

Written from the paper's equations, independently of rnncells' code. Padded rows have weight 0
and keep their state and step counter.

    BN(v; t) = (v - mean_t) / sqrt(var_t + eps) * gamma (+ beta)
      training:  mean_t, var_t = batch mean / biased variance over the unpadded rows at
                 step t (rows count their own steps; a padded step does not advance a row);
                 moving[r] <- m * moving[r] + (1 - m) * (mean_t, var_t * n / (n - 1)),
                 r = min(t, max_steps - 1), n = number of those rows,
                 m = min(momentum, (1 + k) / (10 + k)), k = updates row r had before
      inference: mean_t, var_t = moving[min(t, max_steps - 1)]
    LSTM: z = BN_x(x W) + BN_h(h U) + b ; i, f, g, o = split(z)
          c' = s(f) c + s(i) tanh(g) ; h' = s(o) tanh(BN_c(c'))
    GRU:  gx = BN_x(x W) + b0 ; gh = BN_h(h U) + b1 ; z = s(gx_z + gh_z) ; r = s(gx_r + gh_r)
          n = tanh(gx_h + r gh_h) ; h' = z h + (1 - z) n
"""

import numpy as np

NORMS = {"lstm": ("kernel_norm", "recurrent_norm", "state_norm"),
         "gru": ("kernel_norm", "recurrent_norm")}


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class BatchNormReference:
    """Runs a sequence and keeps its own copy of the moving statistics and update counts."""

    def __init__(self, kind, weights, momentum, epsilon, max_steps):
        self.kind = kind
        self.w = {k: np.asarray(v, np.float64) for k, v in weights.items()}
        for prefix in NORMS[kind]:
            self.w.setdefault(f"{prefix}_moving_count", np.zeros(max_steps))
        self.momentum, self.epsilon, self.max_steps = momentum, epsilon, max_steps
        self.records = {p: [] for p in NORMS[kind]}  # pre-norm values seen, per step

    def bn(self, prefix, v, steps, training, weight):
        """v (B, W); steps (B,) each row's step; rows at the same statistics row (step
        clipped to max_steps - 1) form a group with its own batch statistics."""
        rows = np.minimum(steps, self.max_steps - 1)
        mean_key, var_key = f"{prefix}_moving_mean", f"{prefix}_moving_variance"
        count_key = f"{prefix}_moving_count"
        self.records[prefix].append(v)
        mean = self.w[mean_key][rows].copy()
        var = self.w[var_key][rows].copy()
        if training:
            for row in np.unique(rows):
                group = (rows == row) & (weight > 0)
                n = group.sum()
                if n == 0:
                    continue
                g_mean = v[group].mean(0)
                g_var = ((v[group] - g_mean) ** 2).mean(0)
                mean[rows == row], var[rows == row] = g_mean, g_var
                count = self.w[count_key][row]
                m = min(self.momentum, (1 + count) / (10 + count))
                self.w[count_key][row] = count + 1
                self.w[mean_key][row] = m * self.w[mean_key][row] + (1 - m) * g_mean
                self.w[var_key][row] = (m * self.w[var_key][row]
                                        + (1 - m) * g_var * n / max(n - 1, 1))
        y = (v - mean) / np.sqrt(var + self.epsilon) * self.w[f"{prefix}_gamma"]
        if f"{prefix}_beta" in self.w:
            y = y + self.w[f"{prefix}_beta"]
        return y

    def run(self, x, training, mask=None, start_step=0):
        """x (B, T, F); mask (B, T) of 0/1 or None. Returns outputs (B, T, U), final h.

        Each row counts its own steps from start_step; a padded step does not advance it."""
        x = np.asarray(x, np.float64)
        batch, timesteps = x.shape[:2]
        mask = np.ones((batch, timesteps)) if mask is None else np.asarray(mask, np.float64)
        units = self.w["recurrent_kernel"].shape[0]
        h, c = np.zeros((batch, units)), np.zeros((batch, units))
        steps = np.full(batch, start_step)
        outputs = []
        for t in range(timesteps):
            weight = mask[:, t]
            gx = self.bn("kernel_norm", x[:, t] @ self.w["kernel"], steps, training, weight)
            gh = self.bn("recurrent_norm", h @ self.w["recurrent_kernel"], steps, training,
                         weight)
            if self.kind == "lstm":
                zi, zf, zg, zo = np.split(gx + gh + self.w["bias"], 4, axis=-1)
                c_new = sigmoid(zf) * c + sigmoid(zi) * np.tanh(zg)
                h_new = sigmoid(zo) * np.tanh(self.bn("state_norm", c_new, steps, training,
                                                      weight))
            else:
                xz, xr, xh = np.split(gx + self.w["bias"][0], 3, axis=-1)
                hz, hr, hh = np.split(gh + self.w["bias"][1], 3, axis=-1)
                z, r = sigmoid(xz + hz), sigmoid(xr + hr)
                h_new = z * h + (1 - z) * np.tanh(xh + r * hh)
                c_new = c
            keep = mask[:, t:t + 1] > 0  # keras.layers.RNN keeps the state of padded rows
            h, c = np.where(keep, h_new, h), np.where(keep, c_new, c)
            steps = steps + (mask[:, t] > 0)
            outputs.append(h)
        return np.stack(outputs, axis=1), h
