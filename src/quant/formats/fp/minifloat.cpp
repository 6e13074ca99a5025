#include "quant/formats/fp/minifloat.h"

#include <bit>

namespace llmq::fp {

float decode_e8m0(uint8_t e) {
  if (e == kE8M0NaN) return detail::kNaN;
  // e = 0 is 2^-127, below the smallest normal f32: build it as a subnormal.
  if (e == 0) return std::bit_cast<float>(uint32_t(1) << 22);
  return std::bit_cast<float>(uint32_t(e) << 23);
}

uint8_t e8m0_from_exponent(int exponent) {
  if (exponent < -127) exponent = -127;
  if (exponent > 127) exponent = 127;
  return uint8_t(exponent + 127);
}

}  // namespace llmq::fp
