// The C-simulation testbench around the kernels (not synthesized): element files in, packed streams
// through one kernel, element files out. codenet/hls/csim.py generates a main() with a table of the
// run_* instantiations it needs and calls them as
//   tb <case> <reps> <params.bin|-> <n_in> <in.bin>... <n_out> <out.bin>...
// Streams travel as little-endian int32 elements (NHWC order), parameters as int64.
#ifndef CODENET_CSIM_TB_HPP
#define CODENET_CSIM_TB_HPP

#include <codenet/codenet.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace tb {

using Elems = std::vector<int32_t>;

struct Job {
    unsigned long reps;
    std::vector<int64_t> params;
    std::vector<Elems> in, out;
};

struct Entry {
    char const *name;
    void (*run)(Job &);
};

[[noreturn]] inline void fail(std::string const &msg) { throw std::runtime_error(msg); }

template <typename T>
std::vector<T> read_file(char const *path) {
    std::vector<T> v;
    FILE *f = std::fopen(path, "rb");
    if (!f) fail(std::string("cannot open ") + path);
    std::fseek(f, 0, SEEK_END);
    long size = std::ftell(f);
    std::fseek(f, 0, SEEK_SET);
    v.resize(size / sizeof(T));
    if (std::fread(v.data(), sizeof(T), v.size(), f) != v.size()) fail(std::string("short read ") + path);
    std::fclose(f);
    return v;
}

inline void write_file(char const *path, Elems const &v) {
    FILE *f = std::fopen(path, "wb");
    if (!f || std::fwrite(v.data(), sizeof(int32_t), v.size(), f) != v.size())
        fail(std::string("cannot write ") + path);
    std::fclose(f);
}

inline void expect(bool ok, char const *what) {
    if (!ok) fail(what);
}

// signed value v fits BITS bits (two's complement), or unsigned when !SIGNED
inline bool fits(int64_t v, unsigned bits, bool is_signed) {
    if (is_signed) return bits >= 64 || (v >= -(int64_t(1) << (bits - 1)) && v < (int64_t(1) << (bits - 1)));
    return v >= 0 && (bits >= 63 || v < (int64_t(1) << bits));
}

/// Elements -> words of P elements, element 0 in the least significant bits.
template <unsigned P, unsigned BITS>
void push(hls::stream<ap_uint<P * BITS>> &s, Elems const &v, size_t expected, bool is_signed) {
    expect(v.size() == expected, "input element count does not match the kernel's geometry");
    for (size_t i = 0; i < v.size(); i += P) {
        ap_uint<P * BITS> w = 0;
        for (unsigned p = 0; p < P; p++) {
            expect(fits(v[i + p], BITS, is_signed), "input element does not fit the stream's element width");
            w((p + 1) * BITS - 1, p * BITS) = ap_uint<BITS>(v[i + p]);
        }
        s.write(w);
    }
}

/// Words -> elements; exactly `words` words must be waiting.
template <unsigned P, unsigned BITS, bool SIGNED>
Elems pop(hls::stream<ap_uint<P * BITS>> &s, size_t words) {
    expect(s.size() == words, "the kernel wrote a different number of words than its geometry says");
    Elems v(words * P);
    for (size_t i = 0; i < words; i++) {
        ap_uint<P * BITS> w = s.read();
        for (unsigned p = 0; p < P; p++) {
            ap_uint<BITS> e = w((p + 1) * BITS - 1, p * BITS);
            v[i * P + p] = SIGNED ? int32_t(ap_int<BITS>(e).to_int64()) : int32_t(e.to_uint64());
        }
    }
    return v;
}

/// Parameters -> n words of P lanes of BITS bits, in the order codenet.hls.binding lays them out
/// (word by word, lane 0 first): the same order code generation packs params.h in.
template <unsigned P, unsigned BITS>
void pack(std::vector<int64_t> const &params, size_t &at, ap_uint<P * BITS> *words, size_t n) {
    expect(at + n * P <= params.size(), "fewer parameters than the kernel's memories hold");
    for (size_t i = 0; i < n; i++)
        for (unsigned p = 0; p < P; p++) {
            int64_t v = params[at++];
            expect(fits(v, BITS, true), "parameter does not fit its width");
            words[i]((p + 1) * BITS - 1, p * BITS) = ap_uint<BITS>(v);
        }
}

/// Parameters -> n scalars of type T (BITS wide, signed or not), in binding order.
template <typename T>
void fill(std::vector<int64_t> const &params, size_t &at, T *out, size_t n, unsigned bits, bool is_signed) {
    expect(at + n <= params.size(), "fewer parameters than the kernel's memories hold");
    for (size_t i = 0; i < n; i++) {
        expect(fits(params[at], bits, is_signed), "requant parameter too wide");
        out[i] = params[at++];
    }
}

