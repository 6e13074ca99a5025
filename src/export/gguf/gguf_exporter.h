#pragma once
// Hugging Face checkpoint -> GGUF file for llama.cpp, in one streaming pass:
// each tensor is read from the safetensors mapping, converted to fp32,
// permuted (q/k of llama models), stacked (MoE experts), quantized with the
// preset's per-tensor type and written before the next is read, so peak
// memory is about one tensor (or one layer's stack of experts). The file is
// written under a temporary name and renamed into place only when complete.
//
//   GgufExportOptions opt;
//   opt.quant.preset = GgufPreset::Q4_K_M;
//   opt.output = "model-Q4_K_M.gguf";
//   GgufExportResult r = export_gguf("path/to/hf-model", opt);
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "export/gguf/gguf_type_plan.h"
#include "quant/formats/ggml/ggml_types.h"

namespace llmq {

class GgufGptq;

// Importance (imatrix) values for one quantized tensor: one per column of
// the named GGUF tensor, for one expert of a stacked tensor (-1 otherwise);
// nullptr when there are none. Matches the layout of llama.cpp's imatrix
// files, keyed by GGUF tensor name.
using ImportanceLookup = std::function<const std::vector<float>*(const std::string& gguf_name, int expert)>;

struct GgufExportOptions {
  GgufQuantOptions quant;
  std::string output;            // required unless dry_run
  bool dry_run = false;          // plan and report only; reads no tensor data, writes nothing
  std::string model_name;        // general.name; default: the model directory's name
  ImportanceLookup importance;   // optional; sets quant.has_imatrix when given
  // Optional: GPTQ error feedback for the decoder's k-quant tensors, from
  // these calibration Hessians (export/gguf/gguf_gptq.h). One process only.
  std::shared_ptr<GgufGptq> gptq;
};

struct GgufTensorResult {
  std::string name;
  std::vector<int64_t> ne;       // ggml shape
  ggml::GgmlType type = ggml::GgmlType::F32;
  std::string note;              // why the type differs from the preset's
  int64_t n_elements = 0;
  size_t bytes = 0;              // data bytes in the file (before alignment padding)
  bool used_importance = false;
  bool used_gptq = false;        // quantized with GPTQ's error feedback
  double bpw() const { return n_elements ? double(bytes) * 8.0 / double(n_elements) : 0.0; }
};

struct GgufExportResult {
  std::string model_dir, output;
  GgufPreset preset = GgufPreset::Q4_K_M;
  bool dry_run = false;
  std::vector<GgufTensorResult> tensors;
  int64_t n_elements = 0;
  size_t tensor_bytes = 0;       // sum of tensor data bytes
  size_t file_bytes = 0;         // size of the written file (0 for a dry run)
  size_t source_bytes = 0;       // tensor bytes of the checkpoint
  double seconds = 0;
  // Some tensor's type needs an importance matrix (writing fails without
  // one; a dry run only reports it).
  bool needs_importance = false;
  double bpw() const { return n_elements ? double(tensor_bytes) * 8.0 / double(n_elements) : 0.0; }
};

// Called after each tensor is planned (dry run) or written; may throw to
// abort (the partial output is then removed).
using GgufExportProgress = std::function<void(size_t index, size_t total, const GgufTensorResult& tensor)>;

// Throws llmq::Error for unreadable input, an output path that is the input
// (or one of its files), unsupported shapes, a type that needs importance
// data the options lack (checked before anything is written), or write
// failures.
GgufExportResult export_gguf(const std::string& model_dir, const GgufExportOptions& opt,
                             const GgufExportProgress& progress = {});

// `<parent>/<model dir name>-<PRESET>.gguf`, beside the model directory.
std::string default_gguf_output_path(const std::string& model_dir, GgufPreset preset);

}  // namespace llmq
