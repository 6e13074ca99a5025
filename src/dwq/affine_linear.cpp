#include "dwq/affine_linear.h"

#include "export/hf/hf_quant_writer.h"

namespace llmq::dwq {

void AffineLinear::dequantize(float* W) const {
  const int64_t G = n_groups();
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < G; ++g) {
      const float s = round_to(storage, scales[size_t(r * G + g)]), b = round_to(storage, biases[size_t(r * G + g)]);
      const uint8_t* qs = q.data() + r * cols + g * group;
      float* w = W + r * cols + g * group;
      for (int64_t i = 0; i < group; ++i) w[i] = s * float(qs[i]) + b;
    }
}

void AffineLinear::accumulate_gradients(const float* dW, float* gs, float* gb) const {
  const int64_t G = n_groups();
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < G; ++g) {
      const uint8_t* qs = q.data() + r * cols + g * group;
      const float* d = dW + r * cols + g * group;
      double ds = 0, db = 0;  // a group's sum in double: 32-128 terms of either sign
      for (int64_t i = 0; i < group; ++i) {
        ds += double(d[i]) * double(qs[i]);
        db += double(d[i]);
      }
      gs[size_t(r * G + g)] += float(ds);
      gb[size_t(r * G + g)] += float(db);
    }
}

}  // namespace llmq::dwq
