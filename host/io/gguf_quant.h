// Number formats GGUF stores: IEEE half and bfloat16 conversions (round to nearest even) and ggml's
// q8_0 blocks (32 int8 values + an fp16 scale absmax/127, values rounded half away from zero, as
// llama.cpp's quantize_row_q8_0_ref does). Torch-free, so tests and fuzzers can use them alone.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ft::io {

constexpr size_t kQ8_0Block = 32;       // values per q8_0 block
constexpr size_t kQ8_0BlockBytes = 34;  // 2-byte fp16 scale + 32 int8

uint16_t fp32_to_fp16(float f);
float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_bf16(float f);
float bf16_to_fp32(uint16_t b);

// n must be a multiple of kQ8_0Block; out receives n / 32 * 34 bytes. Values must be finite.
void quantize_q8_0(const float* x, size_t n, uint8_t* out);
void dequantize_q8_0(const uint8_t* in, size_t n, float* out);

}  // namespace ft::io
