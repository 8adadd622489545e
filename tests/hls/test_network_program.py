"""The whole network as one program (hls/network.py): a fiber per kernel, bounded streams at the
build's FIFO depths. Exact against the simulator; a FIFO too shallow for a join is a deadlock, reported
in one line naming the stream."""

import numpy as np
import pytest

from codenet.hls import csim, network
from codenet.host.bundle import Graph
from codenet.host.sim import simulate

from .test_kernels import images, weights

pytestmark = pytest.mark.hls


def test_tiny_network_at_minimal_fifos_equals_simulator(tiny_bundle):
    """At depth 2 everywhere: the deformable layers keep their dilations beside their features, so no
    depth can deadlock them."""
    from codenet.host.bundle import load_bundle

    bundle = load_bundle(tiny_bundle)
    x = csim.sample_images(bundle.input_size, 2)
    out, marks = network.run_network(bundle.graph, x, {})
    assert out.dtype == np.int32 and np.array_equal(out, simulate(bundle.graph, x))
    assert marks and all(0 < high <= depth == 2 for high, depth in marks.values())


def test_tiny_network_at_the_builds_fifo_depths(tiny_bundle):
    from codenet.host.bundle import load_bundle

    bundle = load_bundle(tiny_bundle)
    depths = network.fifo_depths(bundle.graph)
    deep = {k: d for k, d in depths.items() if d > network.DEFAULT_DEPTH}
    assert deep == {(lay["name"], 0): 2 + 2 * network.PIPELINE_WORDS for lay in bundle.graph.layers
                    if lay["kind"] == "deformable_dw"}
    x = csim.sample_images(bundle.input_size, 1)
    out, marks = network.run_network(bundle.graph, x)
    assert np.array_equal(out, simulate(bundle.graph, x))
    assert all(high <= depth for high, depth in marks.values())
    assert {depth for _, depth in marks.values()} == {2, 2 + 2 * network.PIPELINE_WORDS}


def joined_graph(seed=0) -> Graph:
    """A DuplicateStreams feeding a deformable layer's features directly and its dilations through a 3x3
    predictor (padding, window, MVAU, requant): the predictor needs the next row before it can give a
    pixel's dilation, so the direct branch must buffer about a row."""
    rng = np.random.default_rng(seed)
    c, arrays = 4, {}
    layers = [
        {"name": "dup", "kind": "duplicate", "inputs": ["image"], "outputs": ["feat", "branch"], "folding": {"PE": 4}},
        {"name": "pad", "kind": "pad", "inputs": ["branch"], "outputs": ["padded"], "pads": [1, 1, 1, 1],
         "folding": {"SIMD": 4}},
        {"name": "win", "kind": "window", "inputs": ["padded"], "outputs": ["windows"], "k": 3, "stride": 1,
         "dilation": 1, "folding": {"SIMD": 4}},
        {"name": "pred", "kind": "mvau", "inputs": ["windows"], "outputs": ["acc"], "weight_bits": 4,
         "folding": {"SIMD": 4, "PE": 1}},
        {"name": "dil", "kind": "requant", "inputs": ["acc"], "outputs": ["d"], "lo": 1, "hi": 3, "folding": {"PE": 1}},
        {"name": "dw", "kind": "deformable_dw", "inputs": ["feat", "d"], "outputs": ["out"], "bound": 3,
         "weight_bits": 4, "folding": {"PE": 4}},
    ]
    arrays["pred.weight"] = weights(rng, (9 * c, 1), 4)
    arrays["dil.mult"], arrays["dil.shift"] = np.array([9000], np.int64), np.array([18], np.int64)
    arrays["dil.bias"] = np.array([2 << 18], np.int64)
    arrays["dw.weight"] = weights(rng, (c, 1, 3, 3), 4)
    return Graph("image", "out", layers, arrays)


def test_undersized_fifo_is_a_deadlock_naming_the_stream():
    graph = joined_graph()
    x = images(np.random.default_rng(1), (1, 6, 8, 4))
    with pytest.raises(csim.CsimError, match="not computed for"):
        network.fifo_depths(graph)  # the build's rule does not size a window's rows
    with pytest.raises(csim.CsimError, match=r"deadlock: every kernel waits; full: .*feat -> dw \(depth 2\)") as e:
        network.run_network(graph, x, {})
    assert "\n" not in str(e.value).strip() and "d -> dw" not in str(e.value)  # the dilations' side is empty
    # a row of the image and the predictor's window fill: enough
    out, marks = network.run_network(graph, x, {("dw", 0): 64})
    assert np.array_equal(out, simulate(graph, x))
    assert 8 < marks["feat -> dw"][0] <= 64  # it did need more than the minimal depth


def test_cli_runs_the_network_program(tiny_bundle, capsys):
    assert csim.main(["--bundle", str(tiny_bundle), "--images", "1", "--network"]) == 0
    out = capsys.readouterr().out
    assert "exact 1/1, mismatch 0" in out and "streams; the fullest" in out and "frames/s" in out
