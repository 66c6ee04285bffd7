"""The LSTM and GRU state updates, once, as pure functions of the gate pre-activations.

The layer-norm, batch-norm and convolutional cells differ in how they form the gate
pre-activations (and in a norm on the LSTM cell state); the update itself is the same and
lives here. Gate blocks come in Keras's order, already split (dense cells split the last axis,
convolutional cells the channel axis).
"""


def lstm_update(gates, c_tm1, activation, recurrent_activation, state_norm=None,
                carry_normalized=False):
    """One LSTM state update from the pre-activations `gates = (z_i, z_f, z_g, z_o)`::

        c' = sigma(z_f) * c + sigma(z_i) * act(z_g)
        h' = sigma(z_o) * act(N(c'))          # N = state_norm, the identity by default

    `sigma` is `recurrent_activation`, `act` is `activation`. Returns `(h', carried)`, where
    `carried` is c' (default) or N(c') with `carry_normalized=True` (tensorflow-addons'
    LayerNormLSTMCell carries the normalized state).
    """
    z_i, z_f, z_g, z_o = gates
    c = recurrent_activation(z_f) * c_tm1 + recurrent_activation(z_i) * activation(z_g)
    c_out = c if state_norm is None else state_norm(c)
    h = recurrent_activation(z_o) * activation(c_out)
    return h, (c_out if carry_normalized else c)


def gru_update(input_gates, recurrent_gates, h_tm1, activation, recurrent_activation):
    """One GRU state update, Keras's `reset_after=True` form (the reset gate multiplies the
    recurrent candidate term after its projection)::

        z  = sigma(x_z + h_z) ;  r = sigma(x_r + h_r)
        n  = act(x_h + r * h_h)
        h' = z * h + (1 - z) * n

    `input_gates = (x_z, x_r, x_h)` and `recurrent_gates = (h_z, h_r, h_h)` are the input and
    recurrent pre-activations (each with its bias and norm already applied). Returns h'.
    """
    x_z, x_r, x_h = input_gates
    h_z, h_r, h_h = recurrent_gates
    z = recurrent_activation(x_z + h_z)
    r = recurrent_activation(x_r + h_r)
    candidate = activation(x_h + r * h_h)
    return z * h_tm1 + (1 - z) * candidate
