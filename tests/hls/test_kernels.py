"""Every HLS kernel, C-simulated through codenet.hls.csim, equals host.intops bit for bit.

Random inputs over foldings (1, partial, full), odd sizes, strides, dilations, paddings, dilation maps
and requantization extremes. The module compiles all its kernel instantiations into one binary (cached
under build/csim-cache), so a second run does not recompile.
"""

import zlib

import numpy as np
import pytest

from codenet.hls import csim
from codenet.host import intops
from codenet.host.bundle import Graph
from codenet.host.sim import simulate

pytestmark = pytest.mark.hls  # tests/hls/conftest.py: fails without g++ or the ap_types headers


def assert_exact(got, expected):
    """Exact integer equality, shapes and dtypes included: never a tolerance."""
    assert got.shape == expected.shape, (got.shape, expected.shape)
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    assert np.array_equal(got, expected), f"{np.count_nonzero(got != expected)} of {got.size} values differ"


def layer(kind, n_in=1, n_out=1, **fields):
    return {"name": "L", "kind": kind, "inputs": [f"in{i}" for i in range(n_in)],
            "outputs": [f"out{i}" for i in range(n_out)], **fields}


def rng_for(*case):
    """A generator seeded by the case itself: the fixture and the test draw the same arrays."""
    return np.random.default_rng(zlib.crc32(repr(case).encode()))


def images(rng, shape):
    """Random uint8 images with the extremes present."""
    x = rng.integers(0, 256, shape, dtype=np.uint8)
    x.reshape(-1)[:2] = (0, 255)[:x.size]
    return x


# ---- cases: each builds (layer, arrays, inputs, expected) deterministically -------------------------

# (n, h, w, c, pads (top, left, bottom, right), SIMD)
PAD = [(2, 5, 7, 3, (1, 1, 1, 1), 1), (1, 4, 4, 6, (1, 2, 0, 3), 3), (2, 3, 5, 8, (2, 2, 2, 2), 8),
       (1, 1, 1, 1, (0, 1, 1, 0), 1), (1, 6, 6, 4, (0, 0, 0, 0), 2)]
# (n, h, w, c, k, stride, dilation, SIMD)
WINDOW = [(2, 7, 7, 3, 3, 1, 1, 1), (1, 9, 8, 6, 3, 2, 1, 3), (1, 11, 9, 4, 3, 1, 2, 4),
          (2, 10, 10, 8, 3, 2, 2, 8), (1, 6, 5, 5, 1, 2, 1, 5), (1, 8, 8, 2, 5, 1, 1, 2),
          (1, 7, 9, 6, 2, 2, 1, 2), (1, 3, 3, 3, 3, 1, 1, 3), (1, 12, 7, 2, 3, 3, 1, 1),
          (1, 9, 9, 4, 3, 2, 3, 2), (1, 9, 9, 2, 1, 3, 1, 2)]
# (n, h, w, c, bound, PE, dilations): the fused deformable depthwise 3x3
# (W-1)*C/PE >= 5 (the kernel's line-buffer dependence distance); H down to 1
DEFORM = [(1, 6, 7, 3, 2, 1, "one"), (1, 6, 7, 3, 2, 3, "bound"), (2, 9, 8, 4, 4, 2, "mixed"),
          (1, 5, 5, 2, 4, 1, "bound"), (1, 3, 11, 6, 4, 6, "mixed"), (1, 12, 6, 1, 1, 1, "mixed"),
          (2, 10, 10, 8, 4, 4, "mixed"), (1, 1, 6, 2, 4, 1, "bound"), (1, 8, 6, 4, 3, 4, "one"),
          (1, 11, 13, 3, 4, 1, "mixed"), (2, 9, 7, 6, 4, 3, "mixed"), (1, 5, 6, 4, 2, 4, "mixed")]
# (vectors, MW, MH, SIMD, PE, weight bits)
MVAU = [(7, 27, 8, 1, 1, 8), (5, 27, 8, 3, 2, 8), (3, 27, 8, 27, 8, 8), (9, 16, 18, 4, 6, 4),
        (4, 16, 18, 16, 18, 4), (6, 24, 1, 8, 1, 4), (3, 5, 3, 5, 1, 4), (2, 144, 16, 16, 4, 4),
        (4, 9, 7, 1, 7, 4), (3, 30, 4, 30, 2, 3), (2, 20, 3, 20, 3, 5), (2, 18, 2, 9, 2, 8)]
