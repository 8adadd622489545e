"""FINN's cppsim and hw_codegen on our HLS ops (overlay/codegen/hls_ops.py): every layer of codenet-tiny, its
generated C++ compiled with g++ and run, equals the HW-layer graph's Python execution and the simulator
exactly; the C++ that hw_codegen writes is the same top function and compiles at Vitis HLS's C++14."""

from pathlib import Path

import numpy as np
import pytest
from codenet.hls import csim
from onnx import helper

pytestmark = [pytest.mark.hls, pytest.mark.finn]


@pytest.fixture(autouse=True)
def _csim_toolchain():
    csim.require()  # an error, not a skip, without g++ or the ap_types headers

KINDS = {"FMPadding", "ConvolutionInputGenerator", "MVAU", "VVAU", "DyadicRequant", "BoundedDeformableDW",
         "UpsampleNearestNeighbour", "DuplicateStreams"}


@pytest.fixture(scope="module")
def graphs(tiny_chain):
    """The folded HW-layer graph, its specialization, and that prepared for cppsim (compiled)."""
    from codenet.overlay.flow.steps import prepare_finn

    prepare_finn()
    from codenet.overlay.codegen.generate import prepare_cppsim
    from codenet.overlay.codegen.specialize import specialize
    from qonnx.core.modelwrapper import ModelWrapper

    folded = ModelWrapper(str(tiny_chain["folded"]))
    specialized = specialize(folded)
    return {"folded": folded, "specialized": specialized, "cppsim": prepare_cppsim(specialized, num_workers=2)}


def images(size):
    """NCHW float: a letterboxed sample, random, and all 255 (saturating)."""
    rng = np.random.default_rng(3)
    sample = csim.sample_images(size, 1).transpose(0, 3, 1, 2)
    return np.concatenate([sample, rng.integers(0, 256, (1, 3, size, size)),
                           np.full((1, 3, size, size), 255)]).astype(np.float32)


def run_all(model, x):
    from qonnx.core.onnx_exec import execute_onnx

    return execute_onnx(model, {model.graph.input[0].name: x}, return_full_exec_context=True)


def test_specialize_maps_every_hw_layer_to_ours(graphs, tiny_chain):
    from codenet.overlay.codegen.hls_ops import HLS_DOMAIN
    from qonnx.core.modelwrapper import ModelWrapper

    folded, specialized = graphs["folded"], graphs["specialized"]
    pairs = list(zip(folded.graph.node, specialized.graph.node))
    hw = [(a, b) for a, b in pairs if a.op_type != "Transpose"]
    assert {a.op_type for a, _ in hw} == KINDS
    assert len(hw) == len(pairs) - 2  # the host's two layout transposes stay
    for a, b in hw:
        assert (b.op_type, b.domain, b.name, list(b.input)) == (f"{a.op_type}_codenet", HLS_DOMAIN, a.name,
                                                                list(a.input))
    saved = ModelWrapper(str(tiny_chain["folded"].parent / "specialized.onnx"))  # the build's own step
    assert [n.op_type for n in saved.graph.node] == [n.op_type for n in specialized.graph.node]


def test_every_layer_in_cppsim_equals_python_and_the_simulator(graphs, tiny_chain):
    from codenet.host.bundle import load_bundle
    from codenet.host.sim import simulate

    bundle = load_bundle(tiny_chain["bundle"])
    x = images(bundle.input_size)
    for i in range(len(x)):
        ref, got = run_all(graphs["folded"], x[i:i + 1]), run_all(graphs["cppsim"], x[i:i + 1])
        for node in graphs["folded"].graph.node:  # in graph order: the first difference is the culprit
            for t in node.output:
                assert np.array_equal(got[t], ref[t]), f"image {i}: {node.name} ({t}) differs in cppsim"
        out = graphs["folded"].graph.output[0].name
        sim = simulate(bundle.graph, x[i:i + 1].transpose(0, 2, 3, 1).astype(np.uint8)).transpose(0, 3, 1, 2)
        assert np.array_equal(got[out], sim)
        assert sum(bool(np.any(v)) for v in got.values()) > len(got) // 2  # not trivially zero


