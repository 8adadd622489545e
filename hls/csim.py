"""C-simulation of the HLS kernels (hls/include/codenet) against the bit-exact simulator, numpy only.

Each graph layer becomes one kernel instantiation: its geometry, folding and bit widths are template
arguments, its weights and requantization integers a parameter file. The kernels a run needs are
compiled into one testbench binary (hls/tb/csim_tb.hpp + a generated table of instantiations) with
g++ and the ap_int / hls_stream headers of the hls4ml wheel, cached under build/csim-cache/<sha256>/,
and run once per layer: streams in and out as files. Folding per layer: the layer's `folding`
({"PE":.., "SIMD":..}; one that does not divide its dimension is an error), weight widths the layer's
`weight_bits`; parameters laid out by codenet.hls.binding, as code generation lays them out.

    python -m codenet.hls.csim --bundle <dir> --images N
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from codenet.host.errors import CodenetError
from codenet.hls import binding
from codenet.host.sim import walk

HERE = Path(__file__).resolve().parent
INCLUDE = HERE / "include"
TB_DIR = HERE / "tb"
CACHE = Path(os.environ.get("CODENET_CSIM_CACHE", HERE.parent / "build" / "csim-cache"))
CXX = os.environ.get("CODENET_CSIM_CXX", "g++")
FLAGS = ("-std=c++20", "-O2", "-Wno-unknown-pragmas")
ACC_BITS = 32  # hls/include/codenet/common.hpp
DEFAULT_AP_INT_MAX_W = 1024  # ap_int's own limit unless the generated code raises it
VITIS_MAX_W = 4096  # Vitis HLS's largest AP_INT_MAX_W (UG1399): no stream or parameter word wider
# dyadic_requant's parameter widths, for csim, code generation and the cost model alike: multipliers
# and biases at least this wide (wider where a layer's values need it), shifts 0..63
REQUANT_MBITS, REQUANT_BBITS, REQUANT_SBITS = 16, 48, 6
DW_MIN_ROW_WORDS = 5  # deformable_dw: (W-1)*C/PE at least this (its line buffers' dependence distance)


class CsimError(CodenetError, RuntimeError):
    """A kernel failed to compile, ran into a stream error, or got inputs it cannot take."""


# ---- toolchain ---------------------------------------------------------------------------------

def ap_types_dir() -> Path | None:
    """The ap_int/hls_stream headers shipped in the hls4ml wheel (found without importing hls4ml)."""
    spec = importlib.util.find_spec("hls4ml")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "templates" / "vivado" / "ap_types"
    return path if (path / "ap_int.h").is_file() and (path / "hls_stream.h").is_file() else None


def unavailable() -> str | None:
    """Why the C simulation cannot run here, or None."""
    if shutil.which(CXX) is None:
        return f"no C++ compiler ({CXX})"
    if ap_types_dir() is None:
        return "no ap_types headers (hls4ml is not installed)"
    return None


def require() -> None:
    """A CsimError saying what is missing, where the C simulation cannot run (tests fail, not skip)."""
    reason = unavailable()
    if reason:
        raise CsimError(f"C simulation unavailable: {reason}")


@lru_cache(maxsize=None)
def _compiler_version() -> str:
    return subprocess.run([CXX, "--version"], capture_output=True, text=True).stdout.splitlines()[0]


def _sources() -> list[Path]:
    return sorted(INCLUDE.rglob("*.hpp")) + sorted(TB_DIR.rglob("*.h*"))


# ---- one layer -> one kernel instantiation ---------------------------------------------------

@dataclass(frozen=True)
class Stream:
    """A stream's NHWC shape and numpy dtype (its element width follows from the dtype)."""

    shape: tuple
    dtype: np.dtype

    @staticmethod
    def of(array) -> "Stream":
        return Stream(tuple(np.shape(array)), np.asarray(array).dtype)


@dataclass
class Kernel:
    """One layer as the testbench runs it: `case` names the run_* instantiation in the binary."""

    case: str
    reps: int
    params: np.ndarray | None
    outputs: list  # of Stream
    width: int     # the widest stream word or parameter word, bits (ap_int's AP_INT_MAX_W)
    check: object = None  # inputs -> None: checks the values the hardware assumes (dilation range)
    out_width: int = 0  # the output stream's word width, bits (as the generated top's out0_V)
    in_widths: tuple = ()  # the input streams' word widths, bits (in0_V, in1_V)


