"""The whole network as one C-simulated program: every layer's kernel on its own fiber, connected as
in the stitched design by bounded streams (hls/tb/network/hls_stream.h, fibers in one thread) at the
build's FIFO depths, width converters where two layers' words differ (as FINN's InsertDWC puts them). A
deadlock is a one-line CsimError naming the full streams; each stream's high-water mark comes back with
the output.

    out, high_water = run_network(graph, images)              # at fifo_depths(graph), the build's
    out, high_water = run_network(graph, images, depths)      # {(layer name, input index): words}
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from codenet.hls import csim

NETWORK_TB = csim.TB_DIR / "network"
# our hls_stream.h before the ap_types one; lanes on the limbs (hls/include/codenet/common.hpp)
FLAGS = tuple(f for f in csim.FLAGS if not f.startswith("-O")) + ("-O3", "-I", str(NETWORK_TB),
                                                                   "-DCODENET_CSIM_FAST_LANES")
UNIT_PRELUDE = "#include <codenet/codenet.hpp>\n"  # parsed once for the tops (hls_stream.h: ours)
DEFAULT_DEPTH = 2  # FINN's shallowest FIFO
PIPELINE_WORDS = 16  # a kernel's pipeline latency in words: an assumption (an HLS loop's depth), not measured
# the kernels a deformable layer's dilation branch may hold for the depths below: each passes a pixel on
# once it has read it (a window would need rows: not sized here)
PIXEL_KERNELS = ("mvau", "requant")


def fifo_depths(graph) -> dict:
    """{(layer name, input index): depth} of a bundle graph, as overlay/flow/fifos.py sets them in the build:
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


@dataclass
class Program:
    """The network program's parts: its streams and its kernels, each kernel one C++ statement that
    runs it on one image (called once an image in its fiber, as the hardware starts a top a frame)."""

    decls: list = field(default_factory=list)    # C++ declarations of the streams
    kernels: list = field(default_factory=list)  # (fiber name, statement for one image)
    feed: str = ""                               # statement feeding all images (`image`, `n`)
    drain: str = ""                              # statement draining all outputs into `result`
    image_elems: int = 0                         # input elements an image
    prelude: list = field(default_factory=list)  # C++ before main() (the tops' declarations)
    max_w: int = csim.DEFAULT_AP_INT_MAX_W       # the widest word: ap_int's AP_INT_MAX_W

    def stream(self, name: str, width: int, label: str, depth: int = DEFAULT_DEPTH) -> str:
        self.decls.append(f'    hls::stream<ap_uint<{width}>> {name}("{label}", {depth});')
        return name

    def connect(self, src: str, have: int, want: int, words: int, tensor: str, consumer: str, depth: int,
                name: str) -> str:
        """The stream `consumer` reads `tensor` from: src (`words` words of `have` bits an image) at `depth`,
        or where the widths differ a width converter's output `name` (as FINN's InsertDWC puts one)."""
        label = f"{tensor} -> {consumer}"
        if have == want:
            self.decls += [f"    {src}.set_depth({depth});", f'    {src}.set_name("{label}");']
            return src
        self.stream(name, want, label, depth)
        self.decls.append(f'    {src}.set_name("{tensor} -> width converter to {consumer}");')
        self.kernels.append((f"width converter to {consumer}",
                             f"codenet::width_converter<{have}, {want}>({src}, {name}, {words}U)"))
        return name

    def source(self, n_params: int) -> str:
        fibers = [("input", self.feed)] + [
            (name, f"for (unsigned long i = 0; i < n; i++) {{ {stmt}; }}") for name, stmt in self.kernels
        ] + [("output", self.drain)]
        spawn = "\n".join(f'    sched.spawn(tb::net::guard([&] {{ {stmt}; }}), "{name}");'
                          for name, stmt in fibers)
        return PROGRAM.format(decls="\n".join(self.decls), threads=spawn, n_layers=n_params,
                              image_elems=self.image_elems, prelude="\n".join(self.prelude),
                              max_w=self.max_w)


