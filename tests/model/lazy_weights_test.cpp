// Lazy weights: 2-D tensors stay in the mmapped checkpoint and the forward
// pass converts a tile of rows at a time. The logits must be those of the
// dense fp32 model, and no fp32 copy of a matrix may be held.
#include <cmath>

#include <gtest/gtest.h>

#include "common/fixtures.h"
#include "common/logits.h"
#include "model/model_loader.h"
#include "model/transformer.h"
#include "util/error.h"

using namespace llmq;

class LazyWeights : public ::testing::TestWithParam<std::string> {};

TEST_P(LazyWeights, LogitsEqualTheDenseModel) {
  const std::string name = GetParam();
  LoadedModel dense = load_model(test::model_dir(name));
  LoadedModel lazy = load_model(test::model_dir(name), {.lazy = true});
  std::vector<int32_t> tokens = test::reference(name)["sample_ids"].get<std::vector<int32_t>>();
  tokens.resize(std::min<size_t>(tokens.size(), 48));
  const std::vector<float> a = test::logits_of(dense.weights, tokens), b = test::logits_of(lazy.weights, tokens);
  ASSERT_EQ(a.size(), b.size());
  double max_diff = 0;
  for (size_t i = 0; i < a.size(); ++i) max_diff = std::max(max_diff, double(std::fabs(a[i] - b[i])));
  EXPECT_LT(max_diff, 1e-4) << name;  // the same products, tiled over output rows
  EXPECT_EQ(lazy.n_params, dense.n_params);
}

TEST_P(LazyWeights, HoldsOnlyVectorsInFp32) {
  const std::string name = GetParam();
  LoadedModel lazy = load_model(test::model_dir(name), {.lazy = true});
  const ModelConfig& c = lazy.weights->cfg;
  // Norms (and biases) are all that is converted: a few hidden-sized vectors per layer.
  const size_t vectors = size_t(c.n_layers * (2 * c.hidden + 2 * c.head_dim + 3 * c.q_dim()) + c.hidden) * sizeof(float);
  EXPECT_LE(resident_weight_bytes(*lazy.weights), vectors);
  EXPECT_TRUE(lazy.weights->layers[0].wq.lazy());
  EXPECT_TRUE(lazy.weights->embed.lazy());

  // materialize_all gives the dense model back, value for value.
  LoadedModel dense = load_model(test::model_dir(name));
  materialize_all(*lazy.weights);
  EXPECT_EQ(lazy.weights->layers[1].wk.data, dense.weights->layers[1].wk.data);
  EXPECT_EQ(lazy.weights->embed.data, dense.weights->embed.data);
}

TEST_P(LazyWeights, RowsAndSingleValuesReadThrough) {
  const std::string name = GetParam();
  LoadedModel dense = load_model(test::model_dir(name));
  LoadedModel lazy = load_model(test::model_dir(name), {.lazy = true});
  const Tensor& d = dense.weights->layers[2].wo;
  const Tensor& l = lazy.weights->layers[2].wo;
  std::vector<float> rows(size_t(3 * l.cols()));
  l.read_rows(5, 3, rows.data());
  for (int64_t i = 0; i < 3 * l.cols(); ++i) ASSERT_EQ(rows[size_t(i)], d.data[size_t(5 * d.cols() + i)]);
  EXPECT_EQ(l.at(7, 11), d.row(7)[11]);
  EXPECT_THROW(l.read_rows(l.rows() - 1, 2, rows.data()), Error);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LazyWeights, ::testing::Values("tiny-llama", "tiny-qwen3moe"),
                         [](const auto& info) { return info.param == "tiny-llama" ? "TinyLlama" : "TinyQwen3Moe"; });
