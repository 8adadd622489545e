"""Cost models per layer kind (cycles, LUT, BRAM18, DSP), following our HLS kernels in hls/include/codenet.

Pure functions of integers, so each can be checked by hand. Sources, per term:
  memories    a `depth x width` array read and written once a cycle (simple dual port). BRAM18 tiles:
              finn-plus's RAMB18 SDP plan (finn.util.resource_models._bram18_plan, the UG473 aspect
              ladder 512x36 .. 16Kx1); LUTRAM: its fitted ceil(depth/32)*ceil(width/2)*5/4
              (_lutram_luts). Constant tables (weights, requant parameters) as LUT ROM: one LUT6 per
              bit per 64 words, FINN's MVAU_hls `c2` term.
  MAC lanes   FINN-R (Blott et al. 2018) as in finn-plus MVAU_hls.lut_estimation: c0 = 300 control,
              c1 = 1.1 routing factor, a W x A LUT multiplier (2*ceil((W+A)/6) - 1)*(W+A); the adders
              are our HLS's: `sum += a * b` on ap_int<32> (ACC_BITS), so one 32-bit adder per lane.
  windows     our sliding_window: a line buffer of SPAN + STRIDE rows of W*C/SIMD words, not FINN's
              (k-1)*W*C + k; 300 LUT control as finn-plus's ConvolutionInputGenerator_rtl.
  requant     our dyadic_requant at its least template widths (codenet.hls.csim: MBITS 16, BBITS 48, SBITS 6): a
              32 x 16 product on ceil(32/25)*ceil(16/18) = 2 DSP48E1 (25x18) per lane, the bias adder,
              a barrel shifter of ceil(SBITS/2) 4:1 mux levels, two clip comparators and the clip mux.
  FIFOs, DWC  finn-plus's own models (fifo.sv's _fifo_cost, StreamingDataWidthConverter.lut_estimation).
  control     CTRL_LUTS for the plain streaming kernels (pad, upsample, duplicate): counters and
              handshakes, an assumption (about three 16-bit counters), not a measurement.
No number here comes from synthesis.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from finn.util.resource_models import _bram18_plan, _fifo_cost, _lutram_luts, _resolve

from codenet.hls.csim import ACC_BITS, REQUANT_BBITS, REQUANT_MBITS, REQUANT_SBITS

MAC_C0, MAC_C1 = 300, 1.1  # FINN-R constants, finn-plus MVAU_hls/VVAU_hls.lut_estimation
WINDOW_CTRL_LUTS = 300  # finn-plus ConvolutionInputGenerator_rtl.lut_estimation
CTRL_LUTS = 50  # assumed, see the module docstring
DSP_A, DSP_B = 25, 18  # DSP48E1 multiplier operand widths
ROM_MAX_DEPTH = 128  # FINN: an embedded weight memory this shallow goes to LUTs (MVAU bram_estimation)


@dataclass(frozen=True)
class Cost:
    cycles: int = 0
    lut: int = 0
    bram18: int = 0
    dsp: int = 0
    lutram: int = 0  # of `lut`, the LUTs used as memory (xc7z020: 17,400 SLICEM LUTs at most)

    def __add__(self, other: Cost) -> Cost:
        return Cost(max(self.cycles, other.cycles), self.lut + other.lut, self.bram18 + other.bram18,
                    self.dsp + other.dsp, self.lutram + other.lutram)

    def as_dict(self) -> dict:
        return asdict(self)


def memory_style(depth: int, style: str) -> str:
    """"block" or "distributed" for a memory; "auto" is FINN's rule: LUTs when at most 128 deep."""
    if style in ("block", "distributed"):
        return style
    return "distributed" if depth <= ROM_MAX_DEPTH else "block"


def memory(depth: int, width: int, style: str = "auto", rom: bool = False) -> Cost:
    """A depth x width array: BRAM18 tiles or LUTs (LUTRAM for a RAM, LUT ROM for a constant table)."""
    if depth <= 0 or width <= 0:
        return Cost()
    if memory_style(depth, style) == "block":
        return Cost(bram18=_bram18_plan(depth, width)[0])
    if rom:
        return Cost(lut=width * math.ceil(depth / 64))
    luts = _lutram_luts(depth, width)
    return Cost(lut=luts, lutram=luts)


def mac_lane_luts(wbits: int, abits: int) -> int:
    """One W x A multiplier (FINN-R) plus our 32-bit accumulate adder."""
    return (2 * math.ceil((wbits + abits) / 6) - 1) * (wbits + abits) + ACC_BITS


def mvau(mw: int, mh: int, simd: int, pe: int, vectors: int, wbits: int = 4, abits: int = 8,
         ram_style: str = "auto") -> Cost:
    """codenet::mvau: NF*SF cycles a vector; PE weight memories of SF*NF words x SIMD*WBITS (one per PE,
    ARRAY_PARTITION dim=1); the SF-word input replay buffer; PE*SIMD LUT MACs, no DSP."""
    sf, nf = mw // simd, mh // pe
    weights = memory(sf * nf, simd * wbits, ram_style, rom=True)
    weights = Cost(lut=weights.lut * pe, bram18=weights.bram18 * pe, lutram=weights.lutram * pe)
    inbuf = memory(sf, simd * abits) if nf > 1 else Cost()
    logic = int(MAC_C0 + MAC_C1 * pe * simd * mac_lane_luts(wbits, abits))
    return Cost(cycles=vectors * nf * sf, lut=logic) + weights + inbuf


