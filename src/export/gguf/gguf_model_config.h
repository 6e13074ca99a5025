#pragma once
// Rebuilds a ModelConfig from a GGUF file of one of our architectures
// (general.architecture llama, qwen2, qwen3, qwen3moe), reading the keys
// gguf_model_metadata() writes (and llama.cpp's converter writes) with
// llama.cpp's defaults for absent optional ones.
#include "io/gguf/gguf_reader.h"
#include "model/config.h"

namespace llmq {

// Throws llmq::Error "<path>: ..." for another architecture or missing keys.
ModelConfig model_config_from_gguf(const GgufReader& gguf);

}  // namespace llmq