inline void all_read(std::vector<int64_t> const &params, size_t at) {
    expect(at == params.size(), "more parameters than the kernel's memories hold");
}

template <typename S>
void drained(S &s) {
    expect(s.empty(), "the kernel left input words unread");
}

// ---- stages: one layer's kernel on its streams, its parameters unpacked into memories of its own
// (allocated per call: two layers of one instantiation can run at once in the network program) ----

template <unsigned H, unsigned W, unsigned T, unsigned L, unsigned B, unsigned R, unsigned C, unsigned SIMD,
          unsigned BITS, bool SIGNED>
void stage_pad(hls::stream<ap_uint<SIMD * BITS>> &in, hls::stream<ap_uint<SIMD * BITS>> &out,
               std::vector<int64_t> const &, unsigned long reps) {
    codenet::fm_padding<H, W, T, L, B, R, C, SIMD, BITS>(in, out, reps);
}

template <unsigned K, unsigned S, unsigned D, unsigned H, unsigned W, unsigned C, unsigned SIMD,
          unsigned BITS, bool SIGNED>
void stage_window(hls::stream<ap_uint<SIMD * BITS>> &in, hls::stream<ap_uint<SIMD * BITS>> &out,
                  std::vector<int64_t> const &, unsigned long reps) {
    using Row = ap_uint<SIMD * BITS>[W * (C / SIMD)];
    std::unique_ptr<Row[]> buf(new Row[codenet::window_rows<K, S, D>()]);
    codenet::sliding_window<K, S, D, H, W, C, SIMD, BITS>(in, out, buf.get(), reps);
}

template <unsigned MW, unsigned MH, unsigned SIMD, unsigned PE, unsigned WBITS, unsigned ABITS>
void stage_mvau(hls::stream<ap_uint<SIMD * ABITS>> &in, hls::stream<ap_uint<PE * codenet::ACC_BITS>> &out,
                std::vector<int64_t> const &params, unsigned long reps) {
    constexpr unsigned SF = MW / SIMD, NF = MH / PE;
    using Lane = ap_uint<SIMD * WBITS>[SF * NF];
    std::unique_ptr<Lane[]> weights(new Lane[PE]);
    size_t at = 0;
    pack<SIMD, WBITS>(params, at, &weights[0][0], size_t(PE) * SF * NF);
    all_read(params, at);
    codenet::mvau<MW, MH, SIMD, PE, WBITS, ABITS>(in, out, weights.get(), reps);
}

template <unsigned K, unsigned C, unsigned PE, unsigned WBITS, unsigned ABITS>
void stage_vvau(hls::stream<ap_uint<PE * ABITS>> &in, hls::stream<ap_uint<PE * codenet::ACC_BITS>> &out,
                std::vector<int64_t> const &params, unsigned long reps) {
    std::unique_ptr<ap_uint<PE * WBITS>[]> weights(new ap_uint<PE * WBITS>[K * K * (C / PE)]);
    size_t at = 0;
    pack<PE, WBITS>(params, at, weights.get(), K * K * (C / PE));
    all_read(params, at);
    codenet::vvau<K, C, PE, WBITS, ABITS>(in, out, weights.get(), reps);
}

template <unsigned BOUND, unsigned H, unsigned W, unsigned C, unsigned PE, unsigned WBITS, unsigned ABITS,
          unsigned DBITS>
void stage_deformable_dw(hls::stream<ap_uint<PE * ABITS>> &in, hls::stream<ap_uint<DBITS>> &dil,
                         hls::stream<ap_uint<PE * codenet::ACC_BITS>> &out, std::vector<int64_t> const &params,
                         unsigned long reps) {
    constexpr unsigned ROWS = codenet::deformable_rows<BOUND>();
    using Row = ap_uint<PE * ABITS>[W * (C / PE)];
    using DRow = ap_uint<DBITS>[W];
    std::unique_ptr<Row[]> buf(new Row[ROWS]);
    std::unique_ptr<DRow[]> dbuf(new DRow[ROWS]);
    std::unique_ptr<ap_uint<PE * WBITS>[]> weights(new ap_uint<PE * WBITS>[(C / PE) * 9]);
    size_t at = 0;
    pack<PE, WBITS>(params, at, weights.get(), (C / PE) * 9);
    all_read(params, at);
    codenet::deformable_dw<BOUND, H, W, C, PE, WBITS, ABITS, DBITS>(in, dil, out, weights.get(), buf.get(),
                                                                     dbuf.get(), reps);
}

template <unsigned C, unsigned PE, unsigned IBITS, unsigned OBITS, unsigned MBITS, unsigned BBITS,
          unsigned SBITS, int LO, int HI>
