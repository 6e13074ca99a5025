#include "export/hf/loaders/ct_lowbit_decoders.h"

#include <cmath>
#include <cstring>

#include "quant/formats/fp/minifloat.h"
#include "util/error.h"

namespace llmq {

namespace {

const TensorView& need(const HfCheckpoint& ck, const std::string& name, DType dtype) {
  const TensorView* tv = ck.find(name);
  if (!tv) throw file_error(ck.dir(), "tensor " + name + " is missing");
  if (tv->dtype != dtype)
    throw file_error(tv->file, "tensor " + name + " has dtype " + dtype_name(tv->dtype) + ", expected " + dtype_name(dtype));
  return *tv;
}

void need_shape(const TensorView& tv, const std::vector<int64_t>& shape) {
  if (tv.shape != shape)
    throw file_error(tv.file, "tensor " + tv.name + " has shape " + shape_str(tv.shape) + ", expected " + shape_str(shape));
}

std::vector<float> float_values(const HfCheckpoint& ck, const std::string& name) {
  const TensorView* tv = ck.find(name);
  if (!tv) throw file_error(ck.dir(), "tensor " + name + " is missing");
  if (!dtype_is_float16_or_32(tv->dtype)) throw file_error(tv->file, "tensor " + name + " is not BF16, F16 or F32");
  return tv->to_f32();
}

// One scale per row: per tensor ([1], []) broadcast, or per channel ([out, 1], [out]).
std::vector<float> row_scales(const HfCheckpoint& ck, const std::string& name, int64_t out) {
  std::vector<float> s = float_values(ck, name);
  if (s.size() == 1) return std::vector<float>(size_t(out), s[0]);
  const std::vector<int64_t>& sh = ck.find(name)->shape;
  const bool per_channel = int64_t(s.size()) == out && (sh.size() == 1 || (sh.size() == 2 && sh[1] == 1));
  if (!per_channel)
    throw file_error(ck.find(name)->file, "tensor " + name + " has shape " + shape_str(sh) +
                                              ": expected one scale per tensor or per output channel (" +
                                              std::to_string(out) + ")");
  return s;
}

// Group scales [out, in / group] as floats.
std::vector<float> group_scales(const HfCheckpoint& ck, CtLowbitFormat f, const std::string& name, int64_t out,
                                int64_t groups) {
  const TensorView& tv = need(ck, name, f == CtLowbitFormat::Nvfp4 ? DType::F8_E4M3 : DType::U8);
  need_shape(tv, {out, groups});
  std::vector<float> s(size_t(out * groups));
  for (size_t i = 0; i < s.size(); ++i)
    s[i] = f == CtLowbitFormat::Nvfp4 ? fp::decode_e4m3(tv.data[i]) : std::ldexp(1.0f, int(tv.data[i]) - 127);
  return s;
}

Tensor decode_fp4(const HfCheckpoint& ck, CtLowbitFormat f, const std::string& prefix, int64_t out, int64_t in) {
  const int64_t group = f == CtLowbitFormat::Nvfp4 ? 16 : 32;
  if (in % group != 0)
    throw file_error(ck.dir(), prefix + ": " + std::to_string(in) + " input features do not split into groups of " +
                                   std::to_string(group));
  const TensorView& packed = need(ck, prefix + ".weight_packed", DType::U8);
  need_shape(packed, {out, in / 2});
  std::vector<float> scales = group_scales(ck, f, prefix + ".weight_scale", out, in / group);
  if (f == CtLowbitFormat::Nvfp4) {
    const float g = read_scalar_tensor(ck, prefix + ".weight_global_scale", NAN);
    if (!(g > 0.0f) || !std::isfinite(g))
      throw file_error(ck.dir(), prefix + ".weight_global_scale is missing or not a positive number");
    for (float& s : scales) s /= g;
  }
  Tensor w;
  w.resize({out, in});
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < out * in; ++i) {
    const uint8_t byte = packed.data[i / 2];
    const uint8_t code = (i % 2 == 0) ? (byte & 0x0F) : (byte >> 4);  // element 2k in the low nibble
    w.data[size_t(i)] = fp::decode_e2m1(code) * scales[size_t(i / group)];
  }
  return w;
}

}  // namespace

float read_scalar_tensor(const HfCheckpoint& ck, const std::string& name, float fallback) {
  if (!ck.find(name)) return fallback;
  const std::vector<float> v = float_values(ck, name);
  if (v.size() != 1) throw file_error(ck.find(name)->file, "tensor " + name + " should hold one value");
  return v[0];
}

float read_ct_input_scale(const HfCheckpoint& ck, const std::string& prefix) {
  return read_scalar_tensor(ck, prefix + ".input_scale", 0.0f);
}

Tensor decode_ct_lowbit_linear(const HfCheckpoint& ck, CtLowbitFormat f, const std::string& prefix, int64_t out,
                               int64_t in) {
  if (f == CtLowbitFormat::Nvfp4 || f == CtLowbitFormat::Mxfp4) return decode_fp4(ck, f, prefix, out, in);
  const bool fp8 = f == CtLowbitFormat::Float8;
  const TensorView& q = need(ck, prefix + ".weight", fp8 ? DType::F8_E4M3 : DType::I8);
  need_shape(q, {out, in});
  if (ck.find(prefix + ".weight_zero_point"))
    throw file_error(ck.dir(), prefix + ": asymmetric (zero-point) 8-bit weights are not supported");
  const std::vector<float> s = row_scales(ck, prefix + ".weight_scale", out);
  Tensor w;
  w.resize({out, in});
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < out; ++r)
    for (int64_t c = 0; c < in; ++c) {
      const uint8_t b = q.data[r * in + c];
      const float v = fp8 ? fp::decode_e4m3(b) : float(int8_t(b));
      w.data[size_t(r * in + c)] = v * s[size_t(r)];
    }
  return w;
}

}  // namespace llmq
