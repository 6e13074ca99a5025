#include "quant/formats/intq/int_quant_spec.h"

#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "util/error.h"
#include "util/half.h"

namespace llmq {

float round_scale_to_storage(float scale, ScaleStorage s) {
  float r = scale;
  if (s == ScaleStorage::F16) r = f16_to_f32(f32_to_f16(scale));
  if (s == ScaleStorage::BF16) r = bf16_to_f32(f32_to_bf16(scale));
  // A scale that rounds to zero would map every weight to the zero point and
  // divide by zero when quantizing: keep the smallest positive value instead.
  if (!(r > 0.0f)) {
    if (s == ScaleStorage::F16) return f16_to_f32(1);  // smallest fp16 subnormal
    if (s == ScaleStorage::BF16) return bf16_to_f32(1);
    return std::numeric_limits<float>::denorm_min();
  }
  if (std::isinf(r)) r = (s == ScaleStorage::F16) ? 65504.0f : r;
  return r;
}

void IntQuantSpec::validate(int64_t in) const {
  if (bits != 2 && bits != 3 && bits != 4 && bits != 8) fail("unsupported bit width {} (expected 2, 3, 4 or 8)", bits);
  if (group_size != -1 && group_size != 32 && group_size != 64 && group_size != 128)
    fail("unsupported group size {} (expected 32, 64, 128 or -1 for per channel)", group_size);
  if (in > 0 && group_size > 0 && in % group_size != 0)
    fail("input width {} is not a multiple of the group size {}", in, group_size);
  if (zero_min < 0 || zero_min > maxq()) fail("zero_min {} outside 0..{}", zero_min, maxq());
}

std::string IntQuantSpec::describe() const {
  return fmt::format("{}-bit {} {}", bits, group_size < 0 ? std::string("per-channel") : fmt::format("g{}", group_size),
                     sym ? "sym" : "asym");
}

}  // namespace llmq
