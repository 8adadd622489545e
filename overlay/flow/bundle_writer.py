"""The bundle: manifest.json + graph.npz, written from the FINN HW-layer graph, read with numpy alone.

graph.npz holds a JSON layer list ("__graph__") and each layer's integer arrays as "<name>.<array>".
Layers run in order on NHWC tensors (the streams), with FINN's layer semantics:
  pad          FMPadding: zeros, pads (top, left, bottom, right)
  window       ConvolutionInputGenerator: k x k windows at stride and dilation, (tap, channel) order
  deformable_dw  BoundedDeformableDW: [x, d], weight (C, 1, 3, 3) int8 -> int32 accumulators of the
               depthwise 3x3 at each pixel's dilation d in 1..bound
  mvau         MVAU: windows @ weight (MW, MH) int8 -> int32 accumulators (weight_bits: the kernel's)
  vvau         VVAU: depthwise, weight (C, 1, k, k) int8 -> int32 accumulators (weight_bits)
  requant      DyadicRequant: clip((acc * mult + bias) >> shift, lo, hi) per channel
  upsample     UpsampleNearestNeighbour by `factor`
  duplicate    DuplicateStreams: one input, several identical outputs
The input/output transposes (NCHW <-> NHWC) are the host's, so the graph starts and ends in NHWC.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from pathlib import Path

import numpy as np

from codenet.host.bundle import BUNDLE_FORMAT, GRAPH_FORMAT
from codenet.host.errors import CodenetError
from codenet.host.io import write_bytes_atomic, write_json_atomic

FOLDING_ATTRS = ("PE", "SIMD")

#: FINN's Zynq IODMA (HLS, s_axilite): control, buffer address (lo/hi words), images per run
IODMA_REGISTERS = {"ctrl": 0x00, "ap_start": 0x1, "ap_done": 0x2, "addr_lo": 0x10, "addr_hi": 0x14,
                   "num_images": 0x1C}
BITFILE, HWHFILE = "codenet.bit", "codenet.hwh"


def board_fclk_mhz() -> float:
    """The PL clock of the default board config (overlay/pynq-z2.yaml): what the build synthesizes at."""
    from codenet.overlay.flow.board import load_board

    return float(load_board().clock_mhz)


def _dma_port(op, dma: str, side: str) -> dict:
    """One IODMA's data as FINN's driver describes it: datatype, normal/folded/packed shapes, stream width."""
    from codenet.host.packing import packed_width

    dt = str(getattr(op, f"get_{side}put_datatype")().name)
    normal = [int(v) for v in getattr(op, f"get_normal_{side}put_shape")()]
    folded = [int(v) for v in getattr(op, f"get_folded_{side}put_shape")()]
    packed = folded[:-1] + [packed_width(folded[-1], dt)]
    return {"dma": dma, "datatype": dt, "shape": normal, "folded_shape": folded, "packed_shape": packed,
            "stream_bits": int(getattr(op, f"get_{side}stream_width")())}


def accelerator_section(model, fclk_mhz: float) -> dict:
    """What the pynq backend needs to drive the accelerator: FINN's zynq-iodma platform, the IODMA names,
    packed buffer shapes and widths (batch 1 in dim 0), the register map and the clock."""
    from qonnx.custom_op.registry import getCustomOp

    nodes = list(model.graph.node)[1:-1]  # inside the host's layout transposes
    return {"platform": "zynq-iodma", "bitfile": BITFILE, "hwh": HWHFILE, "fclk_mhz": float(fclk_mhz),
            "registers": dict(IODMA_REGISTERS),
            "input": _dma_port(getCustomOp(nodes[0]), "idma0", "in"),
            "output": _dma_port(getCustomOp(nodes[-1]), "odma0", "out")}


def add_files(bundle_dir, files: dict) -> dict:
    """Copy build outputs (e.g. {"codenet.bit": path, "codenet.hwh": path}) into a bundle and record their
    hashes in its manifest, so the host refuses any other build's files. Returns the manifest."""
    from codenet.host.bundle import load_manifest, sha256

    out = Path(bundle_dir)
    manifest = load_manifest(out)
    for name, src in files.items():
        write_bytes_atomic(Path(src).read_bytes(), out / name)
        manifest.setdefault("files", {})[name] = sha256(out / name)
    write_json_atomic(manifest, out / "manifest.json")
    return manifest


