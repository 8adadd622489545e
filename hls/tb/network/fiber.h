// Fibers for the whole-network C simulation (hls/network.py; never synthesized): every kernel runs on
// a stack of its own inside one OS thread, and a stream read from empty or a write to full switches to
// the kernel at the stream's other end. Kernels trade words through depth-2 FIFOs, so a switch is due
// every word or two: a user-level switch (a few nanoseconds: callee-saved registers and the stack
// pointer) instead of an OS thread's mutex and wake-up (microseconds) is what makes the program fast.
// No fiber is ready and some wait: that is a deadlock, known at once and for certain.
#ifndef CODENET_NET_FIBER_H
#define CODENET_NET_FIBER_H

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#if !defined(__x86_64__) || defined(CODENET_FIBER_UCONTEXT)
#define CODENET_FIBER_USE_UCONTEXT 1
#include <ucontext.h>
#endif

namespace hls {
namespace net {

#ifndef CODENET_FIBER_USE_UCONTEXT
extern "C" void codenet_fiber_switch(void **save, void *load);
#ifdef CODENET_NET_MAIN  // defined once, in the program's main translation unit
// void codenet_fiber_switch(void **save, void *load): push the System V callee-saved registers, store
// the stack pointer at *save, continue on the stack `load` (saved by an earlier switch, or prepared by
// Fiber::Fiber to "return" into fiber_entry). It returns by an indirect jump, not `ret`: the return
// stack predicts the caller's own address, which is wrong on every switch; the jump's target is
// predicted from its history, and the partners alternate.
asm(R"(
    .text
    .globl codenet_fiber_switch
    .type codenet_fiber_switch, @function
codenet_fiber_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    popq %rax
    jmpq *%rax
    .size codenet_fiber_switch, .-codenet_fiber_switch
    .section .note.GNU-stack,"",@progbits
    .text
)");
#endif
#endif

struct Fiber {
    enum State { READY, RUNNING, WAITING, DONE };

    std::function<void()> body;
    std::string name;
    State state = READY;
    bool queued = false;  // in the ready queue (at most once)
    void *sp = nullptr;
    char *stack = nullptr;
    size_t stack_bytes = 0;
#ifdef CODENET_FIBER_USE_UCONTEXT
    ucontext_t context;
#endif

    Fiber() = default;  // the main program's own context
    Fiber(std::function<void()> f, std::string n, size_t bytes);
    ~Fiber() {
        if (stack) munmap(stack, stack_bytes);
    }
};

/// Round-robin over the ready fibers, with a hand-off to the stream's other end on a block.
class Scheduler {
  public:
    Fiber *current = &main_;
    bool deadlocked = false;

    void spawn(std::function<void()> body, std::string name, size_t stack_bytes = size_t(64) << 20) {
        fibers_.emplace_back(new Fiber(std::move(body), std::move(name), stack_bytes));
        fibers_.back()->queued = true;  // run() queues every fiber
    }

    /// Runs the fibers until every one is done (true) or none can move (false: a deadlock).
    bool run() {
        std::vector<Fiber *> queue(fibers_.size());  // at most one entry a fiber
        for (size_t i = 0; i < fibers_.size(); i++) queue[i] = fibers_[i].get();
        ready_ = std::move(queue);
        head_ = 0;
        count_ = ready_.size();
        Fiber *next = pop();
        if (next) switch_to(next);  // back here when every fiber is done or all wait
        for (auto const &f : fibers_)
            if (f->state != Fiber::DONE) return !(deadlocked = true);
        return true;
    }

    /// The current fiber waits; `partner` (the stream's other end) runs next if it can.
    void block(Fiber *partner) {
        current->state = Fiber::WAITING;
        Fiber *next = (partner && partner->state == Fiber::READY) ? partner : pop();
        switch_to(next ? next : &main_);  // main_: nothing is ready, a deadlock
    }

    /// f may continue (what it waited for happened).
    void wake(Fiber *f) {
        if (f->state == Fiber::WAITING) {
            f->state = Fiber::READY;
            enqueue(f);
        }
    }

    [[noreturn]] void finish() {  // the current fiber's body returned
        current->state = Fiber::DONE;
        Fiber *next = pop();
        switch_to(next ? next : &main_);
        std::abort();  // a finished fiber is never resumed
    }

    std::vector<std::string> waiting() const {
        std::vector<std::string> names;
        for (auto const &f : fibers_)
            if (f->state == Fiber::WAITING) names.push_back(f->name);
        return names;
    }

  private:
    void enqueue(Fiber *f) {  // a ring of one slot a fiber: `queued` keeps it from overflowing
        if (!f->queued) {
            f->queued = true;
            size_t at = head_ + count_++;
            ready_[at < ready_.size() ? at : at - ready_.size()] = f;
        }
    }

    Fiber *pop() {
        while (count_) {
            Fiber *f = ready_[head_];
            if (++head_ == ready_.size()) head_ = 0;
            count_--;
            f->queued = false;
            if (f->state == Fiber::READY) return f;  // one run by a hand-off meanwhile is stale
        }
        return nullptr;
    }

    void switch_to(Fiber *next) {
        Fiber *prev = current;
        if (next == prev) {
            prev->state = Fiber::RUNNING;
            return;
        }
        if (prev->state == Fiber::RUNNING) prev->state = Fiber::READY;
        current = next;
        if (next != &main_) next->state = Fiber::RUNNING;
#ifdef CODENET_FIBER_USE_UCONTEXT
        swapcontext(&prev->context, &next->context);
#else
        codenet_fiber_switch(&prev->sp, next->sp);
#endif
    }

    Fiber main_;
    std::vector<std::unique_ptr<Fiber>> fibers_;
    std::vector<Fiber *> ready_;
    size_t head_ = 0, count_ = 0;
};

inline Scheduler the_scheduler;  // one a program (C++17 inline variable: no guard on each use)

inline Scheduler &scheduler() { return the_scheduler; }

inline void fiber_entry() {
    Scheduler &s = scheduler();
    s.current->body();
    s.finish();
}

#ifdef CODENET_FIBER_USE_UCONTEXT
inline void fiber_entry_ucontext() { fiber_entry(); }
#endif

inline Fiber::Fiber(std::function<void()> f, std::string n, size_t bytes)
    : body(std::move(f)), name(std::move(n)), stack_bytes(bytes) {
    // reserved, not committed: a kernel's stack costs the pages it touches; the lowest page is a guard
    void *p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        std::fprintf(stderr, "csim error: cannot map a %zu-byte stack for %s\n", bytes, name.c_str());
        std::exit(2);
    }
    stack = static_cast<char *>(p);
    mprotect(stack, size_t(sysconf(_SC_PAGESIZE)), PROT_NONE);
#ifdef CODENET_FIBER_USE_UCONTEXT
    getcontext(&context);
    context.uc_stack.ss_sp = stack;
    context.uc_stack.ss_size = bytes;
    context.uc_link = nullptr;
    makecontext(&context, fiber_entry_ucontext, 0);
#else
    // the first switch pops six zeroed registers and "returns" into fiber_entry with the stack as a
    // call leaves it (16-byte aligned before the call, so 8 mod 16 at entry)
    auto top = reinterpret_cast<uintptr_t>(stack + bytes) & ~uintptr_t(15);
    void **frame = reinterpret_cast<void **>(top - 16);
    frame[0] = reinterpret_cast<void *>(&fiber_entry);
    frame[1] = nullptr;
    frame -= 6;
    for (int i = 0; i < 6; i++) frame[i] = nullptr;
    sp = frame;
#endif
}

}  // namespace net
}  // namespace hls

#endif
