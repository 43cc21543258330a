// The emulator's runtime: launch checks, one fiber per CUDA thread, the scheduler that gives __syncthreads and
// the warp operations their semantics, per-block shared memory, and the C functions the Rust side calls.
//
// A block runs all its fibers on the calling OS thread. A fiber runs until it waits at a barrier or a warp
// operation, or ends; when none can run, the scheduler releases a warp whose named lanes all wait at the same
// operation (same kind, same mask), else the block if every thread waits at the same __syncthreads. Anything else
// (a barrier reached by only some threads, lanes at different operations, a shuffle naming an exited lane) is an
// error of the kernel that CUDA leaves undefined; the launch stops and reports it. One limit, stricter than CUDA:
// the lanes of a warp must pass the same number of warp operations. Blocks run in order: results are deterministic.
//
// Context switches: a few instructions of assembly on x86-64 (glibc's swapcontext makes a system call per switch,
// and a 256-thread block reduction switches ~10^4 times per row); ucontext elsewhere. AddressSanitizer is told
// about every stack switch, so it checks fiber stacks as it checks thread stacks.
#include "emu.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define EMU_ASAN 1
#else
#define EMU_ASAN 0
#endif

__thread uint3 threadIdx;
__thread uint3 blockIdx;
__thread uint3 blockDim;
__thread uint3 gridDim;

