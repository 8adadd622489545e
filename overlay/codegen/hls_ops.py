"""Our HLS ops for FINN: one per HW layer kind of the graph, each binding one kernel of
hls/include/codenet (geometry, folding and bit widths as template arguments).

Each class is the FINN HW layer (or ours, overlay/ops/hw.py) plus CodenetHLS (overlay/codegen/backend.py),
named <HW layer>_codenet in FINN's HLS domain; importing this module registers them there.
get_exp_cycles: the HW layers' own where they count our kernels' loops (MVAU, VVAU, FMPadding,
upsampling, duplication, requantization; the deformable window's from ops/hw.py), the sliding window's
here (FINN's returns 0).
"""

from __future__ import annotations

import numpy as np
from codenet.hls import binding
from codenet.hls.csim import ACC_BITS, DW_MIN_ROW_WORDS, REQUANT_SBITS, requant_widths, signed_bits
from codenet.host.errors import CodenetError
from codenet.overlay.ops import hw as hw_ops
from codenet.overlay.codegen.backend import HLS_DOMAIN, CodenetHLS, c_array, pack_words
from finn.custom_op.fpgadataflow.convolutioninputgenerator import ConvolutionInputGenerator
from finn.custom_op.fpgadataflow.duplicatestreams import DuplicateStreams
from finn.custom_op.fpgadataflow.fmpadding import FMPadding
from finn.custom_op.fpgadataflow.matrixvectoractivation import MVAU
from finn.custom_op.fpgadataflow.streamingdatawidthconverter import StreamingDataWidthConverter
from finn.custom_op.fpgadataflow.upsampler import UpsampleNearestNeighbour
from finn.custom_op.fpgadataflow.vectorvectoractivation import VVAU
from qonnx.custom_op.registry import add_op_to_domain

SHIFT_BITS = REQUANT_SBITS  # requantization shifts 0..63
BIND_STORAGE = {"block": "bram", "distributed": "lutram"}  # FINN's ram_style -> Vitis HLS impl


def _template(kernel: str, *args) -> str:
    return f"codenet::{kernel}<" + ", ".join(str(int(a)) for a in args) + ">"


def _accumulator_problems(op) -> list:
    """The MVAU and VVAU write int32 accumulators: no thresholds, a 32-bit signed output."""
    problems = []
    if not op.get_nodeattr("noActivation"):
        problems.append("thresholds (noActivation=0): our MVAU/VVAU write accumulators, DyadicRequant follows")
    odt = op.get_output_datatype()
    if odt.bitwidth() != ACC_BITS or not odt.signed():
        problems.append(f"output {odt.name}: the kernel writes INT{ACC_BITS} accumulators")
    if op.get_input_datatype(0).signed():
        problems.append("signed activations: the kernel takes unsigned ones")
    if not op.get_input_datatype(1).signed() or op.get_input_datatype(1).bitwidth() > 8:
        problems.append(f"weights {op.get_input_datatype(1).name}: the kernel takes signed ones of 2..8 bits")
    if op.get_nodeattr("mem_mode") != "internal_embedded":
        problems.append(f"mem_mode {op.get_nodeattr('mem_mode')}: the weights are in the HLS (internal_embedded)")
    return problems


def _weights_pragma(op) -> list:
    impl = BIND_STORAGE.get(op.get_nodeattr("ram_style"))
    return [f"#pragma HLS BIND_STORAGE variable=weights type=rom_1p impl={impl}"] if impl else []


class FMPadding_codenet(CodenetHLS, FMPadding):
    """codenet::fm_padding: zero borders (FINN's Padding order: top, left, bottom, right)."""

    header = "padding.hpp"

    def kernel_call(self):
        h, w = self.get_nodeattr("ImgDim")
        top, left, bottom, right = self.get_nodeattr("Padding")
        return _template("fm_padding", h, w, top, left, bottom, right, self.get_nodeattr("NumChannels"),
                         self.get_nodeattr("SIMD"), self.get_input_datatype().bitwidth()) + \
            f"(in0_V, out0_V, {self.get_nodeattr('numInputVectors')})"


