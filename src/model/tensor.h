#pragma once
// A dense fp32 tensor, row-major. Linear weights are [out_features, in_features]
// as in Hugging Face checkpoints.
//
// A weight may also be lazy: `data` stays empty and `rows` reads rows from
// where the weight is stored (bf16 in an mmapped safetensors file, ggml blocks
// in a GGUF file), converted to fp32 a tile at a time when the forward pass
// needs them. A 7B model then runs in the memory of its activations, not the
// 27 GB of its fp32 weights. materialize() turns a lazy tensor into a dense one.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace llmq {

// A few rows of activations for RowSource::dot_rows: fp32, and the same
// quantized to Q8_K blocks (cols / 256 per row) when the source asked for it.
struct ActivationRows {
  const float* f32 = nullptr;
  const void* q8k = nullptr;
  int64_t T = 0, cols = 0;
};

// The rows of a 2-D weight in its stored form.
class RowSource {
 public:
  virtual ~RowSource() = default;
  // Writes rows [r0, r0 + n) as fp32 into out ([n, cols]); thread-safe.
  virtual void read_rows(int64_t r0, int64_t n, float* out) const = 0;
  // Bytes of the stored form per row (for memory and speed accounting).
  virtual size_t row_bytes() const = 0;
  // Whether dot_rows wants the activations quantized to Q8_K as well
  // (integer dot products of k-quant weights, as llama.cpp decodes).
  virtual bool dots_with_q8k() const { return false; }
  // Y[t * ldy + i] = dot(row r0 + i, X row t) for i < n, t < X.T;
  // thread-safe. The default converts the rows into a buffer of the calling
  // thread; a source whose stored form allows it takes the dot products on
  // that form directly.
  virtual void dot_rows(int64_t r0, int64_t n, const ActivationRows& X, float* Y, int64_t ldy) const;
};

struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
  std::shared_ptr<const RowSource> rows_source;  // set only while lazy

  bool empty() const { return data.empty() && !rows_source; }
  bool lazy() const { return data.empty() && rows_source != nullptr; }
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return shape.empty() ? 0 : n;
  }
  int64_t rows() const { return shape.empty() ? 0 : (shape.size() == 1 ? 1 : shape[0]); }
  int64_t cols() const { return shape.empty() ? 0 : shape.back(); }
  float* row(int64_t r) { return data.data() + r * cols(); }
  const float* row(int64_t r) const { return data.data() + r * cols(); }
  void resize(std::vector<int64_t> s) {
    shape = std::move(s);
    rows_source.reset();
    data.assign(size_t(numel()), 0.0f);
  }
  // Rows [r0, r0 + n) as fp32, whether dense or lazy.
  void read_rows(int64_t r0, int64_t n, float* out) const;
  float at(int64_t r, int64_t c) const;
  // Lazy -> dense (no-op when dense).
  void materialize();
  // Bytes resident for this tensor (the dense copy; 0 while lazy).
  size_t resident_bytes() const { return data.capacity() * sizeof(float); }  // capacity: what the allocator holds
};

std::string shape_str(const std::vector<int64_t>& shape);  // "[512, 256]"

}  // namespace llmq
