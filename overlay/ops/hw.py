"""Our FINN HW layers (HWCustomOp): the requantization and the bounded deformable depthwise conv.

Streams are NHWC with channels folded by PE/SIMD, as FINN's own layers. Python execution uses
host.intops, the simulator's integers. The estimators (get_exp_cycles, lut/bram/dsp_estimation) are
estimate/costs.py's models of our HLS kernels (hls/include/codenet/requant.hpp,
deformable_dw.hpp). The domain is this module's path, so FINN's worker processes find the ops by
importing it (no registration step).
"""

from __future__ import annotations

import numpy as np
from finn.custom_op.fpgadataflow.hwcustomop import HWCustomOp
from onnx import helper
from qonnx.core.datatype import DataType

from codenet.host import intops
from codenet.overlay.estimate import costs

DOMAIN = __name__  # codenet.overlay.ops.hw: what getCustomOp imports
HW_DOMAINS = ("finn.custom_op.fpgadataflow", DOMAIN)  # FINN's HW layers and ours


class CostModel:
    """FINN's estimate hooks, all from the op's `cost()` (estimate/costs.py, following our HLS)."""

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


class BoundedDeformableDW(CostModel, HWCustomOp):
    """The bounded deformable depthwise 3x3 as one layer: streams in, features x (H, W, C) and dilation d
    (H, W, 1) in {1..Bound}; the depthwise weight (C, 1, 3, 3) an initializer; out the int32
    accumulators (H, W, C) of each pixel's taps x[p + d(p)*k] (0 outside) times the weights
    (intops.deformable_dw). PE channels a word on both streams. Hardware: codenet::deformable_dw, the
    window's line buffer of 2*Bound+2 rows holding the dilations beside the features."""

    def get_nodeattr_types(self):
        return {**super().get_nodeattr_types(),
                "Channels": ("i", True, 0), "IFMDim": ("ints", True, [1, 1]), "Bound": ("i", True, 4),
                "PE": ("i", False, 1), "inputDataType": ("s", True, ""), "dilationDataType": ("s", True, ""),
                "weightDataType": ("s", True, ""), "outputDataType": ("s", True, "INT32"),
                # the line buffer's memory, as FINN's sliding-window generator
                "ram_style": ("s", False, "auto", {"auto", "block", "distributed"})}

    def get_input_datatype(self, ind=0):
        return DataType[self.get_nodeattr(("inputDataType", "dilationDataType", "weightDataType")[ind])]

    def get_output_datatype(self, ind=0):
        return DataType[self.get_nodeattr("outputDataType")]

    def get_normal_input_shape(self, ind=0):
        h, w = self.get_nodeattr("IFMDim")
        c = self.get_nodeattr("Channels")
        return [c, 1, 3, 3] if ind == 2 else [1, h, w, 1 if ind == 1 else c]

    def get_normal_output_shape(self, ind=0):
        return self.get_normal_input_shape(0)

    def get_folded_input_shape(self, ind=0):
        shape = self.get_normal_input_shape(ind)
        if ind == 2:
            return shape
        pe = 1 if ind == 1 else self.get_nodeattr("PE")
        return shape[:-1] + [shape[-1] // pe, pe]

    def get_folded_output_shape(self, ind=0):
        return self.get_folded_input_shape(0)

    def get_instream_width(self, ind=0):
        if ind == 2:
            return 0  # the weights are not a stream
        pe = 1 if ind == 1 else self.get_nodeattr("PE")
        return pe * self.get_input_datatype(ind).bitwidth()

    def get_outstream_width(self, ind=0):
        return self.get_nodeattr("PE") * self.get_output_datatype().bitwidth()

    def cost(self) -> costs.Cost:
        """codenet::deformable_dw: 9 cycles a pixel and channel group, the (2*Bound+2)-row line buffer."""
        h, w = self.get_nodeattr("IFMDim")
        return costs.deformable_dw(h, w, self.get_nodeattr("Channels"), self.get_nodeattr("Bound"),
                                   self.get_nodeattr("PE"), self.get_input_datatype(2).bitwidth(),
                                   self.get_input_datatype(0).bitwidth(), self.get_input_datatype(1).bitwidth(),
                                   self.get_nodeattr("ram_style"))

    def make_shape_compatible_op(self, model):
        return self.make_const_shape_op(self.get_normal_output_shape())

    def infer_node_datatype(self, model):
        model.set_tensor_datatype(self.onnx_node.output[0], self.get_output_datatype())

    def execute_node(self, context, graph):
        x, d, weight = (context[i] for i in self.onnx_node.input)
        acc = intops.deformable_dw(x, d[..., 0].astype(np.int64), np.asarray(weight).astype(np.int64),
                                   self.get_nodeattr("Bound"))
        context[self.onnx_node.output[0]] = acc.astype(np.float32)

    def verify_node(self):
        return []


custom_op = {"DyadicRequant": DyadicRequant, "BoundedDeformableDW": BoundedDeformableDW}