def one_layer(model, name: str, folding: dict):
    """A graph of the one node `name` (its initializers and tensor annotations kept), folding applied."""
    return layers(model, {name: folding})


def layers(model, foldings: dict):
    """A graph of the named consecutive nodes (name -> folding), initializers and annotations kept;
    returns it and the names of its stream inputs."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    nodes = [n for n in model.graph.node if n.name in foldings]
    made = {t for n in nodes for t in n.output}
    tensors = [t for n in nodes for t in list(n.input) + list(n.output)]
    inits = [i for i in model.graph.initializer if i.name in tensors]
    streams = [t for n in nodes for t in n.input if model.get_initializer(t) is None and t not in made]
    info = lambda t: helper.make_tensor_value_info(t, 1, model.get_tensor_shape(t))
    inner = [info(t) for t in made if t not in nodes[-1].output]
    graph = helper.make_graph(nodes, nodes[0].name, [info(t) for t in streams], [info(t) for t in nodes[-1].output],
                              inits, value_info=inner)
    sub = ModelWrapper(helper.make_model(graph, opset_imports=list(model.model.opset_import)))
    for t in tensors:
        sub.set_tensor_datatype(t, model.get_tensor_datatype(t))
    for node in sub.graph.node:
        for attr, value in foldings[node.name].items():
            getCustomOp(node).set_nodeattr(attr, value)
    return sub, streams


FOLDINGS = [
    ("FMPadding_2", {"SIMD": 4}),
    ("ConvolutionInputGenerator_0", {"SIMD": 1}),
    ("ConvolutionInputGenerator_2", {"SIMD": 4}),
    ("MVAU_0", {"SIMD": 9, "PE": 4}),
    ("MVAU_2", {"SIMD": 4, "PE": 2}),
    ("MVAU_3", {"SIMD": 16, "PE": 24}),
    ("VVAU_1", {"PE": 4}),
    ("VVAU_0", {"PE": 1}),
    ("DyadicRequant_2", {"PE": 4}),
    ("DyadicRequant_12", {"PE": 1}),
    ("BoundedDeformableDW_1", {"PE": 8}),
    ("BoundedDeformableDW_0", {"PE": 2}),
    ("UpsampleNearestNeighbour_1", {"SIMD": 4}),
    ("DuplicateStreams_1", {"PE": 8}),
]


@pytest.fixture(scope="module")
def context(graphs, tiny_chain):
    """Every tensor of the HW-layer graph on a random image: the layers' inputs."""
    from codenet.host.bundle import load_bundle

    return run_all(graphs["folded"], images(load_bundle(tiny_chain["bundle"]).input_size)[1:2])


@pytest.mark.parametrize("name,folding", FOLDINGS, ids=[f"{n}-{f}" for n, f in FOLDINGS])
def test_one_layer_folded_in_cppsim_equals_the_graph(graphs, context, name, folding):
    """Against the layer's output in the whole graph's Python run (= the simulator): FINN's Python VVAU
    alone, without its sliding-window producer, would read its input in the SWG's PE-interleaved order,
    our kernels keep (tap, channel) at any PE."""
    from codenet.overlay.estimate.folding import check_folding
    from codenet.overlay.codegen.generate import prepare_cppsim
    from codenet.overlay.codegen.specialize import specialize
    from qonnx.core.onnx_exec import execute_onnx

    hw, streams = one_layer(graphs["folded"], name, folding)
    check_folding(hw)
    got = execute_onnx(prepare_cppsim(specialize(hw), num_workers=1), {t: context[t] for t in streams})
    for t in hw.graph.node[0].output:
        assert np.array_equal(got[t], context[t])


def test_a_corrupted_weight_changes_the_cppsim_output(graphs, context):
    """The comparison can fail: one weight of a MVAU off by one in the C++ only."""
    from codenet.overlay.codegen.generate import prepare_cppsim
    from codenet.overlay.codegen.specialize import specialize
    from qonnx.core.onnx_exec import execute_onnx

    hw, streams = one_layer(graphs["folded"], "MVAU_2", {})
    feed = {t: context[t] for t in streams}
    ref = execute_onnx(hw, feed)[hw.graph.output[0].name]
    weight = hw.graph.node[0].input[1]
    w = hw.get_initializer(weight).copy()
    w[0, 0] = w[0, 0] - 1 if w[0, 0] > -8 else w[0, 0] + 1
    bad = specialize(hw)
    bad.set_initializer(weight, w)
    got = execute_onnx(prepare_cppsim(bad, num_workers=1), feed)[hw.graph.output[0].name]
    assert not np.array_equal(got, ref)


