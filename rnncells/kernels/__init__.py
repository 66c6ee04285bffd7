"""Kernels: how a whole sequence runs (compiled loops, parallel scans); stateless functions."""
