// Half/bfloat16 bit conversions and q8_0 (de)quantisation; see gguf_quant.h.
#include "io/gguf_quant.h"

#include <cmath>
#include <cstring>

namespace ft::io {

uint16_t fp32_to_fp16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  x &= 0x7fffffffu;
  if (x >= 0x7f800000u) {  // Inf stays Inf; NaN stays a (quiet) NaN with the top payload bits
    return static_cast<uint16_t>(sign | 0x7c00u | (x > 0x7f800000u ? 0x200u | ((x >> 13) & 0x3ffu) : 0u));
  }
  if (x >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to Inf
  if (x < 0x38800000u) {
    // Below the smallest normal half (2^-14): adding 0.5f puts the half subnormal unit (2^-24) at the
    // float mantissa's last bit, so the FPU's round-to-nearest-even does the rounding.
    float v;
    std::memcpy(&v, &x, 4);
    v += 0.5f;
    uint32_t r;
    std::memcpy(&r, &v, 4);
    return static_cast<uint16_t>(sign | (r - 0x3f000000u));
  }
  const uint32_t odd = (x >> 13) & 1u;
  x += 0xc8000fffu + odd;  // rebias exponent 127 -> 15 and round to nearest even at bit 13
  return static_cast<uint16_t>(sign | (x >> 13));
}

float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    float v = static_cast<float>(mant) * (1.0f / 16777216.0f);  // subnormal: mant * 2^-24 (exact)
    std::memcpy(&bits, &v, 4);
    bits |= sign;
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 112u) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t fp32_to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // quiet NaN
  x += 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(x >> 16);
}

float bf16_to_fp32(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

void quantize_q8_0(const float* x, size_t n, uint8_t* out) {
  for (size_t b = 0; b < n / kQ8_0Block; ++b) {
    const float* xb = x + b * kQ8_0Block;
    uint8_t* ob = out + b * kQ8_0BlockBytes;
    float amax = 0.0f;
    for (size_t j = 0; j < kQ8_0Block; ++j) amax = std::fmax(amax, std::fabs(xb[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t dh = fp32_to_fp16(d);
    ob[0] = static_cast<uint8_t>(dh & 0xff);
    ob[1] = static_cast<uint8_t>(dh >> 8);
    for (size_t j = 0; j < kQ8_0Block; ++j) {
      // |x * id| <= 127 up to rounding of id; clamp guards that last ulp.
      float q = std::round(xb[j] * id);
      q = std::fmin(127.0f, std::fmax(-127.0f, q));
      ob[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(q));
    }
  }
}

void dequantize_q8_0(const uint8_t* in, size_t n, float* out) {
  for (size_t b = 0; b < n / kQ8_0Block; ++b) {
    const uint8_t* ib = in + b * kQ8_0BlockBytes;
    const float d = fp16_to_fp32(static_cast<uint16_t>(ib[0] | (ib[1] << 8)));
    for (size_t j = 0; j < kQ8_0Block; ++j) out[b * kQ8_0Block + j] = d * static_cast<int8_t>(ib[2 + j]);
  }
}

}  // namespace ft::io
