// Stream plumbing between layers of different folding: data width conversion and FIFOs.
#ifndef CODENET_STREAM_TOOLS_HPP
#define CODENET_STREAM_TOOLS_HPP

#include "common.hpp"

namespace codenet {

/// StreamingDataWidthConverter: IN_W-bit words to OUT_W-bit words, element order kept (the first
/// element in the least significant bits on both sides). One of the widths divides the other, as
/// between two layers whose PE/SIMD divide each other; FINN inserts one wherever they differ.
/// \tparam IN_W    input word width (bits)
/// \tparam OUT_W   output word width (bits)
/// \param in_words input words in the stream (a whole number of output words)
template <unsigned IN_W, unsigned OUT_W>
void width_converter(hls::stream<ap_uint<IN_W>> &in, hls::stream<ap_uint<OUT_W>> &out, unsigned in_words) {
    static_assert(IN_W % OUT_W == 0 || OUT_W % IN_W == 0, "one width must divide the other");
    if constexpr (IN_W == OUT_W) {
        for (unsigned i = 0; i < in_words; i++) {
#pragma HLS PIPELINE II=1
            out.write(in.read());
        }
    } else if constexpr (OUT_W > IN_W) {  // gather: OUT_W / IN_W words in, one out
        constexpr unsigned N = OUT_W / IN_W;
        ap_uint<OUT_W> word = 0;
        unsigned k = 0;
        for (unsigned i = 0; i < in_words; i++) {
#pragma HLS PIPELINE II=1
            word(IN_W * (k + 1) - 1, IN_W * k) = in.read();
            if (++k == N) {
                out.write(word);
                k = 0;
            }
        }
    } else {  // scatter: one word in, IN_W / OUT_W out, one a cycle
        constexpr unsigned N = IN_W / OUT_W;
        ap_uint<IN_W> word = 0;
        for (unsigned i = 0; i < in_words * N; i++) {
#pragma HLS PIPELINE II=1
            unsigned k = i % N;
            if (k == 0) word = in.read();
            out.write(word(OUT_W * (k + 1) - 1, OUT_W * k));
        }
    }
}

/// StreamingFIFO: words pass in order through a FIFO of DEPTH words (BRAM or SRL as the depth and
/// width make it), decoupling a producer from a consumer that reads in bursts (the deformable window
/// reads its dilation (BOUND + 1) rows after the features that made it).
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
