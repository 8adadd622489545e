"""Exact integer equality at every arrow: Brevitas == QONNX == FINN graph == simulator, and detections."""

import copy

import numpy as np
import pytest
import torch
from qonnx.core.modelwrapper import ModelWrapper

from codenet.host.bundle import load_bundle
from codenet.host.detector import Detector
from codenet.host.sim import simulate
from codenet.model.data.synthetic import SyntheticDetection
from codenet.model.predict import predict
from codenet.overlay.flow.execute import execute
from codenet.overlay.flow.steps import streamline


def chain_inputs(size, n_random=40, n_scenes=40, seed=0):
    """>= 100 NCHW uint8-valued inputs: random, synthetic scenes and edge cases."""
    rng = np.random.default_rng(seed)
    scenes = SyntheticDetection(n_scenes, size=size, seed=seed, split="test")
    xs = [rng.integers(0, 256, (3, size, size)) for _ in range(n_random)]
    xs += [scenes[i][0].transpose(2, 0, 1) for i in range(n_scenes)]
    xs += [np.zeros((3, size, size)), np.full((3, size, size), 255)]
    checker = (np.indices((size, size)).sum(0) % 2) * 255
    xs += [np.stack([checker] * 3), np.stack([255 - checker] * 3)]
    xs += [rng.choice([0, 255], (3, size, size)) for _ in range(12)]  # saturating: only the extremes
    xs += [np.clip(rng.normal(128, 80, (3, size, size)), 0, 255).round() for _ in range(6)]
    return np.stack(xs).astype(np.float32)


def assert_chain_exact(chain: dict, x: np.ndarray) -> None:
    """A build_tiny_chain result on NCHW inputs x: Brevitas == QONNX == FINN HW graph == simulator."""
    frozen = copy.deepcopy(chain["model"]).freeze()
    with torch.no_grad():
        brevitas = frozen(torch.from_numpy(x)).numpy()
    qonnx = execute(ModelWrapper(str(chain["qonnx"])), x)
    assert np.array_equal(qonnx, brevitas)
    hw = execute(ModelWrapper(str(chain["folded"])), x, batched=False)
    assert np.array_equal(hw, qonnx)
    sim = simulate(load_bundle(chain["bundle"]).graph, x.transpose(0, 2, 3, 1).astype(np.uint8))
    assert np.array_equal(sim.transpose(0, 3, 1, 2), hw.astype(np.int32))


@pytest.fixture(scope="module")
def chain(tiny_chain):
    qonnx = tiny_chain["qonnx"]
    x = chain_inputs(tiny_chain["model"].cfg.input_size)
    return {"model": tiny_chain["model"], "qonnx": ModelWrapper(str(qonnx)), "finn": streamline(qonnx), "x": x,
            "hw": ModelWrapper(str(tiny_chain["folded"])), "bundle": tiny_chain["bundle"]}


def test_enough_inputs(chain):
    assert len(chain["x"]) >= 100


def test_brevitas_training_graph_equals_frozen_export_module(chain):
    model, x = chain["model"], torch.from_numpy(chain["x"])
    frozen = copy.deepcopy(model).freeze()
    with torch.no_grad():
        assert torch.equal(model.head.out.dequantize(frozen(x)), model(x))


def test_every_dilation_is_exercised(chain):
    frozen = copy.deepcopy(chain["model"]).freeze()
    x = torch.from_numpy(chain["x"])
    with torch.no_grad():
        seen = set(torch.unique(frozen.neck[0].dilation(frozen.backbone(frozen.stem(x)))).tolist())
    assert seen == {1.0, 2.0, 3.0, 4.0}


def test_brevitas_equals_qonnx(chain):
    frozen = copy.deepcopy(chain["model"]).freeze()
    with torch.no_grad():
        expected = frozen(torch.from_numpy(chain["x"])).numpy()
    assert np.array_equal(execute(chain["qonnx"], chain["x"]), expected)


