// MVAU: matrix-vector products, SIMD inputs x PE outputs per cycle.
#ifndef CODENET_MVAU_HPP
#define CODENET_MVAU_HPP

#include "common.hpp"

namespace codenet {

/// out = in (MW) @ weight (MW x MH) for each input vector: unsigned ABITS-bit activations, signed
/// WBITS-bit weights, int32 accumulators. Each cycle multiplies SIMD inputs by PE rows of weights;
/// a vector takes NF*SF cycles (NF = MH/PE output words, SF = MW/SIMD input words), the input words
/// are read during the first output fold and replayed from a buffer for the others.
/// Weights as FINN packs them: weights[pe][nf*SF + sf] holds SIMD values, element s in bits
/// s*WBITS.., the weight of input sf*SIMD+s to output nf*PE+pe; all PE read each cycle, so the
/// caller partitions dim 1 where the array is declared (the generated top does).
/// \tparam MW     input vector length (k*k*C for a convolution's windows)
/// \tparam MH     outputs (output channels)
/// \tparam SIMD   inputs per cycle (divides MW): the input stream width
/// \tparam PE     outputs per cycle (divides MH): the output stream width and the weight memories
/// \tparam WBITS  weight bits (4, or 8 for the first layer)
/// \tparam ABITS  activation bits (8)
/// \param reps    input vectors (pixels times images)
template <unsigned MW, unsigned MH, unsigned SIMD, unsigned PE, unsigned WBITS, unsigned ABITS>
void mvau(hls::stream<ap_uint<SIMD * ABITS>> &in, hls::stream<ap_uint<PE * ACC_BITS>> &out,
          ap_uint<SIMD * WBITS> const weights[PE][(MW / SIMD) * (MH / PE)], unsigned reps) {
    static_assert(MW % SIMD == 0, "SIMD must divide MW");
    static_assert(MH % PE == 0, "PE must divide MH");
    constexpr unsigned SF = MW / SIMD, NF = MH / PE;
    ap_uint<SIMD * ABITS> inbuf[SF];  // the current vector, replayed for output folds 1..NF-1
    acc_t acc[PE];
#pragma HLS ARRAY_PARTITION variable=acc complete
    unsigned nf = 0, sf = 0;
    for (unsigned i = 0; i < reps * NF * SF; i++) {
#pragma HLS PIPELINE II=1
        ap_uint<SIMD * ABITS> x;
        if (nf == 0) {
            x = in.read();
            inbuf[sf] = x;
        } else {
            x = inbuf[sf];
        }
        for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
            ap_uint<SIMD * WBITS> w = weights[pe][nf * SF + sf];
            acc[pe] = dot<SIMD, ABITS, WBITS>(sf == 0 ? acc_t(0) : acc[pe], x, w);
        }
        if (++sf == SF) {  // the PE sums are complete
            ap_uint<PE * ACC_BITS> y;
            for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
                set_lane<ACC_BITS>(y, pe, acc[pe]);
            }
            out.write(y);
            sf = 0;
            if (++nf == NF) nf = 0;
        }
    }
}

}  // namespace codenet

#endif
