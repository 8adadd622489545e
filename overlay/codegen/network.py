"""The whole network as one C-simulated program, from the build's own C++: every HLS node's
top_<node>.cpp and params.h exactly as code generation writes them for Vitis HLS (CodenetHLS.write_top),
each compiled as a translation unit of its own against the fiber streams (hls/tb/network), connected
as in the stitched design at the FIFO depths the build writes into the nodes (overlay/flow/fifos.py),
with a width converter where two nodes' words differ (where FINN's InsertDWC puts one). One fiber a
top, called once an image as the hardware starts it once a frame.

    binary, info = build(model)                        # the specialized graph (specialized.onnx)
    out, marks = network.run_program(binary, images, info, jobs=2)

    python -m codenet.overlay.codegen.network --export build/export-codenet-s --images 20
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from codenet.hls import csim, network
from codenet.host.errors import CodenetError


@dataclass
class Info:
    """What running the program needs to know of the graph."""

    image_shape: tuple  # (H, W, C) of one input image
    output_shape: tuple  # (H, W, C) of one image's accumulators
    output_dtype: np.dtype
    nodes: int  # HLS tops in the program


def _words(shape) -> int:
    return int(np.prod(shape[:-1]))


def program(model, work_dir) -> tuple[list, str, Info]:
    """(units [(top file, {file: text}, AP_INT_MAX_W)], the main() source, Info) of a specialized graph;
    the tops and their params.h are written under work_dir/<node> by the ops' own code generation."""
    import codenet.overlay.codegen.hls_ops  # noqa: F401  (registers our HLS ops)
    from codenet.overlay.codegen.backend import STREAM, CodenetHLS
    from codenet.overlay.flow.fifos import MIN_DEPTH, fifo_depths
    from qonnx.custom_op.registry import getCustomOp

    nodes = [n for n in model.graph.node if n.op_type != "Transpose"]  # the transposes run on the host
    ops = [getCustomOp(n) for n in nodes]
    for node, op in zip(nodes, ops):
        if not isinstance(op, CodenetHLS):
            raise CodenetError(f"{node.name} ({node.op_type}) is not one of our HLS ops: "
                               "specialize the graph first")
    depths = fifo_depths(model)
    first = ops[0]
    image_shape = tuple(int(v) for v in first.get_normal_input_shape(0))[1:]
    prog = network.Program(image_elems=int(np.prod(image_shape)))
    producer = {}  # tensor -> (C++ stream, width, words an image)
    width = first.get_instream_width(0)
    widths = [width]
    prog.stream("s_in", width, nodes[0].input[0], MIN_DEPTH)
    producer[nodes[0].input[0]] = ("s_in", width, _words(first.get_folded_input_shape(0)))
    prog.feed = f"tb::net::feed<{width // 8}, 8>(s_in, image)"
    units = []
    work_dir = Path(work_dir)
    for k, (node, op) in enumerate(zip(nodes, ops)):
        ports = []
        for j in op.in_streams():
            src, have, words = producer[node.input[j]]
            want = op.get_instream_width(j)
            widths.append(want)
            ports.append(prog.connect(src, have, want, words, node.input[j], node.name,
                                      int(depths.get((node.name, j), MIN_DEPTH)), f"s{k}_in{j}"))
        for o in op.out_streams():
            name, out_w = f"s{k}_out{o}", op.get_outstream_width(o)
            widths.append(out_w)
            prog.stream(name, out_w, node.output[o], MIN_DEPTH)
            producer[node.output[o]] = (name, out_w, _words(op.get_folded_output_shape(o)))
            ports.append(name)
        top_dir = work_dir / node.name
        top_dir.mkdir(parents=True, exist_ok=True)
        op.write_top(model, top_dir)
        files = {p.name: p.read_text() for p in sorted(top_dir.iterdir()) if p.suffix in (".cpp", ".h")}
        units.append((f"top_{node.name}.cpp", files, op.get_ap_int_max_w()))
        args = ", ".join(f"{STREAM.format(w)} &{port}" for port, w in op.ports())
        prog.prelude.append(f"void {node.name}({args});")
        prog.kernels.append((node.name, f"{node.name}({', '.join(ports)})"))
    last, out_tensor = ops[-1], nodes[-1].output[0]
    src, width, words = producer[out_tensor]
    dt = last.get_output_datatype(0)
    bits = dt.bitwidth()
    signed = str(dt.signed()).lower()
    prog.drain = f"tb::net::drain<{width // bits}, {bits}, {signed}>({src}, result, {words}UL * n)"
    prog.max_w = max(csim.DEFAULT_AP_INT_MAX_W, *widths)
    out_shape = tuple(int(v) for v in last.get_normal_output_shape(0))[1:]
    dtype = np.dtype(np.int32 if dt.signed() else np.uint8) if bits in (8, 32) else np.dtype(np.int32)
    return units, prog.source(0), Info(image_shape, out_shape, dtype, len(nodes))


def build(model, work_dir=None, jobs: int | None = None) -> tuple[csim.Binary, Info]:
    """Write every top, compile them (cached by content) and link the program; (binary, Info)."""
    csim.require()
    with tempfile.TemporaryDirectory(prefix="codenet-net-") as tmp:
        units, main, info = program(model, work_dir or tmp)
        return network.build_units(units, main, jobs), info


def run(binary, info: Info, images, jobs: int = 1) -> tuple[np.ndarray, dict]:
    """images (N, H, W, C) uint8 -> (accumulators (N, ...) as the simulator's, {stream: (high water,
    depth)})."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or tuple(images.shape[1:]) != info.image_shape:
        raise ValueError(f"images must be (N, {', '.join(map(str, info.image_shape))}) uint8, got "
                         f"{images.shape} {images.dtype}")
    return network.run_program(binary, images, info.output_shape, info.output_dtype, jobs=jobs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m codenet.overlay.codegen.network",
                                 description="The whole network as one C-simulated program of the generated HLS "
                                             "tops, exact against the simulator, with frames/s.")
    ap.add_argument("--export", required=True, help="a `codenet export` folder (specialized.onnx and bundle/)")
    ap.add_argument("--images", type=int, default=20, help="images: the samples, then random ones (default 20)")
    ap.add_argument("--jobs", type=int, default=0, help="copies of the program run at once (default: one a core)")
    ap.add_argument("--out", default="", help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    import os

    from codenet.host.bundle import load_bundle
    from codenet.overlay.flow.steps import prepare_finn

    export = Path(args.export)
    for need in ("specialized.onnx", "bundle"):
        if not (export / need).exists():
            print(f"error: {export / need} not found (make it with `codenet export`)", file=sys.stderr)
            return 2
    prepare_finn()
    from qonnx.core.modelwrapper import ModelWrapper

    try:
        model = ModelWrapper(str(export / "specialized.onnx"))
        bundle = load_bundle(export / "bundle")
        images = csim.sample_images(bundle.input_size, args.images)
        start = time.perf_counter()
        binary, info = build(model)
        how = f"compiled in {time.perf_counter() - start:.1f} s" if binary.compiled else "cached"
        print(f"{info.nodes} generated tops, one program: {how}")
        jobs = args.jobs or os.cpu_count() or 1
        start = time.perf_counter()
        hw, marks = run(binary, info, images, jobs=jobs)
        csim_s = time.perf_counter() - start
    except CodenetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    result = csim.against_simulator(bundle.graph, images, hw, csim_s, jobs, marks)
    if args.out:
        from codenet.host.io import write_json_atomic

        write_json_atomic({**result, "tops": info.nodes, "cpus": os.cpu_count(),
                           "high_water": {k: list(v) for k, v in marks.items()}}, args.out)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
