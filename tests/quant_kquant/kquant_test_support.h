#pragma once
// Shared helpers for the k-quant tests: rows of real weights read straight
// from a fixture safetensors file, Gaussian rows, and error measures.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/random_values.h"
#include "quant/formats/ggml/ggml_quants.h"
#include "util/half.h"

namespace kquant_test {

using llmq::ggml::GgmlType;

// A 2-D bf16 tensor's first `max_rows` rows as floats.
struct Rows {
  int64_t n_rows = 0, n_cols = 0;
  std::vector<float> values;  // row-major
};

// Reads the safetensors layout directly: an 8-byte little-endian header
// length, a JSON header naming each tensor's dtype, shape and byte offsets
// (relative to the end of the header), then the raw data.
inline Rows read_bf16_rows(const std::string& path, const std::string& tensor, int64_t max_rows) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  uint8_t len_bytes[8];
  f.read(reinterpret_cast<char*>(len_bytes), 8);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  std::string header(header_len, '\0');
  f.read(header.data(), std::streamsize(header_len));
  const nlohmann::json meta = nlohmann::json::parse(header).at(tensor);
  if (meta.at("dtype") != "BF16") throw std::runtime_error(tensor + " is not bf16");
  const auto shape = meta.at("shape").get<std::vector<int64_t>>();
  if (shape.size() != 2) throw std::runtime_error(tensor + " is not 2-D");
  const uint64_t begin = meta.at("data_offsets").at(0).get<uint64_t>();

  Rows r;
  r.n_cols = shape[1];
  r.n_rows = std::min(shape[0], max_rows);
  std::vector<uint16_t> raw(size_t(r.n_rows * r.n_cols));
  f.seekg(std::streamoff(8 + header_len + begin));
  f.read(reinterpret_cast<char*>(raw.data()), std::streamsize(raw.size() * 2));
  if (!f) throw std::runtime_error("short read of " + tensor + " in " + path);
  r.values.resize(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) r.values[i] = llmq::bf16_to_f32(raw[i]);
  return r;
}

inline std::string model_path(const std::string& model) {
  return std::string(LLMQ_SHARED_DIR) + "/models/" + model + "/model.safetensors";
}

// The first rows of five kinds of weight matrix of a fixture model
// (attention, MLP, embedding), each kept at its own width.
inline std::vector<Rows> real_weight_sample(const std::string& model, int64_t rows_per_tensor) {
  std::vector<Rows> out;
  for (const char* t : {"model.layers.0.self_attn.q_proj.weight", "model.layers.1.self_attn.v_proj.weight",
                        "model.layers.0.mlp.down_proj.weight", "model.layers.2.mlp.up_proj.weight",
                        "model.embed_tokens.weight"})
    out.push_back(read_bf16_rows(model_path(model), t, rows_per_tensor));
  return out;
}

inline std::vector<float> gaussian(size_t n, uint32_t seed, float sigma = 1.f) {
  return llmq::test::gaussian_values(n, seed, sigma);
}

// Quantise every row of `x` (n_cols wide) with the row function of `type`
// and dequantise it again.
using QuantizeRow = void (*)(const float*, void*, int64_t, const float*);
using DequantizeRow = void (*)(const void*, float*, int64_t);

struct RowCodec {
  GgmlType type;
  QuantizeRow quantize;
  DequantizeRow dequantize;
};

inline RowCodec codec(GgmlType t) {
  using namespace llmq::ggml;
  switch (t) {
    case GgmlType::Q2_K: return {t, quantize_row_q2_K, dequantize_row_q2_K};
    case GgmlType::Q3_K: return {t, quantize_row_q3_K, dequantize_row_q3_K};
    case GgmlType::Q4_K: return {t, quantize_row_q4_K, dequantize_row_q4_K};
    case GgmlType::Q5_K: return {t, quantize_row_q5_K, dequantize_row_q5_K};
    case GgmlType::Q6_K: return {t, quantize_row_q6_K, dequantize_row_q6_K};
    case GgmlType::Q8_K: return {t, quantize_row_q8_K, dequantize_row_q8_K};
    default: throw std::runtime_error("not a k-quant");
  }
}

inline std::vector<float> round_trip(GgmlType t, const std::vector<float>& x, int64_t n_cols,
                                     const float* imatrix = nullptr) {
  const RowCodec c = codec(t);
  std::vector<uint8_t> buf(llmq::ggml::row_size(t, n_cols));
  std::vector<float> y(x.size());
  for (size_t r = 0; r * n_cols < x.size(); ++r) {
    c.quantize(x.data() + r * n_cols, buf.data(), n_cols, imatrix);
    c.dequantize(buf.data(), y.data() + r * n_cols, n_cols);
  }
  return y;
}

// sqrt(sum (x-y)^2 / sum x^2): RMSE relative to the RMS of the data.
inline double relative_rmse(const std::vector<float>& x, const std::vector<float>& y) {
  double err = 0, ref = 0;
  for (size_t i = 0; i < x.size(); ++i) err += double(x[i] - y[i]) * (x[i] - y[i]), ref += double(x[i]) * x[i];
  return std::sqrt(err / ref);
}

// sum imp[col] (x-y)^2 / sum imp[col] x^2, columns repeating every n_cols.
inline double weighted_relative_mse(const std::vector<float>& x, const std::vector<float>& y,
                                    const std::vector<float>& imp) {
  double err = 0, ref = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double w = imp[i % imp.size()];
    err += w * (x[i] - y[i]) * (x[i] - y[i]), ref += w * x[i] * x[i];
  }
  return err / ref;
}

// How much of row `row` of x (n_cols per row) the decoded y keeps: its
// projection <x, y>/<x, x> and its power <y, y>/<x, x>.
struct RowShrink {
  double projection = 0, power = 0;
};
inline RowShrink row_shrink(const std::vector<float>& x, const std::vector<float>& y, int64_t n_cols, int64_t row) {
  double xx = 0, xy = 0, yy = 0;
  for (int64_t i = row * n_cols; i < (row + 1) * n_cols; ++i) {
    xx += double(x[size_t(i)]) * x[size_t(i)];
    xy += double(x[size_t(i)]) * y[size_t(i)];
    yy += double(y[size_t(i)]) * y[size_t(i)];
  }
  return {xy / xx, yy / xx};
}

}  // namespace kquant_test
