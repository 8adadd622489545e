// DuplicateStreams: one stream in, NOUT identical streams out.
#ifndef CODENET_DUPLICATE_HPP
#define CODENET_DUPLICATE_HPP

#include "common.hpp"

namespace codenet {

/// Copies each word to every output, one word per cycle.
/// \tparam NOUT   output streams (2 at each decoder stage: features and the dilation branch)
/// \tparam WIDTH  word width (PE elements)
/// \param words   words in the stream
template <unsigned NOUT, unsigned WIDTH>
void duplicate_streams(hls::stream<ap_uint<WIDTH>> &in, hls::stream<ap_uint<WIDTH>> out[NOUT],
                       unsigned words) {
    for (unsigned i = 0; i < words; i++) {
#pragma HLS PIPELINE II=1
        ap_uint<WIDTH> v = in.read();
        for (unsigned o = 0; o < NOUT; o++) {
#pragma HLS UNROLL
            out[o].write(v);
        }
    }
}

/// The same with two named outputs: FINN's top-level ports out0_V and out1_V are separate streams.
template <unsigned WIDTH>
void duplicate_streams(hls::stream<ap_uint<WIDTH>> &in, hls::stream<ap_uint<WIDTH>> &out0,
                       hls::stream<ap_uint<WIDTH>> &out1, unsigned words) {
    for (unsigned i = 0; i < words; i++) {
#pragma HLS PIPELINE II=1
        ap_uint<WIDTH> v = in.read();
        out0.write(v);
        out1.write(v);
    }
}

}  // namespace codenet

#endif
