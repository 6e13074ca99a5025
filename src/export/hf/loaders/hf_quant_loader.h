#pragma once
// Loads checkpoints written in the GPTQ, AWQ, compressed-tensors
// (pack-quantized) and MLX layouts, dequantizing the linears to fp32 (all at
// load, or lazily one at a time) so the ordinary forward pass (perplexity,
// generation) runs on them.
#include <map>
#include <memory>
#include <string>

#include "export/hf/loaders/hf_quant_decoders.h"
#include "model/model_loader.h"

namespace llmq {

// Registers the loader with load_model(); call once at start-up (CLI main, tests).
void register_hf_quant_loaders();

// nullptr when `path` is not a directory holding one of these layouts.
// Throws llmq::Error naming the file for a checkpoint of the layout that is damaged.
// With opt.lazy, weights stay in the file: float ones are read a tile at a
// time, quantized linears decoded when first used (model/decoded_rows.h).
std::unique_ptr<LoadedModel> load_hf_quantized_model(const std::string& path, const LoadOptions& opt = {});

// Every quantized linear of the MLX checkpoint at `dir` in its stored parts
// (codes, scales, biases), keyed by Hugging Face weight name
// ("model.layers.0.mlp.experts.3.up_proj.weight"; stacked MoE experts are
// split). Throws llmq::Error naming the file when the layout is damaged.
std::map<std::string, MlxLinearParts> read_mlx_linears(const std::string& dir);

// "gptq", "awq", "compressed-tensors", "mlx", or "" when config.json declares none of them.
std::string detect_hf_quant_format(const std::string& dir);

}  // namespace llmq
