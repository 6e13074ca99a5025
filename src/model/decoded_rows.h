#pragma once
// Lazy rows of a weight whose stored form can only be decoded whole (GPTQ,
// AWQ, compressed-tensors and MLX pack along the input or in transposed
// layouts): the first row asked for decodes the whole weight into a small
// cache that the model's weights share, and the tiles that follow read from
// it. At most `capacity` decoded weights are resident at a time, so a
// quantized checkpoint is evaluated in about its file size plus one or two
// fp32 linears, never as a whole fp32 model.
#include <cstddef>
#include <functional>
#include <memory>

#include "model/tensor.h"

namespace llmq {

class DecodedWeightCache;

// Shared by every weight of one loaded model.
std::shared_ptr<DecodedWeightCache> make_decoded_weight_cache(size_t capacity = 2);

// `decode` returns the [rows, cols] fp32 weight (and throws llmq::Error for a
// damaged checkpoint); it must keep whatever it reads from alive.
// `stored_row_bytes`: bytes per row in the file, for memory accounting.
std::shared_ptr<const RowSource> decoded_rows(std::shared_ptr<DecodedWeightCache> cache, int64_t rows, int64_t cols,
                                              size_t stored_row_bytes, std::function<Tensor()> decode);

}  // namespace llmq