def test_hw_codegen_writes_the_cppsim_top_function_and_it_compiles_for_vitis(graphs, tmp_path):
    from codenet.overlay.codegen.generate import check_hls, generate_hls, hls_nodes
    from qonnx.custom_op.registry import getCustomOp

    model = generate_hls(graphs["cppsim"], tmp_path)
    nodes = hls_nodes(model)
    assert len(nodes) == len(model.graph.node) - 2
    for node in nodes:
        op = getCustomOp(node)
        ipgen, cppsim = tmp_path / node.name, op.get_nodeattr("code_gen_dir_cppsim")
        assert op.get_nodeattr("code_gen_dir_ipgen") == str(ipgen.resolve())
        for f in [f"top_{node.name}.cpp"] + (["params.h"] if op.has_params else []):
            assert (ipgen / f).read_text() == (Path(cppsim) / f).read_text(), f"{node.name}: {f}"
        tcl = (ipgen / f"hls_syn_{node.name}.tcl").read_text()
        assert f"-I{csim.INCLUDE}" in tcl and "hlslib" not in tcl and "FINN_CUSTOM_HLS" not in tcl
        top = (ipgen / f"top_{node.name}.cpp").read_text()
        assert f"void {node.name}(" in top and "#pragma HLS INTERFACE ap_ctrl_none port=return" in top
    assert set(check_hls(model)) == {n.name for n in nodes}


def test_ip_generation_says_what_is_missing(graphs, monkeypatch):
    from codenet.host.errors import CodenetError
    from codenet.overlay.codegen import generate

    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no Xilinx tool there
    with pytest.raises(CodenetError, match="vitis_hls"):
        generate.synthesize_ip(graphs["specialized"])


def test_unsupported_configurations_are_named(graphs):
    from codenet.host.errors import CodenetError
    from codenet.overlay.codegen.specialize import specialize

    hw, _ = one_layer(graphs["folded"], "VVAU_1", {"SIMD": 3})
    with pytest.raises(CodenetError, match="VVAU_1: SIMD=3"):
        specialize(hw)


@pytest.mark.parametrize("pe,simd", [(1, 8), (8, 2), (4, 16)])
def test_finn_width_converters_run_our_kernel(graphs, context, pe, simd):
    """A requantization folded at PE `pe` feeding a padding at SIMD `simd`: FINN's InsertDWC puts its
    width converter between them, specialized to codenet::width_converter, and the three in cppsim equal
    the graph's Python run."""
    from codenet.overlay.codegen.generate import prepare_cppsim
    from codenet.overlay.codegen.specialize import specialize
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from qonnx.transformation.general import GiveUniqueNodeNames

    pair, streams = layers(graphs["folded"], {"DyadicRequant_2": {"PE": pe}, "FMPadding_2": {"SIMD": simd}})
    pair = pair.transform(InsertDWC()).transform(GiveUniqueNodeNames())
    assert [n.op_type for n in pair.graph.node] == ["DyadicRequant", "StreamingDataWidthConverter", "FMPadding"]
    feed = {t: context[t] for t in streams}
    got = execute_onnx_out(prepare_cppsim(specialize(pair), num_workers=1), feed)
    assert np.array_equal(got, context[pair.graph.output[0].name])


def test_requant_of_unsigned_input_is_refused(graphs):
    from codenet.host.errors import CodenetError
    from codenet.overlay.codegen.specialize import specialize

    hw, _ = one_layer(graphs["folded"], "DyadicRequant_2", {"inputDataType": "UINT8"})
    with pytest.raises(CodenetError, match="DyadicRequant_2: input UINT8"):
        specialize(hw)


def execute_onnx_out(model, feed):
    from qonnx.core.onnx_exec import execute_onnx

    return execute_onnx(model, feed)[model.graph.output[0].name]
