#include "quant/formats/ggml/column_codec.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "quant/formats/ggml/iq4_xs_code.h"
#include "quant/formats/ggml/iq_weights.h"
#include "quant/formats/ggml/kquant_fit.h"
#include "quant/formats/ggml/kquant_formats.h"
#include "util/error.h"
#include "util/half.h"

namespace llmq::ggml {

using namespace kquant;

struct ColumnCodec::Impl {
  GgmlType type;
  enum class Kind { Affine, Symmetric, Iq4Xs } kind;
  AffineSpec aspec{};
  SymmetricSpec sspec{};
  std::vector<AffineCode> acode;
  std::vector<SymmetricCode> scode;
  std::vector<iq::Iq4xsCode> xcode;
  std::vector<uint8_t> xlevels;  // IQ4_XS: 256 level indices per row
  // Per row and sub-block, the decoder's step and offset: level l decodes to step * l - offset.
  std::vector<float> step, offset;
  int sub_size() const { return kind == Kind::Affine ? aspec.sub_size : kind == Kind::Symmetric ? sspec.sub_size : 32; }
};

bool ColumnCodec::supports(GgmlType type) {
  return type == GgmlType::Q2_K || type == GgmlType::Q3_K || type == GgmlType::Q4_K || type == GgmlType::Q5_K ||
         type == GgmlType::Q6_K || type == GgmlType::IQ4_XS;
}

ColumnCodec::ColumnCodec(GgmlType type, int64_t rows) : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.type = type;
  switch (type) {
    case GgmlType::Q2_K: s.kind = Impl::Kind::Affine, s.aspec = kQ2Spec; break;
    case GgmlType::Q4_K: s.kind = Impl::Kind::Affine, s.aspec = kQ4Spec; break;
    case GgmlType::Q5_K: s.kind = Impl::Kind::Affine, s.aspec = kQ5Spec; break;
    case GgmlType::Q3_K: s.kind = Impl::Kind::Symmetric, s.sspec = kQ3Spec; break;
    case GgmlType::Q6_K: s.kind = Impl::Kind::Symmetric, s.sspec = kQ6Spec; break;
    case GgmlType::IQ4_XS: s.kind = Impl::Kind::Iq4Xs; break;
    default: fail("{} cannot be quantized a column at a time (only Q2_K..Q6_K and IQ4_XS)", type_name(type));
  }
  if (s.kind == Impl::Kind::Affine) s.acode.resize(size_t(rows));
  if (s.kind == Impl::Kind::Symmetric) s.scode.resize(size_t(rows));
  if (s.kind == Impl::Kind::Iq4Xs) s.xcode.resize(size_t(rows)), s.xlevels.resize(size_t(rows) * 256);
  s.step.assign(size_t(rows) * 16, 0.f);
  s.offset.assign(size_t(rows) * 16, 0.f);
}

ColumnCodec::~ColumnCodec() = default;

void ColumnCodec::fit(int64_t r, const float* x, const float* importance) {
  Impl& s = *impl_;
  float w[256];
  float* step = s.step.data() + r * 16;
  float* offset = s.offset.data() + r * 16;
  const int nsub = 256 / s.sub_size();
  if (s.kind == Impl::Kind::Iq4Xs) {
    iq::importance_weights(x, 256, importance, 32, w);
    const iq::Iq4xsCode& c = s.xcode[size_t(r)] = iq::fit_iq4_xs(x, w);
    const float d = f16_to_f32(c.d_bits);
    for (int j = 0; j < nsub; ++j) step[j] = d * float(c.ls[j]), offset[j] = 0.f;
    return;
  }
  error_weights(x, importance, s.sub_size(), w);
  if (s.kind == Impl::Kind::Affine) {
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

float ColumnCodec::quantize(int64_t r, int i, float v) {
  Impl& s = *impl_;
  const int j = i / s.sub_size();
  const float D = s.step[size_t(r * 16 + j)], M = s.offset[size_t(r * 16 + j)];
  // Rounded exactly as the row quantizer's affine_levels / symmetric_levels round (times 1/D), so
  // that values left as they were get the levels the row quantizer would give them.
  const float inv = D == 0 ? 0.f : 1.f / D;
  if (s.kind == Impl::Kind::Iq4Xs) {  // the nearest of the 16 levels, as the row quantizer picks it
    const float one = 1.f;
    uint8_t& level = s.xlevels[size_t(r * 256 + i)];
    iq::iq4_levels().error(&v, &one, 1, D, &level);
    return D * iq::iq4_levels().value(level);
  }
  if (s.kind == Impl::Kind::Affine) {
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

void ColumnCodec::store(int64_t r, void* block) const {
  const Impl& s = *impl_;
  switch (s.type) {
    case GgmlType::Q2_K: store_q2_K(s.acode[size_t(r)], *static_cast<BlockQ2K*>(block)); break;
    case GgmlType::Q4_K: store_q4_K(s.acode[size_t(r)], *static_cast<BlockQ4K*>(block)); break;
    case GgmlType::Q5_K: store_q5_K(s.acode[size_t(r)], *static_cast<BlockQ5K*>(block)); break;
    case GgmlType::Q3_K: store_q3_K(s.scode[size_t(r)], *static_cast<BlockQ3K*>(block)); break;
    case GgmlType::IQ4_XS: {
      iq::BlockIQ4XS blk;
      iq::store_iq4_xs(s.xcode[size_t(r)], s.xlevels.data() + r * 256, blk);
      std::memcpy(block, &blk, sizeof blk);  // ggml's blocks are packed: no alignment to rely on
      break;
    }
    default: store_q6_K(s.scode[size_t(r)], *static_cast<BlockQ6K*>(block)); break;
  }
}

}  // namespace llmq::ggml
