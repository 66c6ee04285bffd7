"""Cells: one module per family (weights + step math), all following the project/recur protocol."""
