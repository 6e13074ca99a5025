// Perplexity: windowing and scoring against a direct computation, and the
// full reference protocol against PyTorch's numbers for every fixture model.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "common/fixtures.h"
#include "eval/perplexity.h"
#include "model/model_loader.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

using namespace llmq;

// A model that computes NaN (a NaN weight) gives an error, not "PPL = nan".
TEST(Perplexity, NonFiniteLogitsAreAnError) {
  LoadedModel m = load_model(test::model_dir("tiny-llama"));
  m.weights->layers[1].wo.data[7] = std::numeric_limits<float>::quiet_NaN();
  Transformer model(m.weights);
  std::vector<int32_t> tokens = m.tokenizer->encode(test::read_file(test::data_file("wikitext2_test.txt")).substr(0, 5000));
  PerplexityOptions o;
  o.ctx = 32;
  o.chunks = 2;
  try {
    perplexity(model, tokens, o);
    FAIL() << "NaN perplexity returned";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("non-finite"), std::string::npos) << e.what();
  }
}

TEST(Perplexity, MatchesDirectComputation) {
  LoadedModel m = load_model(test::model_dir("tiny-llama"));
  Transformer model(m.weights);
  std::vector<int32_t> tokens = m.tokenizer->encode(test::read_file(test::data_file("wikitext2_test.txt")).substr(0, 20000));
  PerplexityOptions o;
  o.ctx = 64;
  o.chunks = 3;
  PerplexityResult r = perplexity(model, tokens, o);
  ASSERT_EQ(r.chunks, 3);
  ASSERT_EQ(r.tokens_scored, 3 * 32);

  // Directly: for window i = tokens[64 i .. 64 i + 64], score positions 32..63 predicting the next token.
  double sum = 0;
  const int64_t V = m.weights->cfg.vocab;
  for (int c = 0; c < 3; ++c) {
    KvCache cache = model.make_cache(64);
    std::vector<float> logits;
    model.forward(tokens.data() + c * 64, 64, cache, logits);
    for (int p = 32; p < 64; ++p) {
      const float* l = logits.data() + p * V;
      double mx = *std::max_element(l, l + V), s = 0;
      for (int64_t v = 0; v < V; ++v) s += std::exp(double(l[v]) - mx);
      sum += -(double(l[tokens[size_t(c * 64 + p + 1)]]) - mx - std::log(s));
    }
  }
  EXPECT_NEAR(r.ppl, std::exp(sum / 96.0), 1e-6 * r.ppl);
}

TEST(Perplexity, WindowCount) {
  EXPECT_EQ(available_chunks(512, 512), 0);
  EXPECT_EQ(available_chunks(513, 512), 1);
  EXPECT_EQ(available_chunks(1024, 512), 1);
  EXPECT_EQ(available_chunks(1025, 512), 2);
}

// The reference protocol (200 windows of 512, second half scored) on the whole
// of wikitext-2; our number must be within 0.1% of transformers'.
class PerplexityProtocol : public ::testing::TestWithParam<std::string> {};

TEST_P(PerplexityProtocol, ReproducesReference) {
  const std::string name = GetParam();
  auto ref = test::reference(name);
  LoadedModel m = load_model(test::model_dir(name));
  Transformer model(m.weights);
  std::vector<int32_t> tokens = m.tokenizer->encode(test::read_file(test::data_file("wikitext2_test.txt")));
  ASSERT_EQ(int64_t(tokens.size()), ref["wikitext2_test_tokens"].get<int64_t>());
  PerplexityOptions o;  // defaults are the protocol: ctx 512, 200 chunks
  PerplexityResult r = perplexity(model, tokens, o);
  EXPECT_EQ(r.tokens_scored, ref["ppl_tokens_scored"].get<int64_t>());
  const double want = ref["ppl_ctx512_second_half"].get<double>();
  EXPECT_NEAR(r.ppl, want, want * 0.001) << name;
  std::printf("%s: ppl %.5f (reference %.5f, diff %.4f%%), %.0f tok/s\n", name.c_str(), r.ppl, want,
              100.0 * (r.ppl - want) / want, r.tokens_per_second);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, PerplexityProtocol, ::testing::Values("tiny-llama", "small-llama", "tiny-qwen3moe"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (auto& c : s)
                             if (c == '-') c = '_';
                           return s;
                         });