# (windows, k, C, PE, weight bits)
VVAU = [(10, 3, 8, 1, 4), (10, 3, 8, 4, 4), (10, 3, 8, 8, 4), (7, 3, 6, 3, 4), (5, 5, 4, 2, 4),
        (6, 1, 5, 5, 4), (9, 3, 3, 3, 8), (4, 3, 24, 24, 4)]
# (vectors, C, PE, lo, hi, parameters)
REQUANT = [(40, 8, 1, 0, 255, "typical"), (40, 8, 4, 0, 255, "extreme"), (30, 6, 6, 0, 255, "shift0"),
           (60, 1, 1, 1, 4, "dilation"), (30, 5, 5, -128, 127, "extreme"), (30, 4, 2, 0, 255, "large_shift"),
           (30, 3, 1, 0, 15, "typical"), (30, 6, 3, -3, 1000, "extreme")]
# (n, h, w, c, factor, SIMD)
UPSAMPLE = [(2, 3, 5, 4, 2, 1), (1, 4, 4, 6, 2, 3), (1, 2, 3, 8, 3, 8), (1, 1, 1, 2, 2, 2)]
# (pixels, C, PE, outputs)
DUPLICATE = [(10, 6, 3, 2), (5, 4, 1, 3), (7, 8, 8, 2)]


def make_pad(case):
    n, h, w, c, pads, simd = case
    x = images(rng_for("pad", *case), (n, h, w, c))
    return layer("pad", pads=list(pads), folding={"SIMD": simd}), {}, [x], intops.pad(x, pads)


def make_window(case):
    n, h, w, c, k, s, d, simd = case
    x = images(rng_for("window", *case), (n, h, w, c))
    return (layer("window", k=k, stride=s, dilation=d, folding={"SIMD": simd}), {}, [x],
            intops.sliding_window(x, k, s, d))


def dilations(rng, mode, shape, bound):
    if mode == "one":
        return np.ones(shape, np.uint8)
    if mode == "bound":
        return np.full(shape, bound, np.uint8)
    d = rng.integers(1, bound + 1, shape).astype(np.uint8)
    d.reshape(-1)[:2] = (1, bound)[:d.size]
    return d


def weights(rng, shape, bits):
    w = rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), shape).astype(np.int8)
    w.reshape(-1)[:2] = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    return w


def make_deform(case):
    n, h, w, c, bound, pe, mode = case
    rng = rng_for("deform", *case)
    x = images(rng, (n, h, w, c))
    d = dilations(rng, mode, (n, h, w, 1), bound)
    weight = weights(rng, (c, 1, 3, 3), 4)
    expected = intops.deformable_dw(x, d[..., 0].astype(np.int64), weight, bound).astype(np.int32)
    return (layer("deformable_dw", n_in=2, bound=bound, weight_bits=4, folding={"PE": pe}), {"L.weight": weight},
            [x, d], expected)


def make_mvau(case):
    reps, mw, mh, simd, pe, bits = case
    rng = rng_for("mvau", *case)
    w = weights(rng, (mw, mh), bits)
    x = images(rng, (reps, mw))
    x[0] = 255  # the largest sums
    return (layer("mvau", weight_bits=bits, folding={"SIMD": simd, "PE": pe}), {"L.weight": w}, [x],
            intops.mvau(x, w).astype(np.int32))


def make_vvau(case):
    reps, k, c, pe, bits = case
    rng = rng_for("vvau", *case)
    w = weights(rng, (c, 1, k, k), bits)
    x = images(rng, (reps, k * k * c))
    x[0] = 255
    return (layer("vvau", weight_bits=bits, folding={"SIMD": 1, "PE": pe}), {"L.weight": w}, [x],
            intops.vvau(x, w).astype(np.int32))


