// `__half` for the host emulation (see ../emu.h): IEEE binary16 bits with CUDA's conversions, round to nearest
// even as the `_rn` intrinsics (and the GPU's `cvt.rn.f16.f32`) do, subnormals and overflow to infinity included.
#pragma once

#include <stdint.h>
#include <string.h>

struct __half {
    uint16_t __x;
};

namespace emu {

inline uint32_t float_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

inline float bits_float(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

// float -> binary16, round to nearest even; NaN stays NaN (quiet, CUDA's canonical 0x7fff).
inline uint16_t float_to_half_bits(float f) {
    const uint32_t u = float_bits(f);
    const uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    const uint32_t abs = u & 0x7fffffffu;
    if (abs > 0x7f800000u) return 0x7fffu;
    if (abs >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);  // rounds to 65520 or more: infinity
    if (abs < 0x38800000u) {
        // Subnormal half (or zero): the value in units of 2^-24, rounded to nearest even.
        if (abs < 0x33000000u) return sign;  // below 2^-25: rounds to zero (2^-25 itself is a tie to 0)
        const uint32_t exponent = abs >> 23;
        const uint32_t mantissa = (abs & 0x7fffffu) | 0x800000u;
        const uint32_t shift = 126u - exponent;  // 14..24
        const uint32_t kept = mantissa >> shift;
        const uint32_t rest = mantissa & ((1u << shift) - 1u);
        const uint32_t half_way = 1u << (shift - 1u);
        const uint32_t rounded = kept + ((rest > half_way || (rest == half_way && (kept & 1u))) ? 1u : 0u);
        return (uint16_t)(sign | rounded);
    }
    // Normal: rebias the exponent, round the 13 dropped mantissa bits (a carry may bump the exponent).
    const uint32_t rebased = abs - 0x38000000u;
    const uint32_t kept = rebased >> 13;
    const uint32_t rest = rebased & 0x1fffu;
    const uint32_t rounded = kept + ((rest > 0x1000u || (rest == 0x1000u && (kept & 1u))) ? 1u : 0u);
    return (uint16_t)(sign | rounded);
}

inline float half_bits_to_float(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t exponent = (h >> 10) & 0x1fu;
    const uint32_t mantissa = h & 0x3ffu;
    if (exponent == 0x1fu) return bits_float(sign | 0x7f800000u | (mantissa << 13));
    if (exponent == 0) {
        // Zero or subnormal: mantissa · 2^-24, exact in float.
        const float magnitude = (float)mantissa * bits_float(0x33800000u);
        return sign ? -magnitude : magnitude;
    }
    return bits_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

}  // namespace emu

inline __half __float2half_rn(float f) { return __half{::emu::float_to_half_bits(f)}; }
inline __half __float2half(float f) { return __float2half_rn(f); }
inline float __half2float(__half h) { return ::emu::half_bits_to_float(h.__x); }
inline unsigned short __half_as_ushort(__half h) { return h.__x; }
inline __half __ushort_as_half(unsigned short bits) { return __half{bits}; }
