#pragma once
// The grids of the i-quants as float codebooks for the search: point g of a
// codebook is a vector of `dim` values (4 or 8). Values are stored
// transposed, value i of every point contiguous, so that a dot product with
// one group of weights runs over all points at once (vectorised over g).
//
// Private to the ggml format code.
#include <cmath>
#include <functional>
#include <vector>

namespace llmq::ggml::iq {

class GridCodebook {
 public:
  // value(g, i): value i of point g.
  GridCodebook(int dim, int size, const std::function<float(int g, int i)>& value);

  int dim() const { return dim_; }
  int size() const { return size_; }
  float max_abs() const { return max_abs_; }
  float min_abs() const { return min_abs_; }  // smallest non-zero magnitude
  float value(int g, int i) const { return t_[size_t(i) * size_ + g]; }
  const float* values(int i) const { return t_.data() + size_t(i) * size_; }   // value i of every point
  const float* squares(int i) const { return t2_.data() + size_t(i) * size_; }

 private:
  int dim_, size_;
  float max_abs_ = 0, min_abs_ = INFINITY;
  std::vector<float> t_, t2_;
};

// The codebooks of each format (built once, on first use).
const GridCodebook& iq2xxs_book();    // magnitudes, 256 x 8
const GridCodebook& iq2xs_book();     // 512 x 8
const GridCodebook& iq2s_book();      // 1024 x 8
const GridCodebook& iq3xxs_book();    // magnitudes, 256 x 4
const GridCodebook& iq3s_book();      // 512 x 4
// IQ1_S grid values plus a delta of +1/8 (sign 0) or -1/8 (sign 1), 2048 x 8.
const GridCodebook& iq1s_book(int delta_sign);
// Both deltas in one codebook of 4096: point g < 2048 is grid point g with
// +1/8, point 2048 + g the same with -1/8 (IQ1_M picks the delta per group).
const GridCodebook& iq1m_book();

}  // namespace llmq::ggml::iq
