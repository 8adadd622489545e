"""A shallower decoder, exact through the chain: Brevitas == QONNX == FINN == simulator == csim.

codenet-tiny with its last backbone stride 1 and two deformable stages instead of three (the shape of a
stride-16 codenet-s): the same output grid from a deeper map at twice the resolution. Nothing in the
chain may assume three neck stages.
"""

import dataclasses

import numpy as np
import pytest

from codenet.host.bundle import load_bundle
from codenet.host.errors import CodenetError
from codenet.host.sim import simulate
from codenet.model.config import load_config
from tests.conftest import build_tiny_chain
from tests.overlay.test_export_chain import assert_chain_exact, chain_inputs

SHALLOW = {"backbone": ((16, 2), (16, 2), (24, 1), (24, 1)), "neck": (16, 16)}


@pytest.fixture(scope="module")
def shallow(tmp_path_factory):
    chain = build_tiny_chain(tmp_path_factory.mktemp("shallow"), **SHALLOW)
    x = chain_inputs(chain["model"].cfg.input_size, n_random=12, n_scenes=12)
    return {**chain, "x": x}


def test_same_output_grid_from_two_stages(shallow, tiny_chain):
    cfg, ref = shallow["model"].cfg, tiny_chain["model"].cfg
    assert (len(cfg.neck), cfg.total_stride) == (2, ref.total_stride // 2)
    assert cfg.output_stride == ref.output_stride
    graph = load_bundle(shallow["bundle"]).graph
    assert sum(lay["kind"] == "deformable_dw" for lay in graph.layers) == 2
    assert sum(lay["kind"] == "upsample" for lay in graph.layers) == 2


def test_shallow_chain_is_exact(shallow):
    assert_chain_exact(shallow, shallow["x"])


@pytest.mark.hls
def test_shallow_csim_equals_simulator(shallow):
    from codenet.hls import csim

    csim.require()
    graph = load_bundle(shallow["bundle"]).graph
    x = shallow["x"][:4].transpose(0, 2, 3, 1).astype(np.uint8)
    assert np.array_equal(csim.run_graph(graph, x), simulate(graph, x))


@pytest.mark.parametrize("overrides, match", [
    ({"neck": ()}, "one to three stages"),
    ({"neck": (16, 16, 16, 16)}, "one to three stages"),
    ({"backbone": ((16, 1), (16, 1), (24, 1), (24, 1))}, "must not upsample past the input"),
])
def test_neck_depth_is_checked(overrides, match):
    cfg, _ = load_config("codenet-tiny")
    with pytest.raises(CodenetError, match=match):
        dataclasses.replace(cfg, **overrides).validate()
