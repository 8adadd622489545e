"""The whole network as one program of the generated HLS tops (overlay/codegen/network.py): the very
top_<node>.cpp files code generation writes for Vitis HLS, compiled and connected as in the stitched
design at the build's FIFO depths, equal to the simulator bit for bit."""

import numpy as np
import pytest

from codenet.hls import csim
from codenet.host.bundle import load_bundle
from codenet.host.sim import simulate

pytestmark = [pytest.mark.hls, pytest.mark.finn]


@pytest.fixture(scope="module")
def program(tiny_chain, tmp_path_factory):
    from codenet.overlay.codegen import network
    from codenet.overlay.flow.steps import prepare_finn

    prepare_finn()
    from qonnx.core.modelwrapper import ModelWrapper

    model = ModelWrapper(str(tiny_chain["folded"].parent / "specialized.onnx"))
    work = tmp_path_factory.mktemp("tops")
    binary, info = network.build(model, work_dir=work)
    return model, binary, info, work


def test_program_is_the_generated_tops(program):
    """One translation unit a node, each the text Vitis HLS would synthesize (CodenetHLS.top_source)."""
    from qonnx.custom_op.registry import getCustomOp

    model, _, info, work = program
    nodes = [n for n in model.graph.node if n.op_type != "Transpose"]
    assert info.nodes == len(nodes) > 20
    for node in nodes:
        top = (work / node.name / f"top_{node.name}.cpp").read_text()
        assert top == getCustomOp(node).top_source()
        assert f"void {node.name}(" in top


def test_tops_network_equals_simulator(program, tiny_chain):
    from codenet.overlay.codegen import network
    from codenet.overlay.flow.fifos import MIN_DEPTH, fifo_depths

    model, binary, info, _ = program
    bundle = load_bundle(tiny_chain["bundle"])
    x = csim.sample_images(bundle.input_size, 3)
    out, marks = network.run(binary, info, x, jobs=2)  # two copies, the images split between them
    ref = simulate(bundle.graph, x)
    assert out.dtype == ref.dtype and np.array_equal(out, ref)
    assert all(0 < high <= depth for high, depth in marks.values())
    deep = {d for d in fifo_depths(model).values() if d > MIN_DEPTH}
    assert deep and deep <= {depth for _, depth in marks.values()}  # the build's depths, deformable joins included


def test_wrong_image_shape_is_one_line(program):
    from codenet.overlay.codegen import network

    _, binary, info, _ = program
    with pytest.raises(ValueError, match="images must be"):
        network.run(binary, info, np.zeros((1, 8, 8, 3), np.uint8))


def test_fifo_depths_are_the_same_before_and_after_specialization(program, tiny_chain):
    """The build sizes the FIFOs on the folded graph; the program reads them off the specialized one."""
    from codenet.overlay.flow.fifos import fifo_depths
    from qonnx.core.modelwrapper import ModelWrapper

    model = program[0]
    assert fifo_depths(model) == fifo_depths(ModelWrapper(str(tiny_chain["folded"])))
