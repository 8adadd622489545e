"""One design: the estimate, the C simulation, the bundle manifest and the graph handed to FINN's IP
generation (the specialized graph) have the same layers, kernels, foldings and stream widths."""

import finn  # noqa: F401  (the [dev] install has finn-plus: without it these fail, not skip)
import pytest

# bundle layer kind -> (FINN HW layer, our HLS kernel): one kernel per kind
KERNELS = {"pad": ("FMPadding", "fm_padding"), "window": ("ConvolutionInputGenerator", "sliding_window"),
           "mvau": ("MVAU", "mvau"), "vvau": ("VVAU", "vvau"), "requant": ("DyadicRequant", "dyadic_requant"),
           "deformable_dw": ("BoundedDeformableDW", "deformable_dw"),
           "upsample": ("UpsampleNearestNeighbour", "upsample_nearest"),
           "duplicate": ("DuplicateStreams", "duplicate_streams")}
CSIM_CASE = {"pad": "pad", "window": "window", "mvau": "mvau", "vvau": "vvau", "requant": "requant",
             "deformable_dw": "deformable_dw", "upsample": "upsample", "duplicate": "duplicate"}


def _shipped(tmp_path_factory) -> dict:
    """The shipped model exported at the shipped folding (as make bundle does): its folded graph and bundle."""
    from codenet.model.cli import DEFAULT_MODEL
    from codenet.model.export import export
    from codenet.overlay.flow.steps import build_bundle
    from codenet.overlay.estimate.folding import SHIPPED_FOLDING, load_folding

    assert DEFAULT_MODEL.exists(), f"{DEFAULT_MODEL}: the shipped model is tracked"
    out = tmp_path_factory.mktemp("shipped")
    card = export(DEFAULT_MODEL, out)
    build_bundle(out / "model.onnx", card, out / "bundle", load_folding(SHIPPED_FOLDING))
    return {"folded": out / "folded.onnx", "bundle": out / "bundle"}


@pytest.fixture(scope="module", params=["codenet-tiny", pytest.param("codenet-s", marks=pytest.mark.slow)])
def views(request, tmp_path_factory):
    """The four views of one network: codenet-tiny (the test chain), and the shipped codenet-s at the
    board folding (slow: an export)."""
    from codenet.hls import csim
    from codenet.host.bundle import load_bundle
    from codenet.overlay.flow.board import load_board
    from codenet.overlay.estimate.graph import estimate, out_width
    from codenet.overlay.flow.steps import prepare_finn
    from codenet.overlay.codegen.specialize import specialize
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    prepare_finn()
    chain = request.getfixturevalue("tiny_chain") if request.param == "codenet-tiny" else _shipped(tmp_path_factory)
    folded = ModelWrapper(str(chain["folded"]))
    bundle = load_bundle(chain["bundle"])
    est = estimate(folded, load_board(), finn=False)
    kernels = csim.plan_graph(bundle.graph, (1, bundle.input_size, bundle.input_size, 3))
    spec = specialize(ModelWrapper(str(chain["folded"])))
    ip = [(n, getCustomOp(n)) for n in spec.graph.node if n.op_type != "Transpose"]
    return {"folded": folded, "bundle": bundle, "estimate": est, "csim": kernels, "ip": ip,
            "est_widths": {n.name: out_width(folded, n) for n in folded.graph.node if n.op_type != "Transpose"}}


def test_same_layers_and_kernels(views):
    layers = views["bundle"].graph.layers
    names = [layer["name"] for layer in layers]
    assert [r["name"] for r in views["estimate"]["layers"]] == names
    assert [m["name"] for m in views["bundle"].manifest["layers"]] == names
    assert [n.name for n, _ in views["ip"]] == names
    for layer, est, kernel, (node, op) in zip(layers, views["estimate"]["layers"], views["csim"], views["ip"]):
        finn_op, hls_kernel = KERNELS[layer["kind"]]
        assert est["op"] == layer["finn_op"] == finn_op and node.op_type == f"{finn_op}_codenet", layer["name"]
        assert op.kernel_call().startswith(f"codenet::{hls_kernel}<"), layer["name"]
        assert kernel.case.startswith(f"tb::run_{CSIM_CASE[layer['kind']]}<"), layer["name"]
    assert {layer["kind"] for layer in layers} == set(KERNELS)


