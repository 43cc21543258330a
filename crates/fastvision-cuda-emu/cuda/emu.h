// The CUDA dialect of fastvision's kernels, for the host: build.rs force-includes this header (`-include`) before
// every .cu it compiles as C++, so the kernels run on the CPU unchanged.
//
// Execution model (runtime.cpp): a launch runs its blocks one after the other on the calling OS thread; every
// thread of a block is a fiber, and a fiber runs until it waits (`__syncthreads`, a warp shuffle or vote) or ends,
// so barriers and shuffles have CUDA's semantics without OS threads. The built-in variables below are per OS
// thread and set by the scheduler before it resumes a fiber. `__shared__` declarations are rewritten by build.rs
// into EMU_SHARED (one heap allocation per block, so AddressSanitizer sees overflows) and `extern __shared__` into
// EMU_DYNAMIC_SHARED (the launch's dynamic shared memory).
//
// Arithmetic: build.rs compiles with -ffp-contract=off, as the GPU build uses --fmad=false, so `a * b + c` rounds
// twice on both. Intrinsics that are exact IEEE operations on the GPU (__fmul_rn, __fadd_rn, ...) are the plain
// operators; the fast approximations (__expf, __logf, __fdividef) are the correctly rounded functions, so the
// emulation is at least as accurate as the GPU there. libm's expf/logf/... are within CUDA's documented ulp bounds
// of the GPU's, not bit-identical to them.
#pragma once

#include <math.h>  // libstdc++'s math.h: float overloads in the global namespace (log1p(float) is log1pf, as in CUDA)
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <type_traits>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __constant__
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
// `__restrict__` is a GCC keyword already. `__noinline__` is left undefined: libstdc++ spells GCC's attribute so.

struct uint3 {
    unsigned int x, y, z;
};
typedef uint3 dim3;

// Set by the scheduler: the running fiber's thread index, and its block's index and shape.
extern __thread uint3 threadIdx;
extern __thread uint3 blockIdx;
extern __thread uint3 blockDim;
extern __thread uint3 gridDim;
constexpr int warpSize = 32;

namespace emu {

// Grid and block shape at the C boundary (Rust's `Dim3`).
struct Dim3 {
    unsigned int x, y, z;
};

enum class WarpOp : int { Sync = 0, Shuffle = 1, Vote = 2 };
enum class Lane : int { Index = 0, Up = 1, Down = 2, Xor = 3 };

void block_barrier(const char* file, int line);
// Deposits `bits`, waits for the lanes of `mask` at the same op, and returns the bits of the source lane that
// `rule`/`arg`/`width` select (CUDA's rules; the caller's own bits where CUDA returns its own value).
uint64_t warp_exchange(unsigned mask, uint64_t bits, Lane rule, int arg, int width, const char* file, int line);
// Waits for the lanes of `mask`; returns the OR of `1 << lane` over the lanes that passed `predicate`.
unsigned warp_vote(unsigned mask, bool predicate, const char* file, int line);
void warp_sync(unsigned mask, const char* file, int line);
unsigned lane_mask_of_block();
void* block_shared(const void* key, size_t bytes, size_t align);
void* dynamic_shared();
[[noreturn]] void trap(const char* what, const char* file, int line);

// Runs `body(closure)` as every thread of every block; nullptr, or what went wrong (see runtime.cpp).
const char* run_grid(const char* kernel, Dim3 grid, Dim3 block, unsigned dynamic_bytes, void (*body)(void*),
                     void* closure);

// The kind of a kernel parameter as signatures.rs names it: p(ointer), i(nt), l(ong long), f(loat), d(ouble).
template <class T> constexpr char kind_of() {
    if constexpr (std::is_pointer<T>::value) return 'p';
    else if constexpr (std::is_same<T, int>::value) return 'i';
    else if constexpr (std::is_same<T, long long>::value || std::is_same<T, long>::value) return 'l';
    else if constexpr (std::is_same<T, float>::value) return 'f';
    else if constexpr (std::is_same<T, double>::value) return 'd';
    else return '?';
}

// Whether a kernel's parameters have the kinds `expected` lists (the generated launchers static_assert it).
template <class... P> constexpr bool signature_is(void (*)(P...), const char* expected) {
    constexpr char kinds[] = {kind_of<P>()..., '\0'};
    for (size_t i = 0;; ++i) {
        if (kinds[i] != expected[i]) return false;
        if (kinds[i] == '\0') return true;
    }
}

// A launcher's argument as the kernel's parameter: pointers arrive as void*, scalars as themselves.
template <class P, class A> P argument(A value) {
    if constexpr (std::is_pointer<P>::value) {
        return static_cast<P>(value);
    } else {
        static_assert(std::is_same<P, A>::value, "a scalar argument of another type than the kernel's parameter");
        return value;
    }
}

// Launches `kernel` on the host: what every generated emu_launch_<name> calls.
template <class... P, class... A>
const char* launch(const char* name, void (*kernel)(P...), Dim3 grid, Dim3 block, unsigned dynamic_bytes,
                   A... args) {
    static_assert(sizeof...(P) == sizeof...(A), "a launcher with another argument count than its kernel");
    auto body = [&]() { kernel(argument<P>(args)...); };
    using Body = decltype(body);
    return run_grid(name, grid, block, dynamic_bytes, [](void* closure) { (*static_cast<Body*>(closure))(); },
                    &body);
}

template <class T> T shuffle(unsigned mask, T var, Lane rule, int arg, int width, const char* file, int line) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "CUDA shuffles move 4- and 8-byte values");
    uint64_t bits = 0;
    memcpy(&bits, &var, sizeof(T));
    bits = warp_exchange(mask, bits, rule, arg, width, file, line);
    memcpy(&var, &bits, sizeof(T));
    return var;
}

}  // namespace emu

