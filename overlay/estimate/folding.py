"""Folding: per-layer PE/SIMD from a hand-editable JSON (FINN's format), checked against the shapes.

{"Defaults": {"PE": [1, ["MVAU"]]}, "MVAU_3": {"PE": 4, "SIMD": 8}, ...}; nodes not named keep the
folding the conversion gave them. The automatic search for a target frame rate comes with the
estimates (make estimate).
"""

from __future__ import annotations

import json
from pathlib import Path

from codenet.host.errors import CodenetError

#: the shipped bundle's folding: the search's result for the board's target (make estimate writes a new
#: one to build/estimate/folding.json); hand-editable, FINN's format
SHIPPED_FOLDING = Path(__file__).parents[1] / "folding.json"  # overlay/folding.json
#: the tree detector's bundle: the same search for its own network (`--model model/weights/trees.pt`)
TREES_FOLDING = SHIPPED_FOLDING.with_name("folding-trees.json")

# op type -> (attribute, the dimension it must divide) for each folding attribute
DIVIDES = {
    "MVAU": {"SIMD": "MW", "PE": "MH"},
    "VVAU": {"PE": "Channels"},
    "ConvolutionInputGenerator": {"SIMD": "IFMChannels"},
    "FMPadding": {"SIMD": "NumChannels"},
    "DyadicRequant": {"PE": "NumChannels"},
    "BoundedDeformableDW": {"PE": "Channels"},
    "UpsampleNearestNeighbour": {"SIMD": "NumChannels"},
    "DuplicateStreams": {"PE": "NumChannels"},
}


def load_folding(path) -> dict:
    try:
        folding = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise CodenetError(f"{path}: no such folding file") from None
    except ValueError as e:
        raise CodenetError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(folding, dict):
        raise CodenetError(f"{path}: a folding file is a JSON object of node names")
    return folding


def check_folding(model) -> None:
    """Every PE/SIMD divides its dimension, or a clear error naming the layer."""
    from qonnx.custom_op.registry import getCustomOp

    for node in model.graph.node:
        for attr, dim in DIVIDES.get(node.op_type, {}).items():
            op = getCustomOp(node)
            value, size = op.get_nodeattr(attr), op.get_nodeattr(dim)
            if value < 1 or size % value:
                raise CodenetError(f"folding of {node.name}: {attr}={value} does not divide {dim}={size}")


def apply_folding(model, folding: dict | None = None):
    """The HW-layer graph with the folding applied (FINN's ApplyConfig) and checked."""
    if folding:
        from finn.transformation.general import ApplyConfig

        unknown = sorted(set(folding) - {"Defaults"} - {n.name for n in model.graph.node})
        if unknown:
            raise CodenetError(f"folding names layers the graph does not have: {', '.join(unknown[:5])}")
        model = model.transform(ApplyConfig(folding))
    check_folding(model)
    return model
