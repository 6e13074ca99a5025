#include "io/gguf/gguf_tensor_info.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "io/gguf/gguf_format.h"

namespace llmq {

int64_t GgufTensorInfo::n_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t GgufTensorInfo::n_rows() const { return shape.empty() ? 0 : n_elements() / shape[0]; }

namespace gguf {

std::string shape_problem(const std::vector<int64_t>& shape, ggml::GgmlType type) {
  const ggml::TypeTraits* traits = ggml::type_traits(type);
  if (!traits) return fmt::format("unknown ggml type id {}", uint32_t(type));
  if (shape.empty() || shape.size() > size_t(kMaxDims))
    return fmt::format("has {} dimensions, expected 1 to {}", shape.size(), kMaxDims);
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] <= 0) return fmt::format("dimension {} is {}, expected a positive size", i, shape[i]);
  if (shape[0] % traits->block_size != 0)
    return fmt::format("row length {} is not a multiple of the {} block size {}", shape[0], ggml::type_name(type),
                       traits->block_size);
  // The byte size must fit in size_t (and elements in int64_t, as ggml counts them).
  uint64_t bytes = uint64_t(shape[0] / traits->block_size) * traits->type_size;
  int64_t elements = shape[0];
  for (size_t i = 1; i < shape.size(); ++i) {
    if (__builtin_mul_overflow(bytes, uint64_t(shape[i]), &bytes) ||
        __builtin_mul_overflow(elements, shape[i], &elements))
      return fmt::format("shape {} is too large", shape_string(shape));
  }
  return "";
}

size_t tensor_nbytes(const std::vector<int64_t>& shape, ggml::GgmlType type) {
  size_t rows = 1;
  for (size_t i = 1; i < shape.size(); ++i) rows *= size_t(shape[i]);
  return ggml::row_size(type, shape[0]) * rows;
}

std::string shape_string(const std::vector<int64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

}  // namespace gguf
}  // namespace llmq
