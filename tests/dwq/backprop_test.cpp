// DWQ's backward pass against finite differences of its own forward loss, on
// the tiny fixtures (a dense llama, and qwen3-MoE with q/k norms and routing),
// and its pieces against values worked out by hand.
#include <algorithm>
#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "common/fixtures.h"
#include "dwq/backprop.h"
#include "dwq/layer_backprop.h"
#include "export/hf/hf_quantize_pipeline.h"
#include "export/hf/loaders/hf_quant_loader.h"

namespace llmq::dwq {
namespace {

std::string rtn_mlx(const std::string& model, const test::TempDir& tmp) {
  register_hf_quant_loaders();
  HfQuantizeJob job;
  job.model_dir = test::model_dir(model);
  job.output_dir = tmp / "init";
  job.format = HfQuantFormat::Mlx;
  job.quant.method = IntQuantMethod::Rtn;
  job.quant.spec.bits = 3;  // coarse: the student is far from the teacher, gradients are large
  job.quant.spec.group_size = 64;
  run_hf_quantize(job);
  return job.output_dir;
}

struct RandomTargets {
  std::vector<float> logits, lse;
  std::vector<int32_t> ids;
  int64_t k;
  // Half of the teacher's mass (at temperature 2) on the k tokens, half on the rest.
  RandomTargets(int64_t T, int64_t k_, int64_t vocab, uint32_t seed) : k(k_) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 3.0f);
    std::vector<int32_t> all(static_cast<size_t>(vocab));
    for (int64_t i = 0; i < vocab; ++i) all[size_t(i)] = int32_t(i);
    for (int64_t t = 0; t < T; ++t) {
      std::shuffle(all.begin(), all.end(), rng);  // k distinct ids per position
      for (int64_t i = 0; i < k; ++i) {
        ids.push_back(all[size_t(i)]);
        logits.push_back(nd(rng));
      }
      double s = 0;
      for (int64_t i = 0; i < k; ++i) s += std::exp(double(logits[size_t(t * k + i)]) / 2.0);
      lse.push_back(float(std::log(2.0 * s)));
    }
  }
  SequenceTargets view() const { return {logits.data(), ids.data(), lse.data(), k}; }
};

// For a few linears, the scale and the bias with the largest gradient: the
// analytic gradient against a central difference of the loss.
void check_gradients(const std::string& model) {
  test::TempDir tmp;
  Student s(rtn_mlx(model, tmp));
  // The checkpoint's bf16 scales: the forward pass rounds to them, a step that finite differences cannot see through.
  for (Trainable* t : s.trainables()) t->a.storage = DType::F32;
  const int64_t T = 24;
  std::vector<int32_t> tokens(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) tokens[size_t(t)] = int32_t((t * 331 + 7) % s.cfg().vocab);
  const RandomTargets tg(T, 16, s.cfg().vocab, 5);
  const float temp = 2.0f;
  Backprop bp(s);
  s.zero_gradients();
  bp.loss_and_gradients(tokens.data(), T, tg.view(), temp, 1.0f);

  int checked = 0;
  for (Trainable* t : s.trainables()) {
    const std::string& n = t->a.weight_name;
    const bool pick = n.find("layers.0.") != std::string::npos || n.find("layers.3.") != std::string::npos;
    if (!pick || (n.find("experts.") != std::string::npos && n.find("experts.0.") == std::string::npos &&
                  n.find("experts.1.") == std::string::npos))
      continue;
    for (int which = 0; which < 2; ++which) {
      std::vector<float>& p = which == 0 ? t->a.scales : t->a.biases;
      const std::vector<float>& g = which == 0 ? t->gs : t->gb;
      const size_t i = size_t(std::max_element(g.begin(), g.end(), [](float a, float b) { return std::fabs(a) < std::fabs(b); }) -
                              g.begin());
      if (std::fabs(g[i]) < 1e-3f) continue;  // an expert no token reached
      const float p0 = p[i];
      const float h = 2e-3f * std::max(std::fabs(p0), 1e-2f);
      p[i] = p0 + h;
      const double up = bp.loss(tokens.data(), T, tg.view(), temp);
      p[i] = p0 - h;
      const double down = bp.loss(tokens.data(), T, tg.view(), temp);
      p[i] = p0;
      const double fd = (up - down) / (2.0 * double(h));
      SCOPED_TRACE(n + (which == 0 ? " scale" : " bias"));
      EXPECT_NEAR(g[i], fd, 0.03 * std::fabs(fd) + 1e-3) << "analytic " << g[i] << " finite difference " << fd;
      ++checked;
    }
  }
  EXPECT_GE(checked, 14);
}

