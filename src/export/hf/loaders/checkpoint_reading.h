#pragma once
// What every quantized-checkpoint loader does besides decoding its linears:
// read the tensors stored in floating point, and describe the loaded model.
#include <memory>
#include <string>

#include "io/hf_checkpoint.h"
#include "model/model_loader.h"
#include "model/weights.h"

namespace llmq {

// Reads nt's tensor as stored (BF16/F16/F32) into nt.tensor. Throws
// llmq::Error naming the checkpoint or file when it is missing or its shape
// differs from the one config.json implies.
void read_float_tensor(const HfCheckpoint& ck, const NamedTensor& nt);

// A LoadedModel of the weights, with the checkpoint's tokenizer and sizes.
std::unique_ptr<LoadedModel> make_loaded_model(std::shared_ptr<ModelWeights> w, const HfCheckpoint& ck,
                                               const std::string& format, const std::string& dtype);

}  // namespace llmq
