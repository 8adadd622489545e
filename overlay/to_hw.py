"""Conversion of our two generic ops to HW layers, beside FINN's own Infer* passes."""

from __future__ import annotations

from onnx import helper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from codenet.overlay import hw_ops


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


class InferDeformableWindow(Transformation):
    """BoundedDeformableConv (NHWC) -> BoundedDeformableWindow (two streams) -> FINN VVAU."""

    def apply(self, model):
        for node in model.graph.node:
            if node.op_type != "BoundedDeformableConv" or not getCustomOp(node).get_nodeattr("channel_last"):
                continue
            x, d, weight = node.input
            n, h, w, c = model.get_tensor_shape(x)
            bound = getCustomOp(node).get_nodeattr("bound")
            windows = model.make_new_valueinfo_name()
            model.set_tensor_shape(windows, [n, h, w, 9 * c])
            idt = model.get_tensor_datatype(x)
            model.set_tensor_datatype(windows, idt)
            gen = helper.make_node("BoundedDeformableWindow", [x, d], [windows], name=f"{node.name}_window",
                                   domain=hw_ops.DOMAIN, backend="fpgadataflow", IFMChannels=int(c),
                                   IFMDim=[int(h), int(w)], Bound=int(bound), SIMD=1, inputDataType=idt.name,
                                   dilationDataType=model.get_tensor_datatype(d).name)
            # PE = C: the (tap, channel) window order FINN's VVAU reads from any non-SWG producer
            vvau = helper.make_node("VVAU", [windows, weight], [node.output[0]], name=f"{node.name}_vvau",
                                    domain="finn.custom_op.fpgadataflow", backend="fpgadataflow", Channels=int(c),
                                    Kernel=[3, 3], Dim=[int(h), int(w)], PE=int(c), noActivation=1, ActVal=0,
                                    inputDataType=idt.name, weightDataType=model.get_tensor_datatype(weight).name,
                                    outputDataType=model.get_tensor_datatype(node.output[0]).name)
            index = list(model.graph.node).index(node)
            model.graph.node.remove(node)
            model.graph.node.insert(index, vvau)
            model.graph.node.insert(index, gen)
            return model, True
        return model, False
