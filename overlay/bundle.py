"""The bundle: manifest.json + graph.npz, written from the FINN integer graph, read with numpy alone.

Layers (NHWC streams, in execution order), each a dict in graph.npz's "layers" JSON with its arrays
stored beside it as "<name>.<array>":
  conv        input -> output: k x k conv (dense or depthwise), weight (Cout, Cin/g, k, k) int8,
              then requantization mult/bias/shift (int64) clipped to [lo, hi], or none (head: int32 out)
  deformable  [x, d] -> output: bounded deformable depthwise 3x3, weight (C, 1, 3, 3), requantization
  upsample    input -> output: nearest, `factor`
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from pathlib import Path

import numpy as np

from codenet.host.bundle import BUNDLE_FORMAT, GRAPH_FORMAT
from codenet.host.errors import CodenetError
from codenet.host.io import write_bytes_atomic, write_json_atomic


def _attr(node, name, default=None):
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _requant_of(model, tensor):
    consumers = model.find_consumers(tensor) or []
    if len(consumers) == 1 and consumers[0].op_type == "Requant":
        return consumers[0]
    return None


def graph_layers(model) -> tuple[list, dict]:
    """ModelWrapper (codenet.overlay.flow.streamline) -> (layer dicts, arrays)."""
    layers, arrays = [], {}
    absorbed = set()

    def add(kind, name, inputs, output, **fields):
        layers.append({"name": name, "kind": kind, "inputs": list(inputs), "output": output, **fields})

    def requant_fields(name, node):
        if node is None:
            return {"requant": False}
        absorbed.add(node.name)
        for key, idx in (("mult", 1), ("bias", 2), ("shift", 3)):
            arrays[f"{name}.{key}"] = model.get_initializer(node.input[idx]).astype(np.int64)
        return {"requant": True, "lo": int(_attr(node, "lo")), "hi": int(_attr(node, "hi"))}

    for node in model.graph.node:
        if node.name in absorbed:
            continue
        name = node.name
        if node.op_type == "Conv":
            weight = model.get_initializer(node.input[1])
            pads = list(_attr(node, "pads", [0, 0, 0, 0]))
            if len(set(pads)) != 1 or len(node.input) > 2:
                raise CodenetError(f"{name}: only symmetric padding and no bias are supported")
            arrays[f"{name}.weight"] = weight.astype(np.int8)
            rq = _requant_of(model, node.output[0])
            fields = requant_fields(name, rq)
            add("conv", name, [node.input[0]], rq.output[0] if rq else node.output[0],
                stride=int(_attr(node, "strides")[0]), pad=int(pads[0]), dilation=int(_attr(node, "dilations")[0]),
                groups=int(_attr(node, "group", 1)), kernel=int(weight.shape[-1]), **fields)
        elif node.op_type == "BoundedDeformableConv":
            arrays[f"{name}.weight"] = model.get_initializer(node.input[2]).astype(np.int8)
            rq = _requant_of(model, node.output[0])
            fields = requant_fields(name, rq)
            add("deformable", name, node.input[:2], rq.output[0] if rq else node.output[0],
                bound=int(_attr(node, "bound")), **fields)
        elif node.op_type == "Resize":
            scales = model.get_initializer(node.input[2]) if len(node.input) > 2 else None
            if scales is None or _attr(node, "mode", b"nearest") not in (b"nearest", "nearest"):
                raise CodenetError(f"{name}: only nearest upsampling by constant scales is supported")
            factor = int(scales[-1])
            add("upsample", name, [node.input[0]], node.output[0], factor=factor)
        else:
            raise CodenetError(f"{name}: no bundle layer for op {node.op_type}")
    for layer in layers:
        n, c, h, w = (int(v) for v in model.get_tensor_shape(layer["output"]))
        layer["shape"] = [n, h, w, c]  # NHWC, the order the streams carry
    return layers, arrays


def write_bundle(model, card: dict, out_dir, extra_meta: dict | None = None) -> dict:
    """FINN integer graph + model card -> out_dir/{graph.npz, manifest.json}; returns the manifest."""
    layers, arrays = graph_layers(model)
    graph = {"format": GRAPH_FORMAT, "input": model.graph.input[0].name, "output": model.graph.output[0].name,
             "layers": layers}
    buf = io.BytesIO()
    np.savez_compressed(buf, __graph__=np.array(json.dumps(graph)), **arrays)
    out = Path(out_dir)
    write_bytes_atomic(buf.getvalue(), out / "graph.npz")
    size = card["config"]["input_size"]
    manifest = {
        "format": BUNDLE_FORMAT,
        "name": card["name"],
        "classes": card["classes"],
        "input": {"shape": [1, size, size, 3], "layout": "NHWC", "dtype": "uint8",
                  "preprocessing": card["input"]["preprocessing"]},
        "output": {"shape": [1, size // card["output_stride"], size // card["output_stride"],
                             len(card["classes"]) + 4], "layout": "NHWC", "dtype": "int32",
                   "channels": card["output"]["channels"], "scale": card["output"]["scale"],
                   "bias": card["output"]["bias"]},
        "output_stride": card["output_stride"],
        "layers": [{k: v for k, v in layer.items() if k in ("name", "kind", "shape", "kernel", "stride",
                                                              "groups", "bound", "factor")} for layer in layers],
        "board": "Pynq-Z2", "part": "xc7z020clg400-1",
        "files": {"graph.npz": hashlib.sha256((out / "graph.npz").read_bytes()).hexdigest()},
        "made": {"date": time.strftime("%Y-%m-%d"), "model": card.get("meta", {}), "qonnx_sha256": card.get("qonnx_sha256"),
                 **(extra_meta or {})},
    }
    write_json_atomic(manifest, out / "manifest.json")
    return manifest
