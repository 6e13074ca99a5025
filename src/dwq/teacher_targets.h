#pragma once
// The teacher's side of distillation: the original model's k largest logits
// (and their token ids) at every position of every training and validation
// sequence. Computed once with the fp32 forward pass and kept in a cache file
// named by what it depends on (the model's fingerprint, the exact tokens, k),
// so another run on the same data (other bits, learning rate, init) reuses it.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dwq/backprop.h"
#include "model/weights.h"

namespace llmq::dwq {

struct TeacherTargets {
  int64_t sequences = 0, T = 0, k = 0;
  std::vector<float> logits;  // [sequences, T, k], largest first
  std::vector<int32_t> ids;   // [sequences, T, k]
  std::vector<float> lse;     // [sequences, T]: log sum exp(z / temperature) over the whole vocabulary
  SequenceTargets of(int64_t i) const { return {logits.data() + i * T * k, ids.data() + i * T * k, lse.data() + i * T, k}; }
  // Sequences [first, first + n) as targets of their own.
  TeacherTargets slice(int64_t first, int64_t n) const;
};

// The cache file for these inputs inside `cache_dir`.
std::string targets_cache_path(const std::string& cache_dir, const std::string& model_fingerprint,
                               const std::vector<std::vector<int32_t>>& sequences, int64_t k, float temperature);

// Reads the targets from `cache_path` when it holds them (checked: shapes,
// ids inside the vocabulary), else computes them on `teacher` and writes the
// file. `progress(done, total)` after each computed sequence. `reused` tells
// which happened.
TeacherTargets teacher_targets(const ModelWeights& teacher, const std::vector<std::vector<int32_t>>& sequences, int64_t k,
                               float temperature, const std::string& cache_path, const std::function<void(int64_t, int64_t)>& progress,
                               bool* reused = nullptr);

}  // namespace llmq::dwq
