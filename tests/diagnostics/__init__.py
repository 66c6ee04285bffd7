"""Tests of rnncells.diagnostics."""
