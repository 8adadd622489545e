"""Our FINN HW layers (HWCustomOp): the requantization and the bounded deformable window generator.

Streams are NHWC with channels folded by PE/SIMD, as FINN's own layers. Python execution uses
host.intops, the simulator's integers. The estimators (get_exp_cycles, lut/bram/dsp_estimation) are
overlay/costs.py's models of our HLS kernels (hls/include/codenet/requant.hpp,
deformable_window.hpp). The domain is this module's path, so FINN's worker processes find the ops by
importing it (no registration step).
"""

from __future__ import annotations

import numpy as np
from finn.custom_op.fpgadataflow.hwcustomop import HWCustomOp
from onnx import helper
from qonnx.core.datatype import DataType

from codenet.host import intops
from codenet.overlay import costs

DOMAIN = "codenet.overlay.hw_ops"


class CostModel:
    """FINN's estimate hooks, all from the op's `cost()` (overlay/costs.py, following our HLS)."""

    def get_exp_cycles(self):
        return self.cost().cycles

    def lut_estimation(self, fpgapart=None):
        return self.cost().lut

    def bram_estimation(self, fpgapart=None):
        return self.cost().bram18

    def dsp_estimation(self, fpgapart=None):
        return self.cost().dsp


class DyadicRequant(CostModel, HWCustomOp):
    """acc (..., C) -> clip((acc * M_c + B_c) >> S_c, lo, hi), PE channels per cycle."""

    def get_nodeattr_types(self):
        return {**super().get_nodeattr_types(),
                "NumChannels": ("i", True, 0), "PE": ("i", False, 1), "numInputVectors": ("ints", True, [1]),
                "inputDataType": ("s", True, ""), "outputDataType": ("s", True, ""),
                "lo": ("i", True, 0), "hi": ("i", True, 255)}

    def get_input_datatype(self, ind=0):
        return DataType[self.get_nodeattr("inputDataType")] if ind == 0 else DataType["INT64"]

    def get_output_datatype(self, ind=0):
        return DataType[self.get_nodeattr("outputDataType")]

    def get_normal_input_shape(self, ind=0):
        return list(self.get_nodeattr("numInputVectors")) + [self.get_nodeattr("NumChannels")]

    get_normal_output_shape = get_normal_input_shape

    def get_folded_input_shape(self, ind=0):
        pe = self.get_nodeattr("PE")
        return list(self.get_nodeattr("numInputVectors")) + [self.get_nodeattr("NumChannels") // pe, pe]

    get_folded_output_shape = get_folded_input_shape

    def get_instream_width(self, ind=0):
        return self.get_nodeattr("PE") * self.get_input_datatype().bitwidth()

    def get_outstream_width(self, ind=0):
        return self.get_nodeattr("PE") * self.get_output_datatype().bitwidth()

    def cost(self) -> costs.Cost:
        """codenet::dyadic_requant: C/PE cycles a vector, 2 DSP and the add-shift-clip per lane."""
        return costs.requant(self.get_nodeattr("NumChannels"), self.get_nodeattr("PE"),
                             int(np.prod(self.get_nodeattr("numInputVectors"))),
                             self.get_input_datatype().bitwidth(), self.get_output_datatype().bitwidth())

    def make_shape_compatible_op(self, model):
        return helper.make_node("Identity", [self.onnx_node.input[0]], [self.onnx_node.output[0]])

    def infer_node_datatype(self, model):
        model.set_tensor_datatype(self.onnx_node.output[0], self.get_output_datatype())

    def execute_node(self, context, graph):
        acc, mult, bias, shift = (context[i] for i in self.onnx_node.input)
        y = intops.requant(acc, mult, bias, shift, self.get_nodeattr("lo"), self.get_nodeattr("hi"))
        context[self.onnx_node.output[0]] = y.astype(np.float32)

    def verify_node(self):
        return []


class BoundedDeformableWindow(CostModel, HWCustomOp):
    """Two streams in, features x (H, W, C) and dilation d (H, W, 1) in {1..Bound}; out the 3x3 window of
    each pixel at its own dilation, taps x[p + d(p)*k] (0 outside), laid out (tap, channel) like FINN's
    sliding-window generator, so FINN's VVAU does the depthwise MACs. Hardware: a line buffer of
    2*Bound+1 rows."""

    def get_nodeattr_types(self):
        return {**super().get_nodeattr_types(),
                "IFMChannels": ("i", True, 0), "IFMDim": ("ints", True, [1, 1]), "Bound": ("i", True, 4),
                "SIMD": ("i", False, 1), "inputDataType": ("s", True, ""), "dilationDataType": ("s", True, ""),
                # the line buffer's memory, as FINN's sliding-window generator
                "ram_style": ("s", False, "auto", {"auto", "block", "distributed"})}

    def get_input_datatype(self, ind=0):
        return DataType[self.get_nodeattr("dilationDataType" if ind == 1 else "inputDataType")]

    def get_output_datatype(self, ind=0):
        return self.get_input_datatype(0)

    def get_normal_input_shape(self, ind=0):
        h, w = self.get_nodeattr("IFMDim")
        return [1, h, w, 1 if ind == 1 else self.get_nodeattr("IFMChannels")]

    def get_normal_output_shape(self, ind=0):
        h, w = self.get_nodeattr("IFMDim")
        return [1, h, w, 9 * self.get_nodeattr("IFMChannels")]

    def get_folded_input_shape(self, ind=0):
        shape = self.get_normal_input_shape(ind)
        simd = 1 if ind == 1 else self.get_nodeattr("SIMD")
        return shape[:-1] + [shape[-1] // simd, simd]

    def get_folded_output_shape(self, ind=0):
        shape = self.get_normal_output_shape()
        simd = self.get_nodeattr("SIMD")
        return shape[:-1] + [shape[-1] // simd, simd]

    def get_instream_width(self, ind=0):
        simd = 1 if ind == 1 else self.get_nodeattr("SIMD")
        return simd * self.get_input_datatype(ind).bitwidth()

    def get_outstream_width(self, ind=0):
        return self.get_nodeattr("SIMD") * self.get_output_datatype().bitwidth()

    def cost(self) -> costs.Cost:
        """codenet::deformable_window: a (2*Bound+1)-row line buffer; reads and writes take turns by rows."""
        h, w = self.get_nodeattr("IFMDim")
        return costs.deformable_window(h, w, self.get_nodeattr("IFMChannels"), self.get_nodeattr("Bound"),
                                       self.get_nodeattr("SIMD"), self.get_input_datatype().bitwidth(),
                                       self.get_nodeattr("ram_style"))

    def make_shape_compatible_op(self, model):
        return self.make_const_shape_op(self.get_normal_output_shape())

    def infer_node_datatype(self, model):
        model.set_tensor_datatype(self.onnx_node.output[0], self.get_output_datatype())

    def execute_node(self, context, graph):
        x, d = (context[i] for i in self.onnx_node.input)
        window = intops.deformable_window(x, d[..., 0].astype(np.int64), self.get_nodeattr("Bound"))
        context[self.onnx_node.output[0]] = window.astype(np.float32)

    def verify_node(self):
        return []


custom_op = {"DyadicRequant": DyadicRequant, "BoundedDeformableWindow": BoundedDeformableWindow}