def _bits(dtype) -> tuple[int, bool]:
    dtype = np.dtype(dtype)
    if dtype.kind not in "ui" or dtype.itemsize > 4:
        raise CsimError(f"streams of {dtype} are not supported (uint8..int32)")
    return 8 * dtype.itemsize, dtype.kind == "i"


def signed_bits(values) -> int:
    """Two's complement bits that hold every value."""
    v = np.asarray(values, dtype=np.int64)
    lo, hi = int(v.min(initial=0)), int(v.max(initial=0))
    return max((-lo - 1).bit_length(), hi.bit_length()) + 1


def requant_widths(mult, bias) -> tuple[int, int]:
    """dyadic_requant's MBITS and BBITS for these parameters."""
    return max(REQUANT_MBITS, signed_bits(mult)), max(REQUANT_BBITS, signed_bits(bias))


def _fold(layer: dict, key: str, dim: int) -> int:
    """The layer's folding attribute (1 where the layer has none); one that does not divide is an error,
    as in the FINN flow (overlay/estimate/folding.py)."""
    f = int(layer.get("folding", {}).get(key, 1) or 1)
    if f < 1 or dim % f:
        raise CsimError(f"{layer['name']}: folding {key}={f} does not divide {dim}")
    return f


def _weight_bits(layer: dict, weight) -> int:
    """The weight width the layer was built with (the bundle's `weight_bits`, FINN's weightDataType),
    never guessed from the values."""
    if "weight_bits" not in layer:
        raise CsimError(f"{layer['name']}: no weight_bits in the layer (a bundle older than this csim)")
    wbits = int(layer["weight_bits"])
    if not 2 <= wbits <= 8 or signed_bits(weight) > wbits:
        raise CsimError(f"{layer['name']}: weights do not fit {wbits} signed bits")
    return wbits


def _template(name: str, *args) -> str:
    return f"tb::run_{name}<" + ", ".join(str(int(a)) if not isinstance(a, bool) else str(a).lower()
                                          for a in args) + ">"


def _check_dilation(bound: int):
    def check(inputs):
        d = np.asarray(inputs[1])
        if d.size and (d.min() < 1 or d.max() > bound):
            raise ValueError(f"dilation outside 1..{bound}")
    return check


