"""Per-layer cycles, LUT, BRAM18 and DSP of the folded HW-layer graph, totals against the board.

Each layer's cost is its op's own estimator (lut_estimation, bram_estimation, dsp_estimation,
get_exp_cycles): ours in overlay/ops/hw.py, and for FINN's generic layers the models of
overlay/estimate/costs.py, because they run as our HLS kernels, not FINN's. FINN's own figures (the MVAU_hls/VVAU_hls models,
the generic ops' get_exp_cycles) are kept beside ours as a cross-check. The graph's streams add the
FIFOs and width converters FINN would insert, and the board's shell (DMA) is added once.
"""

from __future__ import annotations

import math

from codenet.hls.csim import VITIS_MAX_W
from codenet.overlay.estimate import costs

PART = "xc7z020clg400-1"
FINN_TWINS = {"MVAU": "MVAU_hls", "VVAU": "VVAU_hls"}  # FINN's HLS models of the same layer


def _attrs(op, *names):
    return [op.get_nodeattr(n) for n in names]


def _bits(op, name="inputDataType"):
    from qonnx.core.datatype import DataType

    return DataType[op.get_nodeattr(name)].bitwidth()


def producer_op(model, node, index=0):
    from qonnx.custom_op.registry import getCustomOp

    prod = model.find_producer(node.input[index])
    return (prod, getCustomOp(prod)) if prod is not None and prod.op_type != "Transpose" else (None, None)


