"""QONNX/FINN graph passes: the exported integer blocks to our single nodes (absorb), channel-wise ops
to NHWC (nhwc), our ops to HW layers (to_hw)."""
