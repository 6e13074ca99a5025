#include "quant/formats/ggml/grid_codebook.h"

#include <cmath>

#include "quant/formats/ggml/iq_grids.h"

namespace llmq::ggml::iq {

GridCodebook::GridCodebook(int dim, int size, const std::function<float(int g, int i)>& value)
    : dim_(dim), size_(size), t_(size_t(dim) * size), t2_(size_t(dim) * size) {
  for (int i = 0; i < dim; ++i)
    for (int g = 0; g < size; ++g) {
      const float v = value(g, i);
      t_[size_t(i) * size + g] = v;
      t2_[size_t(i) * size + g] = v * v;
      max_abs_ = std::max(max_abs_, std::fabs(v));
      if (v != 0) min_abs_ = std::min(min_abs_, std::fabs(v));
    }
}

namespace {
template <typename Entry, size_t N>
GridCodebook magnitudes(const Entry (&grid)[N], int dim) {
  return GridCodebook(dim, int(N), [&](int g, int i) { return float(grid_value(grid[g], i)); });
}
float iq1_value(int g, int i, int delta_sign) {
  return float(grid_value_signed(kIq1sGrid[g], i)) + (delta_sign ? -kIq1Delta : kIq1Delta);
}
}  // namespace

const GridCodebook& iq2xxs_book() {
  static const GridCodebook b = magnitudes(kIq2xxsGrid, 8);
  return b;
}
const GridCodebook& iq2xs_book() {
  static const GridCodebook b = magnitudes(kIq2xsGrid, 8);
  return b;
}
const GridCodebook& iq2s_book() {
  static const GridCodebook b = magnitudes(kIq2sGrid, 8);
  return b;
}
const GridCodebook& iq3xxs_book() {
  static const GridCodebook b = magnitudes(kIq3xxsGrid, 4);
  return b;
}
const GridCodebook& iq3s_book() {
  static const GridCodebook b = magnitudes(kIq3sGrid, 4);
  return b;
}
const GridCodebook& iq1s_book(int delta_sign) {
  static const GridCodebook plus(8, 2048, [](int g, int i) { return iq1_value(g, i, 0); });
  static const GridCodebook minus(8, 2048, [](int g, int i) { return iq1_value(g, i, 1); });
  return delta_sign ? minus : plus;
}
const GridCodebook& iq1m_book() {
  static const GridCodebook b(8, 4096, [](int g, int i) { return iq1_value(g % 2048, i, g / 2048); });
  return b;
}

}  // namespace llmq::ggml::iq
