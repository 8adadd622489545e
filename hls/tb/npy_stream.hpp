// FINN's cppsim I/O for our kernels (not synthesized): .npy files <-> packed streams.
//
// FINN's execute_node saves each input as float32 .npy in the node's folded shape and reads each
// output back the same way; FINN's own npy2apintstream.hpp needs finn-hlslib (flatten.hpp), so this
// header does the same with the standard library only. Words pack the innermost dimension, element 0
// in the least significant bits (FINN's rtlsim packing, and our kernels').
#ifndef CODENET_NPY_STREAM_HPP
#define CODENET_NPY_STREAM_HPP

#include <ap_int.h>
#include <hls_stream.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace npy {

[[noreturn]] inline void fail(std::string const &msg) { throw std::runtime_error(msg); }

struct Array {
    std::vector<size_t> shape;
    std::vector<float> data;
};

/// A float32, C-order .npy file (format versions 1 to 3).
inline Array load(std::string const &path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) fail("cannot open " + path);
    char magic[8];
    f.read(magic, 8);
    if (!f || std::memcmp(magic, "\x93NUMPY", 6) != 0) fail(path + ": not an .npy file");
    uint32_t hlen = 0;
    unsigned char len[4] = {0, 0, 0, 0};
    f.read(reinterpret_cast<char *>(len), magic[6] == 1 ? 2 : 4);
    for (int i = 3; i >= 0; i--) hlen = (hlen << 8) | len[i];
    std::string header(hlen, ' ');
    f.read(&header[0], hlen);
    if (header.find("'descr': '<f4'") == std::string::npos) fail(path + ": not float32 (" + header + ")");
    if (header.find("'fortran_order': False") == std::string::npos) fail(path + ": not C order");
    size_t open = header.find("'shape': (");
    if (open == std::string::npos) fail(path + ": no shape");
    Array a;
    std::istringstream dims(header.substr(open + 10, header.find(')', open) - open - 10));
    for (std::string d; std::getline(dims, d, ',');)
        if (d.find_first_not_of(' ') != std::string::npos) a.shape.push_back(std::stoul(d));
    size_t n = 1;
    for (size_t d : a.shape) n *= d;
    a.data.resize(n);
    f.read(reinterpret_cast<char *>(a.data.data()), n * sizeof(float));
    if (!f) fail(path + ": short read");
    return a;
}

/// A float32, C-order .npy file, format version 1.0.
inline void save(std::string const &path, std::vector<size_t> const &shape, std::vector<float> const &data) {
    std::string dims;
    for (size_t d : shape) dims += std::to_string(d) + ", ";
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
    header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');  // the whole header: a multiple of 64 bytes
    header += '\n';
    std::ofstream f(path, std::ios::binary);
    uint16_t hlen = uint16_t(header.size());
    char const pre[8] = {'\x93', 'N', 'U', 'M', 'P', 'Y', 1, 0};
    char const len[2] = {char(hlen & 0xff), char(hlen >> 8)};
    f.write(pre, 8);
    f.write(len, 2);
    f.write(header.data(), header.size());
    f.write(reinterpret_cast<char const *>(data.data()), data.size() * sizeof(float));
    if (!f) fail("cannot write " + path);
}

/// The .npy at `path` (inner dimension P) into a stream of `words` words of P BITS-bit elements; each
/// value must be an integer that fits (two's complement when `is_signed`).
template <unsigned P, unsigned BITS>
void to_stream(std::string const &path, hls::stream<ap_uint<P * BITS>> &s, bool is_signed, size_t words) {
    Array const a = load(path);
    if (a.shape.empty() || a.shape.back() != P || a.data.size() != words * P)
        fail(path + ": shape does not match the stream's words and elements per word");
    int64_t const lo = is_signed ? -(int64_t(1) << (BITS - 1)) : 0;
    int64_t const hi = is_signed ? (int64_t(1) << (BITS - 1)) - 1 : (int64_t(1) << BITS) - 1;
    for (size_t i = 0; i < words; i++) {
        ap_uint<P * BITS> w = 0;
        for (unsigned p = 0; p < P; p++) {
            float const v = a.data[i * P + p];
            if (v != std::floor(v) || v < float(lo) || v > float(hi))
                fail(path + ": value " + std::to_string(v) + " is not an integer of the stream's type");
            w((p + 1) * BITS - 1, p * BITS) = ap_uint<BITS>(int64_t(v));
        }
        s.write(w);
    }
}

/// Every word of the stream (exactly prod(shape)/P must be waiting) into a float32 .npy of `shape`.
template <unsigned P, unsigned BITS, bool SIGNED>
void from_stream(hls::stream<ap_uint<P * BITS>> &s, std::vector<size_t> const &shape, std::string const &path) {
    size_t n = 1;
    for (size_t d : shape) n *= d;
    if (s.size() != n / P) fail(path + ": the kernel wrote a different number of words than the shape says");
    std::vector<float> data(n);
    for (size_t i = 0; i < n / P; i++) {
        ap_uint<P * BITS> const w = s.read();
        for (unsigned p = 0; p < P; p++) {
            ap_uint<BITS> const e = w((p + 1) * BITS - 1, p * BITS);
            data[i * P + p] = SIGNED ? float(ap_int<BITS>(e).to_int64()) : float(e.to_uint64());
        }
    }
    save(path, shape, data);
}

/// An input stream the kernel must have read to the end.
template <typename S>
void drained(S &s, char const *name) {
    if (!s.empty()) fail(std::string("the kernel left words unread in ") + name);
}

}  // namespace npy

#endif
