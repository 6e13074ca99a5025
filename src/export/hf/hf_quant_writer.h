#pragma once
// Writes a QuantizedModel as a checkpoint directory in one of the four
// layouts: model.safetensors (or shards with an index), config.json with the format's quantization
// config, quantize_config.json (GPTQ), and the source's tokenizer and
// generation files. The directory appears only when complete (AtomicOutputDir)
// and is never the source directory.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "export/hf/hf_quant_format.h"
#include "export/hf/quantized_model.h"
#include "export/hf/safetensors_shards.h"

namespace llmq {

struct HfQuantWriteResult {
  std::string dir;
  int64_t tensors = 0;
  int64_t quantized_linears = 0;
  uint64_t bytes = 0;               // size of the safetensors file(s)
  std::vector<std::string> files;  // model.safetensors, or the shards
};

// `opt` is what the model was quantized with (recorded in the configs);
// `source_dir` is the original checkpoint (config.json, tokenizer files).
// Weights beyond `max_shard_bytes` are split into shards with an index.
HfQuantWriteResult write_hf_quantized(const QuantizedModel& qm, HfQuantFormat format, const IntQuantizeOptions& opt,
                                      const std::string& source_dir, const std::string& out_dir,
                                      uint64_t max_shard_bytes = kDefaultMaxShardBytes);

// The two halves of write_hf_quantized, for writers that stream layers from
// disk (layer_spill.h). The checkpoint tensors of one tensor of the model: a
// quantized linear's stored tensors (`q`, e.g. qweight/qzeros/scales/g_idx),
// or the tensor itself in `float_dtype` (unquantized_dtype; dense or lazy).
// `q` and the model's tensor must outlive the list.
void append_checkpoint_tensors(HfQuantFormat format, DType float_dtype, const NamedTensor& nt, const QuantizedLinear* q,
                               std::vector<OutTensor>& out);

// Writes the checkpoint folder from `tensors` in file order. `w` names the
// model's tensors (only names and roles are read); `quantized` gives the spec
// of every quantized linear by weight name, `ignored` the weight names
// --ignore kept in floating point: the config's bits, per-module widths and
// skip lists come from them.
HfQuantWriteResult write_hf_checkpoint(ModelWeights& w, const std::vector<OutTensor>& tensors,
                                       const std::map<std::string, IntQuantSpec>& quantized,
                                       const std::vector<std::string>& ignored, HfQuantFormat format,
                                       const IntQuantizeOptions& opt, const std::string& source_dir,
                                       const std::string& out_dir, uint64_t max_shard_bytes = kDefaultMaxShardBytes);

// Rounds the floating-point tensors that stay unquantized to the dtype the
// format stores them in, so that qm.weights equals what a loader reads back.
void round_unquantized_to_format(QuantizedModel& qm, HfQuantFormat format);

// v as stored in `d` (F16, BF16) and read back; F32 unchanged.
float round_to(DType d, float v);

// The weight a consumer reconstructs from the stored form of q (MLX adds a
// rounded bias rather than subtracting a zero point).
Tensor dequantize_as_stored(const QuantizedLinear& q, HfQuantFormat format);

}  // namespace llmq
