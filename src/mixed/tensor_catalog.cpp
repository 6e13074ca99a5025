#include "mixed/tensor_catalog.h"

#include <filesystem>

#include "export/gguf/gguf_model_metadata.h"
#include "export/gguf/gguf_presets.h"
#include "export/gguf/gguf_tensor_source.h"
#include "io/gguf/gguf_encode.h"
#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;

namespace llmq {

namespace {

// Bytes of the header GgufWriter writes: magic, version, counts, key/values,
// then per tensor its name, dims, shape, type and offset; padded so that the
// data section starts aligned.
uint64_t header_size(const GgufMetadata& meta, const std::vector<CatalogTensor>& tensors) {
  gguf::Bytes h;
  for (const auto& [key, value] : meta) gguf::append_key_value(h, key, value);
  uint64_t n = sizeof(gguf::kMagic) + sizeof(uint32_t) + 2 * sizeof(uint64_t) + h.size();
  for (const CatalogTensor& t : tensors)
    n += sizeof(uint64_t) + t.spec.name.size() + sizeof(uint32_t) + t.spec.ne.size() * sizeof(int64_t) +
         sizeof(uint32_t) + sizeof(uint64_t);
  return gguf::align_up(n, TensorCatalog::kAlignment);
}

}  // namespace

std::string model_dir_name(const std::string& model_dir) {
  fs::path p = fs::path(model_dir).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

uint64_t tensor_data_bytes(const GgufTensorSpec& spec, ggml::GgmlType type) {
  return uint64_t(ggml::row_size(type, spec.row_length())) * uint64_t(spec.n_rows());
}

TensorCatalog::TensorCatalog(const std::string& model_dir, const std::string& model_name) : model_dir_(model_dir) {
  ckpt_ = std::make_unique<HfCheckpoint>(model_dir);
  cfg_ = ModelConfig::from_json(ckpt_->config(), (fs::path(model_dir) / "config.json").string());
  const std::vector<GgufTensorSpec> layout = gguf_tensor_layout(cfg_);
  for (const GgufTensorSpec& s : layout) check_gguf_sources(*ckpt_, s);
  // Which tensors llama-quantize would quantize at all, and the type of the
  // others, come from the preset planner (any quantized preset gives both).
  GgufQuantOptions q;
  q.preset = GgufPreset::Q4_K_M;
  const std::vector<TensorTypeChoice> plan = plan_tensor_types(cfg_, layout, q, ggml::GgmlType::F32);
  for (size_t i = 0; i < layout.size(); ++i) {
    CatalogTensor t;
    t.spec = layout[i];
    t.quantizable = plan[i].quantizable;
    t.fixed_type = plan[i].quantizable ? ggml::GgmlType::F32 : plan[i].type;
    n_elements_ += t.spec.n_elements();
    tensors_.push_back(std::move(t));
  }
  const std::unique_ptr<Tokenizer> tokenizer = Tokenizer::load(model_dir);
  const std::string name = model_name.empty() ? model_dir_name(model_dir) : model_name;
  // general.file_type is a uint32 whatever its value, so any preset sizes the header.
  header_bytes_ = header_size(gguf_model_metadata(cfg_, *tokenizer, name, preset_info(q.preset).file_type), tensors_);
}

const CatalogTensor* TensorCatalog::find(const std::string& gguf_name) const {
  for (const CatalogTensor& t : tensors_)
    if (t.spec.name == gguf_name) return &t;
  return nullptr;
}

}  // namespace llmq