def vvau(channels: int, k: int, pe: int, pixels: int, wbits: int = 4, abits: int = 8,
         ram_style: str = "auto") -> Cost:
    """codenet::vvau: K*K*C/PE cycles a window; one weight memory of K*K*CF words x PE*WBITS; the
    accumulators acc[CF][PE] (PE memories of CF x 32 bits, registers when CF = 1); PE LUT MACs."""
    cf = channels // pe
    weights = memory(k * k * cf, pe * wbits, ram_style, rom=True)
    acc = memory(cf, ACC_BITS, "distributed") if cf > 1 else Cost()
    acc = Cost(lut=acc.lut * pe, lutram=acc.lutram * pe)
    logic = int(MAC_C0 + MAC_C1 * pe * mac_lane_luts(wbits, abits))
    return Cost(cycles=pixels * k * k * cf, lut=logic) + weights + acc


def sliding_window(h: int, w: int, channels: int, k: int, stride: int, dilation: int, simd: int,
                   bits: int = 8, ram_style: str = "auto") -> Cost:
    """codenet::sliding_window on a padded h x w image: buffer of SPAN+STRIDE rows of W*C/SIMD words.
    Reads and writes overlap (one each a cycle); the first window waits for SPAN-1 rows and SPAN
    pixels, then the larger of the two streams sets the pace."""
    span = dilation * (k - 1) + 1
    ho, wo = (h - span) // stride + 1, (w - span) // stride + 1
    cf = channels // simd
    words_in, words_out = h * w * cf, ho * wo * k * k * cf
    fill = (span - 1) * w * cf + span * cf
    buf = memory((span + stride) * w * cf, simd * bits, ram_style)
    return Cost(cycles=fill + max(words_in, words_out), lut=WINDOW_CTRL_LUTS) + buf


def deformable_dw(h: int, w: int, channels: int, bound: int, pe: int, wbits: int = 4, abits: int = 8,
                  dbits: int = 3, ram_style: str = "auto") -> Cost:
    """codenet::deformable_dw: the window's 2*BOUND+2 rows of W*C/PE feature words and W dilations, read
    while a row is computed (9 cycles a pixel and channel group, after BOUND+1 rows of fill); PE LUT
    MACs into register accumulators; the weights a ROM of 9*C/PE words x PE*WBITS."""
    cf = channels // pe
    rows = 2 * bound + 2
    buf = memory(rows * w * cf, pe * abits, ram_style) + memory(rows * w, dbits, ram_style)
    weights = memory(9 * cf, pe * wbits, "auto", rom=True)
    # the dilation's multiply by the tap offset and the 2-D bounds check: one more window's control
    logic = int(WINDOW_CTRL_LUTS + 2 * CTRL_LUTS + MAC_C0 + MAC_C1 * pe * mac_lane_luts(wbits, abits))
    cycles = (min(bound + 1, h) + 9 * h) * w * cf
    return Cost(cycles=cycles, lut=logic) + buf + weights


def requant(channels: int, pe: int, vectors: int, ibits: int = ACC_BITS, obits: int = 8) -> Cost:
    """codenet::dyadic_requant: C/PE cycles a vector; per lane 2 DSP (ibits x MBITS on 25x18) and the
    PBITS-wide add, shift and clip; per lane a CF-word parameter ROM of MBITS+BBITS+SBITS bits."""
    pbits = max(ibits + REQUANT_MBITS, REQUANT_BBITS) + 1
    shifter = pbits * math.ceil(REQUANT_SBITS / 2)
    lane = pbits + shifter + pbits + obits  # bias add, shifter, two comparators (pbits/2 each), clip mux
    dsp = math.ceil(ibits / DSP_A) * math.ceil(REQUANT_MBITS / DSP_B)
    cf = channels // pe
    params = memory(cf, REQUANT_MBITS + REQUANT_BBITS + REQUANT_SBITS, "auto", rom=True)
    return Cost(cycles=vectors * cf, lut=CTRL_LUTS + pe * (lane + params.lut), bram18=pe * params.bram18,
                dsp=pe * dsp)


def fm_padding(h: int, w: int, pads: tuple, channels: int, simd: int, bits: int = 8) -> Cost:
    """codenet::fm_padding: one padded-image word a cycle; a zero mux on the output word."""
    top, left, bottom, right = pads
    words = (top + h + bottom) * (left + w + right) * (channels // simd)
    return Cost(cycles=words, lut=CTRL_LUTS + simd * bits)


def upsample(h: int, w: int, factor: int, channels: int, simd: int, bits: int = 8) -> Cost:
    """codenet::upsample_nearest: one output word a cycle, a one-row buffer of W*C/SIMD words."""
    cf = channels // simd
    row = memory(w * cf, simd * bits)
    return Cost(cycles=h * factor * w * factor * cf, lut=CTRL_LUTS + simd * bits) + row


def duplicate(words: int) -> Cost:
    """codenet::duplicate_streams: one word a cycle to every output, wires and handshakes only."""
    return Cost(cycles=words, lut=CTRL_LUTS)


def fifo(depth: int, width: int, ram_style: str = "auto") -> Cost:
    """finn-plus's StreamingFIFO (fifo.sv) model, with the style its RTL would pick."""
    c = _fifo_cost(depth, width, _resolve(depth, width, ram_style))
    lutram = c.lut if _resolve(depth, width, ram_style) == "distributed" else 0
    return Cost(lut=c.lut, bram18=c.bram, lutram=lutram)


def width_converter(in_width: int, out_width: int) -> Cost:
    """finn-plus StreamingDataWidthConverter.lut_estimation (shift-based, via the LCM width)."""
    lo, hi = min(in_width, out_width), max(in_width, out_width)
    mid = hi * lo // math.gcd(hi, lo)
    cnt = cset = 0
    if in_width != mid:
        cnt += abs(math.ceil(math.log2(in_width / mid)))
        cset += mid
    if mid != out_width:
        cnt += abs(math.ceil(math.log2(mid / out_width)))
        cset += out_width
    return Cost(lut=int(cnt + cset))
