// codenet-fpga HLS kernels: what every kernel shares.
//
// Streams carry words of P elements, element 0 in the least significant bits (FINN's packing).
// Activations are unsigned, weights and accumulators signed two's complement.
#ifndef CODENET_COMMON_HPP
#define CODENET_COMMON_HPP

#include <ap_int.h>
#include <hls_stream.h>

namespace codenet {

/// Accumulator width of the MVAU and the VVAU: the graph's int32 streams.
constexpr unsigned ACC_BITS = 32;

/// Element `i` (BITS wide, raw bits) of a packed word.
template <unsigned BITS, int W>  // int: ap_uint's own width type
ap_uint<BITS> lane(ap_uint<W> const &word, unsigned i) {
#pragma HLS INLINE
    return word((i + 1) * BITS - 1, i * BITS);
}

}  // namespace codenet

#endif
