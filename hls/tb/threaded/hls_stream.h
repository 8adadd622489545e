// hls::stream for the whole-network C simulation (hls/network.py; not synthesized, never used by the
// per-layer testbench): a bounded FIFO between two kernel threads at the depth the build gives it.
// A write to a full stream or a read from an empty one waits; when every kernel waits and nothing has
// moved for a while, the program reports the deadlock in one line naming the full streams and exits.
#ifndef CODENET_THREADED_HLS_STREAM_H
#define CODENET_THREADED_HLS_STREAM_H

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <string>

namespace hls {

namespace net {

/// What every stream shares: the kernels running, those waiting, and a count of words moved.
struct Monitor {
    std::atomic<int> running{0}, waiting{0};
    std::atomic<unsigned long> moved{0};
};

inline Monitor &monitor() {
    static Monitor m;
    return m;
}

}  // namespace net

template <typename T>
class stream {
  public:
    stream() : stream("stream") {}
    explicit stream(char const *name, size_t depth = 2) : name_(name), depth_(depth) {}
    stream(stream const &) = delete;
    stream &operator=(stream const &) = delete;

    void set_depth(size_t depth) { depth_ = depth; }
    void set_name(char const *name) { name_ = name; }
    std::string const &name() const { return name_; }
    size_t depth() const { return depth_; }
    size_t high_water() const { return high_; }
    bool is_full_waiting() const { return writers_waiting_ > 0; }

    void write(T const &v) {
        std::unique_lock<std::mutex> l(m_);
        if (q_.size() >= depth_) {
            wait(l, writers_waiting_, [&] { return q_.size() < depth_; });
        }
        q_.push_back(v);
        if (q_.size() > high_) high_ = q_.size();
        net::monitor().moved++;
        if (readers_waiting_) cv_.notify_all();  // counted under the lock: no wake-up is lost
    }

    T read() {
        std::unique_lock<std::mutex> l(m_);
        if (q_.empty()) wait(l, readers_waiting_, [&] { return !q_.empty(); });
        T v = q_.front();
        q_.pop_front();
        net::monitor().moved++;
        if (writers_waiting_) cv_.notify_all();
        return v;
    }

    void operator<<(T const &v) { write(v); }
    void operator>>(T &v) { v = read(); }
    bool empty() {
        std::lock_guard<std::mutex> l(m_);
        return q_.empty();
    }
    bool full() {
        std::lock_guard<std::mutex> l(m_);
        return q_.size() >= depth_;
    }
    size_t size() {
        std::lock_guard<std::mutex> l(m_);
        return q_.size();
    }

  private:
    template <typename Ready>
    void wait(std::unique_lock<std::mutex> &l, std::atomic<int> &waiters, Ready ready) {
        waiters++;
        net::monitor().waiting++;
        cv_.wait(l, ready);
        net::monitor().waiting--;
        waiters--;
    }

    std::string name_;
    size_t depth_;
    size_t high_ = 0;
    std::atomic<int> readers_waiting_{0}, writers_waiting_{0};
    std::deque<T> q_;
    std::mutex m_;
    std::condition_variable cv_;
};

}  // namespace hls

#endif
