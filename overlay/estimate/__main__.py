"""`make estimate`: fold the HW graph for the board's target frame rate, estimate it, sweep the
trade-off, time the host's share; estimate.json, folding.json, the report and the plot.

    python -m codenet.overlay.estimate --out build/estimate --report overlay/estimate.md --plot overlay/estimate.png
"""

from __future__ import annotations

from codenet.overlay.estimate.graph import estimate, summary


def sweep_point(base, board, fps: float) -> dict:
    """One point of the trade-off curve: the folding searched for `fps`, then estimated."""
    from codenet.overlay.estimate.fold_search import search_folding

    target = board.with_target(fps)
    r = estimate(search_folding(_copy(base), target), target, finn=False)
    u = r["utilisation"]
    return {"target_fps": fps, "fps": r["fps"], "bottleneck": r["bottleneck"], "lut": r["total"]["lut"],
            "lut_pct": u["lut_pct"], "bram36": u["bram36"], "bram36_pct": u["bram36_pct"], "dsp": r["total"]["dsp"],
            "fits": not r["violations"]}


def _copy(model):
    import copy

    from qonnx.core.modelwrapper import ModelWrapper

    return ModelWrapper(copy.deepcopy(model.model))


def run(args) -> dict:
    """Build (or load) the HW graph, fold it, estimate, sweep, time the host; write everything."""
    import tempfile
    from pathlib import Path

    from codenet.host.io import write_bytes_atomic, write_json_atomic
    from codenet.overlay.flow.board import load_board
    from codenet.overlay.flow.steps import prepare_finn
    from codenet.overlay.estimate.fold_search import folding_config, search_folding
    from codenet.overlay.estimate.folding import apply_folding, load_folding
    from codenet.overlay.estimate.hw_graph import build_hw_graph, model_path
    from codenet.overlay.estimate.host_split import host_split
    from codenet.overlay.estimate.report import markdown, plot_png

    board = load_board(args.board)
    if args.fps is not None:  # the board's target, overridden (a design that must fit at another rate)
        from codenet.host.errors import CodenetError

        if not args.fps > 0:
            raise CodenetError(f"--fps must be a positive frame rate, not {args.fps}")
        board = board.with_target(args.fps)
    folding = load_folding(args.folding) if args.folding else None
    prepare_finn()
    from qonnx.core.modelwrapper import ModelWrapper

    out = Path(args.out)
    with tempfile.TemporaryDirectory(prefix="estimate-") as tmp:
        if args.graph:
            hw = {"hw_layers": Path(args.graph), "bundle": args.bundle, "source": args.graph}
        else:
            hw = build_hw_graph(tmp, model_path(args), args.config)
        base = ModelWrapper(str(hw["hw_layers"]))
        model = apply_folding(_copy(base), folding) if folding else search_folding(_copy(base), board)
        result = estimate(model, board)
        result.update(input_size=int(base.get_tensor_shape(base.graph.input[0].name)[-1]), source=hw["source"], board_config=str(args.board or "overlay/pynq-z2.yaml"),
                      limits=board.limits, budget_cycles=board.target_cycles(),
                      folding="given: " + args.folding if folding else "searched for the target")
        sweep = [] if args.no_sweep else [sweep_point(base, board, fps) for fps in board.sweep_fps]
        host = host_split(hw["bundle"], board.arm_slowdown) if hw["bundle"] else None
        config = folding_config(model)
    write_json_atomic(config, out / "folding.json")
    write_json_atomic({**result, "sweep": sweep, "host": host}, out / "estimate.json")
    png = plot_png(result, sweep)
    write_bytes_atomic(png, out / "estimate.png")
    if host is not None:  # with this machine's host timings: a build output
        write_bytes_atomic(markdown(result, sweep, host).encode(), out / "estimate.md")
    if args.plot:
        write_bytes_atomic(png, args.plot)
    if args.report:  # nothing machine-dependent: may be tracked
        write_bytes_atomic(markdown(result, sweep, None).encode(), args.report)
    return result


def main(argv=None) -> int:
    import argparse
    import warnings

    from codenet.host.errors import exit_code
    from codenet.overlay.estimate.fold_search import check_target
    from codenet.overlay.estimate.hw_graph import add_graph_args

    p = argparse.ArgumentParser(prog="python -m codenet.overlay.estimate",
                                description="Fold for the target frame rate and estimate on the board.")
    add_graph_args(p)
    p.add_argument("--out", default="build/estimate", help="folder for estimate.json, estimate.png, folding.json")
    p.add_argument("--report", default=None, help="also write the markdown report here without the host's "
                                                  "machine timings (overlay/estimate.md); the full one goes to --out")
    p.add_argument("--plot", default=None, help="also write the PNG plot here (overlay/estimate.png)")
    p.add_argument("--no-sweep", action="store_true", help="skip the trade-off sweep (faster)")
    p.add_argument("--fps", type=float, default=None, help="fold for this frame rate instead of the board "
                                                           "config's target_fps (e.g. 90 for the pruned tree model)")
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore")  # brevitas/qonnx import chatter

    def run_and_check():
        result = run(args)
        print(summary(result))
        check_target(result)

    return exit_code(run_and_check)


if __name__ == "__main__":
    raise SystemExit(main())