TEST(DwqBackprop, GradientsMatchFiniteDifferencesDense) { check_gradients("tiny-llama"); }
TEST(DwqBackprop, GradientsMatchFiniteDifferencesMoeWithQkNorm) { check_gradients("tiny-qwen3moe"); }

// The student equal to the teacher: KL 0 and gradient 0, whether the teacher
// keeps every logit or only its top k (the rest of its mass counts as one
// outcome, so a student that matches the teacher is not pulled into the top k).
TEST(DwqBackprop, TopkKlIsZeroForTheTeacherItself) {
  const std::vector<float> z = {1.0f, 2.0f, 0.5f, -1.0f, 0.25f, 3.0f};
  const float T = 2.0f;
  double s = 0;
  for (float v : z) s += std::exp(double(v) / T);
  const float lse = float(std::log(s));
  std::vector<float> dz(z.size());
  for (int64_t k : {6, 2}) {
    SCOPED_TRACE(k);
    const std::vector<float> tl = k == 6 ? z : std::vector<float>{3.0f, 2.0f};
    const std::vector<int32_t> ids = k == 6 ? std::vector<int32_t>{0, 1, 2, 3, 4, 5} : std::vector<int32_t>{5, 1};
    EXPECT_NEAR(topk_kl(z.data(), 6, tl.data(), ids.data(), lse, k, T, 1.0f, dz.data()), 0.0, 1e-6);  // lse in float
    for (float d : dz) EXPECT_NEAR(d, 0.0f, 1e-6f);
  }
}

// Against values worked out by hand: a one-token teacher (k = 1, all its mass
// on token 1) gives KL = -log q_1 and dKL/dz = q - onehot at T = 1; a
// teacher with half its mass on token 1 gives the two-outcome KL.
TEST(DwqBackprop, TopkKlByHand) {
  const std::vector<float> z = {1.0f, 2.0f, 0.5f, -1.0f};
  double s = 0;
  for (float v : z) s += std::exp(double(v));
  const double q1 = std::exp(2.0) / s;
  std::vector<float> dz(4);
  const float t1[] = {5.0f};
  const int32_t i1[] = {1};
  EXPECT_NEAR(topk_kl(z.data(), 4, t1, i1, 5.0f, 1, 1.0f, 1.0f, dz.data()), -std::log(q1), 1e-6);
  EXPECT_NEAR(dz[1], q1 - 1.0, 1e-6);
  EXPECT_NEAR(dz[0], std::exp(1.0) / s, 1e-6);
  // p = (0.5 on token 1, 0.5 on the rest): KL = 0.5 log(0.5 / q1) + 0.5 log(0.5 / (1 - q1)).
  const float half = float(5.0 + std::log(2.0));
  EXPECT_NEAR(topk_kl(z.data(), 4, t1, i1, half, 1, 1.0f, 1.0f, dz.data()),
              0.5 * std::log(0.5 / q1) + 0.5 * std::log(0.5 / (1.0 - q1)), 1e-6);
  EXPECT_NEAR(dz[1], q1 - 0.5, 1e-6);
  EXPECT_NEAR(dz[0], std::exp(1.0) / s * (1.0 - 0.5 / (1.0 - q1)), 1e-6);
}

// RMSNorm backwards against the derivative worked out for n = 2, w = 1:
// y = x / sqrt((x0^2 + x1^2) / 2), dy/dx0 = r - x0^2 r^3 / 2, dy1/dx0 = -x0 x1 r^3 / 2.
TEST(DwqBackprop, RmsNormBackwardByHand) {
  const float x[] = {3.0f, 4.0f}, w[] = {1.0f, 1.0f}, dy[] = {1.0f, 0.0f};
  float dx[2];
  rms_norm_backward(x, w, dy, dx, 1, 2, 0.0f);
  const double r = 1.0 / std::sqrt(12.5);
  EXPECT_NEAR(dx[0], r - 9.0 * r * r * r / 2.0, 1e-6);
  EXPECT_NEAR(dx[1], -12.0 * r * r * r / 2.0, 1e-6);
}

}  // namespace
}  // namespace llmq::dwq