def plan(layer: dict, arrays: dict, inputs: list) -> Kernel:
    """The kernel instantiation of one layer for inputs of these shapes and dtypes (Streams or arrays)."""
    ins = [i if isinstance(i, Stream) else Stream.of(i) for i in inputs]
    kind, name, x = layer["kind"], layer["name"], ins[0]
    if kind in ("pad", "window", "deformable_dw", "upsample") and len(x.shape) != 4:
        raise CsimError(f"{name}: {kind} takes NHWC images, got shape {x.shape}")
    bits, signed = _bits(x.dtype)
    same = lambda shape: [Stream(tuple(shape), x.dtype)]  # noqa: E731
    if kind == "pad":
        n, h, w, c = x.shape
        top, left, bottom, right = (int(v) for v in layer["pads"])
        simd = _fold(layer, "SIMD", c)
        return Kernel(_template("pad", h, w, top, left, bottom, right, c, simd, bits, signed), n, None,
                      same((n, top + h + bottom, left + w + right, c)), simd * bits, out_width=simd * bits,
                      in_widths=(simd * bits,))
    if kind == "window":
        n, h, w, c = x.shape
        k, s, d = int(layer["k"]), int(layer["stride"]), int(layer["dilation"])
        span = d * (k - 1) + 1
        if span > h or span > w:
            raise CsimError(f"{name}: a {k}x{k} window at dilation {d} is larger than the {h}x{w} input")
        simd = _fold(layer, "SIMD", c)
        ho, wo = (h - span) // s + 1, (w - span) // s + 1
        return Kernel(_template("window", k, s, d, h, w, c, simd, bits, signed), n, None,
                      same((n, ho, wo, k * k * c)), simd * bits, out_width=simd * bits,
                      in_widths=(simd * bits,))
    if kind == "deformable_dw":
        n, h, w, c = x.shape
        bound = int(layer["bound"])
        if ins[1].shape[:3] != (n, h, w):
            raise CsimError(f"{name}: dilation stream {ins[1].shape} does not match features {x.shape}")
        weight = np.asarray(arrays[f"{name}.weight"])
        if weight.shape != (c, 1, 3, 3):
            raise CsimError(f"{name}: weight {weight.shape} for {c} channels, expected ({c}, 1, 3, 3)")
        if signed:
            raise CsimError(f"{name}: activations must be unsigned, got {x.dtype}")
        wbits, pe = _weight_bits(layer, weight), _fold(layer, "PE", c)
        if (w - 1) * (c // pe) < DW_MIN_ROW_WORDS:
            raise CsimError(f"{name}: rows of {w} pixels x {c // pe} words are too narrow for deformable_dw "
                            f"((W-1)*C/PE must be >= {DW_MIN_ROW_WORDS})")
        case = _template("deformable_dw", bound, h, w, c, pe, wbits, bits, bound.bit_length())
        return Kernel(case, n, binding.deformable_dw_lanes(weight, pe).reshape(-1),
                      [Stream((n, h, w, c), np.dtype(np.int32))], max(pe * bits, pe * ACC_BITS), _check_dilation(bound),
                      out_width=pe * ACC_BITS, in_widths=(pe * bits, bound.bit_length()))
    if kind in ("mvau", "vvau"):
        weight = np.asarray(arrays[f"{name}.weight"])
        wbits = _weight_bits(layer, weight)
        if signed:
            raise CsimError(f"{name}: activations must be unsigned, got {x.dtype}")
        reps = int(np.prod(x.shape[:-1]))
        if kind == "mvau":
            mw, mh = weight.shape
            if x.shape[-1] != mw:
                raise CsimError(f"{name}: input vectors of {x.shape[-1]}, weight {weight.shape}")
            simd, pe = _fold(layer, "SIMD", mw), _fold(layer, "PE", mh)
            return Kernel(_template("mvau", mw, mh, simd, pe, wbits, bits), reps,
                          binding.mvau_lanes(weight, simd, pe).reshape(-1),
                          [Stream(x.shape[:-1] + (mh,), np.dtype(np.int32))],
                          max(simd * bits, simd * wbits, pe * ACC_BITS), out_width=pe * ACC_BITS,
                          in_widths=(simd * bits,))
        c, _, k, k2 = weight.shape
        if k != k2 or x.shape[-1] != k * k * c:
            raise CsimError(f"{name}: windows of {x.shape[-1]} values, weight {weight.shape}")
        pe = _fold(layer, "PE", c)
        return Kernel(_template("vvau", k, c, pe, wbits, bits), reps, binding.vvau_lanes(weight, pe).reshape(-1),
                      [Stream(x.shape[:-1] + (c,), np.dtype(np.int32))], max(pe * bits, pe * ACC_BITS), out_width=pe * ACC_BITS,
                      in_widths=(pe * bits,))
    if kind == "requant":
        c = x.shape[-1]
        lo, hi = int(layer["lo"]), int(layer["hi"])
        mult, bias, shift = (np.asarray(arrays[f"{name}.{k}"], dtype=np.int64).reshape(-1)
                             for k in ("mult", "bias", "shift"))
        if not (len(mult) == len(bias) == len(shift) == c):
            raise CsimError(f"{name}: requant parameters for {len(mult)} channels, stream of {c}")
        if shift.min(initial=0) < 0 or shift.max(initial=0) > 63:
            raise CsimError(f"{name}: shifts outside 0..63")
        obits = max(1, hi.bit_length()) if lo >= 0 else max(signed_bits([lo, hi]), 2)
        if obits > 32:
            raise CsimError(f"{name}: output range {lo}..{hi} wider than 32 bits")
        mbits, bbits = requant_widths(mult, bias)
        pe = _fold(layer, "PE", c)
        out_dtype = np.uint8 if 0 <= lo and hi <= 255 else np.int64  # intops.requant's
        case = _template("requant", c, pe, bits, obits, mbits, bbits, REQUANT_SBITS, lo, hi)
        params = np.concatenate([binding.requant_lanes(v, pe).reshape(-1) for v in (mult, bias, shift)])
        return Kernel(case, int(np.prod(x.shape[:-1])), params,
                      [Stream(x.shape, np.dtype(out_dtype))], max(pe * bits, pe * obits, mbits, bbits),
                      out_width=pe * obits, in_widths=(pe * bits,))
    if kind == "upsample":
        n, h, w, c = x.shape
        f = int(layer["factor"])
        simd = _fold(layer, "SIMD", c)
        return Kernel(_template("upsample", f, h, w, c, simd, bits, signed), n, None,
                      same((n, h * f, w * f, c)), simd * bits, out_width=simd * bits,
                      in_widths=(simd * bits,))
    if kind == "duplicate":
        c = x.shape[-1]
        pe = _fold(layer, "PE", c)
        n_out = len(layer["outputs"])
        return Kernel(_template("duplicate", n_out, c, pe, bits, signed), int(np.prod(x.shape[:-1])), None,
                      [Stream(x.shape, x.dtype)] * n_out, pe * bits, out_width=pe * bits,
                      in_widths=(pe * bits,))
    raise CsimError(f"{name}: unknown layer kind {kind!r}")


# ---- build ---------------------------------------------------------------------------------------

def generate(kernels) -> str:
    """The testbench's main(): a table of the instantiations these kernels need."""
    cases = sorted({k.case for k in kernels})
    width = max([DEFAULT_AP_INT_MAX_W] + [k.width for k in kernels])
    lines = ["// generated by codenet/hls/csim.py: the kernel instantiations of one C-simulation run"]
    if width > DEFAULT_AP_INT_MAX_W:
        lines.append(f"#define AP_INT_MAX_W {1 << (width - 1).bit_length()}")
    lines += ['#include "csim_tb.hpp"', "", "static tb::Entry const CASES[] = {"]
    lines += [f'    {{"{c}", &{c}}},' for c in cases]
    lines += ["};", "", "int main(int argc, char **argv) {",
              "    return tb::main(argc, argv, CASES, sizeof(CASES) / sizeof(CASES[0]));", "}", ""]
    return "\n".join(lines)


@dataclass
class Binary:
    path: Path
    compiled: bool     # False: found in the cache
    seconds: float     # compile time (0 when cached)


def _digest(flags, parts) -> str:
    """sha256 of the flags, the compiler, `parts` and every kernel, testbench and ap_types header."""
    ap = ap_types_dir()
    h = hashlib.sha256()
    for part in [" ".join(flags), _compiler_version(), *parts]:
        h.update(part.encode() + b"\0")
    for path in _sources() + [ap / "ap_int.h", ap / "hls_stream.h"]:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _base_cmd(flags) -> list:
    return [CXX, *flags, "-isystem", str(ap_types_dir()), "-I", str(INCLUDE), "-I", str(TB_DIR)]


def precompiled(prelude: str, flags) -> Path:
    """A precompiled header of `prelude` (includes of the kernels and ap_types, parsed once for many
    small programs), cached: its path, for g++ -include. Only for programs compiled with the same flags
    and no other AP_INT_MAX_W than ap_int's own."""
    out_dir = CACHE / f"pch-{_digest(flags, [prelude])}"
    header = out_dir / "prelude.hpp"

    def make(tmp: Path) -> None:
        text = tmp.with_name(f"prelude.{tmp.name}")
        text.write_text(prelude)
        os.replace(text, header)
        res = subprocess.run(_base_cmd(flags) + ["-x", "c++-header", str(header), "-o", str(tmp)],
                             capture_output=True, text=True)
        if res.returncode != 0:
            raise CsimError(f"precompiling {header} failed:\n{res.stderr[-6000:]}")

    cached(out_dir, "prelude.hpp.gch", make)
    return header


def compile_cached(files: dict, main: str, name: str, flags=FLAGS, syntax_only: bool = False,
                   prelude: str | None = None, verbose: bool = False) -> Binary:
    """Compile generated C++ (file name -> text; `main` is the one compiled, the others are headers it
    includes) against the kernels, or find it in the cache: CACHE/<sha256 of the files, the kernel and
    testbench sources, flags and compiler>/<name>. With syntax_only, g++ checks it (-fsyntax-only) and
    <name> is an empty stamp; with a prelude, that header is precompiled and included first."""
    reason = unavailable()
    if reason:
        raise CsimError(f"C simulation unavailable: {reason}")
    flags = list(flags)
    include = ["-include", str(precompiled(prelude, flags))] if prelude else []
    flags += ["-fsyntax-only"] if syntax_only else []
    out_dir = CACHE / _digest(flags, [prelude or "", main] + [f"{k}\0{files[k]}" for k in sorted(files)])

    def make(tmp: Path) -> None:
        # this process's own files: concurrent runs (pytest-xdist, FINN's workers) may build the same one
        for fname, text in files.items():
            tmp_file = tmp.with_name(f"{fname}.{tmp.name}")
            tmp_file.write_text(text)
            os.replace(tmp_file, out_dir / fname)  # identical text for an identical hash: replacing is harmless
        cmd = _base_cmd(flags) + include + ["-I", str(out_dir)]
        if verbose:
            print(f"compiling {main} ...", file=sys.stderr, flush=True)
        res = subprocess.run(cmd + [str(out_dir / main)] + ([] if syntax_only else ["-o", str(tmp)]),
                             capture_output=True, text=True)
        if res.returncode != 0:
            raise CsimError(f"compile failed ({' '.join(cmd)} {out_dir / main}):\n{res.stderr[-6000:]}")
        if syntax_only:
            tmp.write_text("")

    return cached(out_dir, name, make)


def cached(out_dir: Path, name: str, make) -> Binary:
    """out_dir/name, made once by make(tmp) writing a temporary path beside it, then moved in place
    (atomic: a concurrent run sees the whole file or none); found, it is not made again."""
    target = out_dir / name
    if target.is_file():
        return Binary(target, False, 0.0)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f"{name}.{os.getpid()}.{time.monotonic_ns()}.tmp"
    start = time.perf_counter()
    try:
        make(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, target)
    return Binary(target, True, time.perf_counter() - start)


def build(kernels, verbose: bool = False, flags=FLAGS) -> Binary:
    """Compile (or find in the cache) one testbench binary holding every kernel's instantiation."""
    if verbose:
        print(f"{len({k.case for k in kernels})} kernel instantiations", file=sys.stderr, flush=True)
    return compile_cached({"tb.cpp": generate(kernels)}, "tb.cpp", "tb", flags=flags, verbose=verbose)


def run_binary(args: list, what: str) -> subprocess.CompletedProcess:
    """Runs a compiled testbench; a CsimError on a non-zero exit or an hls::stream warning (a read while
    empty, data left over)."""
    res = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    check_run(res.returncode, res.stdout, res.stderr, what)
    return res


def check_run(returncode: int, stdout: str, stderr: str, what: str) -> None:
    """A CsimError where a testbench run failed: a non-zero exit or an hls::stream warning."""
    if returncode != 0 or "WARNING" in stdout:
        raise CsimError(f"{what} failed (exit {returncode}): {stderr.strip()} {stdout.strip()}")


# ---- run ---------------------------------------------------------------------------------------------

def execute(binary, kernel: Kernel, inputs: list, workdir=None) -> list:
    """Runs one kernel of a built binary on input arrays; its output arrays."""
    path = binary.path if isinstance(binary, Binary) else Path(binary)
    if kernel.check is not None:
        kernel.check(inputs)
    with tempfile.TemporaryDirectory(prefix="csim-", dir=workdir) as tmp:
        tmp = Path(tmp)
        args = [str(path), kernel.case, str(kernel.reps)]
        if kernel.params is not None:
            kernel.params.astype("<i8").tofile(tmp / "params.bin")
            args.append(str(tmp / "params.bin"))
        else:
            args.append("-")
        args.append(str(len(inputs)))
        for i, x in enumerate(inputs):
            np.ascontiguousarray(x, dtype="<i4").tofile(tmp / f"in{i}.bin")
            args.append(str(tmp / f"in{i}.bin"))
        outs = [tmp / f"out{i}.bin" for i in range(len(kernel.outputs))]
        args += [str(len(outs))] + [str(o) for o in outs]
        run_binary(args, kernel.case)
        results = []
        for o, s in zip(outs, kernel.outputs):
            data = np.fromfile(o, dtype="<i4")
            if data.size != int(np.prod(s.shape)):
                raise CsimError(f"{kernel.case}: {data.size} output elements, expected shape {s.shape}")
            results.append(data.reshape(s.shape).astype(s.dtype))
        return results


def run_layer(layer: dict, arrays: dict, inputs: list) -> list:
    """One layer through its compiled kernel: the output streams (a list, as host.sim.run_layer)."""
    kernel = plan(layer, arrays, inputs)
    return execute(build([kernel]), kernel, inputs)


def plan_graph(graph, input_shape) -> list:
    """Every layer's Kernel for images of `input_shape`, from the shapes alone."""
    streams = {graph.input: Stream(tuple(input_shape), np.dtype(np.uint8))}
    kernels = []
    for layer in graph.layers:
        kernel = plan(layer, graph.arrays, [streams[i] for i in layer["inputs"]])
        streams.update(zip(layer["outputs"], kernel.outputs))
        kernels.append(kernel)
    return kernels


def run_graph(graph, images, trace: bool = False, binary=None):
    """images (N, H, W, 3) uint8 -> output accumulators int32, layer by layer through the compiled
    kernels; mirrors host.sim.simulate (with trace, every stream)."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f"images must be (N, H, W, C) uint8, got {images.shape} {images.dtype}")
    kernels = plan_graph(graph, images.shape)
    binary = binary or build(kernels)
    by_name = {layer["name"]: kernel for layer, kernel in zip(graph.layers, kernels)}
    with tempfile.TemporaryDirectory(prefix="csim-graph-") as work:
        return walk(graph, images, lambda layer, inputs: execute(binary, by_name[layer["name"]], inputs,
                                                                 workdir=work), trace)


# ---- CLI ---------------------------------------------------------------------------------------------

def sample_images(size: int, n: int, seed: int = 0) -> np.ndarray:
    """host/samples/*.jpg letterboxed to size x size, then random images up to n."""
    from codenet.host.preprocess import letterbox_image, read_image

    samples = sorted((HERE.parent / "host" / "samples").glob("*.jpg"))
    images = [letterbox_image(read_image(p), size)[0] for p in samples[:n]]
    rng = np.random.default_rng(seed)
    images += [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(n - len(images))]
    return np.stack(images)


def against_simulator(graph, images, hw, csim_s: float, jobs: int = 1, marks: dict | None = None) -> dict:
    """Times the simulator on the same images and prints both frame rates, the fullest stream (with
    `marks`) and how many images are exact; the figures as a dict ("ok": every image exact)."""
    from codenet.host.sim import simulate

    start = time.perf_counter()
    ref = simulate(graph, images)
    sim_s = time.perf_counter() - start
    exact = sum(bool(np.array_equal(hw[i], ref[i])) for i in range(len(images)))
    if marks:
        name, (high, depth) = max(marks.items(), key=lambda kv: kv[1][0] / kv[1][1])
        print(f"{len(marks)} streams; the fullest, {name}, at {high} of {depth} words")
    n = len(images)
    runs = f", {jobs} program copies at once" if jobs > 1 else ""
    print(f"csim {n / csim_s:.2f} frames/s ({csim_s:.2f} s for {n} image{'s' * (n != 1)}{runs}), "
          f"simulator {n / sim_s:.2f} frames/s (one process)")
    print(f"exact {exact}/{len(images)}, mismatch {len(images) - exact}")
    return {"images": len(images), "exact": exact, "jobs": jobs, "csim_fps": len(images) / csim_s,
            "simulator_fps": len(images) / sim_s,
            "ok": exact == len(images) and hw.dtype == ref.dtype and hw.shape == ref.shape}


def main(argv=None) -> int:
    from codenet.host.bundle import load_bundle

    ap = argparse.ArgumentParser(prog="python -m codenet.hls.csim", description=__doc__.split("\n")[0])
    ap.add_argument("--bundle", required=True, help="bundle folder (manifest.json + graph.npz)")
    ap.add_argument("--images", type=int, default=4, help="images: the samples, then random ones")
    ap.add_argument("--network", action="store_true", help="the whole network as one program, a fiber a kernel, "
                                                            "its streams at the build's FIFO depths (codenet.hls.network)")
    ap.add_argument("--jobs", type=int, default=0, help="with --network: copies of the program run at once, the "
                                                        "images split among them (default: one a core)")
    args = ap.parse_args(argv)
    reason = unavailable()
    if reason:
        print(f"C simulation unavailable: {reason}", file=sys.stderr)
        return 2
    bundle = load_bundle(args.bundle)
    images = sample_images(bundle.input_size, args.images)
    if args.network:
        return _main_network(bundle, images, args.jobs or os.cpu_count() or 1)
    kernels = plan_graph(bundle.graph, images.shape)
    binary = build(kernels, verbose=True)
    how = f"compiled in {binary.seconds:.1f} s" if binary.compiled else "cached"
    print(f"{len(bundle.graph.layers)} layers, {len({k.case for k in kernels})} kernel instantiations: {how}")
    start = time.perf_counter()
    hw = run_graph(bundle.graph, images, binary=binary)
    return 0 if against_simulator(bundle.graph, images, hw, time.perf_counter() - start)["ok"] else 1


def _main_network(bundle, images, jobs: int) -> int:
    from codenet.hls import network

    try:
        binary, _ = network.build(bundle.graph, images.shape, network.fifo_depths(bundle.graph))
        start = time.perf_counter()
        hw, marks = network.run_network(bundle.graph, images, binary=binary, jobs=jobs)
    except CsimError as e:
        print(f"csim error: {e}", file=sys.stderr)
        return 1
    result = against_simulator(bundle.graph, images, hw, time.perf_counter() - start, jobs, marks)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
