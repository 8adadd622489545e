"""Cost models, board config, folding search, `make estimate` and `make overlay`'s no-Xilinx path."""

import json
import math

import finn  # noqa: F401  (the [dev] install has finn-plus: without it these fail, not skip)
import pytest

from codenet.host.errors import CodenetError
from codenet.overlay.estimate import costs
from codenet.overlay.flow.board import DEFAULT_BOARD, load_board

# --- cost models against hand-computed values -------------------------------------------------

def test_mvau_by_hand():
    # SF = 8/2 = 4, NF = 4/2 = 2: 2*4 cycles a vector; a 4x8 lane is (2*2-1)*12 + 32 = 68 LUT;
    # two 8-word x 8-bit weight ROMs (8 LUT each); a 4-word x 16-bit replay buffer in LUTRAM (10)
    c = costs.mvau(8, 4, simd=2, pe=2, vectors=10, wbits=4, abits=8, ram_style="distributed")
    assert c.cycles == 80
    assert c.lut == int(300 + 1.1 * 4 * 68) + 2 * 8 + 10
    assert (c.bram18, c.dsp, c.lutram) == (0, 0, 10)


def test_sliding_window_by_hand():
    # 6x6x2 padded, k3 s1: 4x4 windows of 9*2 words = 288 out, 72 in; first window after 2 rows + 3 pixels
    c = costs.sliding_window(6, 6, 2, k=3, stride=1, dilation=1, simd=1)
    assert c.cycles == 2 * 6 * 2 + 3 * 2 + 288
    # (SPAN + STRIDE) = 4 rows of 12 words x 8 bits, LUTRAM: ceil(48/32) * ceil(8/2) * 5/4
    assert c.lut == 300 + 2 * 4 * 5 // 4 and c.bram18 == 0


def test_line_buffer_in_block_ram():
    # 10400 x 8 bits: 6 RAMB18 as 2048 x 9 (or 2 x 4096 x 4 lanes of 3)
    assert costs.memory(10400, 8, "block").bram18 == 6
    assert costs.memory(10400, 8, "block").lut == 0
    assert costs.memory(10400, 8, "distributed").lut == math.ceil(10400 / 32) * 4 * 5 // 4


def test_deformable_dw_by_hand():
    # 4x4x2 at PE 1, bound 1: 2 rows of fill, then 9 cycles a pixel and channel: (2 + 9*4) * 4 * 2
    c = costs.deformable_dw(4, 4, 2, bound=1, pe=1, wbits=4, abits=8, dbits=1, ram_style="distributed")
    assert c.cycles == (2 + 9 * 4) * 4 * 2
    # 2*1+2 rows of 4*2 words x 8 bits (LUTRAM 1*4*5/4 = 5), 4 rows of 4 dilations x 1 bit (1*1*5/4 = 1),
    # an 18-word x 4-bit weight ROM (4), one 4x8 MAC lane (68): control 300 + 100 + FINN-R 300 + 1.1*68
    assert c.lut == 300 + 100 + int(300 + 1.1 * 68) + 5 + 1 + 4
    assert (c.bram18, c.dsp) == (0, 0)
    # PE folds it like any depthwise layer: twice the lanes, half the cycles
    assert costs.deformable_dw(4, 4, 2, bound=1, pe=2).cycles == c.cycles // 2


def test_requant_by_hand():
    # PBITS = max(32+16, 48) + 1 = 49: adder 49, shifter 49*3, comparators 49, clip mux 8; a 2-word ROM of
    # 16+48+6 = 70 bits; 2 DSP48E1 per lane for 32x16
    c = costs.requant(4, pe=2, vectors=3)
    assert c.cycles == 6
    assert c.dsp == 4
    assert c.lut == 50 + 2 * (49 + 147 + 49 + 8 + 70)


def test_width_converter_as_finn():
    # 16 -> 48 bits (the LCM is 48): FINN's counter |ceil(log2(16/48))| = 1 LUT plus 48 for the control set
    assert costs.width_converter(16, 48).lut == 1 + 48
    assert costs.width_converter(32, 32).lut == 0


# --- board config ---------------------------------------------------------------------------

