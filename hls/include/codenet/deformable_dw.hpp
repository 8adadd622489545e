// BoundedDeformableDW: the bounded deformable depthwise 3x3, window and MACs in one kernel.
#ifndef CODENET_DEFORMABLE_DW_HPP
#define CODENET_DEFORMABLE_DW_HPP

#include "common.hpp"

namespace codenet {

/// Rows the line buffers hold: y-BOUND..y+BOUND for output row y, plus the row being read meanwhile.
template <unsigned BOUND>
constexpr unsigned deformable_rows() { return 2 * BOUND + 2; }

/// Two streams in: features x (H x W x C, PE channels per word) and one dilation d per pixel,
/// 1 <= d <= BOUND. Out, per pixel p and channel c, sum_k x[p + d(p) * k][c] * w[c][k] over the taps
/// k in {-1,0,1}^2, x = 0 outside the image (the activations' zero point): int32 accumulators, PE
/// channels per word. A pixel's dilation is read with its last feature word and kept beside its
/// features in the kernel's own line buffer, so both inputs advance together and no FIFO depth in
/// front of the kernel can stall it (a dilation predicted from the same features arrives a few
/// cycles after them).
/// Order: per pixel, channel group cf, then the 9 taps: the PE accumulators are registers and a
/// channel group leaves after its ninth tap. Output row y starts once input row y+BOUND is in; input
/// row y+BOUND+1 is read while row y is computed (one input word per 9 output cycles), so a frame
/// takes (min(BOUND+1, H) + 9*H) * W * C/PE cycles.
/// The buffers are the caller's (the HLS top, where their BIND_STORAGE is set). Reads and writes in one
/// cycle touch different rows, and a written word is read MIN_RAW_DISTANCE or more cycles later: an
/// older row by at least a row of W*C/PE >= 6 words; the row just in only by taps with ky = 2 (6th
/// tap on) or, at the image's end, after the pending rows; a dilation a row later, or (last row) after
/// the (W-1)*C/PE >= 5 words behind it. So the dependence through them is declared false; the loop's
/// buffer read and write sit within a few stages of each other.
/// Weights packed per cycle: weights[cf*9 + t] holds PE values, element pe in bits pe*WBITS.., the
/// weight of channel cf*PE+pe at tap t = ky*3 + kx.
/// \tparam BOUND  largest dilation
/// \tparam H      image height
/// \tparam W      image width
/// \tparam C      channels
/// \tparam PE     channels per word (divides C): the stream widths
/// \tparam WBITS  weight bits (4)
/// \tparam ABITS  activation bits (8)
/// \tparam DBITS  bits per dilation (holds BOUND)
/// \param buf     features line buffer, deformable_rows() rows of W*C/PE words (the caller's)
/// \param dbuf    their dilations, deformable_rows() rows of W (the caller's)
/// \param reps    images in the streams
template <unsigned BOUND, unsigned H, unsigned W, unsigned C, unsigned PE, unsigned WBITS, unsigned ABITS,
          unsigned DBITS>
void deformable_dw(hls::stream<ap_uint<PE * ABITS>> &in, hls::stream<ap_uint<DBITS>> &dilation,
                   hls::stream<ap_uint<PE * ACC_BITS>> &out, ap_uint<PE * WBITS> const weights[(C / PE) * 9],
                   ap_uint<PE * ABITS> buf[deformable_rows<BOUND>()][W * (C / PE)],
                   ap_uint<DBITS> dbuf[deformable_rows<BOUND>()][W], unsigned reps) {
    static_assert(C % PE == 0, "PE must divide C");
    static_assert(BOUND >= 1 && BOUND < (1u << DBITS), "DBITS must hold BOUND");
    static_assert((W - 1) * (C / PE) >= 5, "narrower rows would read a word within 6 cycles of its write");
    constexpr unsigned CF = C / PE, ROW = W * CF;  // words per pixel, per row
    constexpr unsigned ROWS = deformable_rows<BOUND>();

    for (unsigned r = 0; r < reps; r++) {
        unsigned irow = 0, ipos = 0, islot = 0, icf = 0, ix = 0;  // next input word: row, word, slot, pixel
        int oy = 0, ox = 0, cf = 0, ky = 0, kx = 0, oslot = 0;     // next output step; oslot: row oy
        int d = 1;                                                 // the current pixel's dilation
        acc_t acc[PE];
#pragma HLS ARRAY_PARTITION variable=acc complete
        while (irow < H || oy < int(H)) {
#pragma HLS PIPELINE II=1
#pragma HLS DEPENDENCE variable=buf inter false
#pragma HLS DEPENDENCE variable=dbuf inter false
            // row oy reaches rows up to oy+BOUND; the row read meanwhile replaces row irow-ROWS < oy-BOUND
            bool can_out = oy < int(H) && (int(irow) > oy + int(BOUND) || irow == H);
            bool can_in = irow < H && int(irow) <= oy + int(BOUND) + 1;
            if (can_out) {
                if (cf == 0 && ky == 0 && kx == 0) d = dbuf[oslot][ox];
                int dy = (ky - 1) * d, dx = (kx - 1) * d;
                int y = oy + dy, x = ox + dx;
                int slot = oslot + dy;  // |dy| <= BOUND < ROWS: one wrap at most
                if (slot < 0) slot += ROWS;
                if (slot >= int(ROWS)) slot -= ROWS;
                bool inside = y >= 0 && y < int(H) && x >= 0 && x < int(W);
                ap_uint<PE * ABITS> a = inside ? buf[slot][x * CF + cf] : ap_uint<PE * ABITS>(0);
                ap_uint<PE * WBITS> w = weights[cf * 9 + ky * 3 + kx];
                bool first = ky == 0 && kx == 0, last = ky == 2 && kx == 2;
                ap_uint<PE * ACC_BITS> y_word;
                for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
                    acc_t sum = lane_mac<ABITS, WBITS>(first ? acc_t(0) : acc[pe], a, w, pe);
                    acc[pe] = sum;
                    set_lane<ACC_BITS>(y_word, pe, sum);
                }
                if (last) out.write(y_word);  // channel group cf of pixel (oy, ox) is complete
                if (++kx == 3) {
                    kx = 0;
                    if (++ky == 3) {
                        ky = 0;
                        if (++cf == int(CF)) {
                            cf = 0;
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
                if (++icf == CF) {  // the pixel's last feature word: its dilation is due now
                    icf = 0;
                    dbuf[islot][ix] = dilation.read();
                    ix++;
                }
                if (++ipos == ROW) {
                    ipos = 0;
                    ix = 0;
                    irow++;
                    if (++islot == ROWS) islot = 0;
                }
            }
        }
    }
}

}  // namespace codenet

#endif
