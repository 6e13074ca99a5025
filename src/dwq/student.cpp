#include "dwq/student.h"

#include "export/hf/loaders/hf_quant_loader.h"
#include "model/model_loader.h"
#include "util/error.h"

namespace llmq::dwq {

Student::Student(const std::string& mlx_dir) : dir_(mlx_dir) {
  std::map<std::string, MlxLinearParts> parts = read_mlx_linears(mlx_dir);
  if (parts.empty()) throw file_error(mlx_dir, "holds no quantized linears");
  w_ = load_model(mlx_dir, {.lazy = true}).weights;
  for (auto& [name, p] : parts) {
    Trainable t;
    t.a.weight_name = name;
    t.a.rows = p.rows;
    t.a.cols = p.cols;
    t.a.group = p.group_size;
    t.a.bits = p.bits;
    t.a.q = std::move(p.q);
    t.a.scales = std::move(p.scales);
    t.a.biases = std::move(p.biases);
    t.a.storage = p.scale_dtype;
    t.gs.assign(t.a.scales.size(), 0.0f);
    t.gb.assign(t.a.biases.size(), 0.0f);
    linears_.emplace(name, std::move(t));
  }
}

Trainable* Student::find(const std::string& weight_name) {
  auto it = linears_.find(weight_name);
  return it == linears_.end() ? nullptr : &it->second;
}

std::vector<Trainable*> Student::trainables() {
  std::vector<Trainable*> out;
  for (auto& [name, t] : linears_) out.push_back(&t);
  return out;
}

void Student::zero_gradients() {
  for (auto& [name, t] : linears_) {
    std::fill(t.gs.begin(), t.gs.end(), 0.0f);
    std::fill(t.gb.begin(), t.gb.end(), 0.0f);
  }
}

int64_t Student::trainable_values() const {
  int64_t n = 0;
  for (const auto& [name, t] : linears_) n += int64_t(t.a.scales.size() + t.a.biases.size());
  return n;
}

namespace {

LayerLinear make_linear(Student& s, const NamedTensor& nt) {
  LayerLinear l;
  l.rows = nt.shape[0];
  l.cols = nt.shape[1];
  l.w.resize(size_t(l.rows * l.cols));
  l.trainable = s.find(nt.name);
  if (l.trainable) l.trainable->a.dequantize(l.w.data());
  else nt.tensor->read_rows(0, l.rows, l.w.data());
  return l;
}

}  // namespace

LayerLinears layer_linears(Student& s, int layer) {
  LayerLinears out;
  const ModelConfig& c = s.cfg();
  if (c.layer_is_moe(layer)) out.experts.resize(size_t(c.n_experts));
  for (const NamedTensor& nt : named_tensors(s.weights())) {
    if (nt.layer != layer || nt.shape.size() != 2) continue;
    if (!is_linear_weight(nt.role) && nt.role != TensorRole::Router) continue;
    LayerLinear* slot = nullptr;
    if (nt.expert >= 0) {
      ExpertLinears& e = out.experts.at(size_t(nt.expert));
      slot = nt.role == TensorRole::FfnGate ? &e.gate : nt.role == TensorRole::FfnUp ? &e.up : &e.down;
    } else {
      switch (nt.role) {
        case TensorRole::AttnQ: slot = &out.q; break;
        case TensorRole::AttnK: slot = &out.k; break;
        case TensorRole::AttnV: slot = &out.v; break;
        case TensorRole::AttnO: slot = &out.o; break;
        case TensorRole::FfnGate: slot = &out.gate; break;
        case TensorRole::FfnUp: slot = &out.up; break;
        case TensorRole::FfnDown: slot = &out.down; break;
        case TensorRole::Router: slot = &out.router; break;
        default: break;
      }
    }
    if (slot) *slot = make_linear(s, nt);
  }
  return out;
}

}  // namespace llmq::dwq