def test_default_board():
    board = load_board()
    assert (board.board, board.part, board.shell) == ("Pynq-Z2", "xc7z020clg400-1", "VIVADO_ZYNQ")
    assert board.target_cycles() == 1_666_666  # 60 frames/s at 100 MHz
    assert board.fifo_sizing == "computed"
    assert board.device["bram18"] == 280 and board.limits == {"lut_pct": 85, "bram36_pct": 90, "dsp": 220}



def test_the_150_mhz_board_is_the_same_board_faster():
    fast, base = load_board(DEFAULT_BOARD.parent / "pynq-z2-150.yaml"), load_board()
    assert (fast.clock_mhz, fast.target_fps) == (150, 100) and fast.target_cycles() == 1_500_000
    same = ("board", "part", "shell", "fifo_sizing", "device", "limits", "shell_cost", "arm_slowdown")
    assert all(getattr(fast, k) == getattr(base, k) for k in same)

@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(clokc_mhz=100), "unknown keys"),
    (lambda d: d.update(shell="VITIS_ALVEO"), "shell"),
    (lambda d: d.update(clock_mhz=-5), "clock_mhz"),
    (lambda d: d["limits"].update(lut_pct=120), "at most 100"),
    (lambda d: d["device"].pop("dsp"), "lacks dsp"),
    (lambda d: d.update(sweep_fps=[]), "sweep_fps"),
    (lambda d: d.update(fifo_sizing="largefifo"), "fifo_sizing"),
    (lambda d: d.update(fifo_sizing="force_minimal_fifos"), "fifo_sizing"),  # FINN's depths are not ours
])
def test_bad_board_is_one_line(tmp_path, edit, message):
    import yaml

    data = yaml.safe_load(DEFAULT_BOARD.read_text())
    edit(data)
    path = tmp_path / "board.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(CodenetError, match=message) as e:
        load_board(path)
    assert "\n" not in str(e.value)


def test_missing_board():
    with pytest.raises(CodenetError, match="no such board config"):
        load_board("/nonexistent/board.yaml")


# --- the tiny graph: estimates, folding search ------------------------------------------------

@pytest.fixture(scope="module")
def tiny_hw(tiny_chain):
    from qonnx.core.modelwrapper import ModelWrapper

    return lambda: ModelWrapper(str(tiny_chain["folded"]))


def test_estimate_tiny(tiny_hw):
    from codenet.overlay.estimate.graph import estimate

    board = load_board()
    r = estimate(tiny_hw(), board)
    parts = r["layers"] + r["streams"] + [r["shell"]]
    assert r["total"]["lut"] == sum(p["lut"] for p in parts)
    assert r["total"]["bram18"] == sum(p["bram18"] for p in parts)
    slowest = max(r["layers"], key=lambda p: p["cycles"])
    assert r["bottleneck"] == slowest["name"] and r["fps"] == pytest.approx(1e8 / slowest["cycles"])
    checked = 0
    for layer in r["layers"]:  # FINN's cycle formula where FINN has one
        if layer["op"] in ("MVAU", "VVAU", "DuplicateStreams", "FMPadding", "UpsampleNearestNeighbour"):
            assert layer["cycles"] == layer["finn"]["cycles"], layer["name"]
            checked += 1
    assert checked > 20


def test_our_ops_estimators_follow_costs(tiny_hw):
    from qonnx.custom_op.registry import getCustomOp

    model = tiny_hw()
    ops = {n.op_type: getCustomOp(n) for n in model.graph.node if n.op_type in ("DyadicRequant",
                                                                              "BoundedDeformableDW")}
    rq = ops["DyadicRequant"]
    assert rq.get_exp_cycles() == math.prod(rq.get_nodeattr("numInputVectors")) * rq.get_nodeattr("NumChannels")
    assert rq.dsp_estimation() == 2 * rq.get_nodeattr("PE")
    dw = ops["BoundedDeformableDW"]
    (h, w), c, bound = dw.get_nodeattr("IFMDim"), dw.get_nodeattr("Channels"), dw.get_nodeattr("Bound")
    dw.set_nodeattr("PE", 1)
    assert dw.get_exp_cycles() == (min(bound + 1, h) + 9 * h) * w * c
    dw.set_nodeattr("PE", 2)
    assert dw.get_exp_cycles() == (min(bound + 1, h) + 9 * h) * w * c // 2
    dw.set_nodeattr("ram_style", "block")
    assert dw.bram_estimation() > 0 and dw.dsp_estimation() == 0


