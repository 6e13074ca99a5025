#pragma once
// Measures the sensitivities an allocation needs (tensor x candidate type),
// reusing and extending the on-disk cache: each tensor's values are saved as
// soon as they are measured, so an interrupted run resumes, and a ladder that
// grows (new i-quant codecs) measures only the new types.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "export/gguf/gguf_exporter.h"
#include "mixed/kld_sensitivity.h"
#include "mixed/sensitivity.h"
#include "mixed/tensor_catalog.h"

namespace llmq {

struct SensitivityRequest {
  std::string name;                    // GGUF tensor
  std::vector<ggml::GgmlType> types;   // candidate types to measure
};

struct SensitivityRunOptions {
  SensitivityMode mode = SensitivityMode::Fast;
  std::string cache_path;              // "" = keep nothing on disk
  std::string imatrix_path;            // part of the fingerprint
  ImportanceLookup importance;         // as the exporter will use it
  std::string data_path;               // accurate mode: calibration text
  KldMeterOptions kld;                 // accurate mode: windows
  // After each tensor: tensors done, total, the tensor's name.
  std::function<void(size_t, size_t, const std::string&)> progress;
};

struct SensitivityRun {
  SensitivityTable table;
  int64_t measured = 0;  // (tensor, type) pairs computed in this run
  int64_t reused = 0;    // ... taken from the cache
  double seconds = 0;
  std::string cache_note;
};

SensitivityRun measure_sensitivities(const TensorCatalog& catalog, const std::vector<SensitivityRequest>& requests,
                                     const SensitivityRunOptions& opt);

// What a cache must match to be reused.
nlohmann::json sensitivity_fingerprint(const TensorCatalog& catalog, const SensitivityRunOptions& opt);

}  // namespace llmq
