// VVAU: depthwise convolution over windows, PE channels per cycle.
#ifndef CODENET_VVAU_HPP
#define CODENET_VVAU_HPP

#include "common.hpp"

namespace codenet {

/// out[c] = sum_t window[t*C + c] * w[c][t] for each window of K*K taps in (tap, channel) order, as
/// sliding_window and deformable_window emit them: unsigned ABITS-bit activations, signed WBITS-bit
/// weights, int32 accumulators. Word (t, cf) adds PE channels' tap t into their accumulators; at the
/// last tap, channel group cf is complete and leaves at once, so a window takes K*K*C/PE cycles.
/// Weights packed per cycle: weights[t*CF + cf] holds PE values, element pe in bits pe*WBITS.., the
/// weight of channel cf*PE+pe at tap t.
/// \tparam K      kernel size (K*K taps)
/// \tparam C      channels
/// \tparam PE     channels per cycle (divides C): the stream width
/// \tparam WBITS  weight bits (4)
/// \tparam ABITS  activation bits (8)
/// \param reps    windows (pixels times images)
template <unsigned K, unsigned C, unsigned PE, unsigned WBITS, unsigned ABITS>
void vvau(hls::stream<ap_uint<PE * ABITS>> &in, hls::stream<ap_uint<PE * ACC_BITS>> &out,
          ap_uint<PE * WBITS> const weights[K * K * (C / PE)], unsigned reps) {
    static_assert(C % PE == 0, "PE must divide C");
    constexpr unsigned CF = C / PE, TAPS = K * K;
    ap_int<ACC_BITS> acc[CF][PE];  // every channel's sum: channel groups interleave tap by tap
#pragma HLS ARRAY_PARTITION variable=acc complete dim=2
    unsigned t = 0, cf = 0;
    for (unsigned i = 0; i < reps * TAPS * CF; i++) {
#pragma HLS PIPELINE II=1
        ap_uint<PE * ABITS> x = in.read();
        ap_uint<PE * WBITS> w = weights[t * CF + cf];
        for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
            ap_uint<ABITS> a = lane<ABITS>(x, pe);
            ap_int<WBITS> b = lane<WBITS>(w, pe);
            acc[cf][pe] = (t == 0 ? ap_int<ACC_BITS>(0) : acc[cf][pe]) + a * b;  // a*b: ap_int<ABITS+WBITS>
        }
        if (t == TAPS - 1) {  // channel group cf is complete
            ap_uint<PE * ACC_BITS> y;
            for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
                y((pe + 1) * ACC_BITS - 1, pe * ACC_BITS) = acc[cf][pe];
            }
            out.write(y);
        }
        if (++cf == CF) {
            cf = 0;
            if (++t == TAPS) t = 0;
        }
    }
}

}  // namespace codenet

#endif
