// `__nv_bfloat16` for the host emulation (see ../emu.h): the high 16 bits of an f32, with CUDA's round-to-nearest-
// even conversion.
#pragma once

#include "cuda_fp16.h"  // emu::float_bits / bits_float

struct __nv_bfloat16 {
    uint16_t __x;
};

namespace emu {

// float -> bfloat16, round to nearest even; NaN becomes CUDA's canonical quiet NaN 0x7fff.
inline uint16_t float_to_bfloat16_bits(float f) {
    const uint32_t u = float_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fffu;
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

}  // namespace emu

inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16{::emu::float_to_bfloat16_bits(f)}; }
inline __nv_bfloat16 __float2bfloat16(float f) { return __float2bfloat16_rn(f); }
inline float __bfloat162float(__nv_bfloat16 h) { return ::emu::bits_float((uint32_t)h.__x << 16); }
