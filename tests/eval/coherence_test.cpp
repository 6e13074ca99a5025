// The post-quantization coherence check: repetition measures worked out by
// hand, and the whole check on the fixture model against itself (passes)
// and against a deliberately broken copy (fails).
#include <gtest/gtest.h>

#include <algorithm>

#include "common/fixtures.h"
#include "eval/coherence_check.h"
#include "eval/repetition.h"
#include "model/model_loader.h"

using namespace llmq;

TEST(Repetition, StatsByHand) {
  // 1 2 3 4 5 5 5 5: a run of four 5s, which is also a period-1 stretch of 4.
  RepetitionStats s = repetition_stats({1, 2, 3, 4, 5, 5, 5, 5});
  EXPECT_EQ(s.tokens, 8);
  EXPECT_EQ(s.longest_run, 4);
  EXPECT_EQ(s.loop_tokens, 4);
  EXPECT_EQ(s.loop_period, 1);
  EXPECT_EQ(s.distinct, 5);
  // 7 8 9 three times then 1: period 3 over the first 9 tokens.
  s = repetition_stats({7, 8, 9, 7, 8, 9, 7, 8, 9, 1});
  EXPECT_EQ(s.longest_run, 1);
  EXPECT_EQ(s.loop_tokens, 9);
  EXPECT_EQ(s.loop_period, 3);
  EXPECT_EQ(s.distinct, 4);
  s = repetition_stats({});
  EXPECT_EQ(s.tokens, 0);
  EXPECT_EQ(s.loop_tokens, 0);
}

TEST(Repetition, WhatCountsAsDegenerate) {
  std::vector<int32_t> varied(32);
  for (int i = 0; i < 32; ++i) varied[size_t(i)] = 100 + i;
  EXPECT_EQ(describe_degeneracy(repetition_stats(varied)), "");

  std::vector<int32_t> alternating(32);
  for (int i = 0; i < 32; ++i) alternating[size_t(i)] = i % 2 ? 5 : 6;
  EXPECT_EQ(describe_degeneracy(repetition_stats(alternating)), "a 2-token sequence repeated over 32 of 32 tokens");

  std::vector<int32_t> run = varied;
  std::fill(run.begin() + 10, run.begin() + 22, 9);  // 12 nines: at least max(8, 32/4)
  EXPECT_EQ(describe_degeneracy(repetition_stats(run)), "one token repeated 12 times in a row");
  std::fill(run.begin() + 10, run.begin() + 22, 0);
  std::fill(run.begin() + 10, run.begin() + 17, 9);  // 7 nines: not enough
  EXPECT_EQ(describe_degeneracy(repetition_stats(run)), "");

  // 6 ids in an irregular order: no long run or short loop, but few distinct tokens.
  const std::vector<int32_t> few = {1, 2, 3, 1, 4, 5, 6, 2, 2, 6, 1, 3, 5, 4, 4, 1,
                                    6, 3, 2, 5, 1, 1, 4, 6, 3, 3, 2, 4, 5, 6, 1, 2};
  EXPECT_EQ(describe_degeneracy(repetition_stats(few)), "only 6 distinct tokens in 32");

  EXPECT_EQ(describe_degeneracy(repetition_stats({3, 3, 3, 3, 3, 3, 3})), "");  // too short to judge
}

TEST(CoherenceCheck, ModelAgainstItselfPasses) {
  const LoadedModel m = load_model(test::model_dir("tiny-llama"));
  CoherenceOptions o;
  o.max_new_tokens = 16;
  const CoherenceReport r = check_coherence(m, m, o);
  EXPECT_TRUE(r.passed());
  EXPECT_EQ(r.prompts.size(), default_coherence_prompts().size());
  EXPECT_DOUBLE_EQ(r.ppl_quantized, r.ppl_original);
  EXPECT_GT(r.heldout_tokens, 100);
  for (const PromptCheck& c : r.prompts) {
    EXPECT_FALSE(c.broken()) << c.prompt;
    EXPECT_EQ(c.quantized_text, c.original_text);
  }
}

TEST(CoherenceCheck, BrokenModelFails) {
  // Every attention and MLP weight zeroed: what is left predicts the next
  // token from the current one alone.
  const LoadedModel original = load_model(test::model_dir("tiny-llama"));
  LoadedModel broken = load_model(test::model_dir("tiny-llama"));
  for (const NamedTensor& t : named_tensors(*broken.weights))
    if (t.layer >= 0 && t.shape.size() == 2) std::fill(t.tensor->data.begin(), t.tensor->data.end(), 0.f);
  const CoherenceReport r = check_coherence(original, broken);
  EXPECT_FALSE(r.passed());
  EXPECT_GT(r.ppl_quantized, 2 * r.ppl_original);
  ASSERT_FALSE(r.failures.empty());
  EXPECT_NE(r.failures.back().find("held-out perplexity"), std::string::npos) << r.failures.back();
}
