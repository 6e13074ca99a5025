#include "export/gguf/rope_permutation.h"

#include <cstring>

#include "util/error.h"

namespace llmq {

namespace {
// Row index inside a head: Hugging Face (j * half + i) <-> GGUF (2i + j).
void move_rows(const float* src, float* dst, int64_t n_heads, int64_t head_dim, int64_t cols, bool to_gguf) {
  if (head_dim % 2 != 0) fail("cannot permute rope rows: head_dim {} is odd", head_dim);
  const int64_t half = head_dim / 2;
  const size_t row_bytes = size_t(cols) * sizeof(float);
#pragma omp parallel for schedule(static) if (n_heads * head_dim * cols >= (1 << 16))
  for (int64_t h = 0; h < n_heads; ++h) {
    const int64_t base = h * head_dim;
    for (int64_t j = 0; j < 2; ++j) {
      for (int64_t i = 0; i < half; ++i) {
        const int64_t hf_row = base + j * half + i;
        const int64_t gguf_row = base + 2 * i + j;
        const int64_t from = to_gguf ? hf_row : gguf_row;
        const int64_t to = to_gguf ? gguf_row : hf_row;
        std::memcpy(dst + to * cols, src + from * cols, row_bytes);
      }
    }
  }
}
}  // namespace

void permute_rope_rows(const float* src, float* dst, int64_t n_heads, int64_t head_dim, int64_t cols) {
  move_rows(src, dst, n_heads, head_dim, cols, true);
}

void unpermute_rope_rows(const float* src, float* dst, int64_t n_heads, int64_t head_dim, int64_t cols) {
  move_rows(src, dst, n_heads, head_dim, cols, false);
}

}  // namespace llmq
