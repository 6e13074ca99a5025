#pragma once
// Shared helpers for the legacy-format tests: error measures, a plain
// re-implementation of ggml's reference quantizers (the bar ours must meet),
// and a reader for one bf16 tensor of the fixture model.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "quant/formats/ggml/ggml_quants.h"
#include "util/error.h"
#include "util/half.h"
#include "util/mapped_file.h"

namespace legacy_test {

using llmq::ggml::GgmlType;

inline double sum_squares(const std::vector<float>& a) {
  double s = 0.0;
  for (float v : a) s += double(v) * v;
  return s;
}

inline double sum_squared_diff(const std::vector<float>& a, const std::vector<float>& b, const float* w = nullptr,
                               int64_t period = 0) {
  double s = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double e = double(a[i]) - b[i];
    s += (w ? double(w[int64_t(i) % period]) : 1.0) * e * e;
  }
  return s;
}

// RMS error divided by the RMS of the original values.
inline double relative_rmse(const std::vector<float>& original, const std::vector<float>& restored) {
  return std::sqrt(sum_squared_diff(original, restored) / sum_squares(original));
}

// Quantize rows with the library and dequantize them again.
inline std::vector<float> round_trip(GgmlType type, const std::vector<float>& x, int64_t n_per_row,
                                     const float* imatrix = nullptr) {
  const int64_t n_rows = int64_t(x.size()) / n_per_row;
  std::vector<uint8_t> packed(llmq::ggml::row_size(type, n_per_row) * size_t(n_rows));
  llmq::ggml::quantize_rows(type, x.data(), packed.data(), n_rows, n_per_row, imatrix);
  std::vector<float> y(x.size());
  llmq::ggml::dequantize_row(type, packed.data(), y.data(), int64_t(x.size()));
  return y;
}

// ggml's reference rules (quantize_row_*_ref), written out plainly and
// returning the values a reader reconstructs: fp16 scales, codes computed with
// the unrounded scale, truncation after +0.5 as ggml does.
inline std::vector<float> ggml_reference_round_trip(GgmlType type, const std::vector<float>& x) {
  std::vector<float> y(x.size());
  for (size_t b = 0; b < x.size(); b += 32) {
    const float* xb = x.data() + b;
    float* yb = y.data() + b;
    if (type == GgmlType::Q4_0 || type == GgmlType::Q5_0) {
      const int half_levels = type == GgmlType::Q4_0 ? 8 : 16;
      float amax = 0, extreme = 0;
      for (int j = 0; j < 32; ++j)
        if (std::fabs(xb[j]) > amax) { amax = std::fabs(xb[j]); extreme = xb[j]; }
      const float d = extreme / float(-half_levels);
      const float id = d != 0 ? 1.0f / d : 0.0f;
      const float stored = llmq::f16_to_f32(llmq::f32_to_f16(d));
      for (int j = 0; j < 32; ++j) {
        int q = int(int8_t(xb[j] * id + (float(half_levels) + 0.5f)));
        if (q > 2 * half_levels - 1) q = 2 * half_levels - 1;
        yb[j] = float(q - half_levels) * stored;
      }
    } else if (type == GgmlType::Q4_1 || type == GgmlType::Q5_1) {
      const int top = type == GgmlType::Q4_1 ? 15 : 31;
      float lo = xb[0], hi = xb[0];
      for (int j = 0; j < 32; ++j) { lo = std::min(lo, xb[j]); hi = std::max(hi, xb[j]); }
      const float d = (hi - lo) / float(top);
      const float id = d != 0 ? 1.0f / d : 0.0f;
      const float sd = llmq::f16_to_f32(llmq::f32_to_f16(d)), sm = llmq::f16_to_f32(llmq::f32_to_f16(lo));
      for (int j = 0; j < 32; ++j) {
        int q = int(uint8_t((xb[j] - lo) * id + 0.5f));
        if (q > top) q = top;
        yb[j] = float(q) * sd + sm;
      }
    } else if (type == GgmlType::Q8_0) {
      float amax = 0;
      for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(xb[j]));
      const float d = amax / 127.0f;
      const float id = d != 0 ? 1.0f / d : 0.0f;
      const float stored = llmq::f16_to_f32(llmq::f32_to_f16(d));
      for (int j = 0; j < 32; ++j) yb[j] = float(int8_t(std::round(xb[j] * id))) * stored;
    } else {
      throw std::logic_error("no reference rule for this type");
    }
  }
  return y;
}

// One bf16 2-D tensor of a safetensors file, as floats (row-major).
struct Tensor {
  int64_t rows = 0, cols = 0;
  std::vector<float> values;
};

inline Tensor read_bf16_tensor(const std::string& path, const std::string& name) {
  llmq::MappedFile file(path);
  uint64_t header_len = 0;
  std::memcpy(&header_len, file.data(), 8);  // little-endian on every machine we build for
  const auto header = nlohmann::json::parse(file.data() + 8, file.data() + 8 + header_len);
  const auto& entry = header.at(name);
  if (entry.at("dtype") != "BF16") throw llmq::file_error(path, name + " is not bf16");
  Tensor t;
  t.rows = entry.at("shape").at(0);
  t.cols = entry.at("shape").at(1);
  const uint64_t begin = entry.at("data_offsets").at(0);
  const uint8_t* data = file.data() + 8 + header_len + begin;
  t.values.resize(size_t(t.rows * t.cols));
  for (size_t i = 0; i < t.values.size(); ++i) {
    uint16_t h;
    std::memcpy(&h, data + 2 * i, 2);
    t.values[i] = llmq::bf16_to_f32(h);
  }
  return t;
}

inline std::string tiny_llama_weights() { return std::string(LLMQ_SHARED_DIR) + "/models/tiny-llama/model.safetensors"; }

}  // namespace legacy_test
