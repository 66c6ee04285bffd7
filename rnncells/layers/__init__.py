"""Sequence layers: `FusedRNN` (the path dispatch) and `ConvRNN` / ConvGRU*D / ConvLSTM*D."""