def test_same_foldings(views):
    for layer, est, manifest, (node, op) in zip(views["bundle"].graph.layers, views["estimate"]["layers"],
                                                views["bundle"].manifest["layers"], views["ip"]):
        ip = {a: op.get_nodeattr(a) for a in ("PE", "SIMD") if a in op.get_nodeattr_types()}
        est_fold = {k: v for k, v in est["folding"].items() if k in ("PE", "SIMD")}
        assert layer["folding"] == manifest["folding"] == est_fold == ip, layer["name"]


def test_same_stream_widths(views):
    for layer, kernel, (node, op) in zip(views["bundle"].graph.layers, views["csim"], views["ip"]):
        ports = dict(op.ports())
        assert kernel.out_width == ports["out0_V"] == views["est_widths"][node.name], layer["name"]
        assert max(ports.values()) <= 4096, layer["name"]


def test_the_deformable_layer_is_one_fused_kernel(views):
    """Window and depthwise MACs in one layer everywhere: no separate window, no VVAU behind it."""
    dw = [(n, op) for n, op in views["ip"] if n.op_type == "BoundedDeformableDW_codenet"]
    assert dw
    for node, op in dw:
        ports = dict(op.ports())
        assert set(ports) == {"in0_V", "in1_V", "out0_V"}
        assert ports["out0_V"] == op.get_nodeattr("PE") * 32
        consumer = views["folded"].find_consumer(node.output[0])
        assert consumer.op_type == "DyadicRequant"


def _args(call: str) -> list:
    """The template arguments of `ns::kernel<a, b, ...>(...)`."""
    return [a.strip() for a in call[call.index("<") + 1:call.index(">")].split(",")]


def test_same_template_arguments(views):
    """The C simulation instantiates each kernel with the arguments code generation gives the HLS top
    (the csim wrappers add the element signedness of plain streams)."""
    import re

    from qonnx.core.modelwrapper import ModelWrapper

    spec = ModelWrapper(views["folded"].model)
    compared = 0
    for layer, kernel, (node, op) in zip(views["bundle"].graph.layers, views["csim"], views["ip"]):
        ours, tb = _args(op.kernel_call()), _args(kernel.case)
        if layer["kind"] == "requant":
            consts = dict(re.findall(r"(MULT_BITS|BIAS_BITS) = (\d+)", op.params_header(spec)))
            ours = [consts.get(a, a) for a in ours]
        if layer["kind"] in ("pad", "window", "upsample"):
            assert tb[-1] in ("true", "false")
            tb = tb[:-1]
        if layer["kind"] == "duplicate":  # ours takes the word width, the wrapper its lanes
            n_out, c, pe, bits = (int(v) for v in tb[:4])
            assert (n_out, int(ours[0])) == (2, pe * bits), layer["name"]
            continue
        assert ours == tb, layer["name"]
        compared += 1
    assert compared > 20


def test_code_generation_refuses_a_word_over_the_vitis_limit(views, monkeypatch):
    from codenet.hls import csim
    from codenet.host.errors import CodenetError

    node, op = next((n, op) for n, op in views["ip"] if n.op_type == "VVAU_codenet")
    width = max(w for _, w in op.ports())
    assert op.get_ap_int_max_w() >= width  # within the limit: generated
    monkeypatch.setattr(csim, "VITIS_MAX_W", width - 1)  # the tiny network's words are narrower than 4096
    with pytest.raises(CodenetError, match=f"^{node.name}: a {width}-bit word, wider than Vitis HLS's"):
        op.get_ap_int_max_w()


