#include "quant/formats/fp/group_codec.h"

#include <cmath>

#include "quant/formats/fp/minifloat.h"

namespace llmq::fp {
namespace {

template <class Encode, class Decode>
double group_error(const float* x, const float* importance, int64_t n, float scale, Encode encode,
                   Decode decode) {
  double sum = 0.0;
  for (int64_t j = 0; j < n; ++j) {
    const double d = double(x[j]) - double(scale * decode(encode(x[j] / scale)));
    sum += (importance ? double(importance[j]) : 1.0) * d * d;
  }
  return sum;
}

}  // namespace

void encode_e2m1_group(const float* x, int64_t n, float scale, uint8_t* codes) {
  for (int64_t j = 0; j < n; ++j) codes[j] = encode_e2m1(x[j] / scale);
}

double e2m1_group_error(const float* x, const float* importance, int64_t n, float scale) {
  return group_error(x, importance, n, scale, encode_e2m1, decode_e2m1);
}

void encode_e4m3_group(const float* x, int64_t n, float scale, uint8_t* codes) {
  for (int64_t j = 0; j < n; ++j) codes[j] = encode_e4m3(x[j] / scale);
}

double e4m3_group_error(const float* x, const float* importance, int64_t n, float scale) {
  return group_error(x, importance, n, scale, encode_e4m3, decode_e4m3);
}

float max_abs(const float* x, int64_t n) {
  float m = 0.0f;
  for (int64_t j = 0; j < n; ++j) m = std::fmax(m, std::fabs(x[j]));
  return m;
}

}  // namespace llmq::fp
