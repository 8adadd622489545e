// FMPadding: zero borders around each image.
#ifndef CODENET_PADDING_HPP
#define CODENET_PADDING_HPP

#include "common.hpp"

namespace codenet {

/// Pads each H x W x C image with zeros (the activations' zero point): out (TOP+H+BOTTOM) x
/// (LEFT+W+RIGHT) x C, one word of SIMD channels per cycle.
/// \tparam H       input height
/// \tparam W       input width
/// \tparam TOP     rows of zeros above (FINN FMPadding's order: top, left, bottom, right)
/// \tparam LEFT    columns of zeros on the left
/// \tparam BOTTOM  rows of zeros below
/// \tparam RIGHT   columns of zeros on the right
/// \tparam C       channels
/// \tparam SIMD    channels per word (divides C): the stream width
/// \tparam BITS    bits per element
/// \param reps     images in the stream
template <unsigned H, unsigned W, unsigned TOP, unsigned LEFT, unsigned BOTTOM, unsigned RIGHT, unsigned C,
          unsigned SIMD, unsigned BITS>
void fm_padding(hls::stream<ap_uint<SIMD * BITS>> &in, hls::stream<ap_uint<SIMD * BITS>> &out,
                unsigned reps) {
    static_assert(C % SIMD == 0, "SIMD must divide C");
    constexpr unsigned CF = C / SIMD, HO = TOP + H + BOTTOM, WO = LEFT + W + RIGHT;
    for (unsigned r = 0; r < reps; r++) {
        unsigned y = 0, x = 0, cf = 0;  // output position, counted instead of divided
        for (unsigned i = 0; i < HO * WO * CF; i++) {
#pragma HLS PIPELINE II=1
            bool inside = y >= TOP && y < TOP + H && x >= LEFT && x < LEFT + W;
            out.write(inside ? in.read() : ap_uint<SIMD * BITS>(0));
            if (++cf == CF) {
                cf = 0;
                if (++x == WO) { x = 0; y++; }
            }
        }
    }
}

}  // namespace codenet

#endif