#define EMU_SHARED(TYPE, NAME, DIMS)                                                                            \
    static char emu_shared_key_##NAME;                                                                           \
    TYPE(&NAME) DIMS = *static_cast<TYPE(*) DIMS>(                                                                \
        ::emu::block_shared(&emu_shared_key_##NAME, sizeof(TYPE DIMS), alignof(TYPE)))
#define EMU_DYNAMIC_SHARED(TYPE, NAME) TYPE* NAME = static_cast<TYPE*>(::emu::dynamic_shared())

// ------------------------------------------------------------------------------------------ synchronisation
inline void __syncthreads(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    ::emu::block_barrier(file, line);
}
inline void __syncwarp(unsigned mask = 0xffffffffu, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    ::emu::warp_sync(mask, file, line);
}
inline void __threadfence() {}
inline void __threadfence_block() {}
inline unsigned __activemask() { return ::emu::lane_mask_of_block(); }
inline void __trap(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    ::emu::trap("__trap()", file, line);
}

template <class T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize, const char* file = __builtin_FILE(),
              int line = __builtin_LINE()) {
    return ::emu::shuffle(mask, var, ::emu::Lane::Index, src_lane, width, file, line);
}
template <class T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize, const char* file = __builtin_FILE(),
                 int line = __builtin_LINE()) {
    return ::emu::shuffle(mask, var, ::emu::Lane::Up, (int)delta, width, file, line);
}
template <class T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize, const char* file = __builtin_FILE(),
                   int line = __builtin_LINE()) {
    return ::emu::shuffle(mask, var, ::emu::Lane::Down, (int)delta, width, file, line);
}
template <class T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize, const char* file = __builtin_FILE(),
                  int line = __builtin_LINE()) {
    return ::emu::shuffle(mask, var, ::emu::Lane::Xor, lane_mask, width, file, line);
}
inline unsigned __ballot_sync(unsigned mask, int predicate, const char* file = __builtin_FILE(),
                              int line = __builtin_LINE()) {
    return ::emu::warp_vote(mask, predicate != 0, file, line);
}
inline int __all_sync(unsigned mask, int predicate, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    return ::emu::warp_vote(mask, predicate != 0, file, line) == mask;
}
inline int __any_sync(unsigned mask, int predicate, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    return ::emu::warp_vote(mask, predicate != 0, file, line) != 0;
}

