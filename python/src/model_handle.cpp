#include "model_handle.h"

#include <fmt/format.h>

#include "eval/generate.h"
#include "eval/perplexity.h"
#include "util/error.h"

namespace llmq::py {

ModelHandle::ModelHandle(const std::string& path) : loaded_(load_model(path, {.lazy = true})) {
  model_ = std::make_unique<Transformer>(loaded_.weights);
}

int64_t ModelHandle::vocab() const { return model_->config().vocab; }

void ModelHandle::check_ids(const char* what, const std::vector<int32_t>& ids) const {
  if (ids.empty()) fail("{}: no token ids given", what);
  for (int32_t id : ids)
    if (id < 0 || id >= vocab()) fail("{}: token id {} is outside the vocabulary (0..{})", what, id, vocab() - 1);
}

std::vector<float> ModelHandle::logits(const std::vector<int32_t>& ids) const {
  check_ids("logits", ids);
  const int64_t n = int64_t(ids.size());
  if (n > model_->config().max_positions)
    fail("logits: {} tokens exceed the model's context length {}", n, model_->config().max_positions);
  KvCache cache = model_->make_cache(n);
  std::vector<float> out;
  model_->forward(ids.data(), n, cache, out, 0);
  return out;
}

std::vector<int32_t> ModelHandle::generate_ids(const std::vector<int32_t>& prompt, int64_t max_tokens) const {
  if (max_tokens < 0) fail("generate: max_tokens must not be negative (got {})", max_tokens);
  check_ids("generate", prompt);
  GenerateOptions g;
  g.max_new_tokens = max_tokens;
  g.stop_token = loaded_.tokenizer->eos_id();
  std::vector<int32_t> all = prompt;
  const std::vector<int32_t> out = generate_greedy(*model_, prompt, g);
  all.insert(all.end(), out.begin(), out.end());
  return all;
}

std::string ModelHandle::generate(const std::string& prompt, int64_t max_tokens) const {
  const std::vector<int32_t> ids = loaded_.tokenizer->encode(prompt, true);
  const std::vector<int32_t> all = generate_ids(ids, max_tokens);
  return loaded_.tokenizer->decode(std::vector<int32_t>(all.begin() + int64_t(ids.size()), all.end()));
}

double ModelHandle::perplexity(const std::string& text, int64_t ctx, int64_t chunks) const {
  const std::vector<int32_t> tokens = loaded_.tokenizer->encode(text, false);
  PerplexityOptions po;
  po.ctx = ctx;
  po.chunks = chunks;
  return llmq::perplexity(*model_, tokens, po).ppl;
}

nlohmann::json ModelHandle::info() const {
  const ModelConfig& c = loaded_.weights->cfg;
  return {{"path", loaded_.path},           {"format", loaded_.format},   {"dtype", loaded_.dtype},
          {"parameters", loaded_.n_params}, {"file_bytes", loaded_.file_bytes},
          {"architecture", c.model_type},         {"vocab_size", c.vocab},      {"hidden_size", c.hidden},
          {"layers", c.n_layers},           {"experts", c.n_experts},     {"context_length", c.max_positions}};
}

}  // namespace llmq::py
