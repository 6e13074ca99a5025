#pragma once
// Writes a LowbitModel as a compressed-tensors checkpoint directory, with
// the tensor names, dtypes and shapes llm-compressor's compressors produce
// (compressed_tensors/compressors/{naive_quantized,pack_quantized,nvfp4,mxfp4})
// and vLLM's schemes load:
//
//   float-quantized       weight F8_E4M3 [out, in], weight_scale F32 [out, 1] (channel) or [1] (tensor),
//                         input_scale F32 [1] (static activations)
//   int-quantized         weight I8 [out, in], weight_scale F32 [out, 1]
//   pack-quantized        8-bit weight_packed / weight_scale / weight_shape (export/hf/hf_tensor_encoders)
//   nvfp4-pack-quantized  weight_packed U8 [out, in/2], weight_scale F8_E4M3 [out, in/16],
//                         weight_global_scale F32 [1]
//   mxfp4-pack-quantized  weight_packed U8 [out, in/2], weight_scale U8 (E8M0) [out, in/32]
//   FP8 KV cache          model.layers.N.self_attn.{k,v}_scale F32 [1] (compressed-tensors puts the
//                         scales on the attention module; vLLM maps them to attn.{k,v}_scale)
//
// Other tensors are bfloat16. config.json gets the quantization_config
// (ct_lowbit_config.h); tokenizer and generation files are copied. The
// directory appears only when complete and is never the source directory.
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "export/hf/hf_quant_writer.h"
#include "export/hf/lowbit_model.h"

namespace llmq {

HfQuantWriteResult write_lowbit_checkpoint(const LowbitModel& m, const std::string& source_dir, const std::string& out_dir);

// The halves of write_lowbit_checkpoint, for the pipeline that streams layers
// from disk (layer_spill.h). One tensor of the model in checkpoint form: the
// stored tensors of a quantized linear `q`, or the tensor in bfloat16 (dense
// or lazy); `q` and the tensor must outlive the list.
// `float_dtype`: unquantized_dtype(CompressedTensors, the source's type).
void append_lowbit_tensors(const NamedTensor& nt, const LowbitLinear* q, const LowbitScheme& s, DType float_dtype,
                           std::vector<OutTensor>& out);
// The FP8 KV cache scales (scheme.kv_fp8), which go after every other tensor.
void append_kv_scales(const LowbitModel& m, std::vector<OutTensor>& out);
// Writes the folder from `tensors` in file order; `quantized` names the
// quantized linears' weights (`w` gives the other names for the ignore list).
HfQuantWriteResult write_lowbit_files(ModelWeights& w, const std::vector<OutTensor>& tensors,
                                      const std::set<std::string>& quantized, const LowbitScheme& scheme,
                                      const std::string& source_dir, const std::string& out_dir);

// Rounds every tensor that stays unquantized to bfloat16 (what the checkpoint
// stores), so that m.weights equals what a loader reads back.
void round_unquantized_to_bf16(LowbitModel& m);

// The module names the checkpoint leaves in floating point ("lm_head", MoE routers).
std::vector<std::string> lowbit_ignore_list(const LowbitModel& m);
std::vector<std::string> lowbit_ignore_list(ModelWeights& w, const std::set<std::string>& quantized);

}  // namespace llmq
