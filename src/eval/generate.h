#pragma once
// Greedy generation with the KV cache: the prompt is processed as one batch,
// then one token per step.
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "model/transformer.h"

namespace llmq {

struct GenerateOptions {
  int64_t max_new_tokens = 32;
  std::optional<int32_t> stop_token;  // usually EOS; generation stops after emitting it
};

// Where the time went: the prompt as one batch (prefill), then one token per
// forward pass (decode), as llama.cpp's prompt/eval timings report them.
struct GenerateTimings {
  int64_t prompt_tokens = 0;
  double prompt_seconds = 0.0;
  int64_t decoded_tokens = 0;  // forward passes of one token
  double decode_seconds = 0.0;
  double prompt_tokens_per_second() const { return prompt_seconds > 0 ? double(prompt_tokens) / prompt_seconds : 0.0; }
  double decode_tokens_per_second() const { return decode_seconds > 0 ? double(decoded_tokens) / decode_seconds : 0.0; }
};

// Returns the generated ids (not including the prompt). `on_token` sees each as it comes.
std::vector<int32_t> generate_greedy(const Transformer& model, const std::vector<int32_t>& prompt,
                                     const GenerateOptions& opt,
                                     const std::function<void(int32_t)>& on_token = {},
                                     GenerateTimings* timings = nullptr);

int32_t argmax(const float* x, int64_t n);

}  // namespace llmq
