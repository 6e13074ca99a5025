#pragma once
// Sensitivity of each tensor to each candidate type: how much quality the
// model loses when that tensor alone is stored in that type. Two measures:
//
//  fast      importance-weighted relative error of the weights:
//              sum_rows sum_j imp_j (w - q(w))^2 / sum_rows sum_j imp_j w^2
//            with imp_j = E[x_j^2] from the importance matrix (ones where it
//            has no entry: token_embd, output). This is the output noise
//            E|dW x|^2 relative to the output E|W x|^2 under a diagonal input
//            covariance; quantized exactly as the exporter will (same codec,
//            same importance vector). For stacked MoE experts it is kept per
//            expert and combined per layer (uniformly, or weighted by routing
//            counts with --dynamic-experts).
//  accurate  mean KL divergence of the final next-token distribution against
//            the unquantized model's, over calibration windows, when that
//            tensor alone is quantized-and-dequantized (kld_sensitivity.h).
//  hybrid    the accurate measure at two reference types per tensor, the
//            other types placed on the power law KL = a * fast^b through
//            them (hybrid_sensitivity.h): the fast measure gets each curve's
//            shape right but not the scale between tensors, which spans
//            orders of magnitude (output.weight vs attn_q); two forward-pass
//            measurements per tensor fix the scale.
//
// Summing single-tensor losses assumes their effects add up, the usual
// first-order assumption of mixed-precision allocation; the allocator then
// minimizes the sum exactly.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "quant/formats/ggml/ggml_types.h"

namespace llmq {

enum class SensitivityMode { Fast, Accurate, Hybrid };
const char* sensitivity_mode_name(SensitivityMode m);
std::optional<SensitivityMode> sensitivity_mode_from_name(const std::string& s);

struct TypeSensitivity {
  double value = 0;             // the tensor's sensitivity (per-expert mean for fast-mode stacks)
  std::vector<double> experts;  // fast mode, stacked experts: one value per expert
};

using TensorSensitivity = std::map<ggml::GgmlType, TypeSensitivity>;

struct SensitivityTable {
  SensitivityMode mode = SensitivityMode::Fast;
  nlohmann::json fingerprint;  // what the values were computed from (cache key)
  std::map<std::string, TensorSensitivity> tensors;  // by GGUF name
  // Types a codec refused for a tensor (e.g. an i-quant without importance data), with why.
  std::map<std::string, std::map<ggml::GgmlType, std::string>> refused;

  const TypeSensitivity* find(const std::string& name, ggml::GgmlType type) const;
  bool has_all(const std::string& name, const std::vector<ggml::GgmlType>& types) const;

  nlohmann::json to_json() const;
  // Throws llmq::Error naming `source` on a malformed document.
  static SensitivityTable from_json(const nlohmann::json& j, const std::string& source);
};

// The on-disk cache: a JSON file rewritten atomically after every tensor, so
// an interrupted measurement resumes where it stopped. A file computed from
// other inputs (another fingerprint) is not reused.
class SensitivityCache {
 public:
  // path "" = no cache on disk.
  SensitivityCache(std::string path, SensitivityMode mode, nlohmann::json fingerprint);
  const SensitivityTable& table() const { return table_; }
  SensitivityTable& table() { return table_; }
  void save() const;  // no-op without a path
  const std::string& path() const { return path_; }
  int64_t loaded_tensors() const { return loaded_; }  // tensors restored from disk
  const std::string& note() const { return note_; }    // why an existing file was not reused

 private:
  std::string path_;
  SensitivityTable table_;
  int64_t loaded_ = 0;
  std::string note_;
};

// Writes `j` to `path` atomically (the caches rewrite their file after every
// tensor, so an interrupted run leaves the last complete version).
void save_json_atomically(const std::string& path, const nlohmann::json& j);

// FNV-1a of a file's bytes as 16 hex digits, for fingerprints. Throws
// llmq::Error naming the file.
std::string file_fingerprint(const std::string& path);

// The part of a measurement cache's fingerprint that names the model: its
// directory, its weights' bytes and its config.json. The caches add what
// else their values depend on.
nlohmann::json model_fingerprint(const std::string& model_dir, uint64_t weights_bytes);

}  // namespace llmq