def requant_params(rng, c, mode):
    if mode == "typical":  # as the quantizer makes them: 14-bit multipliers, rounding bias, shifts ~16..22
        shift = rng.integers(14, 23, c)
        mult = rng.integers(8192, 16385, c) * rng.choice([-1, 1], c)
        bias = (1 << (shift - 1)) + rng.integers(-(1 << 20), 1 << 20, c)
        acc = (-(1 << 16), 1 << 16)
    elif mode == "extreme":  # full int32 accumulators, |M| up to 2^14, |B| up to 2^45, any shift 0..40
        shift = rng.integers(0, 41, c)
        mult = rng.integers(-(1 << 14), (1 << 14) + 1, c)
        mult[0] = 1 << 14
        bias = rng.integers(-(1 << 45), 1 << 45, c)
        acc = (-(1 << 31), (1 << 31) - 1)
    elif mode == "shift0":
        shift = np.zeros(c, np.int64)
        mult = rng.integers(-3, 4, c)
        bias = rng.integers(-300, 300, c)
        acc = (-200, 200)
    elif mode == "dilation":  # the dilation branch: 1..bound out of the 1x1 conv's accumulators
        shift = np.full(c, 20)
        mult = rng.integers(8192, 16384, c)
        bias = np.full(c, 3 << 20)
        acc = (-600, 600)
    else:  # large_shift: 40..62, everything floors to 0 or -1 but the largest
        shift = rng.integers(40, 63, c)
        shift[0] = 40
        mult = rng.integers(-(1 << 14), 1 << 14, c)
        bias = rng.integers(-(1 << 46), 1 << 46, c)
        bias[0] = 1 << 48  # (.. + 2^48) >> 40 >= 2^8 - 2^6: saturates at 255 for most accumulators
        acc = (-(1 << 31), (1 << 31) - 1)
    return mult.astype(np.int64), bias.astype(np.int64), shift.astype(np.int64), acc


def make_requant(case):
    reps, c, pe, lo, hi, mode = case
    rng = rng_for("requant", *case)
    mult, bias, shift, (alo, ahi) = requant_params(rng, c, mode)
    acc = rng.integers(alo, ahi, (reps, c), endpoint=True).astype(np.int32)
    acc[0], acc[1] = alo, ahi
    arrays = {"L.mult": mult, "L.bias": bias, "L.shift": shift}
    return (layer("requant", lo=lo, hi=hi, folding={"PE": pe}), arrays, [acc],
            intops.requant(acc, mult, bias, shift, lo, hi))


def make_upsample(case):
    n, h, w, c, f, simd = case
    x = images(rng_for("upsample", *case), (n, h, w, c))
    return layer("upsample", factor=f, folding={"SIMD": simd}), {}, [x], intops.upsample_nearest(x, f)


def make_duplicate(case):
    reps, c, pe, nout = case
    x = images(rng_for("duplicate", *case), (1, reps, 1, c))
    return layer("duplicate", n_out=nout, folding={"PE": pe}), {}, [x], [x] * nout


MAKERS = {"pad": (make_pad, PAD), "window": (make_window, WINDOW), "deform": (make_deform, DEFORM),
          "mvau": (make_mvau, MVAU), "vvau": (make_vvau, VVAU), "requant": (make_requant, REQUANT),
          "upsample": (make_upsample, UPSAMPLE), "duplicate": (make_duplicate, DUPLICATE)}


# ---- a handmade graph: padding at the borders, every layer kind, foldings that do and don't divide --

def small_graph(seed=0) -> Graph:
    rng = np.random.default_rng(seed)
    L = []

    def add(kind, inputs, outputs=None, **fields):
        name = f"{kind}_{len(L)}"
        outputs = outputs or [f"{name}_out"]
        L.append({"name": name, "kind": kind, "inputs": inputs, "outputs": outputs, **fields})
        return name

    arrays = {}

    def requant(src, c, lo=0, hi=255):
        name = add("requant", [src], lo=lo, hi=hi, folding={"PE": 2 if c % 2 == 0 else 1})
        arrays[f"{name}.mult"] = rng.integers(9000, 16000, c).astype(np.int64)
        shift = 20 if hi > 8 else 22  # the dilations: about 2 +- 6 before the clip, so 1, 2 and 3 all occur
        arrays[f"{name}.shift"] = np.full(c, shift, np.int64)
        arrays[f"{name}.bias"] = np.full(c, 1 << (shift - 1) if hi > 8 else 2 << shift, np.int64)
        return f"{name}_out"

    x = "image"
    x = f"{add('pad', [x], pads=[1, 1, 1, 1], folding={'SIMD': 3})}_out"
    x = f"{add('window', [x], k=3, stride=2, dilation=1, folding={'SIMD': 3})}_out"
    m = add("mvau", [x], weight_bits=8, folding={"SIMD": 9, "PE": 3})
    arrays[f"{m}.weight"] = weights(rng, (27, 6), 8)
    x = requant(f"{m}_out", 6)
    x = f"{add('pad', [x], pads=[2, 2, 2, 2], folding={'SIMD': 2})}_out"
    x = f"{add('window', [x], k=3, stride=1, dilation=2, folding={'SIMD': 6})}_out"
    v = add("vvau", [x], weight_bits=4, folding={"PE": 3})
    arrays[f"{v}.weight"] = weights(rng, (6, 1, 3, 3), 4)
    x = requant(f"{v}_out", 6)
    x = f"{add('upsample', [x], factor=2, folding={'SIMD': 2})}_out"
    dup = add("duplicate", [x], outputs=["feat", "branch"], folding={"PE": 6})
    m = add("mvau", ["branch"], weight_bits=4, folding={"SIMD": 2, "PE": 1})
    arrays[f"{m}.weight"] = weights(rng, (6, 1), 4)
    d = requant(f"{m}_out", 1, lo=1, hi=3)
    v = add("deformable_dw", ["feat", d], bound=3, weight_bits=4, folding={"PE": 2})
    arrays[f"{v}.weight"] = weights(rng, (6, 1, 3, 3), 4)
    x = requant(f"{v}_out", 6)
    m = add("mvau", [x], weight_bits=4, folding={"SIMD": 3, "PE": 5})
    arrays[f"{m}.weight"] = weights(rng, (6, 5), 4)
    assert dup
    return Graph("image", f"{m}_out", L, arrays)


