#pragma once
// Lazy rows of a weight whose stored form can only be decoded whole (GPTQ,
// AWQ, compressed-tensors and MLX pack along the input or in transposed
// layouts): the first row asked for decodes the whole weight into a cache
// that the model's weights share, and the tiles that follow read from it.
// The cache keeps decoded weights, least recently used first out, while they
// fit its byte budget (and always the last two): a model whose fp32 form fits
// the budget is decoded once (fast generation), a larger one is evaluated in
// about its file size plus the budget, never as a whole fp32 model.
#include <cstddef>
#include <functional>
#include <memory>

#include "model/tensor.h"

namespace llmq {

class DecodedWeightCache;

// Shared by every weight of one loaded model. `budget_bytes` 0: a quarter
// of the memory available when it is made (/proc/meminfo), at least 256 MiB.
std::shared_ptr<DecodedWeightCache> make_decoded_weight_cache(size_t budget_bytes = 0);

// `decode` returns the [rows, cols] fp32 weight (and throws llmq::Error for a
// damaged checkpoint); it must keep whatever it reads from alive.
// `stored_row_bytes`: bytes per row in the file, for memory accounting.
std::shared_ptr<const RowSource> decoded_rows(std::shared_ptr<DecodedWeightCache> cache, int64_t rows, int64_t cols,
                                              size_t stored_row_bytes, std::function<Tensor()> decode);

}  // namespace llmq
