#include "export/gguf/gguf_model_loader.h"

#include <cstring>
#include <fstream>
#include <map>
#include <optional>

#include "export/gguf/gguf_model_config.h"
#include "export/gguf/gguf_presets.h"
#include "export/gguf/gguf_tensor_layout.h"
#include "export/gguf/gguf_tokenizer.h"
#include "export/gguf/rope_permutation.h"
#include "model/kernels/dot_kernels.h"
#include "model/kernels/kquant_dot.h"
#include "quant/formats/ggml/ggml_quants.h"
#include "quant/formats/ggml/kquant_blocks.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace llmq {

namespace {

std::vector<int64_t> without_trailing_ones(std::vector<int64_t> ne) {
  while (ne.size() > 1 && ne.back() == 1) ne.pop_back();
  return ne;
}

void dequantize_tensor(const GgufReader& g, const GgufTensorInfo& t, std::vector<float>& out) {
  if (!ggml::can_dequantize(t.type))
    throw file_error(g.path(), "tensor " + t.name + " has type " + ggml::type_name(t.type) + ", which we cannot read");
  const int64_t cols = t.shape[0], rows = t.n_rows();
  const size_t row_bytes = ggml::row_size(t.type, cols);
  out.resize(size_t(t.n_elements()));
#pragma omp parallel for schedule(static) if (t.n_elements() >= (1 << 16))
  for (int64_t r = 0; r < rows; ++r) ggml::dequantize_row(t.type, t.data + size_t(r) * row_bytes, out.data() + r * cols, cols);
}

std::optional<kernels::RowType> float_row_type(ggml::GgmlType t) {
  switch (t) {
    case ggml::GgmlType::F32: return kernels::RowType::F32;
    case ggml::GgmlType::F16: return kernels::RowType::F16;
    case ggml::GgmlType::BF16: return kernels::RowType::BF16;
    default: return std::nullopt;
  }
}

// Rows of one Hugging Face weight inside a GGUF tensor, dequantized on demand:
// `first_row` skips the experts before this one in a stacked tensor, and a
// rope-permuted q/k weight maps each Hugging Face row to its GGUF row.
class GgufRows final : public RowSource {
 public:
  GgufRows(std::shared_ptr<const GgufReader> g, const GgufTensorInfo* t, int64_t first_row, int64_t head_dim)
      : g_(std::move(g)), t_(t), first_row_(first_row), head_dim_(head_dim), cols_(t->shape[0]),
        row_bytes_(ggml::row_size(t->type, t->shape[0])) {}

  void read_rows(int64_t r0, int64_t n, float* out) const override {
#pragma omp parallel for schedule(static) if (n * cols_ >= (1 << 16))
    for (int64_t i = 0; i < n; ++i)
      ggml::dequantize_row(t_->type, t_->data + size_t(first_row_ + gguf_row(r0 + i)) * row_bytes_, out + i * cols_,
                           cols_);
  }
  size_t row_bytes() const override { return row_bytes_; }
  bool dots_with_q8k() const override { return kernels::has_q8k_dot(t_->type) && cols_ % 256 == 0; }
  void dot_rows(int64_t r0, int64_t n, const ActivationRows& X, float* Y, int64_t ldy) const override {
    if (X.cols != cols_) fail("activations of {} values for rows of {}", X.cols, cols_);
    if (const auto ft = float_row_type(t_->type)) {  // F32/F16/BF16: converted in registers
      for (int64_t i = 0; i < n; ++i)
        kernels::dot_rows(*ft, t_->data + size_t(first_row_ + gguf_row(r0 + i)) * row_bytes_, 1, cols_, X.f32, X.T,
                          Y + i, ldy);
      return;
    }
    if (!X.q8k || !dots_with_q8k()) return RowSource::dot_rows(r0, n, X, Y, ldy);
    const int64_t blocks = cols_ / 256;
    const auto* q8 = static_cast<const ggml::kquant::BlockQ8K*>(X.q8k);
    for (int64_t i = 0; i < n; ++i) {
      const uint8_t* row = t_->data + size_t(first_row_ + gguf_row(r0 + i)) * row_bytes_;
      for (int64_t t = 0; t < X.T; ++t) Y[t * ldy + i] = kernels::dot_q8k(t_->type, row, q8 + t * blocks, blocks);
    }
  }

 private:
  // The inverse of permute_rope_rows for one row: HF row j * half + i of a head is GGUF row 2 i + j.
  int64_t gguf_row(int64_t r) const {
    if (head_dim_ <= 0) return r;
    const int64_t half = head_dim_ / 2, head = r / head_dim_, k = r % head_dim_;
    return head * head_dim_ + 2 * (k % half) + k / half;
  }
  std::shared_ptr<const GgufReader> g_;  // keeps the mapping alive
  const GgufTensorInfo* t_;
  int64_t first_row_, head_dim_, cols_;
  size_t row_bytes_;
};

const GgufTensorInfo& checked_tensor(const GgufReader& g, const GgufTensorSpec& spec) {
  const GgufTensorInfo* t = g.find_tensor(spec.name);
  if (!t) throw file_error(g.path(), "tensor " + spec.name + " is missing");
  if (without_trailing_ones(t->shape) != without_trailing_ones(spec.ne))
    throw file_error(g.path(), "tensor " + spec.name + " has shape " + gguf::shape_string(t->shape) + ", expected " +
                                   gguf::shape_string(spec.ne));
  if (!ggml::can_dequantize(t->type))
    throw file_error(g.path(), "tensor " + t->name + " has type " + ggml::type_name(t->type) + ", which we cannot read");
  return *t;
}

}  // namespace

