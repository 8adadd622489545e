"""The depth of every FIFO between two HW layers, computed here rather than by FINN's sizing heuristics.

Every stream gets FINN's minimal depth 2 (an HLS stream's own buffering), except the one join of the
graph: a DuplicateStreams feeds a BoundedDeformableDW's features directly and its dilation through the
predictor (a 1x1 MVAU, then a requantization). The deformable kernel reads a pixel's dilation right
after the pixel's last feature word, which has then passed both branches, so no depth can deadlock it;
the features' FIFO holds the predictor's pipeline latency (assumed, PIPELINE_WORDS per kernel) so the
kernel does not wait for each dilation. A predictor holding a window (rows of latency) is refused. The
whole-network C simulation (codenet.hls.network) runs at the same depths. The build writes the depths into the nodes' inFIFODepths,
which FINN's InsertFIFO reads.
"""

from __future__ import annotations

from codenet.hls.network import DEFAULT_DEPTH as MIN_DEPTH  # FINN's shallowest FIFO
from codenet.hls.network import PIPELINE_WORDS  # a kernel's pipeline latency in words (assumed)

PIXEL_KERNELS = ("MVAU", "DyadicRequant")  # codenet.hls.network.PIXEL_KERNELS, as FINN layers


def _layer(node) -> str:
    """The HW layer a node is, before or after specialization (MVAU_codenet is an MVAU)."""
    return node.op_type.removesuffix("_codenet")


def fifo_depths(model) -> dict:
    """{(consumer node name, input index): depth} for every stream input of every HW layer."""
    depths = {}
    for node in model.graph.node:
        if node.op_type == "Transpose":
            continue
        for j, tensor in enumerate(node.input):
            prod = model.find_producer(tensor)
            if model.get_initializer(tensor) is not None or prod is None or prod.op_type == "Transpose":
                continue
            depth = MIN_DEPTH
            if _layer(node) == "BoundedDeformableDW" and j == 0:
                depth += _branch_latency(model, node)
            depths[(node.name, j)] = depth
    return depths


def _branch_latency(model, node) -> int:
    """Words of latency on the dilation branch of a deformable layer: its kernels from the dilation input
    back to the fork (assumed PIPELINE_WORDS each)."""
    from codenet.host.errors import CodenetError

    kernels, prod = 0, model.find_producer(node.input[1])
    while prod is not None and _layer(prod) not in ("DuplicateStreams", "Transpose"):
        if _layer(prod) not in PIXEL_KERNELS:
            raise CodenetError(f"{node.name}: its dilation branch holds a {prod.op_type}, which the FIFO depths "
                               "are not computed for")
        kernels += 1
        prod = model.find_producer(prod.input[0])
    return kernels * PIPELINE_WORDS


def apply_fifo_depths(model):
    """Each HW layer's inFIFODepths set to the computed depths (FINN's InsertFIFO builds them); returns the
    model and the depths."""
    from qonnx.custom_op.registry import getCustomOp

    depths = fifo_depths(model)
    for node in model.graph.node:
        if node.op_type == "Transpose":
            continue
        op = getCustomOp(node)
        op.set_nodeattr("inFIFODepths", [depths.get((node.name, j), MIN_DEPTH) for j in range(len(node.input))])
    return model, depths