void stage_requant(hls::stream<ap_uint<PE * IBITS>> &in, hls::stream<ap_uint<PE * OBITS>> &out,
                   std::vector<int64_t> const &params, unsigned long reps) {
    constexpr unsigned CF = C / PE;
    using M = ap_int<MBITS>[CF];
    using Bi = ap_int<BBITS>[CF];
    using Sh = ap_uint<SBITS>[CF];
    std::unique_ptr<M[]> mult(new M[PE]);  // params: mult, bias, shift, each [pe][cf] (binding order)
    std::unique_ptr<Bi[]> bias(new Bi[PE]);
    std::unique_ptr<Sh[]> shift(new Sh[PE]);
    size_t at = 0;
    fill(params, at, &mult[0][0], C, MBITS, true);
    fill(params, at, &bias[0][0], C, BBITS, true);
    fill(params, at, &shift[0][0], C, SBITS, false);
    all_read(params, at);
    codenet::dyadic_requant<C, PE, IBITS, OBITS, MBITS, BBITS, SBITS, LO, HI>(in, out, mult.get(), bias.get(),
                                                                             shift.get(), reps);
}

template <unsigned F, unsigned H, unsigned W, unsigned C, unsigned SIMD, unsigned BITS, bool SIGNED>
void stage_upsample(hls::stream<ap_uint<SIMD * BITS>> &in, hls::stream<ap_uint<SIMD * BITS>> &out,
                    std::vector<int64_t> const &, unsigned long reps) {
    codenet::upsample_nearest<F, H, W, C, SIMD, BITS>(in, out, reps);
}

template <unsigned NOUT, unsigned C, unsigned PE, unsigned BITS, bool SIGNED>
void stage_duplicate(hls::stream<ap_uint<PE * BITS>> &in, hls::stream<ap_uint<PE * BITS>> *out,
                     std::vector<int64_t> const &, unsigned long reps) {  // reps: pixels
    codenet::duplicate_streams<NOUT, PE * BITS>(in, out, reps * (C / PE));
}

// ---- runs: one layer alone, element files in and out ----

template <unsigned H, unsigned W, unsigned T, unsigned L, unsigned B, unsigned R, unsigned C, unsigned SIMD,
          unsigned BITS, bool SIGNED>
void run_pad(Job &j) {
    hls::stream<ap_uint<SIMD * BITS>> in("in"), out("out");
    push<SIMD, BITS>(in, j.in[0], j.reps * H * W * C, SIGNED);
    stage_pad<H, W, T, L, B, R, C, SIMD, BITS, SIGNED>(in, out, j.params, j.reps);
    drained(in);
    j.out.push_back(pop<SIMD, BITS, SIGNED>(out, j.reps * (T + H + B) * (L + W + R) * C / SIMD));
}

template <unsigned K, unsigned S, unsigned D, unsigned H, unsigned W, unsigned C, unsigned SIMD,
          unsigned BITS, bool SIGNED>
void run_window(Job &j) {
    constexpr unsigned SPAN = D * (K - 1) + 1, HO = (H - SPAN) / S + 1, WO = (W - SPAN) / S + 1;
    hls::stream<ap_uint<SIMD * BITS>> in("in"), out("out");
    push<SIMD, BITS>(in, j.in[0], j.reps * H * W * C, SIGNED);
    stage_window<K, S, D, H, W, C, SIMD, BITS, SIGNED>(in, out, j.params, j.reps);
    drained(in);
    j.out.push_back(pop<SIMD, BITS, SIGNED>(out, j.reps * HO * WO * K * K * C / SIMD));
}

template <unsigned MW, unsigned MH, unsigned SIMD, unsigned PE, unsigned WBITS, unsigned ABITS>
void run_mvau(Job &j) {
    hls::stream<ap_uint<SIMD * ABITS>> in("in");
    hls::stream<ap_uint<PE * codenet::ACC_BITS>> out("out");
    push<SIMD, ABITS>(in, j.in[0], j.reps * MW, false);
    stage_mvau<MW, MH, SIMD, PE, WBITS, ABITS>(in, out, j.params, j.reps);
    drained(in);
    j.out.push_back(pop<PE, codenet::ACC_BITS, true>(out, j.reps * (MH / PE)));
}

template <unsigned K, unsigned C, unsigned PE, unsigned WBITS, unsigned ABITS>
void run_vvau(Job &j) {
    hls::stream<ap_uint<PE * ABITS>> in("in");
    hls::stream<ap_uint<PE * codenet::ACC_BITS>> out("out");
    push<PE, ABITS>(in, j.in[0], j.reps * K * K * C, false);
    stage_vvau<K, C, PE, WBITS, ABITS>(in, out, j.params, j.reps);
    drained(in);
    j.out.push_back(pop<PE, codenet::ACC_BITS, true>(out, j.reps * (C / PE)));
}

