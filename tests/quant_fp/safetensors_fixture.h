#pragma once
// Reads one bf16 tensor of a fixture checkpoint into floats. A safetensors file
// is an 8-byte little-endian header length, a JSON header mapping names to
// {dtype, shape, data_offsets} (offsets relative to the end of the header),
// then the raw data.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/error.h"
#include "util/half.h"
#include "util/mapped_file.h"

namespace llmq::fp::testing {

struct Matrix {
  int64_t rows = 0, cols = 0;
  std::vector<float> data;
};

inline Matrix load_bf16_matrix(const std::string& path, const std::string& name) {
  MappedFile file(path);
  uint64_t header_len = 0;
  if (file.size() < 8) throw file_error(path, "too short for a safetensors header");
  std::memcpy(&header_len, file.data(), 8);  // little-endian host assumed (x86)
  if (8 + header_len > file.size()) throw file_error(path, "header length past the end of the file");
  const auto header = nlohmann::json::parse(file.data() + 8, file.data() + 8 + header_len);
  if (!header.contains(name)) throw file_error(path, "no tensor " + name);
  const auto& info = header[name];
  if (info["dtype"] != "BF16") throw file_error(path, name + " is not bf16");
  const auto shape = info["shape"].get<std::vector<int64_t>>();
  if (shape.size() != 2) throw file_error(path, name + " is not a matrix");
  const auto offsets = info["data_offsets"].get<std::vector<uint64_t>>();
  Matrix m{shape[0], shape[1], {}};
  const size_t n = size_t(m.rows * m.cols);
  if (offsets.size() != 2 || offsets[1] - offsets[0] != n * 2 || 8 + header_len + offsets[1] > file.size())
    throw file_error(path, name + " has bad data offsets");
  const uint8_t* data = file.data() + 8 + header_len + offsets[0];
  m.data.resize(n);
  for (size_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, data + 2 * i, 2);
    m.data[i] = bf16_to_f32(h);
  }
  return m;
}

inline std::string tiny_llama_path() { return std::string(LLMQ_SHARED_DIR) + "/models/tiny-llama/model.safetensors"; }

}  // namespace llmq::fp::testing
