#pragma once
// The key/value metadata of a model's GGUF file, with the keys and value
// types llama.cpp's convert_hf_to_gguf.py writes and llama.cpp reads:
// general.*, the architecture's hyper-parameters ("{arch}.block_count", ...)
// and the tokenizer ("tokenizer.ggml.*").
#include <cstdint>
#include <string>

#include "io/gguf/gguf_metadata.h"
#include "model/config.h"

namespace llmq {

class Tokenizer;

GgufMetadata gguf_model_metadata(const ModelConfig& cfg, const Tokenizer& tokenizer, const std::string& model_name,
                                 uint32_t file_type);

// "{arch}.<suffix>" for the model's GGUF architecture.
std::string gguf_arch_key(const std::string& arch, const char* suffix);

}  // namespace llmq
