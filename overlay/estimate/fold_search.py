"""Folding for a target frame rate: the least parallelism each layer needs to finish a frame in time.

FINN's SetFolding cannot do this graph: it has no rule for our two ops, and the generic sliding
window's get_exp_cycles is 0 before specialization. So, as SetFolding does, each layer gets the
smallest folding (fewest lanes, SIMD before PE) whose cycles (overlay/estimate/costs.py) meet
clock / target fps, with every value dividing its dimension (folding.DIVIDES). Neighbours are
tied so streams match without width converters: a window's SIMD is its consumer's input
parallelism, a padding's SIMD its window's, a requant's PE its producer's PE. No folding makes a
stream wider than Vitis HLS's 4096 bits.
Then each memory gets a ram_style: the line buffers and weight memories that save the most LUTs
per BRAM18 go to BRAM until LUT and BRAM are about equally full (as fractions of their limits). The result is FINN's folding
JSON ({"Defaults": {}, "<node>": {"PE":.., "SIMD":.., "ram_style":..}}), hand-editable.
"""

from __future__ import annotations

from codenet.hls.csim import DW_MIN_ROW_WORDS, VITIS_MAX_W
from codenet.host.errors import CodenetError
from codenet.overlay.estimate import costs
from codenet.overlay.estimate.graph import estimate, layer_cost, producer_op

MEMORY_OPS = ("ConvolutionInputGenerator", "BoundedDeformableDW", "MVAU", "VVAU")
COMPUTE_OPS = ("MVAU", "VVAU", "BoundedDeformableDW")  # what a requant's PE follows


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _consumers(model, node):
    return [c for out in node.output for c in (model.find_consumers(out) or [])]


def _set(model, node, **attrs):
    from qonnx.custom_op.registry import getCustomOp

    op = getCustomOp(node)
    for k, v in attrs.items():
        op.set_nodeattr(k, v)


def _widths_ok(model, *nodes) -> bool:
    from codenet.overlay.estimate.graph import out_width

    return all(out_width(model, n, o) <= VITIS_MAX_W for n in nodes for o in range(len(n.output)))


def _first_fit(model, node, options, budget):
    """Apply the first folding of `options` (dicts, cheapest first) whose cycles meet the budget; else
    the most parallel one whose streams Vitis can build. Returns the folding applied."""
    fallback = None
    for attrs in options:
        _set(model, node, **attrs)
        if not _widths_ok(model, node):
            continue
        fallback = attrs
        if layer_cost(model, node).cycles <= budget:
            return attrs
    _set(model, node, **fallback)
    return fallback


def _window_simd(channels: int, par: int) -> int | None:
    """The window's SIMD that feeds `par` elements a word without a width converter, if one exists."""
    if channels % par == 0:
        return par
    return channels if par % channels == 0 else None