class ConvolutionInputGenerator_codenet(CodenetHLS, ConvolutionInputGenerator):
    """codenet::sliding_window: square k x k windows at one stride and dilation, (tap, channel) order."""

    header = "window.hpp"

    def use_parallel_window_output(self):
        return False  # one word of SIMD channels a cycle (FINN's backends define this; unsupported() checks)

    def unsupported(self):
        problems = []
        for attr in ("ConvKernelDim", "Stride", "Dilation", "IFMDim"):
            a, b = self.get_nodeattr(attr)
            if a != b:
                problems.append(f"{attr} {a}x{b}: the kernel is square")
        if self.get_nodeattr("parallel_window") or self.get_nodeattr("is1D") or self.get_nodeattr("dynamic_mode"):
            problems.append("parallel_window / is1D / dynamic_mode: not in our kernel")
        return problems

    def top_locals(self):
        k, s, d = (self.get_nodeattr(a)[0] for a in ("ConvKernelDim", "Stride", "Dilation"))
        w, simd = self.get_nodeattr("IFMDim")[1], self.get_nodeattr("SIMD")
        rows = d * (k - 1) + 1 + s  # codenet::window_rows<K, STRIDE, DIL>()
        words = w * (self.get_nodeattr("IFMChannels") // simd)
        lines = [f"static ap_uint<{simd * self.get_input_datatype().bitwidth()}> buf[{rows}][{words}];  // line buffer"]
        impl = BIND_STORAGE.get(self.get_nodeattr("ram_style"))
        return lines + ([f"#pragma HLS BIND_STORAGE variable=buf type=ram_s2p impl={impl}"] if impl else [])

    def kernel_call(self):
        k, s, d = (self.get_nodeattr(a)[0] for a in ("ConvKernelDim", "Stride", "Dilation"))
        h, w = self.get_nodeattr("IFMDim")
        return _template("sliding_window", k, s, d, h, w, self.get_nodeattr("IFMChannels"), self.get_nodeattr("SIMD"),
                         self.get_input_datatype().bitwidth()) + "(in0_V, out0_V, buf, 1)"

    def get_exp_cycles(self):
        # the kernel's loop reads and writes a word each a cycle; the first window's last tap waits for
        # SPAN-1 rows and SPAN pixels, its first K*K-1 taps leave meanwhile. Exact where the windows
        # outnumber the input (K > STRIDE), within a few rows' words otherwise.
        k, s, d = (self.get_nodeattr(a)[0] for a in ("ConvKernelDim", "Stride", "Dilation"))
        h, w = self.get_nodeattr("IFMDim")
        cf = self.get_nodeattr("IFMChannels") // self.get_nodeattr("SIMD")
        span = d * (k - 1) + 1
        words_out = ((h - span) // s + 1) * ((w - span) // s + 1) * k * k * cf
        return int(max(words_out + (span - 1) * w * cf + (span - k * k) * cf + 1, h * w * cf))


class MVAU_codenet(CodenetHLS, MVAU):
    """codenet::mvau: int32 accumulators of SIMD x PE MACs a cycle, weights as a ROM in params.h."""

    header = "mvau.hpp"
    has_params = True

    def unsupported(self):
        problems = _accumulator_problems(self)
        if self.get_nodeattr("binaryXnorMode") or self.get_nodeattr("TH") != 1:
            problems.append("binaryXnorMode / tiling (TH): not in our kernel")
        return problems

    def kernel_call(self):
        return _template("mvau", self.get_nodeattr("MW"), self.get_nodeattr("MH"), self.get_nodeattr("SIMD"),
                         self.get_nodeattr("PE"), self.get_input_datatype(1).bitwidth(),
                         self.get_input_datatype(0).bitwidth()) + \
            f"(in0_V, out0_V, weights, {int(np.prod(self.get_nodeattr('numInputVectors')))})"

    def params_width(self):
        return self.get_nodeattr("SIMD") * self.get_input_datatype(1).bitwidth()

    def params_header(self, model):
        simd, pe = self.get_nodeattr("SIMD"), self.get_nodeattr("PE")
        wbits = self.get_input_datatype(1).bitwidth()
        weight = model.get_initializer(self.onnx_node.input[1]).astype(np.int64)  # (MW, MH)
        if signed_bits(weight) > wbits:
            raise CodenetError(f"{self.onnx_node.name}: weights do not fit {self.get_input_datatype(1).name}")
        lanes = binding.mvau_lanes(weight, simd, pe)
        return c_array(f"ap_uint<{simd * wbits}>", "weights", pack_words(lanes, wbits), simd * wbits)

    def extra_pragmas(self):
        # one weight memory per PE, all read each cycle: partitioned here, where the ROM is visible
        return ["#pragma HLS ARRAY_PARTITION variable=weights complete dim=1"] + _weights_pragma(self)


class VVAU_codenet(CodenetHLS, VVAU):
    """codenet::vvau: depthwise K x K over (tap, channel)-ordered windows, PE channels a cycle."""

    header = "vvau.hpp"
    has_params = True

    def unsupported(self):
        problems = _accumulator_problems(self)
        k_h, k_w = self.get_nodeattr("Kernel")
        if k_h != k_w:
            problems.append(f"kernel {k_h}x{k_w}: the kernel is square")
        if self.get_nodeattr("SIMD") != 1:
            problems.append(f"SIMD={self.get_nodeattr('SIMD')}: our VVAU takes one tap a cycle (fold with PE)")
        return problems

    def kernel_call(self):
        h, w = self.get_nodeattr("Dim")
        return _template("vvau", self.get_nodeattr("Kernel")[0], self.get_nodeattr("Channels"), self.get_nodeattr("PE"),
                         self.get_input_datatype(1).bitwidth(), self.get_input_datatype(0).bitwidth()) + \
            f"(in0_V, out0_V, weights, {h * w})"

    def params_width(self):
        return self.get_nodeattr("PE") * self.get_input_datatype(1).bitwidth()

    def params_header(self, model):
        pe, wbits = self.get_nodeattr("PE"), self.get_input_datatype(1).bitwidth()
        weight = model.get_initializer(self.onnx_node.input[1]).astype(np.int64)  # (C, 1, K, K)
        if signed_bits(weight) > wbits:
            raise CodenetError(f"{self.onnx_node.name}: weights do not fit {self.get_input_datatype(1).name}")
        lanes = binding.vvau_lanes(weight, pe)
        return c_array(f"ap_uint<{pe * wbits}>", "weights", pack_words(lanes, wbits), pe * wbits)

    def extra_pragmas(self):
        return _weights_pragma(self)


class DyadicRequant_codenet(CodenetHLS, hw_ops.DyadicRequant):
    """codenet::dyadic_requant: per-channel mult/bias/shift in params.h, with their widths."""

    header = "requant.hpp"
    has_params = True

    def get_instream_width(self, ind=0):
        return super().get_instream_width(ind) if ind == 0 else 0  # the parameters are not streams

    def unsupported(self):
        lo, hi, odt = self.get_nodeattr("lo"), self.get_nodeattr("hi"), self.get_output_datatype()
        problems = [] if self.get_input_datatype().signed() else [
            f"input {self.get_input_datatype().name}: the kernel takes signed accumulators"]
        if lo < odt.min() or hi > odt.max():
            problems.append(f"clip range {lo}..{hi} does not fit {odt.name}")
        return problems

    def kernel_call(self):
        # MULT_BITS, BIAS_BITS: from the parameters, in params.h
        args = (f"{self.get_nodeattr('NumChannels')}, {self.get_nodeattr('PE')}, {self.get_input_datatype().bitwidth()}, "
                f"{self.get_output_datatype().bitwidth()}, MULT_BITS, BIAS_BITS, {SHIFT_BITS}, "
                f"{self.get_nodeattr('lo')}, {self.get_nodeattr('hi')}")
        reps = int(np.prod(self.get_nodeattr("numInputVectors")))
        return f"codenet::dyadic_requant<{args}>(in0_V, out0_V, mult, bias, shift, {reps})"

    def extra_pragmas(self):
        # the PE lanes read their own parameter memories each cycle: partitioned where they are visible
        return [f"#pragma HLS ARRAY_PARTITION variable={v} complete dim=1" for v in ("mult", "bias", "shift")]

    def params_header(self, model):
        c, pe = self.get_nodeattr("NumChannels"), self.get_nodeattr("PE")
        mult, bias, shift = (np.broadcast_to(model.get_initializer(i).astype(np.int64).reshape(-1), (c,))
                             for i in self.onnx_node.input[1:])
        if shift.min() < 0 or shift.max() >= 1 << SHIFT_BITS:
            raise CodenetError(f"{self.onnx_node.name}: shifts outside 0..{(1 << SHIFT_BITS) - 1}")
        mbits, bbits = requant_widths(mult, bias)
        lanes = lambda v: binding.requant_lanes(v, pe)  # noqa: E731
        return (f"constexpr unsigned MULT_BITS = {mbits}, BIAS_BITS = {bbits};\n"
                + c_array("ap_int<MULT_BITS>", "mult", lanes(mult), mbits)
                + c_array("ap_int<BIAS_BITS>", "bias", lanes(bias), bbits)
                + c_array(f"ap_uint<{SHIFT_BITS}>", "shift", lanes(shift), SHIFT_BITS))


class BoundedDeformableDW_codenet(CodenetHLS, hw_ops.BoundedDeformableDW):
    """codenet::deformable_dw: features on in0_V, one dilation a pixel on in1_V, accumulators on out0_V;
    the depthwise weights a ROM in params.h, the line buffers locals of the top (their ram_style)."""

    header = "deformable_dw.hpp"
    has_params = True

    def unsupported(self):
        problems = []
        if self.get_input_datatype(0).signed():
            problems.append("signed activations: the kernel takes unsigned ones")
        wdt = self.get_input_datatype(2)
        if not wdt.signed() or wdt.bitwidth() > 8:
            problems.append(f"weights {wdt.name}: the kernel takes signed ones of 2..8 bits")
        odt = self.get_output_datatype()
        if odt.bitwidth() != ACC_BITS or not odt.signed():
            problems.append(f"output {odt.name}: the kernel writes INT{ACC_BITS} accumulators")
        w, cf = self.get_nodeattr("IFMDim")[1], self.get_nodeattr("Channels") // self.get_nodeattr("PE")
        if (w - 1) * cf < DW_MIN_ROW_WORDS:
            problems.append(f"rows of {w} pixels x {cf} words: (W-1)*C/PE must be >= {DW_MIN_ROW_WORDS}")
        if self.get_nodeattr("Bound") >= 1 << self.get_input_datatype(1).bitwidth():
            problems.append(f"dilation {self.get_input_datatype(1).name} cannot hold Bound={self.get_nodeattr('Bound')}")
        return problems

    def _geometry(self):
        h, w = self.get_nodeattr("IFMDim")
        return self.get_nodeattr("Bound"), h, w, self.get_nodeattr("Channels"), self.get_nodeattr("PE")

    def top_locals(self):
        bound, h, w, c, pe = self._geometry()
        rows = 2 * bound + 2  # codenet::deformable_rows<BOUND>()
        abits, dbits = self.get_input_datatype(0).bitwidth(), self.get_input_datatype(1).bitwidth()
        lines = [f"static ap_uint<{pe * abits}> buf[{rows}][{w * (c // pe)}];  // features, 2*BOUND+2 rows",
                 f"static ap_uint<{dbits}> dbuf[{rows}][{w}];  // their dilations"]
        impl = BIND_STORAGE.get(self.get_nodeattr("ram_style"))
        if impl:
            lines += [f"#pragma HLS BIND_STORAGE variable={v} type=ram_s2p impl={impl}" for v in ("buf", "dbuf")]
        return lines

    def kernel_call(self):
        bound, h, w, c, pe = self._geometry()
        return _template("deformable_dw", bound, h, w, c, pe, self.get_input_datatype(2).bitwidth(),
                         self.get_input_datatype(0).bitwidth(), self.get_input_datatype(1).bitwidth()) + \
            "(in0_V, in1_V, out0_V, weights, buf, dbuf, 1)"

    def params_width(self):
        return self.get_nodeattr("PE") * self.get_input_datatype(2).bitwidth()

    def params_header(self, model):
        c, pe = self.get_nodeattr("Channels"), self.get_nodeattr("PE")
        wbits = self.get_input_datatype(2).bitwidth()
        weight = model.get_initializer(self.onnx_node.input[2]).astype(np.int64)  # (C, 1, 3, 3)
        if signed_bits(weight) > wbits:
            raise CodenetError(f"{self.onnx_node.name}: weights do not fit {self.get_input_datatype(2).name}")
        lanes = binding.deformable_dw_lanes(weight, pe)
        return c_array(f"ap_uint<{pe * wbits}>", "weights", pack_words(lanes, wbits), pe * wbits)


class UpsampleNearestNeighbour_codenet(CodenetHLS, UpsampleNearestNeighbour):
    """codenet::upsample_nearest: one integer factor on both axes."""

    header = "upsample.hpp"

    def unsupported(self):
        hi, wi, ho, wo = (self.get_nodeattr(a) for a in ("HI", "WI", "HO", "WO"))
        if ho % hi or wo % wi or ho // hi != wo // wi:
            return [f"{hi}x{wi} -> {ho}x{wo}: the kernel scales both axes by one integer factor"]
        return []

    def kernel_call(self):
        hi, wi = self.get_nodeattr("HI"), self.get_nodeattr("WI")
        return _template("upsample_nearest", self.get_nodeattr("HO") // hi, hi, wi, self.get_nodeattr("NumChannels"),
                         self.get_nodeattr("SIMD"), self.get_input_datatype().bitwidth()) + \
            f"(in0_V, out0_V, {self.get_nodeattr('batchSize')})"


class DuplicateStreams_codenet(CodenetHLS, DuplicateStreams):
    """codenet::duplicate_streams with two named outputs (FINN's out0_V, out1_V)."""

    header = "duplicate.hpp"

    def unsupported(self):
        n = self.get_nodeattr("NumOutputStreams")
        return [] if n == 2 else [f"{n} outputs: the top function has two (out0_V, out1_V)"]

    def kernel_call(self):
        words = int(np.prod(self.get_folded_input_shape()[:-1]))
        return f"codenet::duplicate_streams<{self.get_instream_width()}>(in0_V, out0_V, out1_V, {words})"


class StreamingDataWidthConverter_codenet(CodenetHLS, StreamingDataWidthConverter):
    """codenet::width_converter: between layers of different folding (FINN's InsertDWC puts them there)."""

    header = "stream_tools.hpp"

    def unsupported(self):
        a, b = self.get_nodeattr("inWidth"), self.get_nodeattr("outWidth")
        return [] if a % b == 0 or b % a == 0 else [f"widths {a} -> {b}: one must divide the other"]

    def kernel_call(self):
        words = int(np.prod(self.get_folded_input_shape()[:-1]))
        return _template("width_converter", self.get_nodeattr("inWidth"), self.get_nodeattr("outWidth")) + \
            f"(in0_V, out0_V, {words})"


#: FINN HW layer op_type -> our HLS op
SPECIALIZED = {cls.__name__.removesuffix("_codenet"): cls for cls in (
    FMPadding_codenet, ConvolutionInputGenerator_codenet, MVAU_codenet, VVAU_codenet, DyadicRequant_codenet,
    BoundedDeformableDW_codenet, UpsampleNearestNeighbour_codenet, DuplicateStreams_codenet,
    StreamingDataWidthConverter_codenet)}

for _cls in SPECIALIZED.values():
    add_op_to_domain(HLS_DOMAIN, _cls)
