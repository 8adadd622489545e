"""FINN flow for the board, in pipeline order.

transforms/  QONNX graph passes: our integer blocks to single nodes, NHWC, then HW layers
ops/         the custom ops those passes write: QONNX ops (general) and our FINN HW layers (hw)
flow/        the step list QONNX -> bundle, the board config, FIFO depths, the bundle writer, the bitstream
estimate/    cost models, folding (given or searched), the estimate of a folded graph and its report
codegen/     our HLS kernels as FINN HLS ops: specialization, C++ generation, cppsim
bench/       `make bench`: simulator against onnxruntime, the host's costs
"""
