#pragma once
// Dequantizes one linear from the tensors a quantized checkpoint stores for
// it, per format, to an fp32 weight [out, in]. The inverse of the writers in
// export/hf, written from the formats' definitions (not from the writers), so
// that a round trip checks both.
#include <string>

#include "io/hf_checkpoint.h"
#include "model/tensor.h"

namespace llmq {

struct IntFormatParams {
  int bits = 4;
  int64_t group_size = 128;  // -1 per channel
  bool sym = true;
  bool gptq_v1_zeros = true;  // GPTQ "gptq" checkpoint_format stores zero - 1 ("gptq_v2" does not)
  bool desc_act = false;      // GPTQ act order: columns are grouped by g_idx, which must then be stored
};

// `prefix` is the module name ("model.layers.0.mlp.down_proj"); out/in the
// shape config.json implies. Throws llmq::Error naming the file and tensor
// when a tensor is missing or has the wrong shape.
Tensor decode_gptq_linear(const HfCheckpoint& ck, const std::string& prefix, int64_t out, int64_t in, const IntFormatParams& p);
Tensor decode_awq_linear(const HfCheckpoint& ck, const std::string& prefix, int64_t out, int64_t in, const IntFormatParams& p);
Tensor decode_compressed_tensors_linear(const HfCheckpoint& ck, const std::string& prefix, int64_t out, int64_t in,
                                        const IntFormatParams& p);
// An MLX linear as stored: w = scales * q + biases per group of columns.
struct MlxLinearParts {
  int64_t rows = 0, cols = 0, group_size = 64;
  int bits = 4;
  std::vector<uint8_t> q;              // [rows, cols]
  std::vector<float> scales, biases;   // [rows, cols / group_size]
  DType scale_dtype = DType::F16;      // the type they are stored in
};
MlxLinearParts read_mlx_linear(const HfCheckpoint& ck, const std::string& prefix, int64_t out, int64_t in,
                               const IntFormatParams& p);
Tensor decode_mlx_linear(const HfCheckpoint& ck, const std::string& prefix, int64_t out, int64_t in, const IntFormatParams& p);

}  // namespace llmq
