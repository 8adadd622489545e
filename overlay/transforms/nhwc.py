"""Moving our channel-wise ops to NHWC so the transposes around lowered convs cancel.

After LowerConvsToMatMul every conv is Transpose(NCHW->NHWC) Im2Col MatMul Transpose(NHWC->NCHW);
DyadicRequant and BoundedDeformableConv are per channel, so they run on the NHWC tensor instead and
the transpose moves past them, where FINN's AbsorbConsecutiveTransposes removes the pairs.
"""

from __future__ import annotations

from onnx import helper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation
from qonnx.util.basic import get_by_name

TO_NCHW = [0, 3, 1, 2]


def _to_nchw_transpose(model, tensor):
    node = model.find_producer(tensor)
    if node is None or node.op_type != "Transpose" or list(get_by_name(node.attribute, "perm").ints) != TO_NCHW:
        return None
    return node


class MakeChannelwiseOpsNHWC(Transformation):
    """op(Transpose_to_NCHW(a), Transpose_to_NCHW(b)...) -> Transpose_to_NCHW(op_nhwc(a, b...))."""

    OPS = ("DyadicRequant", "BoundedDeformableConv")
    ACTIVATION_INPUTS = {"DyadicRequant": 1, "BoundedDeformableConv": 2}

    def apply(self, model):
        for index, node in enumerate(model.graph.node):
            if node.op_type not in self.OPS or getCustomOp(node).get_nodeattr("channel_last"):
                continue
            count = self.ACTIVATION_INPUTS[node.op_type]
            transposes = [_to_nchw_transpose(model, t) for t in node.input[:count]]
            if any(t is None for t in transposes):
                continue
            out_nchw = node.output[0]
            n, c, h, w = model.get_tensor_shape(out_nchw)
            out_nhwc = model.make_new_valueinfo_name()
            model.set_tensor_shape(out_nhwc, [n, h, w, c])
            model.set_tensor_datatype(out_nhwc, model.get_tensor_datatype(out_nchw))
            for i, t in enumerate(transposes):
                node.input[i] = t.input[0]
                if not model.find_consumers(t.output[0]):
                    model.graph.node.remove(t)
            node.output[0] = out_nhwc
            getCustomOp(node).set_nodeattr("channel_last", 1)
            back = helper.make_node("Transpose", [out_nhwc], [out_nchw], perm=TO_NCHW)
            model.graph.node.insert(list(model.graph.node).index(node) + 1, back)
            return model, True
        return model, False
