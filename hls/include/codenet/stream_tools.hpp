// Stream plumbing between layers of different folding: data width conversion and FIFOs.
#ifndef CODENET_STREAM_TOOLS_HPP
#define CODENET_STREAM_TOOLS_HPP

#include <type_traits>

#include "common.hpp"

namespace codenet {

namespace detail {

using same_width = std::integral_constant<int, 0>;
using gather = std::integral_constant<int, 1>;   // OUT_W / IN_W words in, one out
using scatter = std::integral_constant<int, 2>;  // one word in, IN_W / OUT_W out, one a cycle

template <unsigned IN_W, unsigned OUT_W>
void width_converter(hls::stream<ap_uint<IN_W>> &in, hls::stream<ap_uint<OUT_W>> &out, unsigned in_words,
                     same_width) {
    for (unsigned i = 0; i < in_words; i++) {
#pragma HLS PIPELINE II=1
        out.write(in.read());
    }
}

template <unsigned IN_W, unsigned OUT_W>
void width_converter(hls::stream<ap_uint<IN_W>> &in, hls::stream<ap_uint<OUT_W>> &out, unsigned in_words,
                     gather) {
    constexpr unsigned N = OUT_W / IN_W;
    ap_uint<OUT_W> word = 0;
    unsigned k = 0;
    for (unsigned i = 0; i < in_words; i++) {
#pragma HLS PIPELINE II=1
        set_lane<IN_W>(word, k, in.read());
        if (++k == N) {
            out.write(word);
            k = 0;
        }
    }
}

template <unsigned IN_W, unsigned OUT_W>
void width_converter(hls::stream<ap_uint<IN_W>> &in, hls::stream<ap_uint<OUT_W>> &out, unsigned in_words,
                     scatter) {
    constexpr unsigned N = IN_W / OUT_W;
    ap_uint<IN_W> word = 0;
    unsigned k = 0;
    for (unsigned i = 0; i < in_words * N; i++) {
#pragma HLS PIPELINE II=1
        if (k == 0) word = in.read();
        out.write(lane<OUT_W>(word, k));
        if (++k == N) k = 0;
    }
}

}  // namespace detail

/// StreamingDataWidthConverter: IN_W-bit words to OUT_W-bit words, element order kept (the first
/// element in the least significant bits on both sides). One of the widths divides the other, as
/// between two layers whose PE/SIMD divide each other; FINN inserts one wherever they differ.
/// \tparam IN_W    input word width (bits)
/// \tparam OUT_W   output word width (bits)
/// \param in_words input words in the stream (a whole number of output words)
template <unsigned IN_W, unsigned OUT_W>
void width_converter(hls::stream<ap_uint<IN_W>> &in, hls::stream<ap_uint<OUT_W>> &out, unsigned in_words) {
    static_assert(IN_W % OUT_W == 0 || OUT_W % IN_W == 0, "one width must divide the other");
    using mode = std::integral_constant<int, (IN_W == OUT_W ? 0 : OUT_W > IN_W ? 1 : 2)>;
    detail::width_converter<IN_W, OUT_W>(in, out, in_words, mode());
}

/// StreamingFIFO: words pass in order through a FIFO of DEPTH words (BRAM or SRL as the depth and
/// width make it), decoupling a producer from a consumer that reads in bursts.
/// \tparam WIDTH  word width (bits)
/// \tparam DEPTH  words the FIFO holds
/// \param words   words in the stream
template <unsigned WIDTH, unsigned DEPTH>
void fifo(hls::stream<ap_uint<WIDTH>> &in, hls::stream<ap_uint<WIDTH>> &out, unsigned words) {
#pragma HLS DATAFLOW
    hls::stream<ap_uint<WIDTH>> buffer;
#pragma HLS STREAM variable=buffer depth=DEPTH
    for (unsigned i = 0; i < words; i++) {
#pragma HLS PIPELINE II=1
        buffer.write(in.read());
    }
    for (unsigned i = 0; i < words; i++) {
#pragma HLS PIPELINE II=1
        out.write(buffer.read());
    }
}

}  // namespace codenet

#endif
