// Our quantisers against the simplest rule each ggml format was designed
// around (the "rmse_type 0" path of ggml's reference code): every sub-block's
// scale from its extreme values, sub-block scales coded against the largest
// one, then plain rounding. Written out here on its own so that the check
// does not share code with the library. Ours must be at least as good on
// plain RMSE (1% slack).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "quant_kquant/kquant_test_support.h"

namespace {

using namespace kquant_test;

float as_fp16(float v) { return llmq::f16_to_f32(llmq::f32_to_f16(v)); }
int round_int(float v) { return int(std::nearbyint(v)); }

// Affine formats: x ~ d*sc*q - dmin*m with q in 0..nmax and codes in 0..code_max.
void naive_affine_block(const float* x, float* y, int sub, int nmax, int code_max) {
  const int nsub = 256 / sub;
  std::vector<float> scale(nsub), min(nsub);
  for (int j = 0; j < nsub; ++j) {
    const float* s = x + j * sub;
    const float lo = std::min(0.f, *std::min_element(s, s + sub)), hi = *std::max_element(s, s + sub);
    scale[j] = (hi - lo) / nmax;
    min[j] = -lo;
  }
  const float d = as_fp16(*std::max_element(scale.begin(), scale.end()) / code_max);
  const float dmin = as_fp16(*std::max_element(min.begin(), min.end()) / code_max);
  for (int j = 0; j < nsub; ++j) {
    const int sc = d > 0 ? std::min(code_max, round_int(scale[j] / d)) : 0;
    const int m = dmin > 0 ? std::min(code_max, round_int(min[j] / dmin)) : 0;
    const float D = d * sc, M = dmin * m;
    for (int i = j * sub; i < (j + 1) * sub; ++i) {
      const int q = D > 0 ? std::clamp(round_int((x[i] + M) / D), 0, nmax) : 0;
      y[i] = D * q - M;
    }
  }
}

// Symmetric formats: x ~ d*sc*q with q in -nh..nh-1; the value of largest
// magnitude of each sub-block maps to -nh, the largest sub-block scale to
// code -code_top.
void naive_symmetric_block(const float* x, float* y, int nh, int code_top) {
  float scale[16], peak = 0;
  for (int j = 0; j < 16; ++j) {
    float xpeak = 0;
    for (int i = 16 * j; i < 16 * j + 16; ++i)
      if (std::fabs(x[i]) > std::fabs(xpeak)) xpeak = x[i];
    scale[j] = -xpeak / nh;
    if (std::fabs(scale[j]) > std::fabs(peak)) peak = scale[j];
  }
  const float d = as_fp16(-peak / code_top);
  for (int j = 0; j < 16; ++j) {
    const int sc = d != 0 ? std::clamp(round_int(scale[j] / d), -code_top, code_top - 1) : 0;
    const float D = d * sc;
    for (int i = 16 * j; i < 16 * j + 16; ++i) {
      const int q = D != 0 ? std::clamp(round_int(x[i] / D), -nh, nh - 1) : 0;
      y[i] = D * q;
    }
  }
}

std::vector<float> naive_round_trip(GgmlType t, const std::vector<float>& x) {
  std::vector<float> y(x.size());
  for (size_t b = 0; b < x.size(); b += 256) {
    switch (t) {
      case GgmlType::Q2_K: naive_affine_block(&x[b], &y[b], 16, 3, 15); break;
      case GgmlType::Q3_K: naive_symmetric_block(&x[b], &y[b], 4, 32); break;
      case GgmlType::Q4_K: naive_affine_block(&x[b], &y[b], 32, 15, 63); break;
      case GgmlType::Q5_K: naive_affine_block(&x[b], &y[b], 32, 31, 63); break;
      case GgmlType::Q6_K: naive_symmetric_block(&x[b], &y[b], 32, 128); break;
      default: ADD_FAILURE();
    }
  }
  return y;
}

constexpr GgmlType kTypes[] = {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};

void compare(const std::vector<float>& x, int64_t n_cols, const std::string& what) {
  for (GgmlType t : kTypes) {
    const double ours = relative_rmse(x, round_trip(t, x, n_cols));
    const double naive = relative_rmse(x, naive_round_trip(t, x));
    EXPECT_LE(ours, naive * 1.01) << what << " " << llmq::ggml::type_name(t);
    ::testing::Test::RecordProperty(what + "_" + llmq::ggml::type_name(t) + "_ours_over_naive", std::to_string(ours / naive));
  }
}

TEST(KQuantBaseline, BeatsNaiveRuleOnGaussianRows) { compare(gaussian(16 * 1024, 77), 1024, "gaussian"); }

TEST(KQuantBaseline, BeatsNaiveRuleOnRealWeights) {
  for (const char* model : {"tiny-llama", "small-llama"})
    for (const Rows& r : real_weight_sample(model, 16)) compare(r.values, r.n_cols, model);
}

}  // namespace