def test_every_stream_gets_a_computed_fifo_depth(tiny_hw):
    from codenet.overlay.estimate.graph import estimate
    from codenet.overlay.flow.fifos import MIN_DEPTH, PIPELINE_WORDS, apply_fifo_depths
    from qonnx.custom_op.registry import getCustomOp

    model, depths = apply_fifo_depths(tiny_hw())
    streams = [(n.name, j) for n in model.graph.node if n.op_type != "Transpose" for j, t in enumerate(n.input)
               if model.get_initializer(t) is None and model.find_producer(t) is not None
               and model.find_producer(t).op_type != "Transpose"]
    assert sorted(depths) == sorted(streams)
    deep = {k: d for k, d in depths.items() if d > MIN_DEPTH}
    dws = [n for n in model.graph.node if n.op_type == "BoundedDeformableDW"]
    # the features beside the dilation predictor (a 1x1 MVAU and its requantization): two kernels' latency
    assert deep == {(n.name, 0): MIN_DEPTH + 2 * PIPELINE_WORDS for n in dws}
    for node in dws:
        assert getCustomOp(node).get_nodeattr("inFIFODepths")[:2] == [MIN_DEPTH + 2 * PIPELINE_WORDS, MIN_DEPTH]
    fifos = [s for s in estimate(model, load_board(), finn=False)["streams"] if s["kind"] == "fifo"]
    assert len(fifos) == len(dws) and all(f["depth"] == MIN_DEPTH + 2 * PIPELINE_WORDS for f in fifos)


def test_a_stream_over_the_limit_is_a_one_line_error(tiny_hw):
    """Vitis HLS's 4096 bits (the tiny network's widest folding stays under it: checked at a lower limit)."""
    from codenet.hls.csim import VITIS_MAX_W
    from codenet.overlay.estimate.graph import check_stream_widths
    from qonnx.custom_op.registry import getCustomOp

    assert VITIS_MAX_W == 4096
    model = tiny_hw()
    node = next(n for n in model.graph.node if n.op_type == "VVAU")
    op = getCustomOp(node)
    op.set_nodeattr("PE", op.get_nodeattr("Channels"))
    width = op.get_nodeattr("Channels") * 32
    check_stream_widths(model)
    with pytest.raises(CodenetError, match=f"^{node.name}: a {width}-bit stream, wider than Vitis HLS's") as e:
        check_stream_widths(model, limit=width - 1)
    assert "\n" not in str(e.value)


def test_folding_search_meets_target_and_divides(tiny_hw, tmp_path):
    from codenet.overlay.estimate.graph import estimate
    from codenet.overlay.estimate.fold_search import folding_config, search_folding
    from codenet.overlay.estimate.folding import DIVIDES, apply_folding, load_folding
    from qonnx.custom_op.registry import getCustomOp

    board = load_board().with_target(2000)
    base = estimate(tiny_hw(), board, finn=False)
    model = search_folding(tiny_hw(), board)
    r = estimate(model, board, finn=False)
    assert base["fps"] < 2000 <= r["fps"]
    for node in model.graph.node:
        for attr, dim in DIVIDES.get(node.op_type, {}).items():
            op = getCustomOp(node)
            assert op.get_nodeattr(dim) % op.get_nodeattr(attr) == 0, node.name
    # the hand-editable file round-trips through what `codenet export --folding` uses
    path = tmp_path / "folding.json"
    path.write_text(json.dumps(folding_config(model)))
    again = estimate(apply_folding(tiny_hw(), load_folding(path)), board, finn=False)
    assert again["total"] == r["total"]


