#pragma once
// Loading a GGUF file of one of our architectures as a model we can
// evaluate: the config from the metadata, every tensor dequantized to fp32
// and mapped back to its Hugging Face name (q/k rows un-permuted for llama
// models, expert stacks split), the tokenizer from tokenizer.ggml.*.
// So `quality perplexity` and `generate` accept .gguf files, whether we or
// llama.cpp wrote them.
#include <memory>
#include <string>

#include "io/gguf/gguf_reader.h"
#include "model/model_loader.h"

namespace llmq {

// Adds the "gguf" loader to load_model(). Call once at startup (the CLI's
// main, tests): a static registrar inside a static library could be dropped
// by the linker. Calling it again does nothing.
void register_gguf_model_loader();

// True if the file starts with the GGUF magic.
bool is_gguf_file(const std::string& path);

// Throws llmq::Error naming the file for unsupported architectures or
// tensor types, and tensors that are missing or have unexpected shapes.
LoadedModel load_gguf_model(const std::string& path, const LoadOptions& opt = {});

// The weights alone, for a config from model_config_from_gguf().
ModelWeights load_gguf_weights(const GgufReader& gguf, const ModelConfig& cfg);
// Lazy: 2-D weights stay ggml blocks in the mapped file and are dequantized a
// tile of rows at a time by the forward pass.
ModelWeights load_gguf_weights_lazy(std::shared_ptr<const GgufReader> gguf, const ModelConfig& cfg);

// "Q4_K_M" for a general.file_type we know, else "gguf".
std::string gguf_file_type_name(const GgufReader& gguf);

}  // namespace llmq