def layer_cost(model, node) -> costs.Cost:
    """The cost of one HW layer, following the HLS kernel it runs as."""
    from qonnx.custom_op.registry import getCustomOp

    op = getCustomOp(node)
    kind = node.op_type
    if kind == "MVAU":
        mw, mh, simd, pe, vecs = _attrs(op, "MW", "MH", "SIMD", "PE", "numInputVectors")
        return costs.mvau(mw, mh, simd, pe, math.prod(vecs), _bits(op, "weightDataType"), _bits(op),
                          op.get_nodeattr("ram_style"))
    if kind == "VVAU":
        (h, w), c, (k, _), pe = _attrs(op, "Dim", "Channels", "Kernel", "PE")
        return costs.vvau(c, k, pe, h * w, _bits(op, "weightDataType"), _bits(op), op.get_nodeattr("ram_style"))
    if kind == "ConvolutionInputGenerator":
        (h, w), c, (k, _), (s, _), (d, _), simd = _attrs(op, "IFMDim", "IFMChannels", "ConvKernelDim", "Stride",
                                                          "Dilation", "SIMD")
        return costs.sliding_window(h, w, c, k, s, d, simd, _bits(op), op.get_nodeattr("ram_style"))
    if kind == "FMPadding":
        (h, w), pads, c, simd = _attrs(op, "ImgDim", "Padding", "NumChannels", "SIMD")
        return costs.fm_padding(h, w, tuple(pads), c, simd, _bits(op))
    if kind == "UpsampleNearestNeighbour":
        hi, ho, c, simd = _attrs(op, "HI", "HO", "NumChannels", "SIMD")
        return costs.upsample(hi, hi, ho // hi, c, simd, _bits(op))
    if kind == "DuplicateStreams":
        return costs.duplicate(int(op.get_exp_cycles()))
    if hasattr(op, "cost"):  # ours: DyadicRequant, BoundedDeformableDW
        return op.cost()
    raise ValueError(f"{node.name}: no cost model for {kind}")


def finn_figures(node) -> dict:
    """FINN's own estimates of the node, where finn-plus has them (a cross-check, not used in totals)."""
    from onnx import helper
    from qonnx.custom_op.registry import getCustomOp

    out = {"cycles": int(getCustomOp(node).get_exp_cycles())}
    twin = FINN_TWINS.get(node.op_type)
    if twin:
        copy = helper.make_node(twin, list(node.input), list(node.output), name=node.name,
                                domain="finn.custom_op.fpgadataflow.hls")
        copy.attribute.extend(node.attribute)
        op = getCustomOp(copy)
        out.update(lut=int(op.lut_estimation(PART)), bram18=int(op.bram_estimation(PART)),
                   dsp=int(op.dsp_estimation(PART)))
    return out


def out_width(model, node, index=0) -> int:
    """A layer's output stream width as our kernels build it."""
    from qonnx.custom_op.registry import getCustomOp

    op = getCustomOp(node)
    if node.op_type == "ConvolutionInputGenerator":  # FINN's generic op needs its RTL backend for this
        return op.get_nodeattr("SIMD") * _bits(op)
    return op.get_outstream_width(index)


def stream_costs(model) -> list[dict]:
    """The width converters FINN would insert between layers of different stream widths, and the FIFOs at
    the depths the build sets (overlay/flow/fifos.py) where deeper than FINN's minimal 2 (the HLS stream's own
    buffering)."""
    from codenet.overlay.flow.fifos import MIN_DEPTH, fifo_depths

    depths = fifo_depths(model)
    out = []
    for node in model.graph.node:
        for j, prod, width_in, width in _streams_into(model, node):
            if width_in != width:
                out.append({"name": f"DWC_{prod.name}_{node.name}", "kind": "width_converter",
                            **costs.width_converter(width_in, width).as_dict()})
            depth = depths[(node.name, j)]
            if depth > MIN_DEPTH:
                out.append({"name": f"FIFO_{prod.name}_{node.name}", "kind": "fifo", "depth": depth,
                            **costs.fifo(depth, width).as_dict()})
    return out


def _streams_into(model, node):
    """(input index, producer, its output width, node's input width) of every stream between two HW
    layers into node."""
    from qonnx.custom_op.registry import getCustomOp

    if node.op_type == "Transpose":
        return
    op = getCustomOp(node)
    for j, tensor in enumerate(node.input):
        if model.get_initializer(tensor) is not None:
            continue
        prod = model.find_producer(tensor)
        if prod is None or prod.op_type == "Transpose":
            continue
        yield j, prod, out_width(model, prod, list(prod.output).index(tensor)), op.get_instream_width(j)


def check_stream_widths(model, limit: int = VITIS_MAX_W) -> None:
    """No stream wider than Vitis HLS's ap_int limit: a CodenetError naming the first layer that has one."""
    from qonnx.custom_op.registry import getCustomOp

    from codenet.host.errors import CodenetError

    for node in model.graph.node:
        if node.op_type == "Transpose":
            continue
        widths = [out_width(model, node, o) for o in range(len(node.output))]
        widths += [w for _, _, _, w in _streams_into(model, node)]
        op = getCustomOp(node)
        widths += [op.get_instream_width(j) for j in range(len(node.input))
                   if model.get_initializer(node.input[j]) is None]
        if max(widths) > limit:
            raise CodenetError(f"{node.name}: a {max(widths)}-bit stream, wider than Vitis HLS's {limit} bits "
                               f"(fold it with a smaller PE/SIMD)")


def estimate(model, board, finn: bool = True) -> dict:
    """The whole design: layers, streams, shell, totals, frames/s at the clock, the bottleneck, and
    whether it meets the board's limits; `finn` adds FINN's own figures per layer."""
    from qonnx.custom_op.registry import getCustomOp

    check_stream_widths(model)
    layers = []
    for node in model.graph.node:
        if node.op_type == "Transpose":  # the host's layout moves
            continue
        op = getCustomOp(node)
        folding = {a: int(op.get_nodeattr(a)) for a in ("PE", "SIMD") if a in op.get_nodeattr_types()}
        if "ram_style" in op.get_nodeattr_types():
            folding["ram_style"] = op.get_nodeattr("ram_style")
        layers.append({"name": node.name, "op": node.op_type, "folding": folding,
                       **layer_cost(model, node).as_dict(), **({"finn": finn_figures(node)} if finn else {})})
    streams = stream_costs(model)
    shell = {"name": "shell", "kind": board.shell, "cycles": 0, **board.shell_cost, "lutram": 0}
    parts = layers + streams + [shell]
    total = {k: sum(int(p[k]) for p in parts) for k in ("lut", "bram18", "dsp", "lutram")}
    slowest = max(layers, key=lambda r: r["cycles"])
    total["cycles"] = slowest["cycles"]
    return {"board": board.board, "part": board.part, "clock_mhz": board.clock_mhz, "target_fps": board.target_fps,
            "layers": layers, "streams": streams, "shell": shell, "total": total,
            "fps": board.clock_hz / slowest["cycles"], "bottleneck": slowest["name"],
            "utilisation": utilisation(total, board), "violations": violations(total, board)}


def utilisation(total: dict, board) -> dict:
    dev = board.device
    return {"lut_pct": 100 * total["lut"] / dev["lut"], "bram36": total["bram18"] / 2,
            "bram36_pct": 100 * total["bram18"] / dev["bram18"], "dsp": total["dsp"],
            "dsp_pct": 100 * total["dsp"] / dev["dsp"], "lutram_pct": 100 * total["lutram"] / dev["lutram"]}


def violations(total: dict, board) -> list[str]:
    """Each limit the design breaks, as a short phrase; empty when it fits."""
    use, lim = utilisation(total, board), board.limits
    out = []
    if use["lut_pct"] > lim["lut_pct"]:
        out.append(f"LUT {use['lut_pct']:.1f} % > {lim['lut_pct']} %")
    if use["bram36_pct"] > lim["bram36_pct"]:
        out.append(f"BRAM36 {use['bram36_pct']:.1f} % > {lim['bram36_pct']} %")
    if total["dsp"] > lim["dsp"]:
        out.append(f"DSP {total['dsp']} > {lim['dsp']}")
    if total["lutram"] > board.device["lutram"]:
        out.append(f"LUTRAM {total['lutram']} > {board.device['lutram']} SLICEM LUTs")
    return out


def summary(result: dict) -> str:
    t, u = result["total"], result["utilisation"]
    return (f"{result['part']} at {result['clock_mhz']:g} MHz: {result['fps']:.1f} frames/s (bottleneck "
            f"{result['bottleneck']}), LUT {t['lut']:,} ({u['lut_pct']:.1f} %), BRAM36 {u['bram36']:g} "
            f"({u['bram36_pct']:.1f} %), DSP {t['dsp']}")
