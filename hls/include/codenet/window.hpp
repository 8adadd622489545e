// ConvolutionInputGenerator: the k x k sliding windows of a (padded) image, from a line buffer.
#ifndef CODENET_WINDOW_HPP
#define CODENET_WINDOW_HPP

#include "common.hpp"

namespace codenet {

/// Rows sliding_window's line buffer holds: the SPAN rows of one window row, plus STRIDE rows filling in.
template <unsigned K, unsigned STRIDE, unsigned DIL>
constexpr unsigned window_rows() { return DIL * (K - 1) + 1 + STRIDE; }

/// Each output pixel's K x K window at STRIDE and DILATION, no padding (FMPadding comes before),
/// emitted as K*K*C/SIMD words in (tap, channel) order, channel fastest, tap = ky*K + kx.
/// One loop reads the input and writes windows at up to one word each per cycle: a word is written
/// once the line buffer holds it, and an input row is read once the row it overwrites is no longer
/// needed, so the buffer holds the SPAN rows of one window row plus STRIDE rows being refilled.
/// \tparam K       kernel size
/// \tparam STRIDE  stride
/// \tparam DIL     dilation
/// \tparam H       input height (padding included)
/// \tparam W       input width (padding included)
/// \tparam C       channels
/// \tparam SIMD    channels per word (divides C): the stream width
/// \tparam BITS    bits per element
/// \param buf      the line buffer, window_rows() rows of W*C/SIMD words: the caller's (the HLS top,
///                 where its BIND_STORAGE is set)
/// \param reps     images in the stream
template <unsigned K, unsigned STRIDE, unsigned DIL, unsigned H, unsigned W, unsigned C, unsigned SIMD,
          unsigned BITS>
void sliding_window(hls::stream<ap_uint<SIMD * BITS>> &in, hls::stream<ap_uint<SIMD * BITS>> &out,
                    ap_uint<SIMD * BITS> buf[window_rows<K, STRIDE, DIL>()][W * (C / SIMD)], unsigned reps) {
    static_assert(C % SIMD == 0, "SIMD must divide C");
    constexpr unsigned SPAN = DIL * (K - 1) + 1;  // rows (and columns) one window covers
    static_assert(SPAN <= H && SPAN <= W, "window larger than the image");
    constexpr unsigned CF = C / SIMD, ROW = W * CF;  // words per pixel, per input row
    constexpr unsigned HO = (H - SPAN) / STRIDE + 1, WO = (W - SPAN) / STRIDE + 1;
    constexpr unsigned ROWS = window_rows<K, STRIDE, DIL>();

    for (unsigned r = 0; r < reps; r++) {
        unsigned irow = 0, ipos = 0, islot = 0;                 // next input word: row, word in row, slot
        unsigned oy = 0, ox = 0, ky = 0, kx = 0, cf = 0, oslot = 0;  // next output word; oslot: row oy*STRIDE
        while (irow < H || oy < HO) {
#pragma HLS PIPELINE II=1
            // the word the next output needs: row ny, word npos of that row
            unsigned ny = oy * STRIDE + ky * DIL, npos = (ox * STRIDE + kx * DIL) * CF + cf;
            bool can_out = oy < HO && (ny < irow || (ny == irow && npos < ipos));
            bool can_in = irow < H && irow < oy * STRIDE + ROWS;  // it overwrites a row above this window row
            if (can_out) {
                unsigned slot = oslot + ky * DIL;
                if (slot >= ROWS) slot -= ROWS;
                out.write(buf[slot][npos]);
                if (++cf == CF) {
                    cf = 0;
                    if (++kx == K) {
                        kx = 0;
                        if (++ky == K) {
                            ky = 0;
                            if (++ox == WO) {
                                ox = 0;
                                oy++;
                                oslot += STRIDE;
                                if (oslot >= ROWS) oslot -= ROWS;
                            }
                        }
                    }
                }
            }
            if (can_in) {
                buf[islot][ipos] = in.read();
                if (++ipos == ROW) {
                    ipos = 0;
                    irow++;
                    if (++islot == ROWS) islot = 0;
                }
            }
        }
    }
}

}  // namespace codenet

#endif
