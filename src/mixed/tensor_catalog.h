#pragma once
// What dynamic mixed precision allocates over: the tensors of the model's
// GGUF file (names, shapes, which are quantized at all), the bytes each
// would take in each type, and the bytes that do not depend on the choice
// (GGUF header, tensors kept in float), so a budget in bits per weight or
// in file bytes becomes a byte budget for the quantized tensors.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "export/gguf/gguf_tensor_layout.h"
#include "export/gguf/gguf_type_plan.h"
#include "io/hf_checkpoint.h"
#include "model/config.h"
#include "quant/formats/ggml/ggml_types.h"

namespace llmq {

struct CatalogTensor {
  GgufTensorSpec spec;
  bool quantizable = false;                        // false: stored as `fixed_type` whatever the budget
  ggml::GgmlType fixed_type = ggml::GgmlType::F32;  // the type of a tensor that is not quantized
};

class TensorCatalog {
 public:
  // Reads config.json, the tokenizer (for the GGUF header's size) and checks
  // the checkpoint's tensors. `model_name` is general.name ("" = the folder name).
  explicit TensorCatalog(const std::string& model_dir, const std::string& model_name = "");

  const std::string& model_dir() const { return model_dir_; }
  const ModelConfig& config() const { return cfg_; }
  const HfCheckpoint& checkpoint() const { return *ckpt_; }
  const std::vector<CatalogTensor>& tensors() const { return tensors_; }
  const CatalogTensor* find(const std::string& gguf_name) const;
  int64_t n_elements() const { return n_elements_; }  // every tensor of the file
  // GGUF header (metadata and tensor table) padded to the data alignment:
  // the file is this plus each tensor's data padded to the alignment.
  uint64_t header_bytes() const { return header_bytes_; }
  static constexpr uint64_t kAlignment = 32;

 private:
  std::string model_dir_;
  std::unique_ptr<HfCheckpoint> ckpt_;
  ModelConfig cfg_;
  std::vector<CatalogTensor> tensors_;
  int64_t n_elements_ = 0;
  uint64_t header_bytes_ = 0;
};

// Data bytes of a tensor stored in `type`.
uint64_t tensor_data_bytes(const GgufTensorSpec& spec, ggml::GgmlType type);

// The directory's name, as the exporter uses for general.name.
std::string model_dir_name(const std::string& model_dir);

}  // namespace llmq
