#pragma once
// A dense fp32 tensor, row-major. Linear weights are [out_features, in_features]
// as in Hugging Face checkpoints.
#include <cstdint>
#include <string>
#include <vector>

namespace llmq {

struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;

  bool empty() const { return data.empty(); }
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
    data.assign(size_t(numel()), 0.0f);
  }
};

std::string shape_str(const std::vector<int64_t>& shape);  // "[512, 256]"

}  // namespace llmq
