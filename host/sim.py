"""The bit-exact simulator: runs a bundle's graph.npz layer by layer with host.intops' integers."""

from __future__ import annotations

import numpy as np

from codenet.host import intops
from codenet.host.bundle import Graph


def run_layer(layer: dict, arrays: dict, inputs: list) -> np.ndarray:
    name, kind = layer["name"], layer["kind"]
    if kind == "upsample":
        return intops.upsample_nearest(inputs[0], layer["factor"])
    weight = arrays[f"{name}.weight"]
    if kind == "conv":
        acc = intops.conv2d(inputs[0], weight, layer["stride"], layer["pad"], layer["dilation"], layer["groups"])
    elif kind == "deformable":
        x, d = inputs
        acc = intops.deformable_dw(x, d[..., 0].astype(np.int64), weight, layer["bound"])
    else:
        raise ValueError(f"unknown layer kind {kind!r}")
    if not layer["requant"]:
        return acc.astype(np.int32)
    return intops.requant(acc, arrays[f"{name}.mult"], arrays[f"{name}.bias"], arrays[f"{name}.shift"],
                          layer["lo"], layer["hi"])


def simulate(graph: Graph, images: np.ndarray, trace: bool = False):
    """images (N, H, W, 3) uint8 -> the output accumulator (N, Ho, Wo, C) int32; with trace, every tensor."""
    values = {graph.input: np.asarray(images)}
    for layer in graph.layers:
        values[layer["output"]] = run_layer(layer, graph.arrays, [values[i] for i in layer["inputs"]])
        if not trace:  # free what no later layer reads
            _drop_dead(values, graph, layer)
    out = values[graph.output]
    return (out, values) if trace else out


def _drop_dead(values, graph, done):
    later = graph.layers[graph.layers.index(done) + 1:]
    needed = {i for layer in later for i in layer["inputs"]} | {graph.output}
    for key in [k for k in values if k not in needed]:
        del values[key]