def graph_layers(model) -> tuple[dict, list, dict]:
    """FINN HW-layer ModelWrapper -> (graph header, layer dicts, arrays)."""
    from qonnx.custom_op.registry import getCustomOp

    from codenet.overlay.ops.hw import HW_DOMAINS

    nodes = list(model.graph.node)
    first, last = nodes[0], nodes[-1]
    if first.op_type != "Transpose" or last.op_type != "Transpose":
        raise CodenetError("expected the HW graph to start and end with the host's layout transposes")
    layers, arrays = [], {}
    for node in nodes[1:-1]:
        if node.domain not in HW_DOMAINS:
            raise CodenetError(f"{node.name}: {node.op_type} is not a HW layer")
        op = getCustomOp(node)
        attr = op.get_nodeattr
        name, kind, fields = node.name, node.op_type, {}
        if kind == "FMPadding":
            kind, fields = "pad", {"pads": [int(v) for v in attr("Padding")]}
        elif kind == "ConvolutionInputGenerator":
            kind = "window"
            fields = {"k": int(attr("ConvKernelDim")[0]), "stride": int(attr("Stride")[0]),
                      "dilation": int(attr("Dilation")[0])}
        elif kind == "BoundedDeformableDW":
            arrays[f"{name}.weight"] = model.get_initializer(node.input[2]).astype(np.int8)
            kind, fields = "deformable_dw", {"bound": int(attr("Bound")),
                                             "weight_bits": op.get_input_datatype(2).bitwidth()}
        elif kind in ("MVAU", "VVAU"):
            arrays[f"{name}.weight"] = model.get_initializer(node.input[1]).astype(np.int8)
            kind, fields = kind.lower(), {"weight_bits": op.get_input_datatype(1).bitwidth()}
        elif kind == "DyadicRequant":
            for key, idx in (("mult", 1), ("bias", 2), ("shift", 3)):
                arrays[f"{name}.{key}"] = model.get_initializer(node.input[idx]).astype(np.int64)
            kind, fields = "requant", {"lo": int(attr("lo")), "hi": int(attr("hi"))}
        elif kind == "UpsampleNearestNeighbour":
            kind, fields = "upsample", {"factor": int(attr("HO")) // int(attr("HI"))}
        elif kind == "DuplicateStreams":
            kind = "duplicate"
        else:
            raise CodenetError(f"{name}: no bundle layer for {kind}")
        stream_inputs = [i for i in node.input if model.get_initializer(i) is None]
        folding = {a: int(attr(a)) for a in FOLDING_ATTRS if a in op.get_nodeattr_types()}
        layers.append({"name": name, "kind": kind, "finn_op": node.op_type, "inputs": stream_inputs,
                       "outputs": list(node.output), "shape": [int(v) for v in model.get_tensor_shape(node.output[0])],
                       "folding": folding, **fields})
    header = {"format": GRAPH_FORMAT, "input": first.output[0], "output": last.input[0], "layers": layers}
    return header, layers, arrays


def npz_bytes(arrays: dict) -> bytes:
    """np.savez's format, byte-reproducible: fixed timestamps (numpy stamps each entry with the current
    time) and stored, not deflated (compressed bytes depend on the zlib build), so the same integers
    give the same sha256 on every machine."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for key, value in arrays.items():
            entry = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with zf.open(entry, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(value), allow_pickle=False)
    return buf.getvalue()


def _write_graph(model, out: Path) -> list:
    """graph.npz of the HW-layer graph into out; returns its layers."""
    header, layers, arrays = graph_layers(model)
    write_bytes_atomic(npz_bytes({"__graph__": np.array(json.dumps(header)), **arrays}), out / "graph.npz")
    return layers


def _manifest_layers(layers: list) -> list:
    return [{k: layer[k] for k in ("name", "kind", "finn_op", "shape", "folding")} for layer in layers]


def write_bundle(model, card: dict, out_dir, extra_meta: dict | None = None, fclk_mhz: float | None = None) -> dict:
    """FINN HW-layer graph + model card -> out_dir/{graph.npz, manifest.json}; returns the manifest. The
    clock is the board config's unless given."""
    out = Path(out_dir)
    layers = _write_graph(model, out)
    size, stride = card["config"]["input_size"], card["output_stride"]
    manifest = {
        "format": BUNDLE_FORMAT,
        "name": card["name"],
        "classes": card["classes"],
        "input": {"shape": [1, size, size, 3], "layout": "NHWC", "dtype": "uint8",
                  "preprocessing": card["input"]["preprocessing"]},
        "output": {"shape": [1, size // stride, size // stride, len(card["classes"]) + 4], "layout": "NHWC",
                   "dtype": "int32", "channels": card["output"]["channels"], "scale": card["output"]["scale"],
                   "bias": card["output"]["bias"]},
        "output_stride": stride,
        "layers": _manifest_layers(layers),
        "board": "Pynq-Z2", "part": "xc7z020clg400-1",
        "accelerator": accelerator_section(model, board_fclk_mhz() if fclk_mhz is None else fclk_mhz),
        "files": {"graph.npz": hashlib.sha256((out / "graph.npz").read_bytes()).hexdigest()},
        "made": {"date": time.strftime("%Y-%m-%d"), "model": card.get("meta", {}),
                 "qonnx_sha256": card.get("qonnx_sha256"), **(extra_meta or {})},
    }
    threshold = card.get("meta", {}).get("val", {}).get("score_threshold")
    if threshold is not None:  # the detector's default: the best F1 on the model's val split
        manifest["score_threshold"] = round(float(threshold), 4)
    calibration = card.get("meta", {}).get("score_calibration")
    if calibration is not None:  # the Platt scaling its scores are calibrated by (host/calibration.py)
        manifest["score_calibration"] = {"a": float(calibration["a"]), "b": float(calibration["b"])}
    write_json_atomic(manifest, out / "manifest.json")
    return manifest


def refold_bundle(model, src_dir, out_dir, fclk_mhz: float, board: str, part: str) -> dict:
    """A bundle whose graph, layers and accelerator section are this folded HW-layer graph's (the one
    handed to Vivado) at the build's clock, the rest (classes, output scale, provenance) src_dir's.
    Returns the manifest."""
    from codenet.host.bundle import load_manifest

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest = load_manifest(Path(src_dir))
    layers = _write_graph(model, out)
    manifest.update(layers=_manifest_layers(layers), board=board, part=part,
                    accelerator=accelerator_section(model, fclk_mhz),
                    files={"graph.npz": hashlib.sha256((out / "graph.npz").read_bytes()).hexdigest()})
    write_json_atomic(manifest, out / "manifest.json")
    return manifest