def test_qonnx_equals_finn_graph(chain):
    assert np.array_equal(execute(chain["finn"], chain["x"]), execute(chain["qonnx"], chain["x"]))
    ops = {n.op_type for n in chain["finn"].graph.node}
    assert ops == {"Conv", "DyadicRequant", "BoundedDeformableConv", "Resize"}


def test_finn_streamlined_equals_finn_hw_layers(chain):
    hw = execute(chain["hw"], chain["x"], batched=False)
    assert np.array_equal(hw, execute(chain["finn"], chain["x"]))
    ops = {n.op_type for n in chain["hw"].graph.node}
    assert ops == {"Transpose", "FMPadding", "ConvolutionInputGenerator", "MVAU", "VVAU", "DyadicRequant",
                   "BoundedDeformableDW", "UpsampleNearestNeighbour", "DuplicateStreams"}
    inner = list(chain["hw"].graph.node)[1:-1]
    assert all(n.domain in ("finn.custom_op.fpgadataflow", "codenet.overlay.ops.hw") for n in inner)


def test_finn_hw_layers_equal_simulator(chain):
    bundle = load_bundle(chain["bundle"])
    sim = simulate(bundle.graph, chain["x"].transpose(0, 2, 3, 1).astype(np.uint8))
    assert sim.dtype == np.int32
    hw = execute(chain["hw"], chain["x"], batched=False)
    assert np.array_equal(sim.transpose(0, 3, 1, 2), hw.astype(np.int32))


def test_detections_identical(chain):
    """PyTorch (W4A8, decode on its float head) == the host's Detector on the simulator."""
    detector = Detector(chain["bundle"], score_threshold=0.05)
    images = [im.transpose(1, 2, 0).astype(np.uint8) for im in chain["x"][40:70]]
    torch_dets = predict(chain["model"], images, score_threshold=0.05)
    total = 0
    for image, (tb, ts, tl) in zip(images, torch_dets):
        b, s, lab = detector(image)
        assert np.array_equal(b, tb) and np.array_equal(s, ts) and np.array_equal(lab, tl)
        total += len(s)
    assert total > 0  # the comparison saw detections


def test_folding_is_applied_and_checked(chain, tmp_path):
    from codenet.host.errors import CodenetError
    from codenet.overlay.estimate.folding import apply_folding

    mvau = next(n for n in chain["hw"].graph.node if n.op_type == "MVAU")
    folded = apply_folding(chain["hw"], {mvau.name: {"PE": 2, "SIMD": 1}})
    from qonnx.custom_op.registry import getCustomOp

    assert getCustomOp(next(n for n in folded.graph.node if n.name == mvau.name)).get_nodeattr("PE") == 2
    with pytest.raises(CodenetError, match="does not divide"):
        apply_folding(chain["hw"], {mvau.name: {"PE": 7}})
    with pytest.raises(CodenetError, match="does not have"):
        apply_folding(chain["hw"], {"NoSuchLayer_0": {"PE": 2}})


@pytest.mark.hls
def test_csim_backend_detections_equal_sim(chain):
    from codenet.hls import csim

    csim.require()  # an error, not a skip, without g++ or the ap_types headers
    images = [im.transpose(1, 2, 0).astype(np.uint8) for im in chain["x"][40:43]]
    sim, hls = Detector(chain["bundle"], score_threshold=0.05), Detector(chain["bundle"], "csim", score_threshold=0.05)
    for image in images:
        for a, b in zip(sim(image), hls(image)):
            assert np.array_equal(a, b)


def test_the_output_depends_on_the_input(chain):
    """The exactness tests above mean something only if the graph's output carries the input."""
    bundle = load_bundle(chain["bundle"])
    out = simulate(bundle.graph, chain["x"][:8].transpose(0, 2, 3, 1).astype(np.uint8))
    assert len({o.tobytes() for o in out}) == 8
    assert (out != 0).mean() > 0.5