// the fused deformable depthwise 3x3 (window and MACs); reps: images
template <unsigned BOUND, unsigned H, unsigned W, unsigned C, unsigned PE, unsigned WBITS, unsigned ABITS,
          unsigned DBITS>
void run_deformable_dw(Job &j) {
    hls::stream<ap_uint<PE * ABITS>> in("in");
    hls::stream<ap_uint<DBITS>> dil("dilation");
    hls::stream<ap_uint<PE * codenet::ACC_BITS>> out("out");
    push<PE, ABITS>(in, j.in[0], j.reps * H * W * C, false);
    for (int32_t d : j.in[1]) expect(d >= 1 && d <= int32_t(BOUND), "dilation outside 1..BOUND");
    push<1, DBITS>(dil, j.in[1], j.reps * H * W, false);
    stage_deformable_dw<BOUND, H, W, C, PE, WBITS, ABITS, DBITS>(in, dil, out, j.params, j.reps);
    drained(in);
    drained(dil);
    j.out.push_back(pop<PE, codenet::ACC_BITS, true>(out, j.reps * H * W * (C / PE)));
}

template <unsigned C, unsigned PE, unsigned IBITS, unsigned OBITS, unsigned MBITS, unsigned BBITS,
          unsigned SBITS, int LO, int HI>
void run_requant(Job &j) {
    hls::stream<ap_uint<PE * IBITS>> in("in");
    hls::stream<ap_uint<PE * OBITS>> out("out");
    push<PE, IBITS>(in, j.in[0], j.reps * C, true);
    stage_requant<C, PE, IBITS, OBITS, MBITS, BBITS, SBITS, LO, HI>(in, out, j.params, j.reps);
    drained(in);
    j.out.push_back(pop<PE, OBITS, (LO < 0)>(out, j.reps * (C / PE)));
}

template <unsigned F, unsigned H, unsigned W, unsigned C, unsigned SIMD, unsigned BITS, bool SIGNED>
void run_upsample(Job &j) {
    hls::stream<ap_uint<SIMD * BITS>> in("in"), out("out");
    push<SIMD, BITS>(in, j.in[0], j.reps * H * W * C, SIGNED);
    stage_upsample<F, H, W, C, SIMD, BITS, SIGNED>(in, out, j.params, j.reps);
    drained(in);
    j.out.push_back(pop<SIMD, BITS, SIGNED>(out, j.reps * H * F * W * F * C / SIMD));
}

template <unsigned NOUT, unsigned C, unsigned PE, unsigned BITS, bool SIGNED>
void run_duplicate(Job &j) {  // reps: pixels
    hls::stream<ap_uint<PE * BITS>> in("in"), out[NOUT];
    push<PE, BITS>(in, j.in[0], j.reps * C, SIGNED);
    stage_duplicate<NOUT, C, PE, BITS, SIGNED>(in, out, j.params, j.reps);
    drained(in);
    for (unsigned o = 0; o < NOUT; o++) j.out.push_back(pop<PE, BITS, SIGNED>(out[o], j.reps * (C / PE)));
}

inline int main(int argc, char **argv, Entry const *cases, size_t n_cases) {
    try {
        expect(argc >= 5, "usage: tb <case> <reps> <params.bin|-> <n_in> <in.bin>... <n_out> <out.bin>...");
        Entry const *entry = nullptr;
        for (size_t i = 0; i < n_cases; i++)
            if (std::strcmp(cases[i].name, argv[1]) == 0) entry = &cases[i];
        if (!entry) fail(std::string("no case ") + argv[1] + " in this binary");
        Job job;
        job.reps = std::strtoul(argv[2], nullptr, 10);
        if (std::strcmp(argv[3], "-") != 0) job.params = read_file<int64_t>(argv[3]);
        int a = 4, n_in = std::atoi(argv[a++]);
        expect(argc >= a + n_in + 1, "missing input files");
        for (int i = 0; i < n_in; i++) job.in.push_back(read_file<int32_t>(argv[a++]));
        int n_out = std::atoi(argv[a++]);
        expect(argc == a + n_out, "output file count");
        entry->run(job);
        expect(int(job.out.size()) == n_out, "output stream count");
        for (int i = 0; i < n_out; i++) write_file(argv[a + i], job.out[i]);
    } catch (std::exception const &e) {
        std::fprintf(stderr, "csim error: %s\n", e.what());
        return 2;
    }
    return 0;
}

}  // namespace tb

#endif
