#pragma once
// A model quantized to a low-bit scheme (FP8, int8, NVFP4, MXFP4; see
// lowbit_scheme.h): the stored form of every quantized linear, the FP8 KV
// cache scales, and fp32 weights that hold the dequantized linears, the
// smoothed norms and the runtime's activation quantization, so the same
// object is written out and evaluated.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "export/hf/layer_stream.h"
#include "export/hf/lowbit_linear.h"
#include "model/weights.h"

namespace llmq {

struct LowbitModel {
  LowbitScheme scheme;
  std::shared_ptr<ModelWeights> weights;         // weights->runtime holds the simulated activation / KV quantization
  std::map<std::string, LowbitLinear> linears;   // by Hugging Face weight name ("...q_proj.weight")
  std::vector<float> k_scale, v_scale;           // per layer, when scheme.kv_fp8
  nlohmann::json report;                         // outlier ratios, smoothing, scale statistics
};

// Called after each quantized linear: (done, total).
using LinearProgressFn = std::function<void(int64_t, int64_t)>;

// `windows` are calibration token windows; they may be empty when the scheme
// needs no calibration (scheme.needs_calibration()). Throws llmq::Error when
// a linear's width does not fit the format or calibration is missing.
using LowbitLayerStream = LayerStream<LowbitModel>;

// Calibration windows are summed in blocks of this many (window_blocks.h):
// the same statistics for any number of processes.
inline constexpr int64_t kLowbitWindowsPerBlock = 4;

// `source` may be lazy; with a `stream`, each finished layer is handed to it
// and released, as quantize_model_int does (model_quantizer.h). In a
// distributed job every rank calibrates on its share of the windows; ranks
// other than 0 then return without quantizing.
LowbitModel quantize_model_lowbit(const ModelWeights& source, const std::vector<std::vector<int32_t>>& windows,
                                  const LowbitScheme& scheme, const LinearProgressFn& progress = {},
                                  LowbitLayerStream* stream = nullptr);

}  // namespace llmq
