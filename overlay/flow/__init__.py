"""The build: the step list QONNX -> bundle, the board config, FIFO depths, the bundle writer, and the
FINN/Vivado tail to the bitstream and its handoff (`python -m codenet.overlay.flow.bitstream`)."""
