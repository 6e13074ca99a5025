#pragma once
// Lazy rows of a weight stored in a safetensors file (bf16/f16/f32): read
// from the mapping and converted to fp32 when the forward pass asks for
// them. The source keeps the checkpoint (and so its mapping) alive.
#include <memory>

#include "io/hf_checkpoint.h"
#include "model/tensor.h"
#include "model/weights.h"

namespace llmq {

// The checkpoint's view of nt, checked against the shape config.json implies
// and to be BF16/F16/F32; throws llmq::Error naming the checkpoint or file.
const TensorView& checked_float_view(const HfCheckpoint& ckpt, const NamedTensor& nt);

// `tv` must be a 2-D float tensor of `ckpt`.
std::shared_ptr<const RowSource> safetensors_rows(std::shared_ptr<const HfCheckpoint> ckpt, const TensorView* tv);

}  // namespace llmq
