#include "quant/formats/fp/fp4_packing.h"

namespace llmq::fp {

void pack_fp4_consecutive(const uint8_t* codes, int64_t n, uint8_t* packed) {
  for (int64_t k = 0; k < n / 2; ++k)
    packed[k] = uint8_t((codes[2 * k] & 0x0F) | ((codes[2 * k + 1] & 0x0F) << 4));
}

void unpack_fp4_consecutive(const uint8_t* packed, int64_t n, uint8_t* codes) {
  for (int64_t k = 0; k < n / 2; ++k) {
    codes[2 * k] = packed[k] & 0x0F;
    codes[2 * k + 1] = packed[k] >> 4;
  }
}

void pack_fp4_ggml_block(const uint8_t* codes, uint8_t* qs) {
  constexpr int half = kGgmlFp4Block / 2;
  for (int j = 0; j < half; ++j) qs[j] = uint8_t((codes[j] & 0x0F) | ((codes[j + half] & 0x0F) << 4));
}

void unpack_fp4_ggml_block(const uint8_t* qs, uint8_t* codes) {
  constexpr int half = kGgmlFp4Block / 2;
  for (int j = 0; j < half; ++j) {
    codes[j] = qs[j] & 0x0F;
    codes[j + half] = qs[j] >> 4;
  }
}

}  // namespace llmq::fp
