#pragma once
// Which model an importance matrix was computed on. Tensor names and widths
// only tell the architecture: an imatrix of another fine-tune of the same
// base has both, and weighs the quantization error with the wrong
// activations. The fingerprint hashes a sample of the token embedding's values
// (16 evenly spaced rows, rounded to bf16), so the bf16, f16 and f32 copies
// of one checkpoint and its BF16/F16/F32 GGUF agree, and other weights do not.
#include <string>

#include "calibration/imatrix_file.h"

namespace llmq {

struct ModelWeights;

// "v1:<16 hex digits>", or empty when the embedding is not stored as floats
// (a quantized GGUF's token_embd cannot be compared with its source).
std::string model_fingerprint(const ModelWeights& w);

// Opens the importance matrix for use with the model at model_path (a
// checkpoint directory or a model file). When the file carries a fingerprint
// and the model has one, they must agree: otherwise llmq::Error naming the
// imatrix file. Files without one (llama-imatrix's, legacy .dat) pass; their
// names and widths are checked where the entries are used.
ImatrixFile open_imatrix_for_model(const std::string& imatrix_path, const std::string& model_path,
                                   int64_t n_experts = 0);

// The same check on an opened file and loaded weights.
void check_imatrix_model(const ImatrixFile& imatrix, const std::string& imatrix_path, const ModelWeights& w,
                         const std::string& model_path);

}  // namespace llmq
