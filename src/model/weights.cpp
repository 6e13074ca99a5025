#include "model/weights.h"

#include <map>

#include <fmt/format.h>

#include "io/hf_checkpoint.h"
#include "io/safetensors.h"
#include "model/safetensors_rows.h"
#include "util/error.h"

namespace llmq {

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

bool is_linear_weight(TensorRole r) {
  switch (r) {
    case TensorRole::AttnQ: case TensorRole::AttnK: case TensorRole::AttnV: case TensorRole::AttnO:
    case TensorRole::FfnGate: case TensorRole::FfnUp: case TensorRole::FfnDown:
      return true;
    default:
      return false;
  }
}

std::vector<NamedTensor> named_tensors(ModelWeights& w) {
  const ModelConfig& c = w.cfg;
  std::vector<NamedTensor> out;
  auto add = [&](std::string name, Tensor& t, std::vector<int64_t> shape, TensorRole role, int layer = -1,
                 int expert = -1) { out.push_back({std::move(name), &t, std::move(shape), role, layer, expert}); };

  add("model.embed_tokens.weight", w.embed, {c.vocab, c.hidden}, TensorRole::TokenEmbedding);
  w.layers.resize(size_t(c.n_layers));
  for (int l = 0; l < c.n_layers; ++l) {
    LayerWeights& L = w.layers[size_t(l)];
    const std::string p = fmt::format("model.layers.{}.", l);
    add(p + "input_layernorm.weight", L.attn_norm, {c.hidden}, TensorRole::Norm, l);
    add(p + "self_attn.q_proj.weight", L.wq, {c.q_dim(), c.hidden}, TensorRole::AttnQ, l);
    add(p + "self_attn.k_proj.weight", L.wk, {c.kv_dim(), c.hidden}, TensorRole::AttnK, l);
    add(p + "self_attn.v_proj.weight", L.wv, {c.kv_dim(), c.hidden}, TensorRole::AttnV, l);
    add(p + "self_attn.o_proj.weight", L.wo, {c.hidden, c.q_dim()}, TensorRole::AttnO, l);
    if (c.qkv_bias) {
      add(p + "self_attn.q_proj.bias", L.bq, {c.q_dim()}, TensorRole::Bias, l);
      add(p + "self_attn.k_proj.bias", L.bk, {c.kv_dim()}, TensorRole::Bias, l);
      add(p + "self_attn.v_proj.bias", L.bv, {c.kv_dim()}, TensorRole::Bias, l);
    }
    if (c.o_bias) add(p + "self_attn.o_proj.bias", L.bo, {c.hidden}, TensorRole::Bias, l);
    if (c.qk_norm) {
      add(p + "self_attn.q_norm.weight", L.q_norm, {c.head_dim}, TensorRole::Norm, l);
      add(p + "self_attn.k_norm.weight", L.k_norm, {c.head_dim}, TensorRole::Norm, l);
    }
    add(p + "post_attention_layernorm.weight", L.ffn_norm, {c.hidden}, TensorRole::Norm, l);
    if (c.layer_is_moe(l)) {
      const bool mixtral = c.arch == Arch::Mixtral;
      const std::string mp = p + (mixtral ? "block_sparse_moe." : "mlp.");
      add(mp + "gate.weight", L.router, {c.n_experts, c.hidden}, TensorRole::Router, l);
      L.experts.resize(size_t(c.n_experts));
      for (int e = 0; e < c.n_experts; ++e) {
        ExpertWeights& E = L.experts[size_t(e)];
        const std::string ep = fmt::format("{}experts.{}.", mp, e);
        add(ep + (mixtral ? "w1.weight" : "gate_proj.weight"), E.gate, {c.moe_ffn, c.hidden}, TensorRole::FfnGate, l, e);
        add(ep + (mixtral ? "w3.weight" : "up_proj.weight"), E.up, {c.moe_ffn, c.hidden}, TensorRole::FfnUp, l, e);
        add(ep + (mixtral ? "w2.weight" : "down_proj.weight"), E.down, {c.hidden, c.moe_ffn}, TensorRole::FfnDown, l, e);
      }
    } else {
      add(p + "mlp.gate_proj.weight", L.gate, {c.ffn, c.hidden}, TensorRole::FfnGate, l);
      add(p + "mlp.up_proj.weight", L.up, {c.ffn, c.hidden}, TensorRole::FfnUp, l);
      add(p + "mlp.down_proj.weight", L.down, {c.hidden, c.ffn}, TensorRole::FfnDown, l);
    }
  }
  add("model.norm.weight", w.final_norm, {c.hidden}, TensorRole::Norm);
  if (!c.tie_embeddings) add("lm_head.weight", w.lm_head, {c.vocab, c.hidden}, TensorRole::Output);
  return out;
}

namespace {

DType source_float_dtype(const std::map<DType, size_t>& bytes_by_dtype) {
  DType best = DType::F32;
  size_t most = 0;
  for (const auto& [d, n] : bytes_by_dtype)
    if (n > most) best = d, most = n;
  return best;
}

}  // namespace

ModelWeights load_hf_weights(const HfCheckpoint& ckpt, const ModelConfig& cfg) {
  ModelWeights w;
  w.cfg = cfg;
  std::map<DType, size_t> bytes_by_dtype;
  for (NamedTensor& nt : named_tensors(w)) {
    const TensorView& tv = checked_float_view(ckpt, nt);
    bytes_by_dtype[tv.dtype] += tv.nbytes;
    nt.tensor->resize(nt.shape);
    tv.to_f32(nt.tensor->data.data());
  }
  w.source_dtype = source_float_dtype(bytes_by_dtype);
  return w;
}

ModelWeights load_hf_weights_lazy(std::shared_ptr<const HfCheckpoint> ckpt, const ModelConfig& cfg) {
  ModelWeights w;
  w.cfg = cfg;
  std::map<DType, size_t> bytes_by_dtype;
  for (NamedTensor& nt : named_tensors(w)) {
    const TensorView& tv = checked_float_view(*ckpt, nt);
    bytes_by_dtype[tv.dtype] += tv.nbytes;
    if (nt.shape.size() < 2) {
      nt.tensor->resize(nt.shape);
      tv.to_f32(nt.tensor->data.data());
      continue;
    }
    nt.tensor->shape = nt.shape;
    nt.tensor->rows_source = safetensors_rows(ckpt, &tv);
  }
  w.source_dtype = source_float_dtype(bytes_by_dtype);
  return w;
}

void materialize_all(ModelWeights& w) {
  for (NamedTensor& nt : named_tensors(w)) nt.tensor->materialize();
}

size_t resident_weight_bytes(const ModelWeights& cw) {
  ModelWeights& w = const_cast<ModelWeights&>(cw);  // named_tensors only reads here
  size_t n = 0;
  for (const NamedTensor& nt : named_tensors(w)) n += nt.tensor->resident_bytes();
  return n;
}

}  // namespace llmq
