"""Sequence layers: `keras.layers.RNN` subclasses that know the shapes of convolutional cells."""
