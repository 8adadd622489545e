"""The width converter and the FIFO (hls/include/codenet/stream_tools.hpp): elements leave in the order
they came, at any pair of widths that divide each other. One testbench binary for every case."""

import numpy as np
import pytest

from codenet.hls import csim

pytestmark = pytest.mark.hls  # tests/hls/conftest.py: fails without g++ or the ap_types headers

#: (element bits, elements per input word, elements per output word): the graph's PE/SIMD changes
DWC_CASES = [(8, 1, 24), (8, 24, 1), (8, 4, 4), (32, 2, 8), (32, 8, 2), (4, 16, 2), (8, 3, 9)]
FIFO_CASES = [(8, 2), (24, 64)]  # (word bits, depth)
ELEMENTS = 144  # a whole number of words at every case's widths


def case_body(i, bits, in_p, out_p, kernel):
    """One case: pack ELEMENTS elements into words, run the kernel, unpack and print the elements."""
    w_in, w_out = bits * in_p, bits * out_p
    return f"""
    if (which == {i}) {{
        hls::stream<ap_uint<{w_in}>> in("in");
        hls::stream<ap_uint<{w_out}>> out("out");
        for (unsigned w = 0; w < {ELEMENTS // in_p}; w++) {{
            ap_uint<{w_in}> word = 0;
            for (unsigned e = 0; e < {in_p}; e++) word({bits} * (e + 1) - 1, {bits} * e) = elems[w * {in_p} + e];
            in.write(word);
        }}
        {kernel};
        for (unsigned w = 0; w < {ELEMENTS // out_p}; w++) {{
            ap_uint<{w_out}> word = out.read();
            for (unsigned e = 0; e < {out_p}; e++) std::printf("%u\\n", (unsigned)word({bits} * (e + 1) - 1, {bits} * e));
        }}
        return out.empty() ? 0 : 3;
    }}"""


def elements(bits):
    return np.random.default_rng(bits).integers(0, 2**bits, ELEMENTS, dtype=np.uint64)


@pytest.fixture(scope="module")
def testbench():
    bodies, cases = [], []
    for bits, in_p, out_p in DWC_CASES:
        kernel = f"codenet::width_converter<{bits * in_p}, {bits * out_p}>(in, out, {ELEMENTS // in_p})"
        cases.append((bits, in_p, out_p, kernel))
    for width, depth in FIFO_CASES:
        cases.append((width, 1, 1, f"codenet::fifo<{width}, {depth}>(in, out, {ELEMENTS})"))
    for i, case in enumerate(cases):
        bodies.append(case_body(i, *case))
    tables = "".join(f"static const unsigned long long elems_{b}[] = {{{', '.join(map(str, elements(b)))}}};\n"
                     for b in sorted({c[0] for c in cases}))
    selects = "".join(f"    if (bits == {b}) elems = elems_{b};\n" for b in sorted({c[0] for c in cases}))
    main = f"""#include <cstdio>
#include <cstdlib>
#include "codenet/codenet.hpp"
{tables}
int main(int argc, char **argv) {{
    unsigned which = std::atoi(argv[1]), bits = std::atoi(argv[2]);
    const unsigned long long *elems = nullptr;
{selects}{''.join(bodies)}
    return 2;
}}
"""
    return csim.compile_cached({"stream_tools_tb.cpp": main}, "stream_tools_tb.cpp", "stream_tools_tb"), cases


def run_case(testbench, i):
    binary, cases = testbench
    bits = cases[i][0]
    res = csim.run_binary([binary.path, i, bits], f"stream tools case {i}")
    return np.array([int(v) for v in res.stdout.split()], np.uint64), elements(bits)


@pytest.mark.parametrize("i", range(len(DWC_CASES)), ids=[f"{b}b-{i}to{o}" for b, i, o in DWC_CASES])
def test_width_converter_keeps_element_order(testbench, i):
    got, sent = run_case(testbench, i)
    assert np.array_equal(got, sent)


@pytest.mark.parametrize("i", range(len(FIFO_CASES)), ids=[f"{w}b-depth{d}" for w, d in FIFO_CASES])
def test_fifo_passes_every_word_in_order(testbench, i):
    got, sent = run_case(testbench, len(DWC_CASES) + i)
    assert np.array_equal(got, sent)
