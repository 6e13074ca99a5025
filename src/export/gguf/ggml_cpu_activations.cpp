#include "export/gguf/ggml_cpu_activations.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <vector>

#include "io/gguf/gguf_reader.h"
#include "util/error.h"
#include "util/half.h"

namespace llmq {

using ggml::GgmlType;

namespace {

// The weight read first by each slot; the others sharing the input have the
// same vec_dot_type in every llama-quantize preset (all k-quants round to
// Q8_K, all legacy types to Q8_0/Q8_1).
constexpr std::array<const char*, 4> kSlotTensor = {"attn_q", "attn_output", "ffn_gate", "ffn_down"};
constexpr std::array<const char*, 4> kSlotExperts = {nullptr, nullptr, "ffn_gate_exps", "ffn_down_exps"};

const GgufTensorInfo* find_layer_tensor(const GgufReader& r, int layer, const char* base) {
  if (!base) return nullptr;
  return r.find_tensor("blk." + std::to_string(layer) + "." + base + ".weight");
}

}  // namespace

GgmlType GgmlCpuActivations::vec_dot_type(GgmlType weight) {
  switch (weight) {
    case GgmlType::F32: return GgmlType::F32;
    case GgmlType::F16: return GgmlType::F16;
    case GgmlType::BF16: return GgmlType::BF16;
    case GgmlType::Q4_0: case GgmlType::Q5_0: case GgmlType::Q8_0: case GgmlType::IQ4_NL: case GgmlType::MXFP4:
      return GgmlType::Q8_0;
    case GgmlType::Q4_1: case GgmlType::Q5_1:
      return GgmlType::Q8_0;  // Q8_1: the same quants and scale, plus a sum the dot product does not round
    default:
      return GgmlType::Q8_K;  // the k-quants, i-quants and ternary types
  }
}

namespace {

// Round to nearest, ties to even (the x86 rounding mode ggml's kernels use).
inline float round_even(float v) { return std::nearbyint(v); }

// Q8_0 / Q8_1 as the CPU backend makes them: per block of 32, step
// amax/127 stored in fp16, levels rounded against the unrounded step.
void round_q8_0(float* x, int64_t n) {
  for (int64_t b = 0; b < n; b += 32) {
    float amax = 0;
    for (int64_t i = b; i < b + 32; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float d = amax / 127.f, id = amax != 0 ? 127.f / amax : 0.f;
    const float dh = f16_to_f32(f32_to_f16(d));
    for (int64_t i = b; i < b + 32; ++i) x[i] = dh * round_even(x[i] * id);
  }
}

// Q8_K: per block of 256, the scale maps the signed value of largest
// magnitude to -127; it is kept in fp32; levels are capped at +127.
void round_q8_K(float* x, int64_t n) {
  for (int64_t b = 0; b < n; b += 256) {
    float amax = 0, max = 0;
    for (int64_t i = b; i < b + 256; ++i)
      if (std::fabs(x[i]) > amax) amax = std::fabs(x[i]), max = x[i];
    if (amax == 0) {
      std::fill(x + b, x + b + 256, 0.f);
      continue;
    }
    const float iscale = -127.f / max, d = 1 / iscale;
    for (int64_t i = b; i < b + 256; ++i) x[i] = d * std::min(127.f, round_even(iscale * x[i]));
  }
}

}  // namespace

void GgmlCpuActivations::round_rows(GgmlType weight, float* X, int64_t T, int64_t n) {
  const GgmlType vt = vec_dot_type(weight);
  if (vt == GgmlType::F32) return;
  if (n % ggml::block_size(vt) != 0) return;  // ggml would not pair these types; leave the row as it is
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < T; ++t) {
    float* row = X + t * n;
    switch (vt) {
      case GgmlType::Q8_0: round_q8_0(row, n); break;
      case GgmlType::Q8_K: round_q8_K(row, n); break;
      case GgmlType::F16:
        for (int64_t i = 0; i < n; ++i) row[i] = f16_to_f32(f32_to_f16(row[i]));
        break;
      default:  // BF16
        for (int64_t i = 0; i < n; ++i) row[i] = bf16_to_f32(f32_to_bf16(row[i]));
        break;
    }
  }
}

std::unique_ptr<GgmlCpuActivations> GgmlCpuActivations::from_gguf(const std::string& path) {
  const GgufReader r(path);
  auto h = std::make_unique<GgmlCpuActivations>();
  for (int layer = 0;; ++layer) {
    std::vector<GgmlType> types(kSlotTensor.size(), GgmlType::F32);
    bool any = false;
    for (size_t s = 0; s < kSlotTensor.size(); ++s) {
      const GgufTensorInfo* t = find_layer_tensor(r, layer, kSlotTensor[s]);
      if (!t) t = find_layer_tensor(r, layer, kSlotExperts[s]);
      if (t) types[s] = t->type, any = true;
    }
    if (!any) break;
    for (size_t s = 0; s < kSlotTensor.size(); ++s)
      if (types[s] == GgmlType::F32 && !find_layer_tensor(r, layer, kSlotTensor[s]) &&
          !find_layer_tensor(r, layer, kSlotExperts[s]))
        throw file_error(path, fmt::format("layer {} has no {} weight", layer, kSlotTensor[s]));
    h->slots_.push_back(std::move(types));
  }
  if (h->slots_.empty()) throw file_error(path, "has no transformer layers (no blk.0.attn_q.weight)");
  const GgufTensorInfo* out = r.find_tensor("output.weight");
  if (!out) out = r.find_tensor("token_embd.weight");  // tied embeddings
  if (out) h->head_ = out->type;
  return h;
}

GgmlType GgmlCpuActivations::slot_type(int layer, LinearSlot slot) const {
  if (layer < 0 || size_t(layer) >= slots_.size()) fail("layer {} is outside the model's {} layers", layer, slots_.size());
  return slots_[size_t(layer)][size_t(slot)];
}

void GgmlCpuActivations::on_linear_input(int layer, LinearSlot slot, int, float* X, int64_t T, int64_t in) {
  round_rows(slot_type(layer, slot), X, T, in);
}

void GgmlCpuActivations::on_head_input(float* X, int64_t T, int64_t hidden) { round_rows(head_, X, T, hidden); }

}  // namespace llmq
