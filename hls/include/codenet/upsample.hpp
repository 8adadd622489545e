// UpsampleNearestNeighbour: each pixel repeated FACTOR x FACTOR times.
#ifndef CODENET_UPSAMPLE_HPP
#define CODENET_UPSAMPLE_HPP

#include "common.hpp"

namespace codenet {

/// Nearest-neighbour upsampling of H x W x C images by FACTOR: out (H*FACTOR) x (W*FACTOR) x C.
/// An input row is read while its first output row is written (each pixel FACTOR times) and kept in a
/// one-row buffer for the other FACTOR-1 output rows: one output word per cycle.
/// \tparam FACTOR  scale factor (2 in the decoder)
/// \tparam H       input height
/// \tparam W       input width
/// \tparam C       channels
/// \tparam SIMD    channels per word (divides C): the stream width
/// \tparam BITS    bits per element
/// \param reps     images in the stream
template <unsigned FACTOR, unsigned H, unsigned W, unsigned C, unsigned SIMD, unsigned BITS>
void upsample_nearest(hls::stream<ap_uint<SIMD * BITS>> &in, hls::stream<ap_uint<SIMD * BITS>> &out,
                      unsigned reps) {
    static_assert(C % SIMD == 0, "SIMD must divide C");
    constexpr unsigned CF = C / SIMD;
    ap_uint<SIMD * BITS> row[W * CF];  // the input row being repeated
    for (unsigned r = 0; r < reps; r++) {
        unsigned fy = 0, x = 0, fx = 0, cf = 0;  // output row fy of the input row, pixel x, copy fx, word cf
        for (unsigned i = 0; i < H * FACTOR * W * FACTOR * CF; i++) {
#pragma HLS PIPELINE II=1
            ap_uint<SIMD * BITS> v;
            if (fy == 0 && fx == 0) {
                v = in.read();
                row[x * CF + cf] = v;
            } else {
                v = row[x * CF + cf];
            }
            out.write(v);
            if (++cf == CF) {
                cf = 0;
                if (++fx == FACTOR) {
                    fx = 0;
                    if (++x == W) {
                        x = 0;
                        if (++fy == FACTOR) fy = 0;
                    }
                }
            }
        }
    }
}

}  // namespace codenet

#endif
