// VVAU: depthwise convolution over windows, PE channels per cycle.
#ifndef CODENET_VVAU_HPP
#define CODENET_VVAU_HPP

#include <type_traits>

#include "common.hpp"

namespace codenet {

namespace detail {

/// One window word: PE channels' tap t into their accumulators acc[cf]; at the last tap channel
/// group cf is complete and leaves.
template <unsigned TAPS, unsigned CF, unsigned PE, unsigned WBITS, unsigned ABITS>
CODENET_INLINE void vvau_word(acc_t acc[CF][PE], ap_uint<PE * ABITS> const &x, ap_uint<PE * WBITS> const &w,
               unsigned t, unsigned cf, hls::stream<ap_uint<PE * ACC_BITS>> &out) {
#pragma HLS INLINE
    ap_uint<PE * ACC_BITS> y;
    for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
        acc_t sum = lane_mac<ABITS, WBITS>(t == 0 ? acc_t(0) : acc[cf][pe], x, w, pe);
        acc[cf][pe] = sum;
        set_lane<ACC_BITS>(y, pe, sum);
    }
    if (t == TAPS - 1) out.write(y);
}

/// RMW_DISTANCE: the fewest channel groups whose accumulators live in a memory. Entry cf is read and
/// written once every CF >= RMW_DISTANCE cycles, so a pipeline whose read-add-write spans at most
/// that many cycles runs at II=1; fewer groups are registers.
constexpr unsigned RMW_DISTANCE = 4;

/// CF >= RMW_DISTANCE: the accumulators in LUTRAM, one memory per lane; the true dependence is at
/// distance CF, declared as RMW_DISTANCE (<= CF: sound, and enough for II=1).
template <unsigned K, unsigned C, unsigned PE, unsigned WBITS, unsigned ABITS>
void vvau(hls::stream<ap_uint<PE * ABITS>> &in, hls::stream<ap_uint<PE * ACC_BITS>> &out,
          ap_uint<PE * WBITS> const weights[K * K * (C / PE)], unsigned reps, std::true_type) {
    constexpr unsigned CF = C / PE, TAPS = K * K;
    acc_t acc[CF][PE];
#pragma HLS ARRAY_PARTITION variable=acc complete dim=2
#pragma HLS BIND_STORAGE variable=acc type=ram_2p impl=lutram
    unsigned t = 0, cf = 0;
    for (unsigned i = 0; i < reps * TAPS * CF; i++) {
#pragma HLS PIPELINE II=1
#pragma HLS DEPENDENCE variable=acc inter RAW true distance=4
        static_assert(RMW_DISTANCE == 4, "the DEPENDENCE distance above is RMW_DISTANCE");
        vvau_word<TAPS, CF, PE, WBITS, ABITS>(acc, in.read(), weights[t * CF + cf], t, cf, out);
        if (++cf == CF) {
            cf = 0;
            if (++t == TAPS) t = 0;
        }
    }
}

/// CF < RMW_DISTANCE: CF x PE accumulator registers.
template <unsigned K, unsigned C, unsigned PE, unsigned WBITS, unsigned ABITS>
void vvau(hls::stream<ap_uint<PE * ABITS>> &in, hls::stream<ap_uint<PE * ACC_BITS>> &out,
          ap_uint<PE * WBITS> const weights[K * K * (C / PE)], unsigned reps, std::false_type) {
    constexpr unsigned CF = C / PE, TAPS = K * K;
    acc_t acc[CF][PE];
#pragma HLS ARRAY_PARTITION variable=acc complete dim=0
    unsigned t = 0, cf = 0;
    for (unsigned i = 0; i < reps * TAPS * CF; i++) {
#pragma HLS PIPELINE II=1
        vvau_word<TAPS, CF, PE, WBITS, ABITS>(acc, in.read(), weights[t * CF + cf], t, cf, out);
        if (++cf == CF) {
            cf = 0;
            if (++t == TAPS) t = 0;
        }
    }
}

}  // namespace detail

/// out[c] = sum_t window[t*C + c] * w[c][t] for each window of K*K taps in (tap, channel) order, as
/// sliding_window emits them: unsigned ABITS-bit activations, signed WBITS-bit weights, int32
/// accumulators. Word (t, cf) adds PE channels' tap t into their accumulators; at the last tap,
/// channel group cf is complete and leaves at once, so a window takes K*K*C/PE cycles. II=1 by
/// construction: an accumulator is read and written once every C/PE cycles (detail::RMW_DISTANCE).
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
    detail::vvau<K, C, PE, WBITS, ABITS>(in, out, weights, reps,
                                         std::integral_constant<bool, (C / PE >= detail::RMW_DISTANCE)>());
}

}  // namespace codenet

#endif