GRAPH_IMAGES = (3, 15, 13, 3)  # odd, non-square


# the kernels as Vitis HLS, FINN's cppsim and the per-layer csim compile them (ap_int's range select),
# and as the whole-network program does (lanes on ap_int's limbs: hls/include/codenet/common.hpp)
LANES = {"range select": csim.FLAGS, "fast lanes": csim.FLAGS + ("-DCODENET_CSIM_FAST_LANES",)}


@pytest.fixture(scope="module", params=list(LANES))
def binary(request):
    kernels = []
    for make, cases in MAKERS.values():
        for case in cases:
            lay, arrays, inputs, _ = make(case)
            kernels.append(csim.plan(lay, arrays, inputs))
    kernels += csim.plan_graph(small_graph(), GRAPH_IMAGES)
    return csim.build(kernels, flags=LANES[request.param]), kernels, LANES[request.param]


def check(binary, make, case):
    lay, arrays, inputs, expected = make(case)
    got = csim.execute(binary[0], csim.plan(lay, arrays, inputs), inputs)
    expected = expected if isinstance(expected, list) else [expected]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert_exact(g, e)


@pytest.mark.parametrize("case", PAD, ids=str)
def test_padding(binary, case):
    check(binary, make_pad, case)


@pytest.mark.parametrize("case", WINDOW, ids=str)
def test_sliding_window(binary, case):
    check(binary, make_window, case)


@pytest.mark.parametrize("case", DEFORM, ids=str)
def test_deformable_dw(binary, case):
    check(binary, make_deform, case)


@pytest.mark.parametrize("case", MVAU, ids=str)
def test_mvau(binary, case):
    check(binary, make_mvau, case)


@pytest.mark.parametrize("case", VVAU, ids=str)
def test_vvau(binary, case):
    check(binary, make_vvau, case)


@pytest.mark.parametrize("case", REQUANT, ids=str)
def test_requant(binary, case):
    lay, arrays, inputs, expected = make_requant(case)
    lo, hi = case[3], case[4]
    assert (expected == lo).any() and (expected == hi).any(), "the case must saturate at both ends"
    check(binary, make_requant, case)


@pytest.mark.parametrize("case", UPSAMPLE, ids=str)
def test_upsample(binary, case):
    check(binary, make_upsample, case)


@pytest.mark.parametrize("case", DUPLICATE, ids=str)
def test_duplicate(binary, case):
    check(binary, make_duplicate, case)


def test_handmade_graph_equals_simulator_at_every_stream(binary):
    graph = small_graph()
    x = images(np.random.default_rng(5), GRAPH_IMAGES)
    out, streams = csim.run_graph(graph, x, trace=True, binary=binary[0])
    ref, ref_streams = simulate(graph, x, trace=True)
    assert_exact(out, ref)
    assert streams.keys() == ref_streams.keys()
    for name in ref_streams:
        assert_exact(streams[name], ref_streams[name])
    dil = next(lay["outputs"][0] for lay in graph.layers if lay["kind"] == "requant" and lay["hi"] == 3)
    assert set(np.unique(ref_streams[dil])) == {1, 2, 3}  # every dilation exercised


