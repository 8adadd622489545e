"""The custom ops the passes write: QONNX ops for what FINN has no op for (general) and our FINN HW
layers (hw). Each module's import path is its nodes' domain."""
