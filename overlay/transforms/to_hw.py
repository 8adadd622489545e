"""Conversion of our two generic ops to HW layers, beside FINN's own Infer* passes."""

from __future__ import annotations

from onnx import helper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from codenet.overlay.ops import hw as hw_ops


class InferDyadicRequantLayer(Transformation):
    """DyadicRequant (NHWC) -> the HW DyadicRequant layer."""

    def apply(self, model):
        for node in model.graph.node:
            if node.op_type != "DyadicRequant" or node.domain == hw_ops.DOMAIN:
                continue
            op = getCustomOp(node)
            if not op.get_nodeattr("channel_last"):
                continue
            shape = model.get_tensor_shape(node.input[0])
            new = helper.make_node("DyadicRequant", list(node.input), list(node.output), name=node.name,
                                   domain=hw_ops.DOMAIN, backend="fpgadataflow", NumChannels=int(shape[-1]), PE=1,
                                   numInputVectors=[int(v) for v in shape[:-1]],
                                   inputDataType=model.get_tensor_datatype(node.input[0]).name,
                                   outputDataType=model.get_tensor_datatype(node.output[0]).name,
                                   lo=op.get_nodeattr("lo"), hi=op.get_nodeattr("hi"))
            index = list(model.graph.node).index(node)
            model.graph.node.remove(node)
            model.graph.node.insert(index, new)
            return model, True
        return model, False


class InferBoundedDeformableDW(Transformation):
    """BoundedDeformableConv (NHWC) -> the HW BoundedDeformableDW layer (window and depthwise MACs in one),
    folded by PE like any depthwise layer."""

    def apply(self, model):
        for node in model.graph.node:
            if node.op_type != "BoundedDeformableConv" or not getCustomOp(node).get_nodeattr("channel_last"):
                continue
            x, d, weight = node.input
            n, h, w, c = model.get_tensor_shape(x)
            new = helper.make_node("BoundedDeformableDW", [x, d, weight], [node.output[0]], name=node.name,
                                   domain=hw_ops.DOMAIN, backend="fpgadataflow", Channels=int(c),
                                   IFMDim=[int(h), int(w)], Bound=int(getCustomOp(node).get_nodeattr("bound")), PE=1,
                                   inputDataType=model.get_tensor_datatype(x).name,
                                   dilationDataType=model.get_tensor_datatype(d).name,
                                   weightDataType=model.get_tensor_datatype(weight).name,
                                   outputDataType=model.get_tensor_datatype(node.output[0]).name)
            index = list(model.graph.node).index(node)
            model.graph.node.remove(node)
            model.graph.node.insert(index, new)
            return model, True
        return model, False
