#pragma once
// How calibration results name tensors in files llama.cpp reads.
#include <functional>
#include <string>

#include "model/weights.h"

namespace llmq {

// llama.cpp's name of a tensor; pass llmq::gguf_tensor_name (export/gguf/gguf_names.h).
// Taken as an argument so that calibration does not link against the exporters
// (which themselves read importance matrices).
using GgufNamer = std::function<std::string(const NamedTensor&)>;

}  // namespace llmq
