// Task scoring: the lm-eval continuation split, acc / acc_norm math on
// hand-made log-likelihoods, and continuation log-likelihoods on a real
// fixture model against a plain forward pass over the whole sequence.
#include <cmath>

#include <gtest/gtest.h>

#include "common/cached_model.h"
#include "common/fixtures.h"
#include "eval/perplexity.h"
#include "eval/task_scoring.h"
#include "model/model_loader.h"
#include "tokenizer/tokenizer.h"

using namespace llmq;

namespace {

const std::string kTasks = std::string(LLMQ_SOURCE_DIR) + "/tests/eval/data/tasks.jsonl";

// Sum of log p(tokens[i] | tokens[..i]) for i >= from, from one forward pass over all tokens.
double direct_loglik(const Transformer& model, const std::vector<int32_t>& tokens, size_t from) {
  KvCache cache = model.make_cache(int64_t(tokens.size()));
  std::vector<float> logits;
  model.forward(tokens.data(), int64_t(tokens.size()), cache, logits, 0);
  const int64_t vocab = model.config().vocab;
  double s = 0;
  for (size_t i = from; i < tokens.size(); ++i) s -= token_nll(logits.data() + int64_t(i - 1) * vocab, vocab, tokens[i]);
  return s;
}

std::vector<int32_t> cat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

TEST(TaskScoring, PickAndAccuracyMath) {
  //   sums      -10 (10 bytes), -3 (5 bytes), -4 (20 bytes)  -> acc picks 1
  //   per byte  -1.0,           -0.6,         -0.2            -> acc_norm picks 2
  const std::vector<std::string> choices = {"0123456789", "abcde", std::string(20, 'x')};
  ChoicePick p = pick_choice({-10, -3, -4}, choices);
  EXPECT_EQ(p.pred, 1);
  EXPECT_EQ(p.pred_norm, 2);
  // Ties go to the first index (np.argmax); lengths are UTF-8 bytes ("é" counts 2).
  p = pick_choice({-2, -2}, {"ab", "ab"});
  EXPECT_EQ(p.pred, 0);
  EXPECT_EQ(p.pred_norm, 0);
  p = pick_choice({-3, -2.9}, {"\xC3\xA9", "a"});  // -1.5 per byte vs -2.9
  EXPECT_EQ(p.pred, 1);
  EXPECT_EQ(p.pred_norm, 0);

  AccuracyStat s = accuracy_stat(4, 3, 1);
  EXPECT_DOUBLE_EQ(s.acc, 0.75);
  EXPECT_DOUBLE_EQ(s.acc_stderr, 0.25);  // sqrt(0.75 * 0.25 / 3)
  EXPECT_DOUBLE_EQ(s.acc_norm, 0.25);
  EXPECT_DOUBLE_EQ(s.acc_norm_stderr, 0.25);
  EXPECT_DOUBLE_EQ(accuracy_stat(1, 1, 0).acc_stderr, 0.0);
  EXPECT_EQ(accuracy_stat(0, 0, 0).n, 0);
}

TEST(TaskScoring, AccuracyTable) {
  TaskEvalResult a, b;
  a.tasks = {{"arc", accuracy_stat(4, 3, 2)}};
  a.overall = accuracy_stat(4, 3, 2);
  b.tasks = {{"arc", accuracy_stat(4, 2, 2)}};
  b.overall = accuracy_stat(4, 2, 2);
  EXPECT_EQ(task_accuracy_table({"base", "q4"}, {a, b}),
            "| task    |   n |        base acc |   base acc_norm |          q4 acc |     q4 acc_norm |\n"
            "|:--------|----:|----------------:|----------------:|----------------:|----------------:|\n"
            "| arc     |   4 | 0.7500 ± 0.2500 | 0.5000 ± 0.2887 | 0.5000 ± 0.2887 | 0.5000 ± 0.2887 |\n"
            "| overall |   4 | 0.7500 ± 0.2500 | 0.5000 ± 0.2887 | 0.5000 ± 0.2887 | 0.5000 ± 0.2887 |\n");
  nlohmann::json j = a.to_json();
  EXPECT_EQ(j["tasks"]["arc"]["n"], 4);
  EXPECT_DOUBLE_EQ(j["overall"]["acc"].get<double>(), 0.75);
}

TEST(TaskScoring, ContinuationSplitAsLmEval) {
  const LoadedModel& m = test::cached_model("tiny-llama");
  const Tokenizer& tok = *m.tokenizer;
  // Trailing whitespace of the context moves onto the continuation; the continuation is
  // the whole encoding past the context's token count.
  EncodedPair p = encode_pair(tok, "The kernel \n", "schedules tasks");
  EXPECT_EQ(p.context, tok.encode("The kernel", false));
  std::vector<int32_t> whole = tok.encode("The kernel \nschedules tasks", false);
  EXPECT_EQ(p.continuation, std::vector<int32_t>(whole.begin() + int64_t(p.context.size()), whole.end()));
  EXPECT_EQ(cat(p.context, p.continuation), whole);
  // Empty context: BOS stands for it, the continuation is encoded alone.
  p = encode_pair(tok, "", " The kernel");
  EXPECT_EQ(p.context, std::vector<int32_t>{*tok.bos_id()});
  EXPECT_EQ(p.continuation, tok.encode(" The kernel", false));
}

// The summed log-likelihood of a continuation (context run once, its KV cache reused
// for each choice) equals the sum from a plain forward pass over the whole sequence.
TEST(TaskScoring, LoglikelihoodsMatchAFullForwardPass) {
  const LoadedModel& m = test::cached_model("tiny-llama");
  Transformer model(m.weights);
  const Tokenizer& tok = *m.tokenizer;
  const std::string ctx = "The Linux kernel is the core of the operating system. It manages";
  const std::vector<std::string> conts = {" memory and processes.", " the weather", " bananas in the kitchen of a house"};
  std::vector<int32_t> ctx_ids;
  std::vector<std::vector<int32_t>> cont_ids;
  for (const std::string& c : conts) {
    EncodedPair p = encode_pair(tok, ctx, c);
    ctx_ids = p.context;
    cont_ids.push_back(p.continuation);
  }
  const std::vector<double> ll = continuation_logliks(model, ctx_ids, cont_ids);
  ASSERT_EQ(ll.size(), conts.size());
  for (size_t i = 0; i < conts.size(); ++i) {
    EXPECT_NEAR(ll[i], direct_loglik(model, cat(ctx_ids, cont_ids[i]), ctx_ids.size()), 1e-4) << conts[i];
    EXPECT_LT(ll[i], 0.0);
  }
}

// Past the model's context length, leading context tokens are dropped (lm-eval's left
// truncation); choices of different lengths drop different amounts.
TEST(TaskScoring, LongInputsLoseTheirFirstTokens) {
  LoadedModel m = load_model(test::model_dir("tiny-llama"), {.lazy = true});
  m.weights->cfg.max_positions = 12;
  Transformer model(m.weights);
  const std::vector<int32_t> ctx = m.tokenizer->encode("One two three four five six seven eight nine ten", false);
  ASSERT_GT(ctx.size(), 13u);  // every choice drops context tokens
  const std::vector<std::vector<int32_t>> conts = {m.tokenizer->encode(" eleven", false),
                                                   m.tokenizer->encode(" eleven twelve thirteen", false)};
  const std::vector<double> ll = continuation_logliks(model, ctx, conts);
  for (size_t i = 0; i < conts.size(); ++i) {
    std::vector<int32_t> all = cat(ctx, conts[i]);
    const size_t drop = all.size() - 1 - 12;  // 12 tokens fed, the last one only predicted
    std::vector<int32_t> kept(all.begin() + int64_t(drop), all.end());
    EXPECT_NEAR(ll[i], direct_loglik(model, kept, kept.size() - conts[i].size()), 1e-4) << i;
  }
}

TEST(TaskScoring, EvaluatesTheTestTasks) {
  const LoadedModel& m = test::cached_model("tiny-llama");
  Transformer model(m.weights);
  const std::vector<TaskRecord> recs = read_task_records(kTasks);
  size_t calls = 0;
  TaskEvalResult r = evaluate_tasks(model, *m.tokenizer, recs, {.num_fewshot = 1, .limit = 2},
                                    [&](size_t done, size_t total, double) {
                                      ++calls;
                                      EXPECT_EQ(total, 8u);
                                      EXPECT_EQ(done, calls);
                                    });
  ASSERT_EQ(r.tasks.size(), 4u);  // mmlu_math, hellaswag, capitals, tasks
  EXPECT_EQ(r.tasks[0].task, "mmlu_math");
  EXPECT_EQ(r.tasks[0].stat.n, 2);  // --limit 2 of 3
  EXPECT_EQ(r.overall.n, 8);
  ASSERT_EQ(r.records.size(), 8u);
  int64_t acc = 0;
  for (const RecordOutcome& o : r.records) {
    const TaskRecord& rec = recs[o.index];
    ASSERT_EQ(o.logliks.size(), rec.choices.size());
    EXPECT_EQ(o.acc, o.pick.pred == rec.gold);
    const ChoicePick again = pick_choice(o.logliks, rec.choices);
    EXPECT_EQ(again.pred_norm, o.pick.pred_norm);
    acc += o.acc;
  }
  EXPECT_DOUBLE_EQ(r.overall.acc, double(acc) / 8.0);
  EXPECT_GT(r.tokens, 0);
}
