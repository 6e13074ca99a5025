#include "export/hf/loaders/hf_quant_decoders.h"

#include <cstring>

#include "quant/formats/intq/bit_packing.h"
#include "util/error.h"

namespace llmq {

namespace {

const TensorView& need(const HfCheckpoint& ck, const std::string& name, std::vector<int64_t> shape, DType dtype) {
  const TensorView* tv = ck.find(name);
  if (!tv) throw file_error(ck.dir(), "tensor " + name + " is missing");
  if (tv->shape != shape)
    throw file_error(tv->file, "tensor " + name + " has shape " + shape_str(tv->shape) + ", expected " + shape_str(shape));
  if (dtype_size(tv->dtype) != dtype_size(dtype))
    throw file_error(tv->file, std::string("tensor ") + name + " has dtype " + dtype_name(tv->dtype) + ", expected " +
                                   dtype_name(dtype));
  return *tv;
}

std::vector<uint32_t> words_of(const TensorView& tv) {
  std::vector<uint32_t> w(tv.nbytes / 4);
  std::memcpy(w.data(), tv.data, w.size() * 4);  // the mapping need not be 4-byte aligned
  return w;
}

std::vector<float> floats_of(const TensorView& tv) {
  if (!dtype_is_float16_or_32(tv.dtype)) throw file_error(tv.file, "tensor " + tv.name + " is not floating point");
  return tv.to_f32();
}

int64_t n_groups(const IntFormatParams& p, int64_t in) { return p.group_size < 0 ? 1 : in / p.group_size; }

void check_params(const HfCheckpoint& ck, const IntFormatParams& p, int64_t in, const std::string& prefix) {
  if (p.bits < 2 || p.bits > 8) throw file_error(ck.dir(), "unsupported bit width " + std::to_string(p.bits));
  if (p.group_size == 0 || (p.group_size > 0 && in % p.group_size != 0))
    throw file_error(ck.dir(), prefix + ": group size " + std::to_string(p.group_size) + " does not divide " + std::to_string(in));
}

}  // namespace

Tensor decode_gptq_linear(const HfCheckpoint& ck, const std::string& prefix, int64_t out, int64_t in, const IntFormatParams& p) {
  check_params(ck, p, in, prefix);
  const int b = p.bits;
  const int64_t G = n_groups(p, in);
  const auto qw = words_of(need(ck, prefix + ".qweight", {packed_words(in, b), out}, DType::I32));
  const auto qz = words_of(need(ck, prefix + ".qzeros", {G, packed_words(out, b)}, DType::I32));
  const auto sc = floats_of(need(ck, prefix + ".scales", {G, out}, DType::F16));
  const std::vector<uint32_t> codes = unpack_along_rows(qw.data(), in, out, b);  // [in, out]
  const std::vector<uint32_t> zeros = unpack_along_cols(qz.data(), G, out, b);   // [G, out]
  std::vector<int32_t> g_idx(static_cast<size_t>(in));
  const TensorView* gi = ck.find(prefix + ".g_idx");
  // With act order the groups follow g_idx; without it the plain grouping would silently be wrong.
  if (!gi && p.desc_act)
    throw file_error(ck.dir(), prefix + ".g_idx is missing, but the config says desc_act (act order) groups the columns by it");
  if (gi) {
    need(ck, prefix + ".g_idx", {in}, DType::I32);
    std::memcpy(g_idx.data(), gi->data, size_t(in) * 4);
  } else {
    for (int64_t c = 0; c < in; ++c) g_idx[size_t(c)] = int32_t(p.group_size < 0 ? 0 : c / p.group_size);
  }
  Tensor w;
  w.resize({out, in});
  for (int64_t c = 0; c < in; ++c) {
    const int64_t g = g_idx[size_t(c)];
    if (g < 0 || g >= G) throw file_error(ck.dir(), prefix + ".g_idx has group " + std::to_string(g) + " out of range");
    for (int64_t r = 0; r < out; ++r) {
      const int zero = int(zeros[size_t(g * out + r)]) + (p.gptq_v1_zeros ? 1 : 0);
      w.data[size_t(r * in + c)] = sc[size_t(g * out + r)] * float(int(codes[size_t(c * out + r)]) - zero);
    }
  }
  return w;
}

Tensor decode_awq_linear(const HfCheckpoint& ck, const std::string& prefix, int64_t out, int64_t in, const IntFormatParams& p) {
  check_params(ck, p, in, prefix);
  if (p.bits != 4 || out % 8 != 0) throw file_error(ck.dir(), prefix + ": AWQ GEMM layout needs 4 bits and out % 8 == 0");
  const int64_t G = n_groups(p, in), gl = p.group_size < 0 ? in : p.group_size;
  const auto qw = words_of(need(ck, prefix + ".qweight", {in, out / 8}, DType::I32));
  const auto qz = words_of(need(ck, prefix + ".qzeros", {G, out / 8}, DType::I32));
  const auto sc = floats_of(need(ck, prefix + ".scales", {G, out}, DType::F16));
  const std::vector<uint32_t> codes = awq_unpack(qw.data(), in, out);  // [in, out]
  const std::vector<uint32_t> zeros = awq_unpack(qz.data(), G, out);   // [G, out]
  Tensor w;
  w.resize({out, in});
  for (int64_t c = 0; c < in; ++c) {
    const int64_t g = c / gl;
    for (int64_t r = 0; r < out; ++r)
      w.data[size_t(r * in + c)] =
          sc[size_t(g * out + r)] * float(int(codes[size_t(c * out + r)]) - int(zeros[size_t(g * out + r)]));
  }
  return w;
}

Tensor decode_compressed_tensors_linear(const HfCheckpoint& ck, const std::string& prefix, int64_t out, int64_t in,
                                        const IntFormatParams& p) {
  check_params(ck, p, in, prefix);
  const int b = p.bits;
  const int64_t G = n_groups(p, in);
  const TensorView& shape_tv = need(ck, prefix + ".weight_shape", {2}, DType::I64);
  int64_t shape[2];
  std::memcpy(shape, shape_tv.data, sizeof shape);
  if (shape[0] != out || shape[1] != in)
    throw file_error(shape_tv.file, prefix + ".weight_shape disagrees with config.json");
  const auto packed = words_of(need(ck, prefix + ".weight_packed", {out, packed_words(in, b)}, DType::I32));
  const auto sc = floats_of(need(ck, prefix + ".weight_scale", {out, G}, DType::BF16));
  const std::vector<uint32_t> codes = unpack_along_cols(packed.data(), out, in, b);  // [out, in], signed + 2^(b-1)
  std::vector<uint32_t> zeros(size_t(out * G), 1u << (b - 1));                      // symmetric: signed zero point 0
  if (!p.sym) {
    const auto zp = words_of(need(ck, prefix + ".weight_zero_point", {packed_words(out, b), G}, DType::I32));
    zeros = unpack_along_rows(zp.data(), out, G, b);
  }
  std::vector<int32_t> g_idx(static_cast<size_t>(in));
  for (int64_t c = 0; c < in; ++c) g_idx[size_t(c)] = int32_t(p.group_size < 0 ? 0 : c / p.group_size);
  if (const TensorView* gi = ck.find(prefix + ".weight_g_idx")) {
    need(ck, prefix + ".weight_g_idx", {in}, DType::I32);
    std::memcpy(g_idx.data(), gi->data, size_t(in) * 4);
  }
  Tensor w;
  w.resize({out, in});
  for (int64_t r = 0; r < out; ++r)
    for (int64_t c = 0; c < in; ++c) {
      const int64_t g = g_idx[size_t(c)];
      if (g < 0 || g >= G) throw file_error(ck.dir(), prefix + ".weight_g_idx out of range");
      w.data[size_t(r * in + c)] =
          sc[size_t(r * G + g)] * float(int(codes[size_t(r * in + c)]) - int(zeros[size_t(r * G + g)]));
    }
  return w;
}

MlxLinearParts read_mlx_linear(const HfCheckpoint& ck, const std::string& prefix, int64_t out, int64_t in,
                               const IntFormatParams& p) {
  check_params(ck, p, in, prefix);
  if (p.group_size < 0) throw file_error(ck.dir(), "MLX quantization needs a group size");
  const int b = p.bits;
  const int64_t G = in / p.group_size;
  const auto packed = words_of(need(ck, prefix + ".weight", {out, packed_words(in, b)}, DType::U32));
  const TensorView& stv = ck.get(prefix + ".scales");
  MlxLinearParts m;
  m.rows = out;
  m.cols = in;
  m.group_size = p.group_size;
  m.bits = b;
  m.scale_dtype = stv.dtype;
  m.scales = floats_of(need(ck, prefix + ".scales", {out, G}, stv.dtype));
  m.biases = floats_of(need(ck, prefix + ".biases", {out, G}, stv.dtype));
  const std::vector<uint32_t> codes = unpack_along_cols(packed.data(), out, in, b);
  m.q.assign(codes.begin(), codes.end());  // b <= 8 bits (check_params)
  return m;
}

Tensor decode_mlx_linear(const HfCheckpoint& ck, const std::string& prefix, int64_t out, int64_t in, const IntFormatParams& p) {
  const MlxLinearParts m = read_mlx_linear(ck, prefix, out, in, p);
  const int64_t G = in / p.group_size;
  Tensor w;
  w.resize({out, in});
  for (int64_t r = 0; r < out; ++r)
    for (int64_t c = 0; c < in; ++c) {
      const size_t gi = size_t(r * G + c / p.group_size);
      w.data[size_t(r * in + c)] = m.scales[gi] * float(m.q[size_t(r * in + c)]) + m.biases[gi];
    }
  return w;
}

}  // namespace llmq
