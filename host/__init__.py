"""Board side of codenet-fpga: bundles, pre/post-processing, backends, CLI.

Imports numpy (and pynq on the board) only, so it runs on the PYNQ-Z2 image (Python 3.10, armv7l).
"""
