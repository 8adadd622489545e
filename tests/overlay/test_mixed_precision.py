"""Per-layer weight precision, exact through the chain: Brevitas == QONNX == FINN == simulator == csim.

codenet-tiny with 2-, 3-, 5- and 8-bit layers of every weighted kind (stem, depthwise and pointwise convs,
the dilation predictor, the deformable depthwise conv, the head), beside the default 4 bits.
"""

import copy

import numpy as np
import pytest
from qonnx.core.modelwrapper import ModelWrapper

from codenet.host.bundle import load_bundle
from codenet.host.errors import CodenetError
from codenet.host.sim import simulate
from codenet.model.config import load_config
from codenet.model.network import CoDeNet
from tests.conftest import build_tiny_chain
from tests.overlay.test_export_chain import assert_chain_exact, chain_inputs

LAYER_BITS = {"stem": 5, "backbone.0.dw": 2, "backbone.1.pw": 3, "neck.0.offset": 3, "neck.1.dw": 2,
              "neck.2.pw": 8, "head.out": 8}


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    chain = build_tiny_chain(tmp_path_factory.mktemp("mixed"), layer_bits=LAYER_BITS)
    x = chain_inputs(chain["model"].cfg.input_size, n_random=12, n_scenes=12)
    return {**chain, "x": x}


def test_layers_have_their_bits(mixed):
    layers = mixed["model"].quant_layers()
    for name, layer in layers.items():
        assert layer.weight_bits == LAYER_BITS.get(name, 8 if name == "stem" else 4), name
    frozen = copy.deepcopy(mixed["model"]).freeze()
    for name, bits in LAYER_BITS.items():
        w = frozen.quant_layers()[name].frozen.weight_int
        assert w.abs().max() <= 2 ** (bits - 1) - 1, name  # narrow range
        assert w.abs().max() == 2 ** (bits - 1) - 1, name  # the full range is used
    graph = load_bundle(mixed["bundle"]).graph
    widths = sorted({lay["weight_bits"] for lay in graph.layers if "weight_bits" in lay})
    assert widths == [2, 3, 4, 5, 8]


def test_mixed_precision_chain_is_exact(mixed):
    assert_chain_exact(mixed, mixed["x"])


@pytest.mark.hls
def test_mixed_precision_csim_equals_simulator(mixed):
    from codenet.hls import csim

    graph = load_bundle(mixed["bundle"]).graph
    x = mixed["x"][:4].transpose(0, 2, 3, 1).astype(np.uint8)
    assert np.array_equal(csim.run_graph(graph, x), simulate(graph, x))


def test_unknown_layer_is_one_error():
    import dataclasses

    cfg, _ = load_config("codenet-tiny")
    with pytest.raises(CodenetError, match="'neck.9.dw' is not a quantized layer"):
        CoDeNet(dataclasses.replace(cfg, layer_bits={"neck.9.dw": 2}))
    with pytest.raises(CodenetError, match="layer_bits"):
        dataclasses.replace(cfg, layer_bits={"stem": 9}).validate()


def test_the_estimate_prices_each_layers_bits(mixed, tiny_chain):
    """Layer for layer against uniform W4: fewer bits cost fewer LUTs, more bits more."""
    from codenet.overlay.flow.board import load_board
    from codenet.overlay.estimate.graph import estimate

    def by_layer(path):
        model = ModelWrapper(str(path))
        bits = {}
        for node in model.graph.node:
            if node.op_type in ("MVAU", "VVAU", "BoundedDeformableDW"):
                weight = node.input[2 if node.op_type == "BoundedDeformableDW" else 1]
                bits[node.name] = model.get_tensor_datatype(weight).bitwidth()
        cost = {r["name"]: r["lut"] for r in estimate(model, load_board(), finn=False)["layers"]}
        return {name: (b, cost[name]) for name, b in bits.items()}

    uniform, mixed_ = by_layer(tiny_chain["folded"]), by_layer(mixed["folded"])
    assert uniform.keys() == mixed_.keys()
    fewer = [n for n in mixed_ if mixed_[n][0] < uniform[n][0]]
    more = [n for n in mixed_ if mixed_[n][0] > uniform[n][0]]
    assert fewer and more
    assert all(mixed_[n][1] < uniform[n][1] for n in fewer)
    assert all(mixed_[n][1] > uniform[n][1] for n in more)
