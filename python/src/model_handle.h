#pragma once
// A loaded model for Python: any format load_model() opens, evaluated by the
// same forward pass as `quality` and `generate`, weights kept in their stored
// form (lazy) so a quantized file stays its size in memory.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/model_loader.h"
#include "model/transformer.h"
#include "tokenizer/tokenizer.h"

namespace llmq::py {

class ModelHandle {
 public:
  explicit ModelHandle(const std::string& path);

  // Logits [ids.size(), vocab], row-major, for every position.
  std::vector<float> logits(const std::vector<int32_t>& ids) const;
  int64_t vocab() const;
  // Greedy continuation of `prompt` (encoded with the checkpoint's special
  // tokens, as `llm-quantize generate` does); stops at EOS.
  std::string generate(const std::string& prompt, int64_t max_tokens) const;
  // The same from token ids; returns prompt and continuation ids.
  std::vector<int32_t> generate_ids(const std::vector<int32_t>& prompt, int64_t max_tokens) const;
  // `quality perplexity`'s protocol: windows of ctx tokens, second half scored.
  double perplexity(const std::string& text, int64_t ctx, int64_t chunks) const;
  // What `inspect` reports first: path, format, dtype, parameters, architecture.
  nlohmann::json info() const;
  const Tokenizer& tokenizer() const { return *loaded_.tokenizer; }
  std::shared_ptr<Tokenizer> tokenizer_ptr() const { return loaded_.tokenizer; }

 private:
  // Throws llmq::Error naming `what` for no ids or an id outside the vocabulary.
  void check_ids(const char* what, const std::vector<int32_t>& ids) const;

  LoadedModel loaded_;
  std::unique_ptr<Transformer> model_;
};

}  // namespace llmq::py
