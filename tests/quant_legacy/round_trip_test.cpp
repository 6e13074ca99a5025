// Round trips on random rows and on real weights of the fixture model:
// relative RMSE (RMS error / RMS of the row) must stay inside each type's
// bound, and must never exceed that of ggml's reference rule re-implemented in
// legacy_test_support.h.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "legacy_test_support.h"

namespace {

using legacy_test::Tensor;
using llmq::ggml::GgmlType;

struct Expectation {
  GgmlType type;
  double max_relative_rmse;  // for N(0,1) rows and for tiny-llama's down_proj alike
};

// Measured when written (Gaussian / down_proj): Q4_0 0.0814 / 0.0815,
// Q4_1 0.0696 / 0.0699, Q5_0 0.0400 / 0.0403, Q5_1 0.0333 / 0.0335,
// Q8_0 0.00535 / 0.00539. The bounds leave ~8% headroom, so a search that
// silently degrades to the plain rule (Q4_0 0.0865, Q4_1 0.0787, Q5_0 0.0429,
// Q5_1 0.0381) fails here even before the comparison with that rule.
const Expectation kExpectations[] = {
    {GgmlType::Q4_0, 0.088}, {GgmlType::Q4_1, 0.076}, {GgmlType::Q5_0, 0.044},
    {GgmlType::Q5_1, 0.037}, {GgmlType::Q8_0, 0.0058},
};

std::vector<float> gaussian_rows(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = normal(rng);
  return x;
}

const Tensor& down_proj() {
  static const Tensor t =
      legacy_test::read_bf16_tensor(legacy_test::tiny_llama_weights(), "model.layers.0.mlp.down_proj.weight");
  return t;
}

class LegacyRoundTrip : public ::testing::TestWithParam<Expectation> {};

TEST_P(LegacyRoundTrip, GaussianRows) {
  const Expectation e = GetParam();
  const int64_t n_per_row = 512;
  const std::vector<float> x = gaussian_rows(64 * n_per_row, 1234);
  const std::vector<float> ours = legacy_test::round_trip(e.type, x, n_per_row);
  const std::vector<float> ref = legacy_test::ggml_reference_round_trip(e.type, x);
  const double rmse = legacy_test::relative_rmse(x, ours), ref_rmse = legacy_test::relative_rmse(x, ref);
  std::printf("[ gaussian ] %s relative RMSE %.5f (ggml reference rule %.5f)\n", llmq::ggml::type_name(e.type).c_str(),
              rmse, ref_rmse);
  EXPECT_LT(rmse, e.max_relative_rmse);
  EXPECT_LE(rmse, ref_rmse);
}

TEST_P(LegacyRoundTrip, RealWeights) {
  const Expectation e = GetParam();
  const Tensor& t = down_proj();
  const std::vector<float> ours = legacy_test::round_trip(e.type, t.values, t.cols);
  const std::vector<float> ref = legacy_test::ggml_reference_round_trip(e.type, t.values);
  const double rmse = legacy_test::relative_rmse(t.values, ours), ref_rmse = legacy_test::relative_rmse(t.values, ref);
  std::printf("[ down_proj ] %s relative RMSE %.5f (ggml reference rule %.5f)\n", llmq::ggml::type_name(e.type).c_str(),
              rmse, ref_rmse);
  EXPECT_LT(rmse, e.max_relative_rmse);
  EXPECT_LE(rmse, ref_rmse);

  // Every block is at least as good as the reference on its own, not just on average.
  for (size_t b = 0; b < t.values.size(); b += 32) {
    double ours_err = 0, ref_err = 0;
    for (size_t j = b; j < b + 32; ++j) {
      ours_err += (double(t.values[j]) - ours[j]) * (double(t.values[j]) - ours[j]);
      ref_err += (double(t.values[j]) - ref[j]) * (double(t.values[j]) - ref[j]);
    }
    ASSERT_LE(ours_err, ref_err * (1 + 1e-5) + 1e-30) << "block " << b / 32;
  }
}

TEST_P(LegacyRoundTrip, ConstantAndZeroRowsAreExact) {
  const GgmlType type = GetParam().type;
  std::vector<float> x(64, 0.0f);
  EXPECT_EQ(legacy_test::round_trip(type, x, 64), x);
  // A constant block comes back exactly when its value and the scale every
  // type derives from it are exact in fp16: -127/64 gives d = 1/64 (Q8_0),
  // 127/512 (Q4_0), 127/1024 (Q5_0), and the offset itself for Q4_1/Q5_1.
  std::fill(x.begin(), x.end(), -127.0f / 64.0f);
  EXPECT_EQ(legacy_test::round_trip(type, x, 64), x);
}

INSTANTIATE_TEST_SUITE_P(Types, LegacyRoundTrip, ::testing::ValuesIn(kExpectations),
                         [](const auto& info) { return llmq::ggml::type_name(info.param.type); });

TEST(LegacyRoundTrip, Q8_0IsByteIdenticalToGgmlRule) {
  // Our Q8_0 is ggml's rule itself, so the reconstruction matches exactly.
  const Tensor& t = down_proj();
  EXPECT_EQ(legacy_test::round_trip(GgmlType::Q8_0, t.values, t.cols),
            legacy_test::ggml_reference_round_trip(GgmlType::Q8_0, t.values));
}

}  // namespace