def generate(graph, kernels, depths: dict, image_shape) -> str:
    """The program's C++ for a bundle graph: streams, one fiber per kernel (and width converter), a feeder
    and a drainer. `kernels` are planned for one image of image_shape (H, W, C) (csim.plan_graph); the
    image count is the program's input."""
    prog = Program(image_elems=int(np.prod(image_shape)), max_w=max(csim.DEFAULT_AP_INT_MAX_W,
                                                                       *(k.width for k in kernels)))
    producer = {}  # tensor -> (C++ expression, width, kernel)
    first = kernels[0]
    prog.stream("s_in", first.in_widths[0], graph.input)
    producer[graph.input] = ("s_in", first.in_widths[0], None)
    prog.feed = f"tb::net::feed<{first.in_widths[0] // 8}, 8>(s_in, image)"
    for li, (layer, kernel) in enumerate(zip(graph.layers, kernels)):
        ins = []
        for j, tensor in enumerate(layer["inputs"]):
            src, width, prod = producer[tensor]
            words = int(np.prod(prod.outputs[0].shape)) * _element_bits(prod) // width if prod else 0
            ins.append(prog.connect(src, width, kernel.in_widths[j], words, tensor, layer["name"],
                                    int(depths.get((layer["name"], j), DEFAULT_DEPTH)), f"s{li}_in{j}"))
        out = f"s{li}_out"
        if layer["kind"] == "duplicate":
            prog.decls.append(f"    hls::stream<ap_uint<{kernel.out_width}>> {out}[{len(layer['outputs'])}];")
            for o, tensor in enumerate(layer["outputs"]):
                prog.decls.append(f'    {out}[{o}].set_name("{tensor}");')
                producer[tensor] = (f"{out}[{o}]", kernel.out_width, kernel)
        else:
            prog.stream(out, kernel.out_width, layer["outputs"][0])
            producer[layer["outputs"][0]] = (out, kernel.out_width, kernel)
        stage = kernel.case.replace("tb::run_", "tb::stage_", 1)
        call = f"{stage}({', '.join(ins + [out])}, params[{li}], {kernel.reps}UL)"
        prog.kernels.append((layer["name"], call))
    src, width, last = producer[graph.output]
    bits = _element_bits(last)
    words = int(np.prod(last.outputs[0].shape)) * bits // width
    signed = "true" if np.dtype(last.outputs[0].dtype).kind == "i" else "false"
    prog.drain = f"tb::net::drain<{width // bits}, {bits}, {signed}>({src}, result, {words}UL * n)"
    return prog.source(len(kernels))


def build(graph, input_shape, depths: dict):
    """Compile (or find cached) the network program for images of input_shape (any count: the program
    takes it from its input); (binary, kernels planned for one image)."""
    kernels = csim.plan_graph(graph, (1, *tuple(input_shape)[1:]))
    source = generate(graph, kernels, depths, tuple(input_shape)[1:])
    return csim.compile_cached({"net.cpp": source}, "net.cpp", "net", flags=FLAGS), kernels


def build_units(units: list, main_source: str, jobs: int | None = None) -> csim.Binary:
    """A network program of separately compiled translation units: `units` [(main file, {file: text},
    AP_INT_MAX_W)], each a generated HLS top with its headers, compiled (or found in the cache) `jobs` at
    a time, then linked with main_source (the Program's main()). Every unit sees the fiber streams and
    fast lanes; those at ap_int's own AP_INT_MAX_W share a precompiled header of the kernels."""
    flags = FLAGS + ("-c",)

    def compile_unit(unit):
        main, files, max_w = unit
        prelude = UNIT_PRELUDE if max_w == csim.DEFAULT_AP_INT_MAX_W else None
        return csim.compile_cached(files, main, Path(main).stem + ".o", flags=flags, prelude=prelude)

    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
        objects = list(pool.map(compile_unit, units + [("net.cpp", {"net.cpp": main_source}, 0)]))
    out_dir = csim.CACHE / csim._digest(FLAGS, ["link", *(str(o.path) for o in objects)])

    def link(tmp: Path) -> None:
        res = subprocess.run([csim.CXX, *(str(o.path) for o in objects), "-o", str(tmp)], capture_output=True,
                             text=True)
        if res.returncode != 0:
            raise csim.CsimError(f"linking the network program failed:\n{res.stderr[-6000:]}")

    binary = csim.cached(out_dir, "net", link)
    return csim.Binary(binary.path, binary.compiled, binary.seconds + sum(o.seconds for o in objects))


