#include "export/gguf/gguf_tensor_source.h"

#include "export/gguf/llama3_rope_factors.h"
#include "export/gguf/rope_permutation.h"
#include "model/tensor.h"
#include "util/error.h"
#include "util/finite_check.h"

namespace llmq {

namespace {
// The Hugging Face shape of one source: ne reversed, without the expert axis.
std::vector<int64_t> source_shape(const GgufTensorSpec& spec) {
  const size_t dims = spec.is_stacked() ? 2 : spec.ne.size();
  return std::vector<int64_t>(spec.ne.rend() - dims, spec.ne.rend());
}
}  // namespace

void check_gguf_sources(const HfCheckpoint& ckpt, const GgufTensorSpec& spec) {
  const std::vector<int64_t> shape = source_shape(spec);
  for (const std::string& name : spec.sources) {
    const TensorView* tv = ckpt.find(name);
    if (!tv) throw file_error(ckpt.dir(), "tensor " + name + " is missing from the checkpoint");
    if (tv->shape != shape)
      throw file_error(tv->file, "tensor " + name + " has shape " + shape_str(tv->shape) + ", expected " +
                                     shape_str(shape) + " from config.json");
  }
}

void read_gguf_tensor(const HfCheckpoint& ckpt, const ModelConfig& cfg, const GgufTensorSpec& spec,
                      std::vector<float>& out, std::vector<float>& scratch) {
  out.resize(size_t(spec.n_elements()));
  if (spec.is_rope_freqs) {
    out = llama3_rope_freq_factors(cfg);
    return;
  }
  check_gguf_sources(ckpt, spec);
  const size_t per_source = out.size() / spec.sources.size();
  for (size_t i = 0; i < spec.sources.size(); ++i) {
    const TensorView* tv = ckpt.find(spec.sources[i]);
    tv->to_f32(out.data() + i * per_source);
    check_finite(out.data() + i * per_source, per_source, tv->file, spec.sources[i]);
  }
  if (spec.rope_permute_heads > 0) {
    scratch.resize(out.size());
    const int64_t rows = spec.ne.size() == 1 ? spec.ne[0] : spec.ne[1];
    const int64_t cols = spec.ne.size() == 1 ? 1 : spec.ne[0];
    permute_rope_rows(out.data(), scratch.data(), spec.rope_permute_heads, rows / spec.rope_permute_heads, cols);
    out.swap(scratch);
  }
}

}  // namespace llmq
