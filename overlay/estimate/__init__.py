"""Folding and estimates: per-layer cost models, the folding (a file or a search for the target), the
folded graph's estimate and its report (`python -m codenet.overlay.estimate`, `make estimate`)."""
