#pragma once
// Multiple-choice task accuracy the way lm-evaluation-harness scores it:
// every choice is a continuation of the record's context, its log-likelihood
// the sum of its tokens' log-probabilities; acc takes the most likely choice,
// acc_norm the most likely per UTF-8 byte of the choice (docs/quality.md,
// "Task accuracy").
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/task_records.h"
#include "model/transformer.h"

namespace llmq {

class Tokenizer;

// A (context, continuation) pair as token ids, split as lm-eval's _encode_pair:
// trailing whitespace of the context moves onto the continuation; the whole
// text and the context are encoded without special tokens, and the
// continuation is what follows the context's token count in the whole. An
// empty context becomes [BOS] (EOS when the tokenizer has no BOS) and the
// continuation is encoded alone.
struct EncodedPair {
  std::vector<int32_t> context, continuation;
};
EncodedPair encode_pair(const Tokenizer& tok, std::string_view context, std::string_view continuation);

// Natural-log likelihood of each continuation after `context`: the sum over
// its tokens of log p(token | everything before). The context runs through
// the model once and its KV cache serves every continuation. Inputs longer
// than the model's context length lose their first tokens, as in lm-eval.
std::vector<double> continuation_logliks(const Transformer& model, std::span<const int32_t> context,
                                         const std::vector<std::vector<int32_t>>& continuations);

// The choice picked by log-likelihood and by log-likelihood per byte of the
// choice text (lm-eval's acc / acc_norm; first index on ties, as np.argmax).
struct ChoicePick {
  int pred = 0, pred_norm = 0;
};
ChoicePick pick_choice(const std::vector<double>& logliks, const std::vector<std::string>& choices);

// Accuracy over n records: the mean and its sample standard error sqrt(p (1 - p) / (n - 1))
// (lm-eval's mean_stderr; 0 when n < 2).
struct AccuracyStat {
  int64_t n = 0;
  double acc = 0, acc_stderr = 0, acc_norm = 0, acc_norm_stderr = 0;
  nlohmann::json to_json() const;
};
AccuracyStat accuracy_stat(int64_t n, int64_t correct, int64_t correct_norm);

struct TaskEvalOptions {
  int num_fewshot = 0;
  int64_t limit = 0;  // records evaluated per task (the first ones); 0 = all
};

// One evaluated record.
struct RecordOutcome {
  size_t index = 0;             // into the records given
  std::vector<double> logliks;  // per choice
  ChoicePick pick;
  bool acc = false, acc_norm = false;
};

struct TaskAccuracy {
  std::string task;
  AccuracyStat stat;
};

struct TaskEvalResult {
  std::vector<TaskAccuracy> tasks;  // in order of first appearance
  AccuracyStat overall;             // over all evaluated records
  std::vector<RecordOutcome> records;
  int64_t tokens = 0;               // tokens run through the model
  double seconds = 0;
  // {"tasks": {name: stat}, "overall": stat, "tokens", "seconds"}; stat = {n, acc, acc_stderr, acc_norm, acc_norm_stderr}.
  nlohmann::json to_json() const;
};

// The records evaluated under `limit`: the first `limit` of each task, in file order.
std::vector<size_t> evaluated_records(const std::vector<TaskRecord>& records, int64_t limit);

// Scores every evaluated record. `on_record(done, total, running_acc)` is called after each.
TaskEvalResult evaluate_tasks(const Transformer& model, const Tokenizer& tok, const std::vector<TaskRecord>& records,
                              const TaskEvalOptions& opt,
                              const std::function<void(size_t, size_t, double)>& on_record = {});

// Markdown table comparing models: rows are the tasks and "overall", columns
// acc and acc_norm (± standard error) of each model.
std::string task_accuracy_table(const std::vector<std::string>& model_names, const std::vector<TaskEvalResult>& results);

}  // namespace llmq
