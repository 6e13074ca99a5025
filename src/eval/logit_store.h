#pragma once
// The base model's next-token distributions over the scored positions of a
// text, saved once so that any number of quantized models can be compared
// against them without re-running the base (`--base-logits FILE`).
//
// File format (little-endian; see docs/quality.md):
//   offset 0   char[8] magic "LLMQLOGP"
//          8   u32 version (1)
//         12   u32 vocab
//         16   u32 ctx           window length in tokens
//         20   u32 score_from    first scored position of each window
//         24   u32 windows
//         28   u32 record_bytes  = log_prob_record_bytes(vocab)
//         32   u64 meta_bytes
//         40   meta_bytes of JSON: who made it (base model path, dtype,
//              file_bytes, n_params; data file), zero-padded to 16 bytes
//              i32 tokens[windows * ctx + 1]: the windows' tokens
//              (window w = tokens[w*ctx .. w*ctx + ctx]), zero-padded to 16
//              records, window by window, position by position
//              (windows * (ctx - score_from) of them, log_prob_codec.h)
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/log_prob_codec.h"
#include "eval/window_plan.h"
#include "model/transformer.h"
#include "util/mapped_file.h"

namespace llmq {

constexpr char kBaseLogitsMagic[8] = {'L', 'L', 'M', 'Q', 'L', 'O', 'G', 'P'};
constexpr uint32_t kBaseLogitsVersion = 1;

class BaseLogits {
 public:
  // Maps and validates a file written by write_base_logits(). Throws
  // llmq::Error naming the file when it is not one, is truncated, or is
  // inconsistent.
  static BaseLogits open(const std::string& path);

  const std::string& path() const { return path_; }
  const WindowPlan& plan() const { return plan_; }
  int64_t vocab() const { return vocab_; }
  const nlohmann::json& meta() const { return meta_; }
  std::span<const int32_t> tokens() const { return {tokens_, size_t(plan_.tokens_needed())}; }
  const int32_t* window_tokens(int64_t window) const { return tokens_ + window * plan_.ctx; }
  // Record of scored position `pos` (0 = position score_from) of a window.
  LogProbRecord record(int64_t window, int64_t pos) const {
    return LogProbRecord(records_ + (window * plan_.scored_per_window() + pos) * record_bytes_);
  }

 private:
  BaseLogits() = default;
  std::string path_;
  MappedFile file_;
  WindowPlan plan_;
  int64_t vocab_ = 0, record_bytes_ = 0;
  nlohmann::json meta_;
  const int32_t* tokens_ = nullptr;
  const uint8_t* records_ = nullptr;
};

// Runs `base` over the planned windows of `tokens` and writes the file at
// `path` atomically (nothing under that name unless it completes).
// `on_window(done, total)` is called after each window.
void write_base_logits(const std::string& path, const Transformer& base, const std::vector<int32_t>& tokens,
                       const WindowPlan& plan, const nlohmann::json& meta,
                       const std::function<void(int64_t, int64_t)>& on_window = {});

// write_base_logits() to a temporary file that is mapped and then unlinked,
// for a comparison that does not keep the base logits.
BaseLogits compute_base_logits(const Transformer& base, const std::vector<int32_t>& tokens, const WindowPlan& plan,
                               const nlohmann::json& meta,
                               const std::function<void(int64_t, int64_t)>& on_window = {});

}  // namespace llmq
