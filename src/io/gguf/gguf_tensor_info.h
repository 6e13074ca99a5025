#pragma once
// Where one tensor lives in a GGUF file and what it holds. Shapes are in ggml
// order: shape[0] is the row length (the fastest-varying dimension), the
// reverse of the PyTorch/safetensors order.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "quant/formats/ggml/ggml_types.h"

namespace llmq {

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> shape;      // 1 to 4 positive dims, ggml order
  ggml::GgmlType type = ggml::GgmlType::F32;
  uint64_t offset = 0;             // from the start of the data section; a multiple of the alignment
  size_t nbytes = 0;               // row_size(type, shape[0]) * rows
  const uint8_t* data = nullptr;   // into the mapped file (reader); nullptr in the writer

  int64_t n_elements() const;
  int64_t n_rows() const;          // product of shape[1..]
};

namespace gguf {
// Why `shape` cannot be stored as a `type` tensor ("" if it can): dims count,
// non-positive dims, rows not a multiple of the block size, byte size overflow.
std::string shape_problem(const std::vector<int64_t>& shape, ggml::GgmlType type);
// Bytes of a tensor whose shape_problem() is empty.
size_t tensor_nbytes(const std::vector<int64_t>& shape, ggml::GgmlType type);
// "[4096, 32000]" for messages.
std::string shape_string(const std::vector<int64_t>& shape);
}  // namespace gguf

}  // namespace llmq
