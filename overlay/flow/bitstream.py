"""`make overlay`: the HW graph to a bitstream in the bundle, every tool-free step first.

Steps: HW graph -> folding for the target -> estimate (stop if it does not fit) -> HLS code of every
layer (codegen/specialize.py, codegen/generate.py: step_hw_codegen's work) -> [Vivado/Vitis from here]
FINN's IP generation, FIFO sizing, stitched IP, Zynq shell, synthesis and bitstream -> .bit/.hwh into
the bundle, hashes in its manifest.
Without Vivado/Vitis it stops after the HLS code with one error naming what is missing and how to
point to it. The bundle is written from the very folded graph that goes to Vivado, at the board
config's clock. Everything is built in a hidden folder next to the output and moved there at the end,
so a failed build leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from codenet.host.errors import CodenetError
from codenet.overlay.flow.tools import missing_tools

FINN_STEPS = ["step_create_dataflow_partition", "step_hw_ipgen", "step_set_fifo_depths",
              "step_create_stitched_ip", "step_synthesize_bitfile"]


def write_hls(model, out_dir, board):
    """Bind our HLS kernels to the layers (codegen/specialize.py) and write each layer's HLS top, params
    and Vitis HLS Tcl (codegen/generate.py, FINN's PrepareIP); returns the model and a note. Needs
    no Xilinx tool."""
    try:
        from codenet.overlay.codegen.generate import generate_hls
        from codenet.overlay.codegen.specialize import specialize
    except ImportError as e:
        return model, f"skipped: the HLS binding is not in this checkout ({e.name})"
    model = generate_hls(specialize(model), out_dir, board.part, 1e3 / board.clock_mhz)
    return model, f"HLS code of {len(list(Path(out_dir).iterdir()))} layers"


def finn_build(model_path, board, out_dir) -> tuple[Path, Path]:
    """FINN's build from the specialized graph to finn-accel.bit/.hwh (needs Vivado and Vitis HLS). The
    FIFOs: FINN's InsertFIFO at the nodes' inFIFODepths (flow/fifos.py), no sizing simulation (FINN's
    force_minimal_fifos step does exactly that insertion)."""
    import finn.builder.build_dataflow as build
    import finn.builder.build_dataflow_config as bc

    cfg = bc.DataflowBuildConfig(
        output_dir=str(out_dir), board=board.board, fpga_part=board.part,
        shell_flow_type=bc.ShellFlowType[board.shell], synth_clk_period_ns=1e3 / board.clock_mhz,
        target_fps=int(board.target_fps), auto_fifo_depths=True,
        auto_fifo_strategy=bc.AutoFIFOSizingMethod.FORCE_MINIMAL_FIFOS, steps=FINN_STEPS,
        generate_outputs=[bc.DataflowOutputType.STITCHED_IP, bc.DataflowOutputType.BITFILE])
    if build.build_dataflow_cfg(str(model_path), cfg) != 0:
        raise CodenetError(f"the FINN build failed: see {out_dir}/build_dataflow.log")
    bitdir = Path(out_dir) / "bitfile"
    return bitdir / "finn-accel.bit", bitdir / "finn-accel.hwh"


def build_overlay(out, board, model_path=None, config=None, folding=None, graph=None, bundle=None,
                  log=print) -> Path:
    """The whole flow into `out` (folding.json, estimate.json, hls/, finn/, bundle/); returns `out`."""
    from codenet.host.io import write_json_atomic
    from codenet.overlay.flow.bundle_writer import BITFILE, HWHFILE, add_files, refold_bundle
    from codenet.overlay.flow.fifos import apply_fifo_depths
    from codenet.overlay.estimate.graph import estimate, summary
    from codenet.overlay.flow.steps import prepare_finn
    from codenet.overlay.estimate.fold_search import check_target, folding_config, search_folding
    from codenet.overlay.estimate.folding import apply_folding
    from codenet.overlay.estimate.hw_graph import build_hw_graph
    from qonnx.core.modelwrapper import ModelWrapper

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent.resolve()))
    try:
        prepare_finn(work / "finn_tmp")
        if graph:
            hw = {"hw_layers": Path(graph), "bundle": Path(bundle) if bundle else None}
        else:
            hw = build_hw_graph(work / "export", model_path, config)
        model = ModelWrapper(str(hw["hw_layers"]))
        model = apply_folding(model, folding) if folding else search_folding(model, board)
        result = estimate(model, board)
        write_json_atomic(folding_config(model), work / "folding.json")
        if hw["bundle"] is None:
            raise CodenetError("an --graph build needs its --bundle (the model card the bitstream's bundle keeps)")
        # the bundle of this very folding and clock: the manifest the host packs with is the bitstream's
        refold_bundle(model, hw["bundle"], work / "bundle", board.clock_mhz, board.board, board.part)
        write_json_atomic(result, work / "estimate.json")
        log(f"estimate: {summary(result)}")
        check_target(result)
        model, depths = apply_fifo_depths(model)
        write_json_atomic({f"{n}:{j}": d for (n, j), d in depths.items()}, work / "fifo_depths.json")
        model, note = write_hls(model, work / "hls", board)
        log(f"hls: {note}")
        missing = missing_tools()
        if missing:
            raise CodenetError("make overlay needs the Xilinx tools for IP generation, synthesis and the "
                               "bitstream; missing: " + "; ".join(missing) + " (estimate, folding and HLS code "
                               "ran: see make estimate)")
        model.save(str(work / "specialized.onnx"))
        bit, hwh = finn_build(work / "specialized.onnx", board, work / "finn")
        add_files(work / "bundle", {BITFILE: bit, HWHFILE: hwh})  # hashes in the manifest
        if out.exists():
            shutil.rmtree(out)
        os.replace(work, out)
        log(f"bitstream and handoff in {out / 'bundle'}")
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv=None) -> int:
    import argparse
    import warnings

    from codenet.host.errors import exit_code
    from codenet.overlay.flow.board import load_board
    from codenet.overlay.estimate.folding import load_folding
    from codenet.overlay.estimate.hw_graph import add_graph_args, model_path

    p = argparse.ArgumentParser(prog="python -m codenet.overlay.flow.bitstream",
                                description=__doc__.splitlines()[0])
    add_graph_args(p)
    p.add_argument("--out", default="build/overlay")
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore")
    return exit_code(lambda: build_overlay(args.out, load_board(args.board), model_path(args), args.config,
                                           load_folding(args.folding) if args.folding else None, args.graph,
                                           args.bundle))


if __name__ == "__main__":
    raise SystemExit(main())
