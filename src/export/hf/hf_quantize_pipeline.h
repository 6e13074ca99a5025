#pragma once
// The whole `quantize MODEL gptq|awq|rtn` flow as a library call: load the
// checkpoint, tokenize calibration windows, quantize, write the chosen
// layout atomically. The CLI only parses options and prints the result.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "calibration/calibration_data.h"
#include "export/hf/hf_quant_format.h"
#include "export/hf/model_quantizer.h"
#include "export/hf/safetensors_shards.h"
#include "export/hf/super_weight_protection.h"

namespace llmq {

struct HfQuantizeJob {
  std::string model_dir;
  std::string output_dir;           // empty: <model_dir>-<method>-w<bits>g<group>-<format> beside the model
  HfQuantFormat format = HfQuantFormat::Gptq;
  IntQuantizeOptions quant;         // spec is adjusted to the format (spec_for_format)
  std::string calibration_path;     // empty: default_calibration_path(model_dir)
  WindowOptions windows;            // samples x ctx tokens
  uint64_t max_shard_bytes = kDefaultMaxShardBytes;  // larger outputs are sharded with an index
  // Non-empty: --protect-super-weights with this list; the linears holding
  // its super weights are kept unquantized (super_weight_protection.h).
  std::string super_weights_file;
  // The resume checkpoint (finished layers, hidden states): empty means
  // <output_dir>.checkpoint. A rerun of the same job continues from it;
  // `restart` ignores it. It is removed once the output is committed.
  std::string checkpoint_dir;
  bool restart = false;
  // --max-memory: 0 = no limit. Otherwise the calibration windows' hidden
  // states that do not fit beside the largest layer's working memory
  // (layer_working_bytes) go to unlinked files in the checkpoint folder.
  uint64_t max_memory = 0;
};

struct HfQuantizeOutcome {
  std::string output_dir;
  int64_t quantized_linears = 0;
  std::vector<std::string> files;  // the safetensors file(s) written
  std::vector<std::string> ignored;  // linears kept in floating point by --ignore
  uint64_t bytes = 0, source_bytes = 0;
  int64_t calibration_windows = 0, calibration_tokens = 0;
  double seconds = 0;
  std::vector<std::string> rtn_fallbacks, warnings;
  nlohmann::json report;  // per-linear / per-scale statistics
  std::optional<SuperWeightProtection> protection;  // with super_weights_file
  int resumed_layers = 0;  // layers taken from the resume checkpoint of an earlier run
  // With max_memory: the bytes of hidden states allowed in memory, and the most that went to disk.
  std::optional<int64_t> state_budget_bytes;
  int64_t states_spilled_bytes = 0;
};

std::string default_hf_quant_output(const HfQuantizeJob& job);

// Runs a layer at a time on the lazily loaded checkpoint: each finished
// layer goes to the resume checkpoint and leaves memory; the writer then
// streams every layer from there into the output. Throws llmq::Error (bad
// options for the format, unreadable model or calibration file, output ==
// input) before any long work when it can.
HfQuantizeOutcome run_hf_quantize(const HfQuantizeJob& job, const LayerProgressFn& progress = {});

}  // namespace llmq
