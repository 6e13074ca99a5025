#include "quant/formats/ggml/kquant_columns.h"

#include <algorithm>
#include <vector>

#include "quant/formats/ggml/kquant_fit.h"
#include "quant/formats/ggml/kquant_formats.h"
#include "util/error.h"
#include "util/half.h"

namespace llmq::ggml {

using namespace kquant;

struct KquantColumnCodec::Impl {
  GgmlType type;
  bool affine;
  AffineSpec aspec{};
  SymmetricSpec sspec{};
  std::vector<AffineCode> acode;
  std::vector<SymmetricCode> scode;
  // Per row and sub-block, the decoder's step and offset: level l decodes to step * l - offset.
  std::vector<float> step, offset;
  int sub_size() const { return affine ? aspec.sub_size : sspec.sub_size; }
};

bool KquantColumnCodec::supports(GgmlType type) {
  return type == GgmlType::Q2_K || type == GgmlType::Q3_K || type == GgmlType::Q4_K || type == GgmlType::Q5_K ||
         type == GgmlType::Q6_K;
}

KquantColumnCodec::KquantColumnCodec(GgmlType type, int64_t rows) : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.type = type;
  switch (type) {
    case GgmlType::Q2_K: s.affine = true, s.aspec = kQ2Spec; break;
    case GgmlType::Q4_K: s.affine = true, s.aspec = kQ4Spec; break;
    case GgmlType::Q5_K: s.affine = true, s.aspec = kQ5Spec; break;
    case GgmlType::Q3_K: s.affine = false, s.sspec = kQ3Spec; break;
    case GgmlType::Q6_K: s.affine = false, s.sspec = kQ6Spec; break;
    default: fail("{} cannot be quantized a column at a time (only the k-quants Q2_K..Q6_K)", type_name(type));
  }
  if (s.affine)
    s.acode.resize(size_t(rows));
  else
    s.scode.resize(size_t(rows));
  s.step.assign(size_t(rows) * 16, 0.f);
  s.offset.assign(size_t(rows) * 16, 0.f);
}

KquantColumnCodec::~KquantColumnCodec() = default;

void KquantColumnCodec::fit(int64_t r, const float* x, const float* importance) {
  Impl& s = *impl_;
  float w[256];
  error_weights(x, importance, s.sub_size(), w);
  float* step = s.step.data() + r * 16;
  float* offset = s.offset.data() + r * 16;
  const int nsub = 256 / s.sub_size();
  if (s.affine) {
    AffineCode& c = s.acode[size_t(r)];
    encode_affine(x, w, s.aspec, c);
    const float d = f16_to_f32(c.d_bits), dmin = f16_to_f32(c.dmin_bits);
    for (int j = 0; j < nsub; ++j) step[j] = d * c.sc[j], offset[j] = dmin * c.m[j];
  } else {
    SymmetricCode& c = s.scode[size_t(r)];
    encode_symmetric(x, w, s.sspec, c);
    const float d = f16_to_f32(c.d_bits);
    for (int j = 0; j < nsub; ++j) step[j] = d * c.sc[j], offset[j] = 0.f;
  }
}

float KquantColumnCodec::quantize(int64_t r, int i, float v) {
  Impl& s = *impl_;
  const int j = i / s.sub_size();
  const float D = s.step[size_t(r * 16 + j)], M = s.offset[size_t(r * 16 + j)];
  // Rounded exactly as the row quantizer's affine_levels / symmetric_levels round (times 1/D), so
  // that values left as they were get the levels the row quantizer would give them.
  const float inv = D == 0 ? 0.f : 1.f / D;
  if (s.affine) {
    const int l = D == 0 ? 0 : int(round_even(std::clamp((v + M) * inv, 0.f, float(s.aspec.nmax))));
    s.acode[size_t(r)].q[i] = uint8_t(l);
    return D * float(l) - M;
  }
  // Symmetric levels -nh..nh-1 times a step that may be negative (the largest scale takes the most negative code).
  const int nh = s.sspec.nh;
  const int l = D == 0 ? 0 : int(round_even(std::clamp(v * inv, float(-nh), float(nh - 1))));
  s.scode[size_t(r)].q[i] = int8_t(l);
  return D * float(l);
}

void KquantColumnCodec::store(int64_t r, void* block) const {
  const Impl& s = *impl_;
  switch (s.type) {
    case GgmlType::Q2_K: store_q2_K(s.acode[size_t(r)], *static_cast<BlockQ2K*>(block)); break;
    case GgmlType::Q4_K: store_q4_K(s.acode[size_t(r)], *static_cast<BlockQ4K*>(block)); break;
    case GgmlType::Q5_K: store_q5_K(s.acode[size_t(r)], *static_cast<BlockQ5K*>(block)); break;
    case GgmlType::Q3_K: store_q3_K(s.scode[size_t(r)], *static_cast<BlockQ3K*>(block)); break;
    default: store_q6_K(s.scode[size_t(r)], *static_cast<BlockQ6K*>(block)); break;
  }
}

}  // namespace llmq::ggml