#if defined(__x86_64__)
// emu_switch(save, load): pushes the callee-saved registers and the FPU/SSE control words on the current stack,
// stores the stack pointer in *save, loads `load` as the stack pointer and pops the same frame from it. A fresh
// fiber's stack is prepared with that frame (see Fiber::prepare) whose return address is fiber_entry.
extern "C" void emu_switch(void** save, void* load);
asm(R"(
    .text
    .p2align 4
    .globl emu_switch
    .type emu_switch, @function
emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $16, %rsp
    fnstcw (%rsp)
    stmxcsr 8(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    fldcw (%rsp)
    ldmxcsr 8(%rsp)
    addq $16, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size emu_switch, .-emu_switch
)");
#endif

namespace emu {
namespace {

// Fiber stacks: the kernels' frames are small, AddressSanitizer's redzones make them larger.
constexpr size_t kStackBytes = 256 * 1024;
constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr size_t kMaxSharedBytes = 48 * 1024;  // what a block gets without opting in to more

enum class State { Ready, AtBarrier, AtWarp, Done };

struct Wait {
    const char* file = "";
    int line = 0;
    WarpOp op = WarpOp::Sync;
    unsigned mask = 0;
};

struct Fiber {
    char* stack = nullptr;  // lowest usable byte; a guard page lies below it
    void* sp = nullptr;
#if !defined(__x86_64__)
    ucontext_t context;
#endif
    void* fake_stack = nullptr;  // AddressSanitizer's per-fiber state across switches
    uint3 index{};
    State state = State::Ready;
    Wait wait;
    unsigned warp_ops = 0;  // warp operations this lane has passed: selects the exchange buffer, checks agreement
    bool vote = false;
};

// Stacks are mapped once per OS thread and reused by every block it runs.
struct StackPool {
    std::vector<char*> stacks;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    char* get(size_t i) {
        while (stacks.size() <= i) {
            void* base = mmap(nullptr, kStackBytes + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (base == MAP_FAILED) return nullptr;
            mprotect(base, page, PROT_NONE);  // a fiber that overflows its stack faults instead of corrupting
            stacks.push_back(static_cast<char*>(base) + page);
        }
        return stacks[i];
    }

    ~StackPool() {
        for (char* stack : stacks) munmap(stack - page, kStackBytes + page);
    }
};

struct Block {
    const char* kernel = "";
    void (*body)(void*) = nullptr;
    void* closure = nullptr;
    std::vector<Fiber>* fibers = nullptr;
    unsigned n_threads = 0;
    Fiber* current = nullptr;
    void* scheduler_sp = nullptr;
#if !defined(__x86_64__)
    ucontext_t scheduler_context;
#endif
    const void* scheduler_bottom = nullptr;
    size_t scheduler_size = 0;
    void* scheduler_fake_stack = nullptr;
    std::vector<uint64_t> exchange[2];  // per lane, two buffers so consecutive shuffles need one wait each
    std::vector<unsigned> votes;        // per warp
    std::vector<std::pair<const void*, void*>> shared;
    size_t shared_bytes = 0;
    void* dynamic_shared = nullptr;
    size_t dynamic_bytes = 0;
    std::string error;
};

__thread Block* tls_block = nullptr;
thread_local StackPool tls_stacks;

std::string where(const char* file, int line) {
    const char* slash = strrchr(file, '/');
    return std::string(slash ? slash + 1 : file) + ":" + std::to_string(line);
}

std::string thread_name(const uint3& t) {
    return "thread (" + std::to_string(t.x) + "," + std::to_string(t.y) + "," + std::to_string(t.z) + ")";
}

unsigned linear_index(const uint3& t) { return t.x + blockDim.x * (t.y + blockDim.y * t.z); }

void fail(Block& block, const std::string& message) {
    if (block.error.empty()) {
        block.error = "block (" + std::to_string(blockIdx.x) + "," + std::to_string(blockIdx.y) + "," +
                      std::to_string(blockIdx.z) + "): " + message;
    }
}

// Switches from the running fiber back to the scheduler. `finished`: the fiber never runs again.
void to_scheduler(Block& block, Fiber& fiber, bool finished) {
#if EMU_ASAN
    __sanitizer_start_switch_fiber(finished ? nullptr : &fiber.fake_stack, block.scheduler_bottom,
                                   block.scheduler_size);
#endif
#if defined(__x86_64__)
    emu_switch(&fiber.sp, block.scheduler_sp);
#else
    swapcontext(&fiber.context, &block.scheduler_context);
#endif
#if EMU_ASAN
    __sanitizer_finish_switch_fiber(fiber.fake_stack, &block.scheduler_bottom, &block.scheduler_size);
#endif
    (void)finished;
}

[[noreturn]] void fiber_entry() {
    Block& block = *tls_block;
    Fiber& fiber = *block.current;
#if EMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &block.scheduler_bottom, &block.scheduler_size);
#endif
    block.body(block.closure);
    fiber.state = State::Done;
    to_scheduler(block, fiber, true);
    __builtin_trap();  // a finished fiber is never resumed
}

#if !defined(__x86_64__)
void fiber_entry_c() { fiber_entry(); }
#endif

// Lays out a fresh fiber on its stack: the frame emu_switch pops, returning into fiber_entry.
void prepare(Fiber& fiber) {
#if defined(__x86_64__)
    uintptr_t top = ((uintptr_t)fiber.stack + kStackBytes) & ~(uintptr_t)15;
    uint64_t* frame = reinterpret_cast<uint64_t*>(top - 80);  // 16-aligned: fiber_entry starts at rsp = 8 mod 16
    memset(frame, 0, 80);
    uint32_t control_words[2] = {0x037f, 0x1f80};  // x87 and SSE defaults: round to nearest, no flush to zero
    memcpy(&frame[0], &control_words[0], 4);
    memcpy(&frame[1], &control_words[1], 4);
    frame[8] = (uint64_t)(uintptr_t)&fiber_entry;  // the return address of emu_switch's `ret`
    fiber.sp = frame;
#else
    getcontext(&fiber.context);
    fiber.context.uc_stack.ss_sp = fiber.stack;
    fiber.context.uc_stack.ss_size = kStackBytes;
    fiber.context.uc_link = nullptr;
    makecontext(&fiber.context, fiber_entry_c, 0);
#endif
}

void resume(Block& block, Fiber& fiber) {
    block.current = &fiber;
    threadIdx = fiber.index;
#if EMU_ASAN
    __sanitizer_start_switch_fiber(&block.scheduler_fake_stack, fiber.stack, kStackBytes);
#endif
#if defined(__x86_64__)
    emu_switch(&block.scheduler_sp, fiber.sp);
#else
    swapcontext(&block.scheduler_context, &fiber.context);
#endif
#if EMU_ASAN
    __sanitizer_finish_switch_fiber(block.scheduler_fake_stack, nullptr, nullptr);
#endif
    block.current = nullptr;
}

Block& running_block(const char* what, const char* file, int line) {
    Block* block = tls_block;
    if (block == nullptr || block->current == nullptr) {
        fprintf(stderr, "fastvision-cuda-emu: %s called outside a kernel (%s)\n", what, where(file, line).c_str());
        abort();
    }
    return *block;
}

// The fiber waits; returns when the scheduler released it.
void wait_here(Block& block, State state, const Wait& wait) {
    Fiber& fiber = *block.current;
    fiber.state = state;
    fiber.wait = wait;
    to_scheduler(block, fiber, false);
    threadIdx = fiber.index;
}

std::string describe(const Wait& wait) {
    const char* names[] = {"__syncwarp", "a shuffle", "a vote"};
    return std::string(names[(int)wait.op]) + " at " + where(wait.file, wait.line);
}

// Releases the lanes of one warp if all the lanes its waiting lanes name wait at the same operation; records an
// error when they never can. Returns whether any lane was released.
bool release_warp(Block& block, unsigned warp) {
    std::vector<Fiber>& fibers = *block.fibers;
    const unsigned first = warp * 32, end = std::min(first + 32, block.n_threads);
    Fiber* leader = nullptr;
    for (unsigned t = first; t < end && !leader; ++t)
        if (fibers[t].state == State::AtWarp) leader = &fibers[t];
    if (!leader) return false;
    const unsigned mask = leader->wait.mask;
    for (unsigned lane = 0; lane < 32; ++lane) {
        if (!(mask >> lane & 1u)) continue;
        const unsigned t = first + lane;
        if (t >= end) {
            fail(block, describe(leader->wait) + " names lane " + std::to_string(lane) + " of warp " +
                            std::to_string(warp) + ", which the block does not have");
            return false;
        }
        const Fiber& other = fibers[t];
        if (other.state != State::AtWarp) {
            const char* doing = other.state == State::Done ? "has exited" : "waits at __syncthreads";
            fail(block, thread_name(leader->index) + " waits at " + describe(leader->wait) + " with lane " +
                            std::to_string(lane) + " in its mask, but " + thread_name(other.index) + " " + doing);
            return false;
        }
        // CUDA pairs the lanes of one kind of operation with one mask, wherever each calls it from.
        if (other.wait.op != leader->wait.op || other.wait.mask != mask || other.warp_ops != leader->warp_ops) {
            fail(block, "lanes of warp " + std::to_string(warp) + " are at different warp operations: " +
                            thread_name(leader->index) + " at " + describe(leader->wait) + ", " +
                            thread_name(other.index) + " at " + describe(other.wait));
            return false;
        }
    }
    unsigned ballot = 0;
    for (unsigned lane = 0; lane < 32; ++lane)
        if ((mask >> lane & 1u) && fibers[first + lane].vote) ballot |= 1u << lane;
    block.votes[warp] = ballot;
    for (unsigned lane = 0; lane < 32; ++lane)
        if (mask >> lane & 1u) fibers[first + lane].state = State::Ready;
    return true;
}

// Releases the block from __syncthreads when every thread waits at the same one; else records the error.
void release_block(Block& block) {
    std::vector<Fiber>& fibers = *block.fibers;
    const Fiber* leader = nullptr;
    for (const Fiber& fiber : fibers)
        if (fiber.state == State::AtBarrier) {
            leader = &fiber;
            break;
        }
    for (const Fiber& fiber : fibers) {
        if (fiber.state == State::Done) {
            fail(block, leader ? thread_name(leader->index) + " waits at __syncthreads (" +
                                     where(leader->wait.file, leader->wait.line) + ") but " +
                                     thread_name(fiber.index) + " has exited"
                               : std::string("no thread can run: the lanes of a warp wait for each other"));
            return;
        }
        if (fiber.state == State::AtWarp) {
            fail(block, thread_name(fiber.index) + " waits at " + describe(fiber.wait) +
                            (leader ? " while " + thread_name(leader->index) + " waits at __syncthreads (" +
                                          where(leader->wait.file, leader->wait.line) + ")"
                                    : std::string(" and its lanes never all arrive")));
            return;
        }
        if (fiber.wait.line != leader->wait.line || strcmp(fiber.wait.file, leader->wait.file) != 0) {
            fail(block, "threads wait at different __syncthreads: " + thread_name(leader->index) + " at " +
                            where(leader->wait.file, leader->wait.line) + ", " + thread_name(fiber.index) + " at " +
                            where(fiber.wait.file, fiber.wait.line));
            return;
        }
    }
    for (Fiber& fiber : fibers) fiber.state = State::Ready;
}

void run_block(Block& block) {
    std::vector<Fiber>& fibers = *block.fibers;
    for (;;) {
        bool ran = false, all_done = true;
        for (Fiber& fiber : fibers) {
            if (!block.error.empty()) return;
            if (fiber.state == State::Ready) {
                resume(block, fiber);
                ran = true;
            }
            all_done &= fiber.state == State::Done;
        }
        if (all_done || !block.error.empty()) return;
        if (ran) continue;
        bool released = false;
        for (unsigned warp = 0; warp * 32 < block.n_threads && block.error.empty(); ++warp)
            released |= release_warp(block, warp);
        if (!released && block.error.empty()) release_block(block);
    }
}

void free_shared(Block& block) {
    for (auto& entry : block.shared) free(entry.second);
    block.shared.clear();
    block.shared_bytes = 0;
    free(block.dynamic_shared);
    block.dynamic_shared = nullptr;
}

void* fill_garbage(void* memory, size_t bytes) {
    // Shared memory starts undefined on a GPU; all-ones bytes (NaN, -1) make a read before a write show.
    if (memory) memset(memory, 0xff, bytes);
    return memory;
}

}  // namespace

// ---------------------------------------------------------------------------- entry points of the kernels

void block_barrier(const char* file, int line) {
    Block& block = running_block("__syncthreads", file, line);
    wait_here(block, State::AtBarrier, Wait{file, line, WarpOp::Sync, 0});
}

namespace {
// One warp operation: deposit, wait for the lanes of `mask`, return (the caller reads what it needs).
unsigned warp_wait(Block& block, unsigned mask, WarpOp op, const char* file, int line) {
    Fiber& fiber = *block.current;
    const unsigned lane = linear_index(fiber.index) % 32;
    if (!(mask >> lane & 1u)) {
        fail(block, thread_name(fiber.index) + " calls " + describe(Wait{file, line, op, mask}) +
                        " with a mask that leaves out its own lane " + std::to_string(lane));
    }
    wait_here(block, State::AtWarp, Wait{file, line, op, mask});
    return fiber.warp_ops++;
}
}  // namespace

uint64_t warp_exchange(unsigned mask, uint64_t bits, Lane rule, int arg, int width, const char* file, int line) {
    Block& block = running_block("a warp shuffle", file, line);
    Fiber& fiber = *block.current;
    const unsigned t = linear_index(fiber.index), lane = t % 32, first = t - lane;
    if (width < 1 || width > 32 || (width & (width - 1)) != 0) {
        fail(block, "shuffle width " + std::to_string(width) + " at " + where(file, line) +
                        " is not a power of two in 1..32");
        return bits;
    }
    std::vector<uint64_t>& slots = block.exchange[fiber.warp_ops % 2];
    slots[t] = bits;
    warp_wait(block, mask, WarpOp::Shuffle, file, line);
    // CUDA's source lane, within the caller's `width`-wide segment.
    const int segment = (int)(lane / width) * width, in_segment = (int)lane - segment;
    int source = (int)lane;
    switch (rule) {
    case Lane::Index: source = segment + ((arg % width) + width) % width; break;
    case Lane::Up: source = in_segment >= arg ? (int)lane - arg : (int)lane; break;
    case Lane::Down: source = in_segment + arg < width ? (int)lane + arg : (int)lane; break;
    case Lane::Xor: {
        const int target = (int)lane ^ arg;
        source = target < segment + width ? target : (int)lane;  // later segments give the caller's own value
        break;
    }
    }
    if (source < 0 || source > 31 || !(mask >> source & 1u)) {
        fail(block, thread_name(fiber.index) + " reads lane " + std::to_string(source) + " in the shuffle at " +
                        where(file, line) + ", outside its mask (the value is undefined in CUDA)");
        return bits;
    }
    return slots[first + (unsigned)source];
}

unsigned warp_vote(unsigned mask, bool predicate, const char* file, int line) {
    Block& block = running_block("a warp vote", file, line);
    Fiber& fiber = *block.current;
    fiber.vote = predicate;
    warp_wait(block, mask, WarpOp::Vote, file, line);
    return block.votes[linear_index(fiber.index) / 32] & mask;
}

void warp_sync(unsigned mask, const char* file, int line) {
    Block& block = running_block("__syncwarp", file, line);
    warp_wait(block, mask, WarpOp::Sync, file, line);
}

unsigned lane_mask_of_block() {
    Block& block = running_block("__activemask", "", 0);
    const unsigned first = linear_index(block.current->index) / 32 * 32;
    const unsigned lanes = std::min(32u, block.n_threads - first);
    return lanes == 32 ? 0xffffffffu : (1u << lanes) - 1u;
}

void* block_shared(const void* key, size_t bytes, size_t align) {
    Block& block = running_block("__shared__", "", 0);
    for (auto& entry : block.shared)
        if (entry.first == key) return entry.second;
    if (block.shared_bytes + bytes + block.dynamic_bytes > kMaxSharedBytes) {
        fail(block, "__shared__ memory of " + std::to_string(block.shared_bytes + bytes + block.dynamic_bytes) +
                        " bytes exceeds the 48 KiB a block gets by default");
    }
    void* memory = nullptr;
    if (posix_memalign(&memory, align < sizeof(void*) ? sizeof(void*) : align, bytes ? bytes : 1) != 0) abort();
    block.shared.emplace_back(key, fill_garbage(memory, bytes));
    block.shared_bytes += bytes;
    return memory;
}

void* dynamic_shared() {
    Block& block = running_block("extern __shared__", "", 0);
    return block.dynamic_shared;
}

void trap(const char* what, const char* file, int line) {
    Block& block = running_block(what, file, line);
    fail(block, thread_name(block.current->index) + " executed " + what + " at " + where(file, line));
    Fiber& fiber = *block.current;
    fiber.state = State::Done;
    to_scheduler(block, fiber, true);
    __builtin_trap();
}

// Runs every block of a launch; returns nullptr, or a message (valid until the next launch on this OS thread).
const char* run_grid(const char* kernel, Dim3 grid, Dim3 block_dim, unsigned dynamic_bytes, void (*body)(void*),
                     void* closure) {
    static thread_local std::string message;
    message.clear();
    auto invalid = [&](const std::string& why) {
        message = std::string(kernel) + ": invalid launch: " + why;
        return message.c_str();
    };
    const unsigned long long n_threads = (unsigned long long)block_dim.x * block_dim.y * block_dim.z;
    if (grid.x == 0 || grid.y == 0 || grid.z == 0) return invalid("a grid dimension is 0");
    if (grid.x > 0x7fffffffu || grid.y > 65535u || grid.z > 65535u) return invalid("grid beyond CUDA's limits");
    if (n_threads == 0 || n_threads > kMaxThreadsPerBlock || block_dim.x > 1024 || block_dim.y > 1024 ||
        block_dim.z > 64)
        return invalid("block of " + std::to_string(n_threads) + " threads beyond CUDA's limits (1024, z <= 64)");
    if (dynamic_bytes > kMaxSharedBytes) return invalid("dynamic shared memory above 48 KiB");
    if (tls_block != nullptr) return invalid("a kernel launched from inside a kernel");

    std::vector<Fiber> fibers(n_threads);
    for (unsigned t = 0; t < n_threads; ++t) {
        fibers[t].stack = tls_stacks.get(t);
        if (fibers[t].stack == nullptr) return invalid("cannot map fiber stacks");
    }
    Block block;
    block.kernel = kernel;
    block.body = body;
    block.closure = closure;
    block.fibers = &fibers;
    block.n_threads = (unsigned)n_threads;
    const unsigned n_warps = (unsigned)((n_threads + 31) / 32);
    block.exchange[0].assign(n_warps * 32, 0);
    block.exchange[1].assign(n_warps * 32, 0);
    block.votes.assign(n_warps, 0);
    block.dynamic_bytes = dynamic_bytes;
    gridDim = uint3{grid.x, grid.y, grid.z};
    blockDim = uint3{block_dim.x, block_dim.y, block_dim.z};
    tls_block = &block;
    for (unsigned bz = 0; bz < grid.z && block.error.empty(); ++bz)
        for (unsigned by = 0; by < grid.y && block.error.empty(); ++by)
            for (unsigned bx = 0; bx < grid.x && block.error.empty(); ++bx) {
                blockIdx = uint3{bx, by, bz};
                for (unsigned t = 0; t < n_threads; ++t) {
                    Fiber& fiber = fibers[t];
                    fiber.index = uint3{t % block_dim.x, t / block_dim.x % block_dim.y, t / (block_dim.x * block_dim.y)};
                    fiber.state = State::Ready;
                    fiber.warp_ops = 0;
                    fiber.fake_stack = nullptr;
                    prepare(fiber);
                }
                if (dynamic_bytes > 0) {
                    if (posix_memalign(&block.dynamic_shared, 16, dynamic_bytes) != 0) abort();
                    fill_garbage(block.dynamic_shared, dynamic_bytes);
                }
                run_block(block);
                free_shared(block);
            }
#if EMU_ASAN
    // An aborted block leaves its fibers' frames (and their poisoned redzones) on stacks the next launch reuses.
    // Finished fibers have unwound theirs, so only this path needs it.
    if (!block.error.empty())
        for (const Fiber& fiber : fibers) ASAN_UNPOISON_MEMORY_REGION(fiber.stack, kStackBytes);
#endif
    tls_block = nullptr;
    if (!block.error.empty()) message = std::string(kernel) + ": " + block.error;
    return message.empty() ? nullptr : message.c_str();
}

}  // namespace emu

// ---------------------------------------------------------------------------- for the Rust side's own tests

extern "C" uint16_t emu_f32_to_f16_bits(float f) { return emu::float_to_half_bits(f); }
extern "C" float emu_f16_bits_to_f32(uint16_t h) { return emu::half_bits_to_float(h); }
extern "C" uint16_t emu_f32_to_bf16_bits(float f) { return emu::float_to_bfloat16_bits(f); }
extern "C" int emu_sanitized() { return EMU_ASAN; }
