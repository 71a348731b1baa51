"""Compiled per-chunk kernels."""
