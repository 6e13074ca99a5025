// The forward pass against PyTorch/transformers reference logits, greedy
// generation against the reference continuation, for every fixture model.
#include <cmath>

#include <gtest/gtest.h>

#include "common/fixtures.h"
#include "eval/generate.h"
#include "io/safetensors.h"
#include "model/model_loader.h"
#include "model/transformer.h"
#include "tokenizer/tokenizer.h"

using namespace llmq;

class ForwardReference : public ::testing::TestWithParam<std::string> {};

TEST_P(ForwardReference, LogitsMatchTransformers) {
  const std::string name = GetParam();
  LoadedModel m = load_model(test::model_dir(name));
  Transformer model(m.weights);
  SafetensorsFile ref(test::model_dir(name) + "/reference_logits.safetensors");
  const TensorView* ids = ref.find("input_ids");
  const TensorView* want = ref.find("logits");
  ASSERT_TRUE(ids && want);
  ASSERT_EQ(ids->dtype, DType::I32);
  const int64_t T = ids->numel();
  std::vector<int32_t> tokens(reinterpret_cast<const int32_t*>(ids->data), reinterpret_cast<const int32_t*>(ids->data) + T);
  ASSERT_EQ(want->shape, (std::vector<int64_t>{T, m.weights->cfg.vocab}));

  KvCache cache = model.make_cache(T);
  std::vector<float> logits;
  model.forward(tokens.data(), T, cache, logits);
  const float* w = reinterpret_cast<const float*>(want->data);
  double max_diff = 0;
  for (int64_t i = 0; i < T * m.weights->cfg.vocab; ++i) max_diff = std::max(max_diff, double(std::fabs(logits[size_t(i)] - w[i])));
  EXPECT_LT(max_diff, 1e-3) << name;
  RecordProperty("max_abs_diff", std::to_string(max_diff));
}

TEST_P(ForwardReference, IncrementalDecodingMatchesBatch) {
  // Processing a prefix as a batch then tokens one at a time through the KV
  // cache must give the same logits as one batch over everything.
  const std::string name = GetParam();
  LoadedModel m = load_model(test::model_dir(name));
  Transformer model(m.weights);
  auto ref = test::reference(name);
  std::vector<int32_t> tokens = ref["sample_ids"].get<std::vector<int32_t>>();
  tokens.resize(20);
  const int64_t V = m.weights->cfg.vocab;
  KvCache full = model.make_cache(20);
  std::vector<float> batch;
  model.forward(tokens.data(), 20, full, batch);
  KvCache inc = model.make_cache(20);
  std::vector<float> step;
  model.forward(tokens.data(), 12, inc, step);
  for (int64_t t = 12; t < 20; ++t) {
    model.forward(&tokens[size_t(t)], 1, inc, step);
    for (int64_t v = 0; v < V; ++v) ASSERT_NEAR(step[size_t(v)], batch[size_t(t * V + v)], 1e-3) << "t=" << t;
  }
}

TEST_P(ForwardReference, GreedyGenerationMatches) {
  const std::string name = GetParam();
  LoadedModel m = load_model(test::model_dir(name));
  Transformer model(m.weights);
  auto ref = test::reference(name);
  std::vector<int32_t> prompt = m.tokenizer->encode(ref["greedy_prompt"].get<std::string>(), false);
  std::vector<int32_t> want = ref["greedy_ids"].get<std::vector<int32_t>>();
  ASSERT_LT(prompt.size(), want.size());
  ASSERT_TRUE(std::equal(prompt.begin(), prompt.end(), want.begin()));
  GenerateOptions g;
  g.max_new_tokens = int64_t(want.size() - prompt.size());
  std::vector<int32_t> got = generate_greedy(model, prompt, g);
  std::vector<int32_t> all = prompt;
  all.insert(all.end(), got.begin(), got.end());
  EXPECT_EQ(all, want);
  EXPECT_EQ(m.tokenizer->decode(all), ref["greedy_text"].get<std::string>());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ForwardReference, ::testing::Values("tiny-llama", "small-llama", "tiny-qwen3moe"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (auto& c : s)
                             if (c == '-') c = '_';
                           return s;
                         });
