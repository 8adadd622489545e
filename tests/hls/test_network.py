"""The whole codenet-tiny network (the shared tiny_chain fixture), every layer through its C-simulated
HLS kernel, equals the bit-exact simulator (host.sim) at every stream."""

import numpy as np
import pytest

from codenet.hls import csim

pytestmark = pytest.mark.hls  # tests/hls/conftest.py: fails without g++ or the ap_types headers


@pytest.fixture(scope="module")
def tiny(tiny_bundle):
    from codenet.host.bundle import load_bundle

    return load_bundle(tiny_bundle)


def inputs(size, every: bool = False):
    """NHWC uint8: the export chain test's inputs, all of them or 8 of all sorts and 2 letterboxed samples."""
    from tests.overlay.test_export_chain import chain_inputs

    xs = chain_inputs(size).transpose(0, 2, 3, 1).astype(np.uint8)
    if every:
        return xs
    pick = [0, 1, 40, 41, 80, 81, 82, 84]  # random, synthetic scenes, all 0, all 255, checkers, saturating
    return np.concatenate([csim.sample_images(size, 2), xs[pick]])


def test_tiny_network_equals_simulator_at_every_stream(tiny):
    from codenet.host.sim import simulate

    graph = tiny.graph
    kinds = {"pad", "window", "mvau", "vvau", "requant", "deformable_dw", "upsample", "duplicate"}
    assert {lay["kind"] for lay in graph.layers} == kinds
    x = inputs(tiny.input_size)
    out, streams = csim.run_graph(graph, x, trace=True)
    ref, ref_streams = simulate(graph, x, trace=True)
    assert out.dtype == np.int32 and out.shape == ref.shape
    assert np.array_equal(out, ref)
    assert streams.keys() == ref_streams.keys()
    for name, expected in ref_streams.items():
        assert streams[name].dtype == expected.dtype, name
        assert np.array_equal(streams[name], expected), name
    dilations = [ref_streams[lay["inputs"][1]] for lay in graph.layers if lay["kind"] == "deformable_dw"]
    assert set(np.unique(np.concatenate([d.ravel() for d in dilations]))) == {1, 2, 3, 4}


def test_cli_reports_exact(tiny, capsys):
    assert csim.main(["--bundle", str(tiny.path), "--images", "3"]) == 0
    out = capsys.readouterr().out
    assert "exact 3/3, mismatch 0" in out and "frames/s" in out


@pytest.mark.slow
def test_tiny_network_equals_simulator_on_the_chain_inputs(tiny):
    """All the export chain test's inputs."""
    from codenet.host.sim import simulate

    x = inputs(tiny.input_size, every=True)
    assert len(x) >= 100
    assert np.array_equal(csim.run_graph(tiny.graph, x), simulate(tiny.graph, x))


def test_shipped_network_in_csim_equals_simulator():
    """make csim in CI: the shipped codenet-s, at its board folding, through the C-simulated kernels on
    two sample images, every stream equal to the simulator's."""
    from codenet.host.bundle import DEFAULT_BUNDLE, load_bundle
    from codenet.host.sim import simulate

    assert (DEFAULT_BUNDLE / "manifest.json").exists(), "the shipped bundle is missing"
    bundle = load_bundle(DEFAULT_BUNDLE)
    x = csim.sample_images(bundle.input_size, 2)
    out, streams = csim.run_graph(bundle.graph, x, trace=True)
    ref, ref_streams = simulate(bundle.graph, x, trace=True)
    for layer in bundle.graph.layers:
        for s in layer["outputs"]:
            assert np.array_equal(streams[s], ref_streams[s]), f"{layer['name']} ({s}) differs"
    assert np.array_equal(out, ref) and (out != 0).mean() > 0.5
    assert any(layer.get("folding", {}).get("SIMD", 1) > 1 for layer in bundle.graph.layers)  # folded
