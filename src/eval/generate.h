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

// Returns the generated ids (not including the prompt). `on_token` sees each as it comes.
std::vector<int32_t> generate_greedy(const Transformer& model, const std::vector<int32_t>& prompt,
                                     const GenerateOptions& opt,
                                     const std::function<void(int32_t)>& on_token = {});

int32_t argmax(const float* x, int64_t n);

}  // namespace llmq