def test_make_overlay_bundle_is_the_folded_graph_at_the_board_clock(tiny_chain, tmp_path):
    """The bundle written beside the bitstream: this folding's layers, shapes and the board's clock."""
    import dataclasses

    from codenet.host.bundle import load_bundle
    from codenet.overlay.flow.board import load_board
    from codenet.overlay.flow.bundle_writer import refold_bundle
    from codenet.overlay.estimate.folding import apply_folding
    from qonnx.core.modelwrapper import ModelWrapper

    board = dataclasses.replace(load_board(), clock_mhz=125.0)
    tiny = load_bundle(tiny_chain["bundle"])
    first = tiny.graph.layers[0]
    simd = 3 if first["folding"] != {"SIMD": 3} else 1  # the image's 3 channels: any divisor, another folding
    folded = apply_folding(ModelWrapper(str(tiny_chain["folded"])), {first["name"]: {"SIMD": simd}})
    manifest = refold_bundle(folded, tiny_chain["bundle"], tmp_path / "bundle", board.clock_mhz, board.board,
                             board.part)
    again = load_bundle(tmp_path / "bundle")
    assert again.graph.layers[0]["folding"] == {"SIMD": simd} != first["folding"]
    assert manifest["layers"][0]["folding"] == {"SIMD": simd}
    assert manifest["accelerator"]["fclk_mhz"] == 125.0
    assert manifest["accelerator"]["input"]["folded_shape"][-1] == simd  # packed as the bitstream's first layer
    assert manifest["classes"] == tiny.manifest["classes"]


def test_finn_inserts_the_fifos_at_the_computed_depths(tiny_chain):
    """What make overlay hands FINN's step_set_fifo_depths: InsertFIFO builds each stream's FIFO at the
    depth overlay/flow/fifos.py computed (no FINN sizing heuristic)."""
    from codenet.overlay.flow.fifos import MIN_DEPTH, apply_fifo_depths
    from codenet.overlay.flow.steps import prepare_finn
    from codenet.overlay.codegen.specialize import specialize

    prepare_finn()
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.insert_fifo import InsertFIFO
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    model, depths = apply_fifo_depths(ModelWrapper(str(tiny_chain["folded"])))
    inner = ModelWrapper(specialize(model).model)
    inner.graph.node.remove(inner.graph.node[0])  # the host's layout transposes stay outside the dataflow
    inner.graph.node.remove(inner.graph.node[-1])
    first, last = inner.graph.node[0], inner.graph.node[-1]
    ends = {first.input[0]: inner.get_tensor_valueinfo(first.input[0]),
            last.output[0]: inner.get_tensor_valueinfo(last.output[0])}
    del inner.graph.input[:], inner.graph.output[:]
    keep = [vi for vi in inner.graph.value_info if vi.name not in ends]
    del inner.graph.value_info[:]
    inner.graph.value_info.extend(keep)
    inner.graph.input.append(ends[first.input[0]])
    inner.graph.output.append(ends[last.output[0]])
    with_fifos = inner.transform(InsertDWC()).transform(InsertFIFO(create_shallow_fifos=True))  # FINN's order
    fifo_depth = {}
    for node in with_fifos.graph.node:
        if node.op_type.startswith("StreamingFIFO"):
            consumer = with_fifos.find_consumer(node.output[0])
            if consumer is not None:
                fifo_depth[(consumer.name, list(consumer.input).index(node.output[0]))] = \
                    getCustomOp(node).get_nodeattr("depth")
    inner_streams = {k: d for k, d in depths.items() if k[0] != first.name}
    assert {k: fifo_depth.get(k) for k in inner_streams} == inner_streams
    assert any(d > MIN_DEPTH for d in inner_streams.values())


def test_finn_dataflow_partition_holds_every_hw_layer(tiny_chain, tmp_path):
    """FINN's step_create_dataflow_partition on the graph make overlay hands it: one partition with every
    HW layer, the host's two layout transposes outside."""
    from codenet.overlay.flow.steps import prepare_finn
    from codenet.overlay.codegen.specialize import specialize

    prepare_finn()
    from finn.transformation.fpgadataflow.create_dataflow_partition import CreateDataflowPartition
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    spec = specialize(ModelWrapper(str(tiny_chain["folded"])))
    parent = spec.transform(CreateDataflowPartition(partition_model_dir=str(tmp_path)))
    assert [n.op_type for n in parent.graph.node] == ["Transpose", "StreamingDataflowPartition", "Transpose"]
    inner = ModelWrapper(getCustomOp(parent.graph.node[1]).get_nodeattr("model"))
    assert [n.name for n in inner.graph.node] == [n.name for n in spec.graph.node][1:-1]
