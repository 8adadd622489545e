"""FINN's cppsim and hw_codegen on the specialized graph (codegen/specialize.py), with our kernels.

    model = specialize(folded)
    model = prepare_cppsim(model)             # FINN PrepareCppSim + CompileCppSim + SetExecMode("cppsim")
    model = generate_hls(model, out_dir)      # FINN PrepareIP: top_<node>.cpp, params.h, hls_syn_<node>.tcl
    check_hls(model)                          # g++ -fsyntax-only -std=c++14 -pedantic-errors on every top
    synthesize_ip(model, part)                # FINN HLSSynthIP: needs vitis_hls, a clear error without
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from codenet.host.errors import CodenetError

PART = "xc7z020clg400-1"  # PYNQ-Z2
CLK_NS = 10.0
# the standard our Tcl gives Vitis HLS, strictly: no extension of a later standard passes
VITIS_FLAGS = ("-std=c++14", "-pedantic-errors", "-Wno-unknown-pragmas")
PRELUDE = "#include <codenet/codenet.hpp>\n"  # parsed once for all top files (a precompiled header)


def hls_nodes(model) -> list:
    from finn.util.fpgadataflow import is_hls_node

    return [n for n in model.graph.node if is_hls_node(n)]


def prepare_cppsim(model, num_workers: int | None = None):
    """Every HLS node's cppsim code generated and compiled (g++, cached under build/csim-cache), exec_mode
    cppsim: execute_onnx then runs each layer's C++."""
    from codenet.overlay.codegen import hls_ops  # noqa: F401  registers our ops for FINN's workers
    from finn.transformation.fpgadataflow.compile_cppsim import CompileCppSim
    from finn.transformation.fpgadataflow.prepare_cppsim import PrepareCppSim
    from finn.transformation.fpgadataflow.set_exec_mode import SetExecMode

    model = model.transform(PrepareCppSim(num_workers=num_workers))
    model = model.transform(CompileCppSim(num_workers=num_workers))
    return model.transform(SetExecMode("cppsim"))


def generate_hls(model, out_dir=None, fpga_part: str = PART, clk_ns: float = CLK_NS):
    """FINN's PrepareIP (what step_hw_codegen runs) on the specialized graph: per HLS node top_<node>.cpp,
    params.h and hls_syn_<node>.tcl. With out_dir, each node's folder is copied to out_dir/<node> and the
    node points there (the Tcl finds its sources beside itself, so the folders can move)."""
    from codenet.overlay.codegen import hls_ops  # noqa: F401
    from finn.transformation.fpgadataflow.prepare_ip import PrepareIP
    from qonnx.custom_op.registry import getCustomOp

    model = model.transform(PrepareIP(fpga_part, clk_ns))
    if out_dir is not None:
        out = Path(out_dir)
        for node in hls_nodes(model):
            op = getCustomOp(node)
            dest = out / node.name
            shutil.copytree(op.get_nodeattr("code_gen_dir_ipgen"), dest, dirs_exist_ok=True)
            op.set_nodeattr("code_gen_dir_ipgen", str(dest.resolve()))
    return model


def check_hls(model, workers: int = 2) -> dict:
    """g++ -fsyntax-only, at Vitis HLS's C++14 with the ap_types headers, on every generated top file
    (cached); {node name: seconds, 0 where cached}. A CsimError names the first that fails."""
    from codenet.hls import csim
    from qonnx.custom_op.registry import getCustomOp

    def check(node):
        path = Path(getCustomOp(node).get_nodeattr("code_gen_dir_ipgen"))
        if not (path / f"top_{node.name}.cpp").is_file():
            raise CodenetError(f"{node.name}: no top_{node.name}.cpp in {path}: run generate_hls first")
        files = {p.name: p.read_text() for p in path.iterdir() if p.suffix in (".cpp", ".h")}
        default_w = getCustomOp(node).get_ap_int_max_w() == csim.DEFAULT_AP_INT_MAX_W
        return csim.compile_cached(files, f"top_{node.name}.cpp", "syntax.ok", flags=VITIS_FLAGS, syntax_only=True,
                                   prelude=PRELUDE if default_w else None).seconds

    nodes = hls_nodes(model)
    with ThreadPoolExecutor(workers) as pool:
        return dict(zip((n.name for n in nodes), pool.map(check, nodes)))


def synthesize_ip(model, fpga_part: str = PART):
    """FINN's HLSSynthIP (step_hw_ipgen) on generated code: Vitis HLS per node. A CodenetError before
    anything runs where vitis_hls is missing."""
    from finn.transformation.fpgadataflow.hlssynth_ip import HLSSynthIP

    from codenet.overlay.flow.tools import missing_tools

    missing = missing_tools(("vitis_hls",))
    if missing:
        raise CodenetError("HLS IP generation needs " + ", ".join(missing) + "; generate_hls wrote what it runs")
    return model.transform(HLSSynthIP(fpga_part))
