#pragma once
// How each format stores one quantized linear (tensor names, shapes, dtypes,
// packing) and the quantization_config consumers read from config.json.
// Tensor bytes are produced on demand, when the writer streams them.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "export/hf/hf_quant_format.h"
#include "export/hf/quantized_model.h"
#include "io/safetensors.h"
#include "io/safetensors_writer.h"

namespace llmq {

struct OutTensor {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::function<std::vector<uint8_t>()> bytes;
  // Where set, the same bytes in pieces: writers use it so that a large
  // floating-point tensor (a 128k-vocabulary embedding: 2.1 GB in 16 bits) is
  // never held whole.
  std::function<void(const SafetensorsWriter::ByteSink&)> stream = {};
};

// A tensor kept in floating point, stored as `dtype` (F16/BF16/F32); t must outlive the list.
OutTensor float_out_tensor(const std::string& name, DType dtype, const std::vector<int64_t>& shape, const Tensor* t);

// Writes t's bytes into `st` (declared already): streamed where it can be.
void write_out_tensor(SafetensorsWriter& st, const OutTensor& t);

// `prefix` is the module name ("model.layers.0.self_attn.q_proj"); q must outlive the list.
void add_quantized_linear(HfQuantFormat f, const std::string& prefix, const QuantizedLinear& q,
                          std::vector<OutTensor>& out);

// dtype of the tensors the format keeps in floating point (embeddings, norms,
// lm_head, routers): the source's when it is 16-bit (bf16 stays bf16, as
// GPTQModel, AutoAWQ, llm-compressor and mlx-lm keep it), else the format's
// usual 16-bit type.
DType unquantized_dtype(HfQuantFormat f, DType source);

// config.json's torch_dtype spelling of a float type ("bfloat16", "float16", "float32").
const char* torch_dtype_name(DType d);

// The type of an MLX linear's scales and biases.
DType mlx_scale_dtype(const IntQuantSpec& spec);

// quantization_config (config.json) for the format. `not_quantized` lists the
// module names of linears left in floating point (lm_head, MoE routers, and
// `ignored`: the decoder linears --ignore kept, which GPTQ records as
// "dynamic" skip rules and MLX as per-module `false`). `module_bits`: modules
// stored with other bits than spec.bits, which GPTQ records as "dynamic"
// "+:" rules and compressed-tensors as one config group per bit width.
nlohmann::json quantization_config(HfQuantFormat f, const IntQuantSpec& spec, const IntQuantizeOptions& opt,
                                   const std::vector<std::string>& not_quantized,
                                   const std::vector<std::string>& ignored = {},
                                   const std::map<std::string, int>& module_bits = {});

// optimum / transformers' GPTQ `modules_in_block_to_quantize`: the quantized
// linears' names inside a decoder block ("self_attn.q_proj",
// "mlp.experts.3.up_proj"), grouped as GPTQ processes them. Loaders replace
// only these Linears of each block, so a MoE router stays a plain Linear.
nlohmann::json modules_in_block_to_quantize(const std::vector<std::string>& quantized_modules);

// `s` as a regular expression matching exactly `s` ("^a\\.b$"): GPTQ "dynamic"
// rules, and --protect-super-weights' ignore patterns.
std::string anchored_regex(const std::string& s);

// Byte helpers shared with the writer.
std::vector<uint8_t> floats_as(DType dtype, const std::vector<float>& v);
// A dense or lazy tensor's values in `dtype` (F32, F16, BF16); a lazy one is
// read a few MB of rows at a time, never as a whole fp32 copy.
// The same bytes as tensor_as, handed to `sink` a tile of rows at a time.
void stream_tensor_as(DType dtype, const Tensor& t, const SafetensorsWriter::ByteSink& sink);
std::vector<uint8_t> tensor_as(DType dtype, const Tensor& t);
// Calls fn(first_row, n_rows, values) over t's rows, about 4 MB of fp32 rows
// at a time: pointers into a dense tensor's data, rows read into a buffer for a lazy one.
void for_each_row_tile(const Tensor& t, const std::function<void(int64_t, int64_t, const float*)>& fn);
template <typename T>
std::vector<uint8_t> raw_bytes(const std::vector<T>& v) {
  const auto* p = reinterpret_cast<const uint8_t*>(v.data());
  return std::vector<uint8_t>(p, p + v.size() * sizeof(T));
}

}  // namespace llmq
