"""The whole network as one C-simulated program: every layer's kernel in its own thread, connected as
in the stitched design by bounded streams (hls/tb/threaded/hls_stream.h) at the build's FIFO depths,
width converters where two layers' words differ (as FINN's InsertDWC puts them). A deadlock is a
one-line CsimError naming the full streams; each stream's high-water mark comes back with the output.

    out, high_water = run_network(graph, images)              # at fifo_depths(graph), the build's
    out, high_water = run_network(graph, images, depths)      # {(layer name, input index): words}
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from codenet.hls import csim

THREADED = csim.TB_DIR / "threaded"
FLAGS = csim.FLAGS + ("-pthread", "-I", str(THREADED))  # our hls_stream.h before the ap_types one
DEFAULT_DEPTH = 2  # FINN's shallowest FIFO
PIPELINE_WORDS = 16  # a kernel's pipeline latency in words: an assumption (an HLS loop's depth), not measured
# the kernels a deformable layer's dilation branch may hold for the depths below: each passes a pixel on
# once it has read it (a window would need rows: not sized here)
PIXEL_KERNELS = ("mvau", "requant")


def fifo_depths(graph) -> dict:
    """{(layer name, input index): depth} of a bundle graph, as overlay/fifos.py sets them in the build:
    DEFAULT_DEPTH, and on a deformable layer's features the latency of its dilation branch."""
    producer = {t: layer for layer in graph.layers for t in layer["outputs"]}
    depths = {}
    for layer in graph.layers:
        for j, _ in enumerate(layer["inputs"]):
            depths[(layer["name"], j)] = DEFAULT_DEPTH
        if layer["kind"] == "deformable_dw":
            kernels, prod = 0, producer.get(layer["inputs"][1])
            while prod is not None and prod["kind"] != "duplicate":
                if prod["kind"] not in PIXEL_KERNELS:
                    raise csim.CsimError(f"{layer['name']}: its dilation branch holds a {prod['kind']}, "
                                         "which the FIFO depths are not computed for")
                kernels += 1
                prod = producer.get(prod["inputs"][0])
            depths[(layer["name"], 0)] += kernels * PIPELINE_WORDS
    return depths


def _args(case: str) -> list:
    return [a.strip() for a in case[case.index("<") + 1:case.rindex(">")].split(",")]


def _element_bits(kernel) -> int:
    """Bits per element of a kernel's output stream (its template arguments say)."""
    kind, args = kernel.case[len("tb::run_"):kernel.case.index("<")], _args(kernel.case)
    if kind in ("mvau", "vvau", "deformable_dw"):
        return csim.ACC_BITS
    if kind == "requant":
        return int(args[3])  # OBITS
    if kind == "duplicate":
        return int(args[3])  # BITS
    return int(args[-2])  # pad, window, upsample: BITS, then SIGNED


def generate(graph, kernels, depths: dict) -> str:
    """The program's C++: streams, one thread per kernel (and width converter), a feeder and a drainer."""
    decls, threads, streams = [], [], []  # streams: (C++ expression, label) of every FIFO
    producer = {}  # tensor -> (C++ expression, width, kernel)

    def declare(name, width, label, depth=DEFAULT_DEPTH):
        decls.append(f'    hls::stream<ap_uint<{width}>> {name}("{label}", {depth});')
        streams.append(name)

    first = kernels[0]
    declare("s_in", first.in_widths[0], graph.input)
    producer[graph.input] = ("s_in", first.in_widths[0], None)
    threads.append(f"tb::net::feed<{first.in_widths[0] // 8}, 8>(s_in, image)")
    for li, (layer, kernel) in enumerate(zip(graph.layers, kernels)):
        ins = []
        for j, tensor in enumerate(layer["inputs"]):
            src, width, prod = producer[tensor]
            want, label = kernel.in_widths[j], f"{tensor} -> {layer['name']}"
            depth = int(depths.get((layer["name"], j), DEFAULT_DEPTH))
            if width != want:  # a width converter, as FINN's InsertDWC puts it, then the FIFO
                name = f"s{li}_in{j}"
                declare(name, want, label, depth)
                words = int(np.prod(prod.outputs[0].shape)) * _element_bits(prod) // width
                threads.append(f"codenet::width_converter<{width}, {want}>({src}, {name}, {words}U)")
                ins.append(name)
            else:
                decls.append(f"    {src}.set_depth({depth});")
                decls.append(f'    {src}.set_name("{label}");')
                ins.append(src)
        out = f"s{li}_out"
        if layer["kind"] == "duplicate":
            decls.append(f"    hls::stream<ap_uint<{kernel.out_width}>> {out}[{len(layer['outputs'])}];")
            for o, tensor in enumerate(layer["outputs"]):
                streams.append(f"{out}[{o}]")
                producer[tensor] = (f"{out}[{o}]", kernel.out_width, kernel)
        else:
            declare(out, kernel.out_width, layer["outputs"][0])
            producer[layer["outputs"][0]] = (out, kernel.out_width, kernel)
        stage = kernel.case.replace("tb::run_", "tb::stage_", 1)
        threads.append(f"{stage}({', '.join(ins + [out])}, params[{li}], {kernel.reps}UL)")
    src, width, last = producer[graph.output]
    bits = _element_bits(last)
    words = int(np.prod(last.outputs[0].shape)) * bits // width
    signed = "true" if np.dtype(last.outputs[0].dtype).kind == "i" else "false"
    threads.append(f"tb::net::drain<{width // bits}, {bits}, {signed}>({src}, result, {words}UL)")
    runs = "\n".join(f"    threads.emplace_back([&] {{ tb::net::guard([&] {{ {t}; }}); }});" for t in threads)
    full = "\n".join(f"            tb::net::if_full({s}, full);" for s in streams)
    report = "\n".join(f"    tb::net::high_water({s});" for s in streams)
    return PROGRAM.format(decls="\n".join(decls), threads=runs, n_threads=len(threads), n_layers=len(kernels),
                          full=full, report=report)