# ---- the checks themselves -------------------------------------------------------------------------

@pytest.mark.parametrize("family", ["window", "deform", "mvau", "requant"])
def test_corrupted_expected_output_is_detected(binary, family):
    make, cases = MAKERS[family]
    lay, arrays, inputs, expected = make(cases[1])
    got = csim.execute(binary[0], csim.plan(lay, arrays, inputs), inputs)[0]
    assert_exact(got, expected)
    rng = np.random.default_rng(0)
    for _ in range(3):  # one value off by one, anywhere
        bad = expected.copy()
        i = rng.integers(bad.size)
        bad.reshape(-1)[i] = bad.reshape(-1)[i] ^ 1
        with pytest.raises(AssertionError):
            assert_exact(got, bad)


def test_wrong_geometry_is_refused(binary):
    lay, arrays, inputs, _ = make_window(WINDOW[1])
    kernel = csim.plan(lay, arrays, inputs)
    with pytest.raises(csim.CsimError, match="element count"):
        csim.execute(binary[0], kernel, [inputs[0][:, :-1]])


def test_deformable_rows_too_narrow_are_refused():
    lay, arrays, (x, d), _ = make_deform((1, 4, 6, 2, 2, 1, "one"))  # (6-1) * 2 words: fine
    csim.plan(lay, arrays, [x, d])
    lay["folding"] = {"PE": 2}  # (6-1) * 1 word: fine at the limit
    csim.plan(lay, arrays, [x, d])
    with pytest.raises(csim.CsimError, match="too narrow"):
        csim.plan(lay, arrays, [x[:, :, :5], d[:, :, :5]])  # (5-1) * 1 < 5


def test_dilation_out_of_range_is_refused(binary):
    lay, arrays, (x, d), _ = make_deform(DEFORM[2])
    kernel = csim.plan(lay, arrays, [x, d])
    for bad in (0, 5):
        d2 = d.copy()
        d2[0, 0, 0, 0] = bad
        with pytest.raises(ValueError, match="dilation outside"):
            csim.execute(binary[0], kernel, [x, d2])


def test_folding_that_does_not_divide_is_refused():
    x = np.zeros((1, 5, 5, 6), np.uint8)
    assert csim.plan(layer("pad", pads=[1] * 4, folding={"SIMD": 3}), {}, [x]).case.endswith(", 6, 3, 8, false>")
    with pytest.raises(csim.CsimError, match="SIMD=4 does not divide 6"):
        csim.plan(layer("pad", pads=[1] * 4, folding={"SIMD": 4}), {}, [x])


def test_weight_bits_are_the_layers_not_guessed():
    """An 8-bit layer whose values fit 4 bits is still the 8-bit instantiation."""
    w = np.full((9, 2), 3, np.int8)
    x = np.zeros((4, 9), np.uint8)
    assert csim.plan(layer("mvau", weight_bits=8), {"L.weight": w}, [x]).case == "tb::run_mvau<9, 2, 1, 1, 8, 8>"
    with pytest.raises(csim.CsimError, match="no weight_bits"):
        csim.plan(layer("mvau"), {"L.weight": w}, [x])


def test_second_build_is_cached(binary):
    again = csim.build(binary[1], flags=binary[2])
    assert not again.compiled and again.path == binary[0].path


def test_run_layer_compiles_a_single_kernel():
    lay, arrays, inputs, expected = make_upsample(UPSAMPLE[0])
    assert_exact(csim.run_layer(lay, arrays, inputs)[0], expected)


# codenet-s sized layers: 256 channels at wide folding (2048- and 4096-bit words, Vitis HLS's largest),
# 64-channel deformable
LARGE = [("window", (1, 18, 18, 256, 3, 1, 1, 256)), ("vvau", (16, 3, 256, 128, 4)),
         ("mvau", (16, 256, 128, 32, 16, 4)), ("deform", (1, 16, 16, 64, 4, 64, "mixed")),
         ("requant", (64, 256, 256, 0, 255, "extreme"))]


@pytest.mark.slow
def test_codenet_s_sized_kernels():
    cases = [(MAKERS[family][0], case) for family, case in LARGE]
    made = [make(case) for make, case in cases]
    large = csim.build([csim.plan(lay, arrays, inputs) for lay, arrays, inputs, _ in made])
    for lay, arrays, inputs, expected in made:
        assert_exact(csim.execute(large, csim.plan(lay, arrays, inputs), inputs)[0], expected)
