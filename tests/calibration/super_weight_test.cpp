// A super weight planted in a copy of tiny-llama is found at its coordinates,
// and zeroing it moves perplexity far more than zeroing ordinary weights.
#include <cmath>

#include <gtest/gtest.h>

#include "calibration/activation_range_collector.h"
#include "calibration/calibration_pass.h"
#include "calibration/super_weight_collector.h"
#include "calibration/super_weights.h"
#include "calibration_test_support.h"
#include "eval/perplexity.h"
#include "export/gguf/gguf_names.h"

namespace llmq {
namespace {

constexpr int kLayer = 1;
constexpr int64_t kRow = 37;

double ppl(const std::shared_ptr<ModelWeights>& w, const std::vector<int32_t>& tokens) {
  Transformer model(w);
  PerplexityOptions o;
  o.ctx = 64;
  o.chunks = 4;
  return perplexity(model, tokens, o).ppl;
}

TEST(SuperWeights, PlantedSuperWeightIsFoundAndMatters) {
  const LoadedModel& base = test::cached_model("tiny-llama");
  const CalibrationWindows windows = test::calibration_windows(base, 4, 48);

  // Natural statistics: each layer's peak down_proj output, and the input
  // channel of layer kLayer's down_proj with the largest |x|.
  Transformer original(base.weights);
  SuperWeightCollector natural;
  ActivationRangeCollector range;
  CalibrationPass p0(original);
  p0.add(natural);
  p0.add(range);
  p0.run(windows.windows);
  float natural_peak = 0;
  for (const auto& [k, s] : natural.spikes()) natural_peak = std::max(natural_peak, s.max_out);
  const ActivationRange* r = range.find({kLayer, LinearSlot::Down, -1});
  ASSERT_NE(r, nullptr);
  const int64_t col = std::max_element(r->max_abs.begin(), r->max_abs.end()) - r->max_abs.begin();
  const float x_max = r->max_abs[size_t(col)];

  // Plant: one weight that turns x_col into an output 20x above any natural peak.
  auto w = std::make_shared<ModelWeights>(*base.weights);
  Tensor& down = w->layers[kLayer].down;
  const float planted = -20.0f * natural_peak / x_max;
  down.row(kRow)[col] = planted;

  Transformer model(w);
  SuperWeightCollector spikes;
  CalibrationPass pass(model);
  pass.add(spikes);
  pass.run(windows.windows);
  const std::vector<SuperWeight> found = identify_super_weights(spikes, *w, gguf_tensor_name);
  ASSERT_FALSE(found.empty());
  const SuperWeight& s = found[0];
  EXPECT_EQ(s.layer, kLayer);
  EXPECT_EQ(s.row, kRow);
  EXPECT_EQ(s.col, col);
  EXPECT_EQ(s.value, planted);
  EXPECT_EQ(s.tensor, "model.layers.1.mlp.down_proj.weight");
  EXPECT_EQ(s.gguf_tensor, "blk.1.ffn_down.weight");
  EXPECT_GE(s.spike_ratio, 10.0);
  EXPECT_NEAR(s.input_activation, x_max, 1e-3 * x_max);
  for (size_t i = 1; i < found.size(); ++i) EXPECT_NE(found[i].layer, kLayer);

  // Zeroing the super weight vs zeroing random weights of the same tensor.
  const std::string wiki = test::read_file(test::data_file("wikitext2_test.txt")).substr(0, 20000);
  const std::vector<int32_t> tokens = base.tokenizer->encode(wiki, false);
  const double ppl_planted = ppl(w, tokens);
  auto zeroed = [&](int64_t row, int64_t c) {
    auto z = std::make_shared<ModelWeights>(*w);
    z->layers[kLayer].down.row(row)[c] = 0.0f;
    return ppl(z, tokens);
  };
  const double delta_super = std::fabs(zeroed(kRow, col) - ppl_planted);
  double delta_random = 0;
  uint64_t state = 12345;
  for (int i = 0; i < 3; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const int64_t rr = int64_t((state >> 33) % uint64_t(down.rows()));
    const int64_t cc = int64_t((state >> 13) % uint64_t(down.cols()));
    if (rr == kRow && cc == col) continue;
    delta_random = std::max(delta_random, std::fabs(zeroed(rr, cc) - ppl_planted));
  }
  EXPECT_GT(delta_super, 20.0 * delta_random + 0.5)
      << "ppl " << ppl_planted << ", zeroing the super weight moves it by " << delta_super
      << ", a random weight by at most " << delta_random;

  // The list survives its JSON file.
  test::TempDir d;
  write_super_weights(d / "sw.json", found, {{"model", "tiny-llama"}});
  const std::vector<SuperWeight> back = read_super_weights(d / "sw.json");
  ASSERT_EQ(back.size(), found.size());
  EXPECT_EQ(back[0].row, kRow);
  EXPECT_EQ(back[0].col, col);
  EXPECT_EQ(back[0].value, planted);
  EXPECT_EQ(back[0].gguf_tensor, "blk.1.ffn_down.weight");
}

}  // namespace
}  // namespace llmq