def test_estimate_cli_fails_when_it_does_not_fit(tiny_chain, tmp_path, capsys):
    import yaml
    from codenet.overlay.estimate.__main__ import main

    data = yaml.safe_load(DEFAULT_BOARD.read_text())
    data["limits"]["lut_pct"] = 5
    board = tmp_path / "small.yaml"
    board.write_text(yaml.safe_dump(data))
    out = tmp_path / "est"
    rc = main(["--graph", str(tiny_chain["folded"]), "--board", str(board), "--out", str(out), "--no-sweep"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("codenet: error: the design does not fit") and "LUT" in err
    assert "\n" not in err
    result = json.loads((out / "estimate.json").read_text())
    assert result["violations"] and (out / "folding.json").is_file() and (out / "estimate.png").is_file()
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_report_and_host_split(tiny_chain, tmp_path):
    from codenet.overlay.estimate.__main__ import main

    md, png = tmp_path / "estimate.md", tmp_path / "estimate.png"
    rc = main(["--graph", str(tiny_chain["folded"]), "--bundle", str(tiny_chain["bundle"]), "--out",
               str(tmp_path / "est"), "--report", str(md), "--plot", str(png), "--no-sweep"])
    assert rc == 0
    text = md.read_text()
    assert "## Where it lands" in text and "## Hardware / software split" in text and "26.9" in text
    host = json.loads((tmp_path / "est" / "estimate.json").read_text())["host"]
    assert host["ms_here"]["letterbox"] > 0
    assert host["ms_board_total"] == pytest.approx(host["ms_here_total"] * host["arm_slowdown"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- make overlay without the Xilinx tools ----------------------------------------------------

def test_overlay_without_xilinx_fails_early_and_leaves_nothing(tiny_chain, tmp_path, monkeypatch, capsys):
    from codenet.overlay.flow.bitstream import main

    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.delenv("XILINX_VITIS", raising=False)
    monkeypatch.setenv("XILINX_VIVADO", str(tmp_path / "no-vivado"))
    out = tmp_path / "builds" / "overlay"
    rc = main(["--graph", str(tiny_chain["folded"]), "--bundle", str(tiny_chain["bundle"]), "--out", str(out)])
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert rc == 2 and "\n" not in err
    assert "vivado" in err and "vitis_hls" in err and "settings64.sh" in err
    assert "estimate:" in captured.out  # the tool-free steps ran first
    assert list((tmp_path / "builds").iterdir()) == []


def test_tools_are_found_as_their_steps_find_them(tmp_path):
    """On PATH only: FINN's IP generation calls vitis_hls from PATH, so an install folder in
    $XILINX_VITIS alone must not pass the check and fail later."""
    from codenet.overlay.flow.tools import find_tool, missing_tools

    bindir = tmp_path / "Vitis" / "bin"
    bindir.mkdir(parents=True)
    for prog in ("vitis_hls", "vivado"):
        (bindir / prog).write_text("#!/bin/sh\n")
        (bindir / prog).chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", "XILINX_VITIS": str(tmp_path / "Vitis"), "XILINX_VIVADO": str(tmp_path / "Vitis")}
    assert find_tool("vitis_hls", env) is None and len(missing_tools(environ=env)) == 2
    env["PATH"] = f"{bindir}:/usr/bin:/bin"
    assert find_tool("vitis_hls", env) == str(bindir / "vitis_hls") and missing_tools(environ=env) == []


def test_fps_override_is_checked(tmp_path, capsys):
    """--fps folds for another rate than the board's (the pruned tree model's 90); nonsense is one line."""
    from codenet.overlay.estimate.__main__ import main

    assert main(["--fps", "0", "--no-sweep", "--out", str(tmp_path)]) != 0
    err = capsys.readouterr().err.strip()
    assert err == "codenet: error: --fps must be a positive frame rate, not 0.0"


def test_a_named_config_is_estimated_not_the_shipped_model():
    """--config names the network to estimate; the shipped model is the default only without it."""
    import argparse

    from codenet.model.cli import DEFAULT_MODEL
    from codenet.overlay.estimate.hw_graph import model_path

    def args(model=None, config=None):
        return argparse.Namespace(model=model, config=config)

    assert model_path(args()) == DEFAULT_MODEL
    assert model_path(args(config="codenet-tiny")) is None
    assert model_path(args(model="m.pt")) == "m.pt"
    with pytest.raises(CodenetError, match="not both"):
        model_path(args("m.pt", "codenet-tiny"))


def test_an_untrained_graph_has_its_configs_classes():
    """A one-class config (trees) estimates as one class: the card must match the head's channels."""
    from codenet.overlay.estimate.hw_graph import untrained_model

    model, classes = untrained_model("trees")
    assert len(classes) == model.cfg.num_classes == 1