def build(graph, input_shape, depths: dict):
    """Compile (or find cached) the network program for images of input_shape; (binary, kernels)."""
    kernels = csim.plan_graph(graph, input_shape)
    source = generate(graph, kernels, depths)
    return csim.compile_cached({"net.cpp": source}, "net.cpp", "net", flags=FLAGS), kernels


def run_network(graph, images, depths: dict | None = None, binary=None) -> tuple[np.ndarray, dict]:
    """images (N, H, W, C) uint8 -> (output accumulators as host.sim.simulate, {stream: (high water,
    depth)}), the FIFOs at `depths` (default: fifo_depths, the build's; missing ones DEFAULT_DEPTH). A
    CsimError on a deadlock (naming the full streams) or a kernel error."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f"images must be (N, H, W, C) uint8, got {images.shape} {images.dtype}")
    depths = fifo_depths(graph) if depths is None else depths
    if binary is None:
        binary, kernels = build(graph, images.shape, depths)
    else:
        kernels = csim.plan_graph(graph, images.shape)
    with tempfile.TemporaryDirectory(prefix="csim-net-") as tmp:
        tmp = Path(tmp)
        np.ascontiguousarray(images, dtype="<i4").tofile(tmp / "image.bin")
        args = [str(binary.path), str(tmp / "image.bin"), str(tmp / "out.bin")]
        for i, kernel in enumerate(kernels):
            if kernel.params is None:
                args.append("-")
            else:
                kernel.params.astype("<i8").tofile(tmp / f"p{i}.bin")
                args.append(str(tmp / f"p{i}.bin"))
        res = csim.run_binary(args, "the network program")
        shape = kernels[-1].outputs[0]
        out = np.fromfile(tmp / "out.bin", dtype="<i4").reshape(shape.shape).astype(shape.dtype)
    marks = {}
    for line in res.stdout.splitlines():
        if line.startswith("high_water "):
            name, high, depth = line[len("high_water "):].rsplit(" ", 2)
            marks[name] = (int(high), int(depth))
    return out, marks


PROGRAM = r"""// generated by codenet/hls/network.py: the whole network, one thread per kernel
#include "csim_tb.hpp"

#include <chrono>
#include <functional>
#include <thread>

namespace tb {{
namespace net {{

inline void guard(std::function<void()> const &f) {{
    try {{
        f();
    }} catch (std::exception const &e) {{
        std::fprintf(stderr, "csim error: %s\n", e.what());
        std::fflush(stderr);
        std::_Exit(2);
    }}
    hls::net::monitor().running--;
}}

template <unsigned P, unsigned BITS>
void feed(hls::stream<ap_uint<P * BITS>> &s, Elems const &v) {{
    for (size_t i = 0; i < v.size(); i += P) {{
        ap_uint<P * BITS> w = 0;
        for (unsigned p = 0; p < P; p++) w((p + 1) * BITS - 1, p * BITS) = ap_uint<BITS>(v[i + p]);
        s.write(w);
    }}
}}

template <unsigned P, unsigned BITS, bool SIGNED>
void drain(hls::stream<ap_uint<P * BITS>> &s, Elems &v, unsigned long words) {{
    v.resize(words * P);
    for (unsigned long i = 0; i < words; i++) {{
        ap_uint<P * BITS> w = s.read();
        for (unsigned p = 0; p < P; p++) {{
            ap_uint<BITS> e = w((p + 1) * BITS - 1, p * BITS);
            v[i * P + p] = SIGNED ? int32_t(ap_int<BITS>(e).to_int64()) : int32_t(e.to_uint64());
        }}
    }}
}}

template <typename S>
void if_full(S &s, std::string &full) {{
    if (s.is_full_waiting()) full += (full.empty() ? "" : ", ") + s.name() + " (depth " + std::to_string(s.depth()) + ")";
}}

template <typename S>
void high_water(S &s) {{
    std::printf("high_water %s %zu %zu\n", s.name().c_str(), s.high_water(), s.depth());
}}

}}  // namespace net
}}  // namespace tb

int main(int argc, char **argv) {{
    if (argc != 3 + {n_layers}) {{
        std::fprintf(stderr, "usage: net <image.bin> <out.bin> <params.bin|->...\n");
        return 2;
    }}
    tb::Elems image = tb::read_file<int32_t>(argv[1]), result;
    std::vector<std::vector<int64_t>> params({n_layers});
    for (int i = 0; i < {n_layers}; i++)
        if (std::strcmp(argv[3 + i], "-") != 0) params[i] = tb::read_file<int64_t>(argv[3 + i]);
{decls}
    hls::net::monitor().running = {n_threads};
    std::vector<std::thread> threads;
{threads}
    unsigned long last = ~0UL;
    int still = 0;
    while (hls::net::monitor().running > 0) {{  // every kernel waits and nothing moves: a deadlock
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        unsigned long moved = hls::net::monitor().moved;
        bool stuck = hls::net::monitor().waiting == hls::net::monitor().running && moved == last;
        still = stuck ? still + 1 : 0;
        last = moved;
        if (still >= 10) {{
            std::string full;
{full}
            std::fprintf(stderr, "deadlock: every kernel waits; full: %s\n", full.c_str());
            std::fflush(stderr);
            std::_Exit(3);
        }}
    }}
    for (auto &t : threads) t.join();
{report}
    tb::write_file(argv[2], result);
    return 0;
}}
"""
