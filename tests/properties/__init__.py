"""Gradient-health properties of every rnncells cell (see registry.py for the bounds)."""
