// hls::stream for the whole-network C simulation (hls/network.py; not synthesized, never used by the
// per-layer testbench): a bounded FIFO at the depth the build gives it, between two kernels on fibers
// (fiber.h). Reading an empty stream or writing a full one hands the thread to the kernel at the other
// end; when no kernel can move, the program names the full streams (a deadlock) and exits.
#ifndef CODENET_NET_HLS_STREAM_H
#define CODENET_NET_HLS_STREAM_H

#include <string>
#include <vector>

#include "fiber.h"

namespace hls {

namespace net {

/// What a deadlock report and the high-water marks need of every stream.
struct StreamInfo {
    virtual ~StreamInfo() = default;
    virtual std::string const &name() const = 0;
    virtual size_t depth() const = 0;
    virtual size_t size() const = 0;
    virtual size_t high_water() const = 0;
    virtual bool writer_waits() const = 0;
};

inline std::vector<StreamInfo const *> &streams() {
    static std::vector<StreamInfo const *> all;
    return all;
}

}  // namespace net

template <typename T>
class stream : public net::StreamInfo {
  public:
    stream() : stream("stream") {}
    explicit stream(char const *name, size_t depth = 2) : name_(name) {
        set_depth(depth);
        net::streams().push_back(this);
    }
    stream(stream const &) = delete;
    stream &operator=(stream const &) = delete;
    ~stream() override {
        auto &all = net::streams();
        for (auto it = all.begin(); it != all.end(); ++it)
            if (*it == this) {
                all.erase(it);
                break;
            }
    }

    void set_depth(size_t depth) {
        cap_ = depth ? depth : 1;
        ring_.assign(cap_, T());
        head_ = count_ = 0;
    }
    void set_name(char const *name) { name_ = name; }
    std::string const &name() const override { return name_; }
    size_t depth() const override { return cap_; }
    size_t size() const override { return count_; }
    size_t high_water() const override { return high_; }
    bool writer_waits() const override { return writer_waiting_; }

    void write(T const &v) {
        if (count_ == cap_) wait_for_room();
        size_t at = head_ + count_;
        ring_[at < cap_ ? at : at - cap_] = v;
        if (++count_ > high_) high_ = count_;
        if (reader_waiting_) wake_reader();
    }

    T read() {
        if (count_ == 0) wait_for_data();
        T v = ring_[head_];
        if (++head_ == cap_) head_ = 0;
        count_--;
        if (writer_waiting_) wake_writer();
        return v;
    }

    void operator<<(T const &v) { write(v); }
    void operator>>(T &v) { v = read(); }
    bool empty() const { return count_ == 0; }
    bool full() const { return count_ == cap_; }

  private:
    // the waits and wake-ups: inlined into the kernel's loop too (out of line, they cost a third more)
    void wait_for_room() {
        net::Scheduler &s = net::scheduler();
        writer_ = s.current;
        while (count_ == cap_) {
            writer_waiting_ = true;
            s.block(reader_);
        }
    }
    void wait_for_data() {
        net::Scheduler &s = net::scheduler();
        reader_ = s.current;
        while (count_ == 0) {
            reader_waiting_ = true;
            s.block(writer_);
        }
    }
    void wake_reader() {
        reader_waiting_ = false;
        net::scheduler().wake(reader_);
    }
    void wake_writer() {
        writer_waiting_ = false;
        net::scheduler().wake(writer_);
    }

    std::string name_;
    std::vector<T> ring_;
    size_t cap_ = 1, head_ = 0, count_ = 0, high_ = 0;
    net::Fiber *reader_ = nullptr, *writer_ = nullptr;  // the kernels at each end, once one has waited
    bool reader_waiting_ = false, writer_waiting_ = false;
};

}  // namespace hls

#endif
