// The llama.cpp-CPU activation rounding used to compare our quality numbers
// with llama-perplexity's: the vec_dot_type table, each rounding worked out by
// hand, and the per-layer types read from an exported file.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "export/gguf/ggml_cpu_activations.h"
#include "gguf_export_support.h"
#include "model/transformer.h"
#include "util/error.h"

namespace llmq {
namespace {

using ggml::GgmlType;

TEST(GgmlCpuActivations, VecDotTypes) {
  EXPECT_EQ(GgmlCpuActivations::vec_dot_type(GgmlType::F32), GgmlType::F32);
  EXPECT_EQ(GgmlCpuActivations::vec_dot_type(GgmlType::F16), GgmlType::F16);
  EXPECT_EQ(GgmlCpuActivations::vec_dot_type(GgmlType::BF16), GgmlType::BF16);
  for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0})
    EXPECT_EQ(GgmlCpuActivations::vec_dot_type(t), GgmlType::Q8_0);
  for (GgmlType t : {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K})
    EXPECT_EQ(GgmlCpuActivations::vec_dot_type(t), GgmlType::Q8_K);
}

TEST(GgmlCpuActivations, Q8KRoundingByHand) {
  // Largest magnitude -2.54 maps to level -127: step 2.54/127 = 0.02, so
  // values snap to multiples of 0.02 (0.333 -> 17 * 0.02 = 0.34; 1.0 -> 50).
  std::vector<float> x(256, 0.f);
  x[0] = -2.54f, x[1] = 1.0f, x[2] = 0.333f, x[3] = -0.011f;
  GgmlCpuActivations::round_rows(GgmlType::Q4_K, x.data(), 1, 256);
  EXPECT_NEAR(x[0], -2.54f, 1e-6);
  EXPECT_NEAR(x[1], 1.0f, 1e-6);
  EXPECT_NEAR(x[2], 0.34f, 1e-6);
  EXPECT_NEAR(x[3], -0.02f, 1e-6);  // -0.55 rounds to -1
  EXPECT_EQ(x[4], 0.f);
}

TEST(GgmlCpuActivations, Q8_0AndF16RoundingByHand) {
  // Block of 32 with max 127/64: scale 1/64, exact in fp16. 0.3 -> 19/64.
  std::vector<float> x(64, 0.f);
  x[0] = 127.f / 64, x[1] = 0.3f, x[32] = 1.0f, x[33] = 0.3f;  // second block: scale 1/127
  GgmlCpuActivations::round_rows(GgmlType::Q4_0, x.data(), 1, 64);
  EXPECT_FLOAT_EQ(x[0], 127.f / 64);
  EXPECT_FLOAT_EQ(x[1], 19.f / 64);
  // 0.3*127 = 38.1 -> 38; the step 1/127 is stored as fp16: 2^-7 + 8 * 2^-17.
  EXPECT_FLOAT_EQ(x[33], 38 * 0.00787353515625f);
  float h = 1.f / 3;
  GgmlCpuActivations::round_rows(GgmlType::F16, &h, 1, 1);
  EXPECT_EQ(h, 0.333251953125f);  // nearest fp16: 0x3555
  float f = 1.f / 3;
  GgmlCpuActivations::round_rows(GgmlType::F32, &f, 1, 1);
  EXPECT_EQ(f, 1.f / 3);
}

TEST(GgmlCpuActivations, ReadsEachLayersTypesFromTheFile) {
  const std::string path = test::exported_gguf("tiny-llama", GgufPreset::Q4_K_M);
  auto h = GgmlCpuActivations::from_gguf(path);
  const ModelConfig cfg = test::fixture_config("tiny-llama");
  for (int l = 0; l < cfg.n_layers; ++l) {
    EXPECT_EQ(h->slot_type(l, LinearSlot::QKV), GgmlType::Q4_K) << l;
    EXPECT_EQ(GgmlCpuActivations::vec_dot_type(h->slot_type(l, LinearSlot::Down)), GgmlType::Q8_K) << l;
  }
  EXPECT_THROW(h->slot_type(cfg.n_layers, LinearSlot::O), Error);
  EXPECT_THROW(GgmlCpuActivations::from_gguf(test::model_dir("tiny-llama") + "/config.json"), Error);
}

}  // namespace
}  // namespace llmq
