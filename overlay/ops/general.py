"""QONNX custom ops for the two layers FINN has no op for; executed with host.intops' integers.

The domain of these nodes is this module's import path: qonnx's `getCustomOp` imports it by the
node's domain and reads `custom_op`, so FINN's worker processes find the ops without registration.
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.custom_op.base import CustomOp

from codenet.host import intops

DOMAIN = __name__  # codenet.overlay.ops.general: what getCustomOp imports


def unsigned_type(hi: int) -> DataType:
    bits = max(1, int(hi).bit_length())
    return DataType[f"UINT{bits}"]


def same_shape_as_first_input(node):
    """Both ops keep their first input's shape: Identity tells ONNX shape inference so, with or without
    the shapes of earlier tensors being known yet."""
    return helper.make_node("Identity", [node.input[0]], [node.output[0]])


class DyadicRequant(CustomOp):
    """y = clip((acc * M_c + B_c) >> S_c, lo, hi) per channel (axis 1, or last). Inputs: acc, M, B, S (int64)."""

    def get_nodeattr_types(self):
        return {"lo": ("i", True, 0), "hi": ("i", True, 255), "channel_last": ("i", False, 0, {0, 1})}

    def make_shape_compatible_op(self, model):
        return same_shape_as_first_input(self.onnx_node)

    def infer_node_datatype(self, model):
        model.set_tensor_datatype(self.onnx_node.output[0], unsigned_type(self.get_nodeattr("hi")))

    def execute_node(self, context, graph):
        node = self.onnx_node
        acc, mult, bias, shift = (context[i] for i in node.input)
        axis = -1 if self.get_nodeattr("channel_last") else 1
        y = intops.requant(np.moveaxis(acc, axis, -1), mult, bias, shift, self.get_nodeattr("lo"), self.get_nodeattr("hi"))
        context[node.output[0]] = np.moveaxis(y, -1, axis).astype(np.float32)

    def verify_node(self):
        return [] if len(self.onnx_node.input) == 4 else ["DyadicRequant needs acc, mult, bias, shift"]


class BoundedDeformableConv(CustomOp):
    """Depthwise 3x3 whose taps sit at p + d(p)*k, d in {1..bound}. Inputs: x, d (one channel), weight."""

    def get_nodeattr_types(self):
        return {"bound": ("i", True, 4), "channel_last": ("i", False, 0, {0, 1})}

    def make_shape_compatible_op(self, model):
        return same_shape_as_first_input(self.onnx_node)

    def infer_node_datatype(self, model):
        model.set_tensor_datatype(self.onnx_node.output[0], DataType["INT32"])

    def execute_node(self, context, graph):
        node = self.onnx_node
        x, d, w = (context[i] for i in node.input)
        axis = -1 if self.get_nodeattr("channel_last") else 1
        x, d = np.moveaxis(x, axis, -1), np.moveaxis(d, axis, -1)
        acc = intops.deformable_dw(x, d[..., 0].astype(np.int64), w, self.get_nodeattr("bound"))
        context[node.output[0]] = np.moveaxis(acc, -1, axis).astype(np.float32)

    def verify_node(self):
        return [] if len(self.onnx_node.input) == 3 else ["BoundedDeformableConv needs x, d, weight"]


custom_op = {"DyadicRequant": DyadicRequant, "BoundedDeformableConv": BoundedDeformableConv}