def fold_compute(model, budget: int) -> None:
    """MVAU, VVAU and deformable windows, with the sliding window in front of each tied to it."""
    from qonnx.custom_op.registry import getCustomOp

    for node in model.graph.node:
        op = getCustomOp(node) if node.op_type != "Transpose" else None
        prod, prod_op = producer_op(model, node) if op is not None else (None, None)
        window = prod if prod is not None and prod.op_type == "ConvolutionInputGenerator" else None
        if node.op_type == "MVAU":
            mw, mh = op.get_nodeattr("MW"), op.get_nodeattr("MH")
            options = sorted(({"SIMD": s, "PE": p} for s in divisors(mw) for p in divisors(mh)),
                             key=lambda a: (a["SIMD"] * a["PE"], a["PE"]))
            if window is not None:
                c = prod_op.get_nodeattr("IFMChannels")
                options = [a for a in options if _window_simd(c, a["SIMD"]) is not None]
            _fold_with_window(model, node, window, options, budget, "SIMD")
        elif node.op_type == "VVAU":
            options = [{"PE": p, "SIMD": 1} for p in divisors(op.get_nodeattr("Channels"))]
            _fold_with_window(model, node, window, options, budget, "PE")
        elif node.op_type == "BoundedDeformableDW":
            c, w = op.get_nodeattr("Channels"), op.get_nodeattr("IFMDim")[1]
            options = [{"PE": p} for p in divisors(c) if (w - 1) * (c // p) >= DW_MIN_ROW_WORDS]  # the kernel's rule
            _first_fit(model, node, options, budget)


def _fold_with_window(model, node, window, options, budget, par_attr):
    """Fold `node` and, when a sliding window feeds it, the window at the same width: both must meet
    the budget."""
    from qonnx.custom_op.registry import getCustomOp

    if window is None:
        _first_fit(model, node, options, budget)
        return
    c = getCustomOp(window).get_nodeattr("IFMChannels")
    fallback = None
    for attrs in options:
        _set(model, node, **attrs)
        _set(model, window, SIMD=_window_simd(c, attrs[par_attr]))
        if not _widths_ok(model, node, window):
            continue
        fallback = attrs
        if max(layer_cost(model, node).cycles, layer_cost(model, window).cycles) <= budget:
            return
    _set(model, node, **fallback)
    _set(model, window, SIMD=_window_simd(c, fallback[par_attr]))


def fold_streams(model, budget: int) -> None:
    """The plain streaming layers, matched to their neighbours' widths."""
    from qonnx.custom_op.registry import getCustomOp

    for node in model.graph.node:
        if node.op_type == "FMPadding":
            consumer = _consumers(model, node)[0]
            if consumer.op_type == "ConvolutionInputGenerator":
                _set(model, node, SIMD=getCustomOp(consumer).get_nodeattr("SIMD"))
        elif node.op_type == "DyadicRequant":
            prod, prod_op = producer_op(model, node)
            if prod is not None and prod.op_type in COMPUTE_OPS:
                _set(model, node, PE=prod_op.get_nodeattr("PE"))
        elif node.op_type in ("UpsampleNearestNeighbour", "DuplicateStreams"):
            attr = "SIMD" if node.op_type == "UpsampleNearestNeighbour" else "PE"
            options = [{attr: d} for d in divisors(getCustomOp(node).get_nodeattr("NumChannels"))]
            _first_fit(model, node, options, budget)


def memory_luts(model, node, style: str) -> costs.Cost:
    _set(model, node, ram_style=style)
    return layer_cost(model, node)


def place_memories(model, board) -> None:
    """Every memory in LUTs first ("distributed"), then those that save the most LUTs per BRAM18 go to
    BRAM while LUTs are the fuller of the two (as fractions of their limits) or over the LUTRAM
    capacity, and BRAM stays within its limit."""
    from qonnx.custom_op.registry import getCustomOp

    nodes = [n for n in model.graph.node if n.op_type in MEMORY_OPS]
    gains = []
    for node in nodes:
        lut, block = memory_luts(model, node, "distributed"), memory_luts(model, node, "block")
        if block.bram18 > lut.bram18:
            gains.append(((lut.lut - block.lut) / (block.bram18 - lut.bram18), node))
        _set(model, node, ram_style="distributed")
    gains.sort(key=lambda g: -g[0])
    bram_limit = board.limits["bram36_pct"] / 100 * board.device["bram18"]
    lut_limit = board.limits["lut_pct"] / 100 * board.device["lut"]
    for _, node in gains:
        total = estimate(model, board, finn=False)["total"]
        if total["lut"] / lut_limit <= total["bram18"] / bram_limit and total["lutram"] <= board.device["lutram"]:
            break
        _set(model, node, ram_style="block")
        if estimate(model, board, finn=False)["total"]["bram18"] > bram_limit:
            _set(model, node, ram_style="distributed")
    for node in nodes:  # nothing left on "auto": the HLS binding is explicit
        if getCustomOp(node).get_nodeattr("ram_style") not in ("block", "distributed"):
            raise CodenetError(f"{node.name}: no memory style placed")


def search_folding(model, board, fps: float | None = None):
    """The model folded for `fps` (default: the board's target), memories placed; returns it."""
    budget = board.target_cycles(fps)
    fold_compute(model, budget)
    fold_streams(model, budget)
    place_memories(model, board)
    return model


def folding_config(model) -> dict:
    """FINN's folding JSON of the model's current folding (what `codenet export --folding` reads)."""
    from qonnx.custom_op.registry import getCustomOp

    config = {"Defaults": {}}
    for node in model.graph.node:
        if node.op_type == "Transpose":
            continue
        op = getCustomOp(node)
        types = op.get_nodeattr_types()
        entry = {a: op.get_nodeattr(a) for a in ("PE", "SIMD", "ram_style") if a in types}
        if entry:
            config[node.name] = entry
    return config


def check_target(result: dict) -> None:
    """A design that does not fit the board is a clear one-line error."""
    if result["violations"]:
        raise CodenetError(f"the design does not fit {result['part']} at {result['target_fps']:g} frames/s: "
                           + "; ".join(result["violations"]))
