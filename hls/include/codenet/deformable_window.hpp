// BoundedDeformableWindow: each pixel's 3x3 window at its own integer dilation, from 2*BOUND+1 rows.
#ifndef CODENET_DEFORMABLE_WINDOW_HPP
#define CODENET_DEFORMABLE_WINDOW_HPP

#include "common.hpp"
#include "vvau.hpp"

namespace codenet {

/// Two streams in: features x (H x W x C, SIMD channels per word) and one dilation d per pixel,
/// 1 <= d <= BOUND. Out, per pixel p, the taps x[p + d(p) * k], k in {-1,0,1}^2, zero outside the
/// image, as 9*C/SIMD words in (tap, channel) order like sliding_window: a depthwise VVAU follows.
/// The line buffer holds the 2*BOUND+1 rows any pixel of output row y can reach (y-BOUND..y+BOUND);
/// output row y starts once row y+BOUND is in, and input row y+BOUND+1 is read once row y is out:
/// reading and writing take turns by rows, about 10*H*W*C/SIMD cycles per image.
/// The dilation stream is read at each pixel's first word, BOUND rows after its features: the FIFO
/// in front of it must hold about (BOUND+1)*W dilations when both come from one DuplicateStreams.
/// \tparam BOUND  largest dilation: the line buffer holds 2*BOUND+1 rows
/// \tparam H      image height
/// \tparam W      image width
/// \tparam C      channels
/// \tparam SIMD   channels per word (divides C): the stream width
/// \tparam BITS   bits per feature element
/// \tparam DBITS  bits per dilation (holds BOUND)
/// \param reps    images in the streams
template <unsigned BOUND, unsigned H, unsigned W, unsigned C, unsigned SIMD, unsigned BITS, unsigned DBITS>
void deformable_window(hls::stream<ap_uint<SIMD * BITS>> &in, hls::stream<ap_uint<DBITS>> &dilation,
                       hls::stream<ap_uint<SIMD * BITS>> &out, unsigned reps) {
    static_assert(C % SIMD == 0, "SIMD must divide C");
    static_assert(BOUND >= 1 && BOUND < (1u << DBITS), "DBITS must hold BOUND");
    constexpr unsigned CF = C / SIMD, ROW = W * CF;  // words per pixel, per row
    constexpr unsigned ROWS = 2 * BOUND + 1;        // rows y-BOUND..y+BOUND
    ap_uint<SIMD * BITS> buf[ROWS][ROW];

    for (unsigned r = 0; r < reps; r++) {
        unsigned irow = 0, ipos = 0, islot = 0;             // next input word: row, word in row, slot
        int oy = 0, ox = 0, ky = 0, kx = 0, cf = 0, oslot = 0;  // next output word; oslot: row oy
        int d = 1;                                          // the current pixel's dilation
        while (irow < H || oy < int(H)) {
#pragma HLS PIPELINE II=1
            // row oy reaches rows up to oy+BOUND; the row read next replaces row irow-ROWS < oy-BOUND
            bool can_out = oy < int(H) && (int(irow) > oy + int(BOUND) || irow == H);
            bool can_in = irow < H && int(irow) <= oy + int(BOUND);
            if (can_out) {
                if (ky == 0 && kx == 0 && cf == 0) d = dilation.read();
                int dy = (ky - 1) * d, dx = (kx - 1) * d;
                int y = oy + dy, x = ox + dx;
                int slot = oslot + dy;  // |dy| <= BOUND < ROWS: one wrap at most
                if (slot < 0) slot += ROWS;
                if (slot >= int(ROWS)) slot -= ROWS;
                bool inside = y >= 0 && y < int(H) && x >= 0 && x < int(W);
                out.write(inside ? buf[slot][x * CF + cf] : ap_uint<SIMD * BITS>(0));
                if (++cf == int(CF)) {
                    cf = 0;
                    if (++kx == 3) {
                        kx = 0;
                        if (++ky == 3) {
                            ky = 0;
                            if (++ox == int(W)) {
                                ox = 0;
                                oy++;
                                if (++oslot == int(ROWS)) oslot = 0;
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

/// The bounded deformable depthwise 3x3 as one dataflow region: deformable_window, then a VVAU at the
/// same folding (PE channels per word on both sides), joined by a shallow FIFO.
/// \tparam BOUND  largest dilation
/// \tparam H      image height
/// \tparam W      image width
/// \tparam C      channels
/// \tparam PE     channels per word (divides C): both kernels' folding
/// \tparam WBITS  weight bits (4)
/// \tparam ABITS  activation bits (8)
/// \tparam DBITS  bits per dilation
/// \param reps    images in the streams
template <unsigned BOUND, unsigned H, unsigned W, unsigned C, unsigned PE, unsigned WBITS, unsigned ABITS,
          unsigned DBITS>
void deformable_dw(hls::stream<ap_uint<PE * ABITS>> &in, hls::stream<ap_uint<DBITS>> &dilation,
                   hls::stream<ap_uint<PE * ACC_BITS>> &out, ap_uint<PE * WBITS> const weights[9 * (C / PE)],
                   unsigned reps) {
#pragma HLS DATAFLOW
    hls::stream<ap_uint<PE * ABITS>> windows("windows");
#pragma HLS STREAM variable=windows depth=2  // one word per cycle on both sides: no slack needed
    deformable_window<BOUND, H, W, C, PE, ABITS, DBITS>(in, dilation, windows, reps);
    vvau<3, C, PE, WBITS, ABITS>(windows, out, weights, reps * H * W);
}

}  // namespace codenet

#endif
