// codenet-fpga HLS kernels: what every kernel shares.
//
// Streams carry words of P elements, element 0 in the least significant bits (FINN's packing).
// Activations are unsigned, weights and accumulators signed two's complement.
#ifndef CODENET_COMMON_HPP
#define CODENET_COMMON_HPP

#include <ap_int.h>
#include <hls_stream.h>

#include <cstdint>
#include <type_traits>

// Helpers a kernel's loop calls per element: forced inline in the C simulation (g++ leaves ap_int's
// heavy templates out of line otherwise); Vitis HLS inlines them by their INLINE pragmas.
#ifdef CODENET_CSIM_FAST_LANES
#define CODENET_INLINE __attribute__((always_inline)) inline
#else
#define CODENET_INLINE inline
#endif

namespace codenet {

/// Accumulator width of the MVAU and the VVAU: the graph's int32 streams.
constexpr unsigned ACC_BITS = 32;

/// An accumulator: ap_int<ACC_BITS>, what Vitis HLS builds. The whole-network C simulation holds it in a
/// plain int32_t, which the MACs below wrap the same way (two's complement in 32 bits) and g++ keeps in
/// a register (an ap_int lives in memory: a store and a reload on every MAC's dependence chain).
#ifdef CODENET_CSIM_FAST_LANES
using acc_t = int32_t;
#else
using acc_t = ap_int<ACC_BITS>;
#endif

#ifdef CODENET_CSIM_FAST_LANES
// The whole-network C simulation (hls/network.py) reads and writes lanes on ap_int's 64-bit limbs:
// the same bits as the range select below, without its temporaries (most of a kernel's time in
// C simulation). Never defined for Vitis HLS, FINN's cppsim or the per-layer testbench, which run the
// range select; both are checked exact against the simulator.
namespace detail {

template <int W>
CODENET_INLINE uint64_t bits_at(ap_uint<W> const &word, unsigned lo, unsigned n, std::false_type) {  // W <= 64
    return (uint64_t(word.V.get_VAL()) >> lo) & (~uint64_t(0) >> (64 - n));
}

template <int W>
CODENET_INLINE uint64_t bits_at(ap_uint<W> const &word, unsigned lo, unsigned n, std::true_type) {  // limbs
    uint64_t const *limb = word.V.get_pVal();
    unsigned at = lo / 64, off = lo % 64;
    uint64_t v = limb[at] >> off;
    if (off + n > 64) v |= limb[at + 1] << (64 - off);
    return v & (~uint64_t(0) >> (64 - n));
}

template <int W>
CODENET_INLINE void set_bits_at(ap_uint<W> &word, unsigned lo, unsigned n, uint64_t v, std::false_type) {
    uint64_t mask = (~uint64_t(0) >> (64 - n)) << lo;
    word.V.get_VAL() = (uint64_t(word.V.get_VAL()) & ~mask) | ((v << lo) & mask);
}

template <int W>
CODENET_INLINE void set_bits_at(ap_uint<W> &word, unsigned lo, unsigned n, uint64_t v, std::true_type) {
    uint64_t *limb = word.V.get_pVal();
    unsigned at = lo / 64, off = lo % 64;
    uint64_t mask = ~uint64_t(0) >> (64 - n);
    v &= mask;
    limb[at] = (limb[at] & ~(mask << off)) | (v << off);
    if (off + n > 64) {
        unsigned high = off + n - 64;  // bits in the next limb
        uint64_t hmask = ~uint64_t(0) >> (64 - high);
        limb[at + 1] = (limb[at + 1] & ~hmask) | (v >> (64 - off));
    }
}

template <int W>
using limbs = std::integral_constant<bool, (W > 64)>;

/// The low bits of a value as set_bits_at takes them (it masks to the lane): a C++ integer as it is,
/// an ap_int or ap_uint through its own conversion.
template <unsigned BITS, typename V>
CODENET_INLINE typename std::enable_if<std::is_integral<V>::value, uint64_t>::type raw_bits(V const &v) {
    return uint64_t(v);
}

template <unsigned BITS, typename V>
CODENET_INLINE typename std::enable_if<!std::is_integral<V>::value, uint64_t>::type raw_bits(V const &v) {
    return ap_uint<BITS>(v).to_uint64();
}

}  // namespace detail
#endif

/// Element `i` (BITS wide, raw bits) of a packed word.
template <unsigned BITS, int W>  // int: ap_uint's own width type
CODENET_INLINE ap_uint<BITS> lane(ap_uint<W> const &word, unsigned i) {
#pragma HLS INLINE
#ifdef CODENET_CSIM_FAST_LANES
    if (BITS <= 64) return ap_uint<BITS>(detail::bits_at(word, i * BITS, BITS, detail::limbs<W>()));
#endif
    return word((i + 1) * BITS - 1, i * BITS);
}

/// Element `i` of a packed word set to the low BITS bits of `v`.
template <unsigned BITS, int W, typename V>
CODENET_INLINE void set_lane(ap_uint<W> &word, unsigned i, V const &v) {
#pragma HLS INLINE
#ifdef CODENET_CSIM_FAST_LANES
    if (BITS <= 64) {
        detail::set_bits_at(word, i * BITS, BITS, detail::raw_bits<BITS>(v), detail::limbs<W>());
        return;
    }
#endif
    word((i + 1) * BITS - 1, i * BITS) = v;
}

/// sum + a * w for an unsigned activation and a signed weight, wrapped to the accumulator's width as
/// the assignment to ap_int<ACC_BITS> wraps it (a product of <= 8-bit values is exact either way).
template <unsigned ABITS, unsigned WBITS>
CODENET_INLINE acc_t mac(acc_t const &sum, ap_uint<ABITS> const &a, ap_int<WBITS> const &w) {
#pragma HLS INLINE
#ifdef CODENET_CSIM_FAST_LANES
    static_assert(ACC_BITS == 32 && ABITS <= 16 && WBITS <= 16, "the fast path computes in 32 bits");
    return int32_t(uint32_t(sum) + uint32_t(int32_t(a.to_uint()) * w.to_int()));
#else
    return sum + a * w;  // ap_int<ABITS+WBITS> product: exact
#endif
}

/// sum + lane i of x (unsigned, ABITS) times lane i of w (signed, WBITS): mac on packed words, which
/// the C simulation computes straight from the limbs, without ap_int temporaries per lane.
template <unsigned ABITS, unsigned WBITS, int XW, int WW>
CODENET_INLINE acc_t lane_mac(acc_t const &sum, ap_uint<XW> const &x, ap_uint<WW> const &w, unsigned i) {
#pragma HLS INLINE
#ifdef CODENET_CSIM_FAST_LANES
    int32_t a = int32_t(detail::bits_at(x, i * ABITS, ABITS, detail::limbs<XW>()));
    uint32_t raw = uint32_t(detail::bits_at(w, i * WBITS, WBITS, detail::limbs<WW>()));
    int32_t b = int32_t(raw << (32 - WBITS)) >> (32 - WBITS);  // sign-extended
    return int32_t(uint32_t(sum) + uint32_t(a * b));
#else
    return mac<ABITS, WBITS>(sum, lane<ABITS>(x, i), ap_int<WBITS>(lane<WBITS>(w, i)));
#endif
}

/// sum + the dot product of SIMD unsigned activations and SIMD signed weights, lane by lane.
template <unsigned SIMD, unsigned ABITS, unsigned WBITS>
CODENET_INLINE acc_t dot(acc_t const &sum, ap_uint<SIMD * ABITS> const &x, ap_uint<SIMD * WBITS> const &w) {
#pragma HLS INLINE
    acc_t r = sum;
    for (unsigned s = 0; s < SIMD; s++) {
#pragma HLS UNROLL
        r = lane_mac<ABITS, WBITS>(r, x, w, s);
    }
    return r;
}

}  // namespace codenet

#endif
