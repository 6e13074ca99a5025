#pragma once
// Super weights (Yu et al. 2024): single down_proj weights whose removal
// wrecks a model. They show as a spike of the down_proj output in one early
// layer: that layer's peak |y| stands far above every other layer's. Found
// from a SuperWeightCollector's spikes, saved beside the importance matrix
// as JSON, so quantization can keep them in full precision.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "calibration/super_weight_collector.h"
#include "calibration/tensor_namer.h"
#include "model/weights.h"

namespace llmq {

struct SuperWeight {
  int layer = 0;
  int expert = -1;               // -1 for dense MLPs
  std::string tensor;            // Hugging Face name of the down_proj weight
  std::string gguf_tensor;       // llama.cpp name ("blk.2.ffn_down.weight")
  int64_t row = 0, col = 0;      // W[row, col]: output channel, input channel
  float value = 0;               // the weight
  float output_activation = 0;   // peak |y_row|
  float input_activation = 0;    // |x_col| on the peak token
  double spike_ratio = 0;        // peak |y| / median over all down_projs of their peak |y|
};

struct SuperWeightOptions {
  // A down_proj counts as spiking when its peak |y| is at least this many
  // times the median peak over all down_projs of the model.
  double min_spike_ratio = 10.0;
  int max_count = 8;  // strongest first
};

// Super weights in decreasing order of output activation; empty when no
// layer spikes. `w` supplies the weight values.
std::vector<SuperWeight> identify_super_weights(const SuperWeightCollector& spikes, const ModelWeights& w,
                                                const GgufNamer& gguf_name, const SuperWeightOptions& opt = {});

// The down_proj peaks of every layer (and expert), strongest first, for reports.
std::vector<SuperWeight> down_proj_peaks(const SuperWeightCollector& spikes, const ModelWeights& w,
                                         const GgufNamer& gguf_name);

nlohmann::json super_weight_to_json(const SuperWeight& s);
SuperWeight super_weight_from_json(const nlohmann::json& j);  // throws llmq::Error on missing fields

// <imatrix>.superweights.json: {"super_weights": [...], "model": ..., ...}.
std::string super_weights_path_for(const std::string& imatrix_path);
void write_super_weights(const std::string& path, const std::vector<SuperWeight>& sw, const nlohmann::json& extra = {});
std::vector<SuperWeight> read_super_weights(const std::string& path);

}  // namespace llmq
