"""Running ONNX graphs of the flow on batches with qonnx/FINN's node-by-node executor."""

from __future__ import annotations

import numpy as np


def with_batch(model, n: int):
    """A copy of a batch-1 graph with the batch dimension set to n (our graphs have no reshapes)."""
    from qonnx.transformation.infer_shapes import InferShapes

    m = model.transform(InferShapes())  # a copy
    del m.graph.value_info[:]
    for t in list(m.graph.input) + list(m.graph.output):
        shape = m.get_tensor_shape(t.name)
        m.set_tensor_shape(t.name, [n] + list(shape[1:]))
    return m.transform(InferShapes())


def execute(model, x: np.ndarray, batched: bool = True) -> np.ndarray:
    """x (N, 3, H, W) float -> the graph's output for the whole batch.

    FINN HW layers carry their batch-1 shapes as attributes: run those graphs with batched=False.
    """
    from qonnx.core.onnx_exec import execute_onnx

    if not batched:
        name_in, name_out = model.graph.input[0].name, model.graph.output[0].name
        return np.concatenate([execute_onnx(model, {name_in: x[i:i + 1].astype(np.float32)})[name_out]
                               for i in range(len(x))])
    m = with_batch(model, x.shape[0])
    out = execute_onnx(m, {m.graph.input[0].name: x.astype(np.float32)})
    return out[m.graph.output[0].name]