def run_program(binary, images, output_shape, output_dtype, jobs: int = 1,
                params=()) -> tuple[np.ndarray, dict]:
    """Runs a network program on images (N, H, W, C) uint8: (outputs (N, *output_shape), {stream: (high
    water, depth)}). With jobs > 1 the images are split among that many copies of the program, run at
    once (one a core), each the whole network; `params` the per-layer parameter arrays (None: none) of a
    program that reads them. A CsimError on a deadlock (naming the full streams) or a kernel error."""
    chunks = [c for c in np.array_split(images, max(1, min(jobs, len(images)))) if len(c)]
    outs, marks = [], {}
    with tempfile.TemporaryDirectory(prefix="csim-net-") as tmp:
        tmp = Path(tmp)
        files = []
        for i, p in enumerate(params):
            if p is None:
                files.append("-")
            else:
                p.astype("<i8").tofile(tmp / f"p{i}.bin")
                files.append(str(tmp / f"p{i}.bin"))
        procs = []
        for k, chunk in enumerate(chunks):
            np.ascontiguousarray(chunk, dtype="<i4").tofile(tmp / f"image{k}.bin")
            args = [str(binary.path), str(tmp / f"image{k}.bin"), str(tmp / f"out{k}.bin"), *files]
            procs.append(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        results = [p.communicate() for p in procs]
        for k, (p, (stdout, stderr), chunk) in enumerate(zip(procs, results, chunks)):
            csim.check_run(p.returncode, stdout, stderr, "the network program")
            out = np.fromfile(tmp / f"out{k}.bin", dtype="<i4")
            outs.append(out.reshape((len(chunk), *output_shape)).astype(output_dtype))
            for line in stdout.splitlines():
                if line.startswith("high_water "):
                    name, high, depth = line[len("high_water "):].rsplit(" ", 2)
                    prev = marks.get(name, (0, int(depth)))[0]
                    marks[name] = (max(prev, int(high)), int(depth))
    return np.concatenate(outs), marks


def run_network(graph, images, depths: dict | None = None, binary=None,
                jobs: int = 1) -> tuple[np.ndarray, dict]:
    """images (N, H, W, C) uint8 -> (output accumulators as host.sim.simulate, {stream: (high water,
    depth)}), the FIFOs at `depths` (default: fifo_depths, the build's; missing ones DEFAULT_DEPTH), the
    images split among `jobs` copies of the program (run_program)."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f"images must be (N, H, W, C) uint8, got {images.shape} {images.dtype}")
    depths = fifo_depths(graph) if depths is None else depths
    if binary is None:
        binary, kernels = build(graph, images.shape, depths)
    else:
        kernels = csim.plan_graph(graph, (1, *images.shape[1:]))
    shape = kernels[-1].outputs[0]
    return run_program(binary, images, shape.shape[1:], shape.dtype, jobs=jobs,
                       params=[k.params for k in kernels])


PROGRAM = r"""// generated by codenet/hls/network.py: the whole network, one fiber per kernel
#define CODENET_NET_MAIN
#define AP_INT_MAX_W {max_w}
#include "csim_tb.hpp"

#include <functional>

namespace tb {{
namespace net {{

inline std::function<void()> guard(std::function<void()> f) {{
    return [f] {{
        try {{
            f();
        }} catch (std::exception const &e) {{
            std::fprintf(stderr, "csim error: %s\n", e.what());
            std::fflush(stderr);
            std::_Exit(2);
        }}
    }};
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

}}  // namespace net
}}  // namespace tb

{prelude}

int main(int argc, char **argv) {{
    if (argc != 3 + {n_layers}) {{
        std::fprintf(stderr, "usage: net <image.bin> <out.bin> <params.bin|->...\n");
        return 2;
    }}
    tb::Elems image = tb::read_file<int32_t>(argv[1]), result;
    unsigned long const n = image.size() / {image_elems};  // images
    std::vector<std::vector<int64_t>> params({n_layers});
    for (int i = 0; i < {n_layers}; i++)
        if (std::strcmp(argv[3 + i], "-") != 0) params[i] = tb::read_file<int64_t>(argv[3 + i]);
{decls}
    hls::net::Scheduler &sched = hls::net::scheduler();
{threads}
    if (!sched.run()) {{  // no kernel can move: name the full streams
        std::string full;
        for (auto const *s : hls::net::streams())
            if (s->writer_waits())
                full += (full.empty() ? "" : ", ") + s->name() + " (depth " + std::to_string(s->depth()) + ")";
        std::fprintf(stderr, "deadlock: every kernel waits; full: %s\n", full.empty() ? "none" : full.c_str());
        std::fflush(stderr);
        return 3;
    }}
    for (auto const *s : hls::net::streams())
        std::printf("high_water %s %zu %zu\n", s->name().c_str(), s->high_water(), s->depth());
    tb::write_file(argv[2], result);
    return 0;
}}
"""