// ------------------------------------------------------------------------------------------------ atomics
// A launch runs on one OS thread and a fiber is never interrupted between two of its instructions, so a plain
// read-modify-write is atomic here.
template <class T> T atomicAdd(T* address, T value) {
    const T old = *address;
    *address = old + value;
    return old;
}
template <class T> T atomicSub(T* address, T value) {
    static_assert(std::is_integral<T>::value, "CUDA's atomicSub takes integers");
    const T old = *address;
    *address = old - value;
    return old;
}
template <class T> T atomicExch(T* address, T value) {
    const T old = *address;
    *address = value;
    return old;
}
template <class T> T atomicMin(T* address, T value) {
    static_assert(std::is_integral<T>::value, "CUDA's atomicMin takes integers");
    const T old = *address;
    *address = value < old ? value : old;
    return old;
}
template <class T> T atomicMax(T* address, T value) {
    static_assert(std::is_integral<T>::value, "CUDA's atomicMax takes integers");
    const T old = *address;
    *address = value > old ? value : old;
    return old;
}
template <class T> T atomicCAS(T* address, T compare, T value) {
    const T old = *address;
    if (old == compare) *address = value;
    return old;
}
template <class T> T atomicAnd(T* address, T value) {
    const T old = *address;
    *address = old & value;
    return old;
}
template <class T> T atomicOr(T* address, T value) {
    const T old = *address;
    *address = old | value;
    return old;
}
template <class T> T atomicXor(T* address, T value) {
    const T old = *address;
    *address = old ^ value;
    return old;
}
inline unsigned atomicInc(unsigned* address, unsigned limit) {
    const unsigned old = *address;
    *address = old >= limit ? 0u : old + 1u;
    return old;
}
inline unsigned atomicDec(unsigned* address, unsigned limit) {
    const unsigned old = *address;
    *address = (old == 0u || old > limit) ? limit : old - 1u;
    return old;
}

// ------------------------------------------------------------------------------------------- integer/float
#define EMU_MIN_MAX(T)                                                                                            \
    inline T min(T a, T b) { return b < a ? b : a; }                                                              \
    inline T max(T a, T b) { return a < b ? b : a; }
EMU_MIN_MAX(int)
EMU_MIN_MAX(unsigned int)
EMU_MIN_MAX(long)
EMU_MIN_MAX(unsigned long)
EMU_MIN_MAX(long long)
EMU_MIN_MAX(unsigned long long)
#undef EMU_MIN_MAX
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }

// Exact IEEE operations on the GPU too (round to nearest even, never fused).
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __frcp_rn(float a) { return 1.0f / a; }
inline float __fsqrt_rn(float a) { return sqrtf(a); }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __ddiv_rn(double a, double b) { return a / b; }
inline double __fma_rn(double a, double b, double c) { return fma(a, b, c); }
inline float __saturatef(float a) { return a >= 1.0f ? 1.0f : (a > 0.0f ? a : 0.0f); }  // NaN -> 0, as CUDA

// The GPU's fast approximations; here the accurate functions (see the top of this file).
inline float __expf(float x) { return expf(x); }
inline float __exp10f(float x) { return exp10f(x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __log10f(float x) { return log10f(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }

inline float __int_as_float(int i) {
    float f;
    memcpy(&f, &i, sizeof f);
    return f;
}
inline int __float_as_int(float f) {
    int i;
    memcpy(&i, &f, sizeof i);
    return i;
}
inline float __uint_as_float(unsigned int i) {
    float f;
    memcpy(&f, &i, sizeof f);
    return f;
}
inline unsigned int __float_as_uint(float f) {
    unsigned int i;
    memcpy(&i, &f, sizeof i);
    return i;
}
inline double __longlong_as_double(long long i) {
    double d;
    memcpy(&d, &i, sizeof d);
    return d;
}
inline long long __double_as_longlong(double d) {
    long long i;
    memcpy(&i, &d, sizeof i);
    return i;
}
inline int __popc(unsigned int x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