ModelWeights load_gguf_weights_lazy(std::shared_ptr<const GgufReader> g, const ModelConfig& cfg) {
  ModelWeights w;
  w.cfg = cfg;
  std::map<std::string, NamedTensor> by_name;
  for (NamedTensor& nt : named_tensors(w)) by_name.emplace(nt.name, nt);
  std::vector<float> values;
  for (const GgufTensorSpec& spec : gguf_tensor_layout(cfg)) {
    if (spec.is_rope_freqs) continue;
    const GgufTensorInfo& t = checked_tensor(*g, spec);
    if (spec.ne.size() == 1) {  // vectors: small, converted now (a permuted bias too)
      NamedTensor& nt = by_name.at(spec.sources.at(0));
      dequantize_tensor(*g, t, values);
      nt.tensor->resize(nt.shape);
      if (spec.rope_permute_heads > 0)
        unpermute_rope_rows(values.data(), nt.tensor->data.data(), spec.rope_permute_heads,
                            spec.ne[0] / spec.rope_permute_heads, 1);
      else nt.tensor->data = values;
      continue;
    }
    const int64_t rows_per_source = spec.ne[1];
    const int64_t head_dim = spec.rope_permute_heads > 0 ? rows_per_source / spec.rope_permute_heads : 0;
    for (size_t i = 0; i < spec.sources.size(); ++i) {
      NamedTensor& nt = by_name.at(spec.sources[i]);
      nt.tensor->shape = nt.shape;
      nt.tensor->rows_source = std::make_shared<GgufRows>(g, &t, int64_t(i) * rows_per_source, head_dim);
    }
  }
  return w;
}

bool is_gguf_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[4] = {};
  return f.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

ModelWeights load_gguf_weights(const GgufReader& g, const ModelConfig& cfg) {
  ModelWeights w;
  w.cfg = cfg;
  std::map<std::string, NamedTensor> by_name;
  for (NamedTensor& nt : named_tensors(w)) by_name.emplace(nt.name, nt);

  std::vector<float> values, scratch;
  for (const GgufTensorSpec& spec : gguf_tensor_layout(cfg)) {
    if (spec.is_rope_freqs) continue;  // already folded into cfg.rope_scaling
    dequantize_tensor(g, checked_tensor(g, spec), values);
    if (spec.rope_permute_heads > 0) {
      scratch.resize(values.size());
      const int64_t rows = spec.ne.size() == 1 ? spec.ne[0] : spec.ne[1];
      const int64_t cols = spec.ne.size() == 1 ? 1 : spec.ne[0];
      unpermute_rope_rows(values.data(), scratch.data(), spec.rope_permute_heads, rows / spec.rope_permute_heads, cols);
      values.swap(scratch);
    }
    const size_t per_source = values.size() / spec.sources.size();
    for (size_t i = 0; i < spec.sources.size(); ++i) {
      NamedTensor& nt = by_name.at(spec.sources[i]);
      nt.tensor->resize(nt.shape);
      std::memcpy(nt.tensor->data.data(), values.data() + i * per_source, per_source * sizeof(float));
    }
  }
  return w;
}

std::string gguf_file_type_name(const GgufReader& g) {
  if (auto ft = g.get_int_optional("general.file_type"))
    for (GgufPreset p : all_presets())
      if (preset_info(p).file_type == uint64_t(*ft)) return preset_info(p).name;
  return "gguf";
}

LoadedModel load_gguf_model(const std::string& path, const LoadOptions& opt) {
  auto shared = std::make_shared<const GgufReader>(path);
  const GgufReader& g = *shared;
  const ModelConfig cfg = model_config_from_gguf(g);
  LoadedModel m;
  m.weights = std::make_shared<ModelWeights>(opt.lazy ? load_gguf_weights_lazy(shared, cfg) : load_gguf_weights(g, cfg));
  m.tokenizer = load_gguf_tokenizer(g);
  if (m.tokenizer->vocab_size() != cfg.vocab)
    throw file_error(path, fmt::format("has {} tokens but a vocabulary of {} embeddings", m.tokenizer->vocab_size(),
                                       cfg.vocab));
  m.path = path;
  m.format = "gguf";
  m.dtype = gguf_file_type_name(g);
  for (const GgufTensorInfo& t : g.tensors()) m.file_bytes += t.nbytes;
  m.n_params = count_params(*m.weights);
  return m;
}

void register_gguf_model_loader() {
  static const bool registered = [] {
    register_model_loader("gguf", [](const std::string& path, const LoadOptions& opt) -> std::unique_ptr<LoadedModel> {
      if (!is_gguf_file(path)) return nullptr;
      return std::make_unique<LoadedModel>(load_gguf_model(path, opt));
    });
    return true;
  }();
  (void)registered;
}

}  // namespace llmq
