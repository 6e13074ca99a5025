#include "export/gguf/gguf_tensor_layout.h"

#include <map>

#include "export/gguf/gguf_names.h"
#include "util/error.h"

namespace llmq {

int64_t GgufTensorSpec::n_elements() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

int64_t GgufTensorSpec::n_rows() const { return ne.empty() ? 0 : n_elements() / ne[0]; }

bool gguf_uses_rope_permutation(const ModelConfig& cfg) { return gguf_arch_name(cfg) == "llama"; }

std::vector<GgufTensorSpec> gguf_tensor_layout(const ModelConfig& cfg) {
  ModelWeights shapes_only;  // named_tensors only needs the config; no data is allocated
  shapes_only.cfg = cfg;
  const std::vector<NamedTensor> named = named_tensors(shapes_only);
  const bool permute = gguf_uses_rope_permutation(cfg);

  std::vector<GgufTensorSpec> out;
  if (cfg.rope_scaling.type == "llama3") {
    GgufTensorSpec s;
    s.name = gguf_rope_freqs_name();
    s.ne = {cfg.head_dim / 2};
    s.is_rope_freqs = true;
    out.push_back(std::move(s));
  }
  std::map<std::string, size_t> stacked;  // GGUF name -> index in out
  for (const NamedTensor& nt : named) {
    const std::string name = gguf_tensor_name(nt);
    if (nt.expert >= 0) {
      auto it = stacked.find(name);
      if (it == stacked.end()) {
        GgufTensorSpec s;
        s.name = name;
        s.ne = {nt.shape[1], nt.shape[0], cfg.n_experts};
        s.role = nt.role;
        s.layer = nt.layer;
        it = stacked.emplace(name, out.size()).first;
        out.push_back(std::move(s));
      }
      GgufTensorSpec& s = out[it->second];
      if (int64_t(s.sources.size()) != nt.expert)
        fail("expert tensors of {} are not listed in expert order", name);
      s.sources.push_back(nt.name);
      continue;
    }
    GgufTensorSpec s;
    s.name = name;
    s.ne.assign(nt.shape.rbegin(), nt.shape.rend());
    s.role = nt.role;
    s.layer = nt.layer;
    s.sources = {nt.name};
    if (permute && (nt.role == TensorRole::AttnQ || name.ends_with("attn_q.bias"))) s.rope_permute_heads = cfg.n_heads;
    if (permute && (nt.role == TensorRole::AttnK || name.ends_with("attn_k.bias"))) s.rope_permute_heads = cfg.n_kv_heads;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace llmq
