"""Models the export tests and `benchmarks/deploy.py` convert: every cell, the conv layers,
Bidirectional, masking."""

import keras

import rnncells

UNITS = 4
FEATURES = 3
CONV_STEP = (5, FEATURES)  # one step of a rank-1 conv cell: (width, channels)

#: name -> (make the cell, shape of one input step). Every rnncells cell, and a Keras cell
#: (FusedRNN runs it on Keras's own LSTM loop).
CELLS = {
    "LayerNormSimpleRNNCell": (lambda: rnncells.LayerNormSimpleRNNCell(UNITS), (FEATURES,)),
    "LayerNormLSTMCell": (lambda: rnncells.LayerNormLSTMCell(UNITS), (FEATURES,)),
    "LayerNormGRUCell": (lambda: rnncells.LayerNormGRUCell(UNITS), (FEATURES,)),
    "MinGRUCell": (lambda: rnncells.MinGRUCell(UNITS), (FEATURES,)),
    "MinLSTMCell": (lambda: rnncells.MinLSTMCell(UNITS), (FEATURES,)),
    "IndRNNCell": (lambda: rnncells.IndRNNCell(UNITS), (FEATURES,)),
    "ESNCell": (lambda: rnncells.ESNCell(UNITS), (FEATURES,)),
    "PeepholeLSTMCell": (lambda: rnncells.PeepholeLSTMCell(UNITS), (FEATURES,)),
    "NASCell": (lambda: rnncells.NASCell(UNITS), (FEATURES,)),
    "BatchNormLSTMCell": (lambda: rnncells.BatchNormLSTMCell(UNITS), (FEATURES,)),
    "BatchNormGRUCell": (lambda: rnncells.BatchNormGRUCell(UNITS), (FEATURES,)),
    "Zoneout": (lambda: rnncells.Zoneout(rnncells.PeepholeLSTMCell(UNITS), rate=0.1),
                (FEATURES,)),
    "ConvLSTMCell": (lambda: rnncells.ConvLSTMCell(1, UNITS, 3, padding="same"), CONV_STEP),
    "ConvGRUCell": (lambda: rnncells.ConvGRUCell(1, UNITS, 3, padding="same"), CONV_STEP),
    "keras.LSTMCell": (lambda: keras.layers.LSTMCell(UNITS), (FEATURES,)),
}


def sequence_model(name, batch_size=None, head=True):
    """FusedRNN(cell, return_sequences=True) [+ Dense head, per step and position] on
    (batch, None, *step)."""
    make, step = CELLS[name]
    layers = [keras.Input((None, *step), batch_size=batch_size),
              rnncells.FusedRNN(make(), return_sequences=True)]
    if head:
        layers.append(keras.layers.Dense(2))
    return keras.Sequential(layers, name=name.replace(".", "_"))


def all_cells_model(batch_size=None):
    """One functional model with every cell in its own FusedRNN branch (one conversion)."""
    flat = keras.Input((None, FEATURES), batch_size=batch_size, name="flat")
    conv = keras.Input((None, *CONV_STEP), batch_size=batch_size, name="conv")
    outputs = []
    for make, step in CELLS.values():
        x = conv if len(step) > 1 else flat
        y = rnncells.FusedRNN(make(), return_sequences=True)(x)
        if len(step) > 1:
            y = keras.layers.Reshape((-1, step[0] * UNITS))(y)
        outputs.append(y)
    return keras.Model([flat, conv], keras.layers.Concatenate()(outputs))


def layers_model(batch_size=None):
    """The conv layers, Bidirectional and masking in one model (flat and image inputs).

    No layer-norm LSTM/SimpleRNN here: the long-sequence test compares at 1e-5 after 1000
    steps, and at their default initialization those cells amplify float32 rounding (at
    T = 1000 `FusedRNN` and `keras.layers.RNN` on the same LayerNormLSTMCell already differ by
    ~5e-5 in TensorFlow, and a 1e-7 change of the first input moves the output by ~3e-5).
    """
    flat = keras.Input((None, FEATURES), batch_size=batch_size, name="flat")
    image = keras.Input((None, 4, 4, 2), batch_size=batch_size, name="image")
    bidi = keras.layers.Bidirectional(
        rnncells.FusedRNN(rnncells.LayerNormGRUCell(UNITS), return_sequences=True))(flat)
    masked = rnncells.FusedRNN(rnncells.PeepholeLSTMCell(UNITS), return_sequences=True)(
        keras.layers.Masking(0.0)(flat))
    lstm2d = rnncells.ConvLSTM2D(2, 3, padding="same", return_sequences=True)(image)
    gru2d = keras.layers.Bidirectional(
        rnncells.ConvGRU2D(2, 3, padding="same", return_sequences=True))(image)
    images = keras.layers.Concatenate()([lstm2d, gru2d])
    images = keras.layers.Reshape((-1, 4 * 4 * 6))(images)
    return keras.Model([flat, image], keras.layers.Concatenate()([bidi, masked, images]))


def last_outputs_model(batch_size=None):
    """Cells and conv layers with `return_sequences=False` (Keras's default): the export
    loop keeps only the last output. One functional model (one conversion). The dense cells
    share one loop shape, so three stand for them; every convolutional one is here."""
    flat = keras.Input((None, FEATURES), batch_size=batch_size, name="flat")
    conv = keras.Input((None, *CONV_STEP), batch_size=batch_size, name="conv")
    image = keras.Input((None, 4, 4, 2), batch_size=batch_size, name="image")
    outputs = []
    for name in ("LayerNormGRUCell", "BatchNormLSTMCell", "keras.LSTMCell", "ConvLSTMCell",
                 "ConvGRUCell"):
        make, step = CELLS[name]
        y = rnncells.FusedRNN(make())(conv if len(step) > 1 else flat)
        outputs.append(keras.layers.Flatten()(y))
    for layer in (rnncells.ConvGRU2D(2, 3, padding="same"),
                  rnncells.ConvLSTM2D(2, 3, padding="same"),
                  rnncells.ConvGRU1D(2, 3, padding="same")):
        x = image if layer.cell.rank == 2 else keras.layers.Reshape((-1, 4, 8))(image)
        outputs.append(keras.layers.Flatten()(layer(x)))
    return keras.Model([flat, conv, image], keras.layers.Concatenate()(outputs))
