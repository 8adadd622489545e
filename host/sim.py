"""The bit-exact simulator: runs a bundle's graph.npz, FINN HW layer by layer, with host.intops."""

from __future__ import annotations

import numpy as np

from codenet.host import intops
from codenet.host.bundle import Graph


def run_layer(layer: dict, arrays: dict, inputs: list) -> list:
    """One layer's output streams (a list: DuplicateStreams has several)."""
    kind, name = layer["kind"], layer["name"]
    x = inputs[0]
    if kind == "pad":
        out = intops.pad(x, layer["pads"])
    elif kind == "window":
        out = intops.sliding_window(x, layer["k"], layer["stride"], layer["dilation"])
    elif kind == "deformable_dw":
        out = intops.deformable_dw(x, inputs[1][..., 0].astype(np.int64), arrays[f"{name}.weight"],
                                   layer["bound"]).astype(np.int32)
    elif kind == "mvau":
        out = intops.mvau(x, arrays[f"{name}.weight"]).astype(np.int32)
    elif kind == "vvau":
        out = intops.vvau(x, arrays[f"{name}.weight"]).astype(np.int32)
    elif kind == "requant":
        out = intops.requant(x, arrays[f"{name}.mult"], arrays[f"{name}.bias"], arrays[f"{name}.shift"],
                             layer["lo"], layer["hi"])
    elif kind == "upsample":
        out = intops.upsample_nearest(x, layer["factor"])
    elif kind == "duplicate":
        return [x] * len(layer["outputs"])
    else:
        raise ValueError(f"unknown layer kind {kind!r}")
    return [out]


def simulate(graph: Graph, images: np.ndarray, trace: bool = False):
    """images (N, H, W, 3) uint8 -> output accumulators (N, Ho, Wo, C) int32; with trace, every stream."""
    return walk(graph, images, lambda layer, inputs: run_layer(layer, graph.arrays, inputs), trace)


def walk(graph: Graph, images: np.ndarray, run, trace: bool = False):
    """Run the graph's layers in order with `run(layer, inputs) -> outputs`, freeing each stream after
    its last reader: the simulator and the C simulation share this walk."""
    values = {graph.input: np.asarray(images)}
    remaining = _uses(graph)
    for layer in graph.layers:
        outs = run(layer, [values[i] for i in layer["inputs"]])
        values.update(zip(layer["outputs"], outs))
        if not trace:  # drop streams no later layer reads
            for i in layer["inputs"]:
                remaining[i] -= 1
                if remaining[i] == 0 and i != graph.output:
                    del values[i]
    out = values[graph.output]
    return (out, values) if trace else out


def _uses(graph: Graph) -> dict:
    uses = {}
    for layer in graph.layers:
        for i in layer["inputs"]:
            uses[i] = uses.get(i, 0) + 1
    return uses
