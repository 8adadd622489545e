// DyadicRequant: per-channel integer rescaling of the accumulators to the next layer's activations.
#ifndef CODENET_REQUANT_HPP
#define CODENET_REQUANT_HPP

#include "common.hpp"

namespace codenet {

namespace detail {

/// clip((acc * mult + bias) >> shift, LO, HI) in PBITS bits, which hold every intermediate.
template <unsigned PBITS, int LO, int HI, int IBITS, int MBITS, int BBITS, int SBITS>
CODENET_INLINE ap_int<PBITS> rescale(ap_int<IBITS> const &acc, ap_int<MBITS> const &mult, ap_int<BBITS> const &bias,
                      ap_uint<SBITS> const &shift) {
#pragma HLS INLINE
#ifdef CODENET_CSIM_FAST_LANES
    if (PBITS <= 63) {  // int64 holds it too (the C simulation's fast path; common.hpp)
        int64_t v = (int64_t(acc.to_int64()) * mult.to_int64() + bias.to_int64()) >> shift.to_uint();
        return ap_int<PBITS>(v < LO ? int64_t(LO) : v > HI ? int64_t(HI) : v);
    }
#endif
    ap_int<PBITS> v = acc * mult;  // ap_int<IBITS+MBITS>: exact
    v += bias;
    v >>= shift;  // arithmetic: floor
    return v < LO ? ap_int<PBITS>(LO) : v > HI ? ap_int<PBITS>(HI) : v;
}

}  // namespace detail

/// y = clip((acc * mult[c] + bias[c]) >> shift[c], LO, HI), the shift arithmetic (floor), computed
/// exactly: acc*mult needs IBITS+MBITS bits and the sum one more than the wider term, so nothing
/// wraps (a shift past that width leaves 0 or -1, as int64 does). The output keeps the OBITS low bits of y: unsigned codes for LO >= 0 (8-bit activations,
/// or a few bits for the dilations 1..BOUND), two's complement otherwise.
/// Parameters per channel c = cf*PE + pe at [pe][cf]: the PE lanes read their own memories (the caller
/// partitions dim 1 where the arrays are declared: the generated top does).
/// \tparam C      channels
/// \tparam PE     channels per cycle (divides C): the stream widths
/// \tparam IBITS  accumulator bits (32), signed
/// \tparam OBITS  output bits: holds LO..HI
/// \tparam MBITS  multiplier bits, signed (|mult| <= 2^14 needs 16)
/// \tparam BBITS  bias bits, signed (rounding and folded BN: up to ~46)
/// \tparam SBITS  shift bits (shifts up to 63 in 6)
/// \tparam LO     lower clip bound
/// \tparam HI     upper clip bound
/// \param reps    vectors (pixels times images)
template <unsigned C, unsigned PE, unsigned IBITS, unsigned OBITS, unsigned MBITS, unsigned BBITS,
          unsigned SBITS, int LO, int HI>
void dyadic_requant(hls::stream<ap_uint<PE * IBITS>> &in, hls::stream<ap_uint<PE * OBITS>> &out,
                    ap_int<MBITS> const mult[PE][C / PE], ap_int<BBITS> const bias[PE][C / PE],
                    ap_uint<SBITS> const shift[PE][C / PE], unsigned reps) {
    static_assert(C % PE == 0, "PE must divide C");
    static_assert(LO <= HI, "empty clip range");
    constexpr unsigned CF = C / PE;
    constexpr unsigned PBITS = (IBITS + MBITS > BBITS ? IBITS + MBITS : BBITS) + 1;  // acc*mult + bias, exact
    unsigned cf = 0;
    for (unsigned i = 0; i < reps * CF; i++) {
#pragma HLS PIPELINE II=1
        ap_uint<PE * IBITS> x = in.read();
        ap_uint<PE * OBITS> y;
        for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
            ap_int<IBITS> acc = lane<IBITS>(x, pe);
            set_lane<OBITS>(y, pe, detail::rescale<PBITS, LO, HI>(acc, mult[pe][cf], bias[pe][cf], shift[pe][cf]));
        }
        out.write(y);
        if (++cf == CF) cf = 0;
    }
}

}  // namespace codenet

#endif
