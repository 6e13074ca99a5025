#pragma once
// Opens any model we can evaluate: a Hugging Face checkpoint directory, or
// (via registered loaders) a quantized file/directory, which is dequantized
// to fp32 on load so one forward pass serves every format.
#include <functional>
#include <memory>
#include <string>

#include "model/weights.h"

namespace llmq {

class Tokenizer;

struct LoadedModel {
  std::shared_ptr<ModelWeights> weights;
  std::shared_ptr<Tokenizer> tokenizer;
  std::string path;
  std::string format;        // "hf", "gguf", "gptq", ...
  std::string dtype;         // storage type summary, e.g. "bf16" or "Q4_K_M"
  size_t file_bytes = 0;     // bytes of weight data on disk
  int64_t n_params = 0;
};

struct LoadOptions {
  // Keep weights in their stored form (mmapped bf16 rows, ggml blocks) and
  // convert tiles in the forward pass, instead of fp32 copies of everything.
  // For evaluation and calibration; methods that edit weights load dense.
  bool lazy = false;
};

// A loader for one format: returns nullptr if `path` is not of its format.
// Formats without a lazy form load dense whatever the options say.
using ModelLoaderFn = std::function<std::unique_ptr<LoadedModel>(const std::string& path, const LoadOptions& opt)>;
void register_model_loader(const std::string& format, ModelLoaderFn fn);

// Tries every registered loader, then the HF loader. Throws llmq::Error
// naming the path when nothing can open it.
LoadedModel load_model(const std::string& path, const LoadOptions& opt = {});
LoadedModel load_hf_model(const std::string& dir, const LoadOptions& opt = {});

int64_t count_params(const ModelWeights& w);

}  // namespace llmq
