#pragma once
// The `analyze` workflow as a library call: one calibration pass collecting
// the importance matrix (plus MoE routing and down_proj spikes when asked),
// checkpointed every few windows and resumable after a crash.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "calibration/calibration_data.h"
#include "calibration/importance_collector.h"
#include "calibration/moe_routing_collector.h"
#include "calibration/super_weight_collector.h"
#include "model/transformer.h"

namespace llmq {

// Windows per block of summation (window_blocks.h): fixed, so that the
// statistics do not depend on how many processes ran the pass; up to
// windows / 4 processes share an analysis.
inline constexpr int64_t kAnalysisWindowsPerBlock = 4;

struct AnalysisOptions {
  bool collect_spikes = false;      // down_proj activation spikes (super weights)
  std::string checkpoint_path;      // empty: no checkpoints
  int64_t checkpoint_every = 8;     // windows between checkpoints
  bool restart = false;             // ignore (and replace) an existing checkpoint
  std::string model_id;             // part of the checkpoint fingerprint
  // After each window: windows done, total, tokens of this window.
  std::function<void(int64_t done, int64_t total, int64_t tokens)> on_window_done;
};

struct Analysis {
  ImportanceCollector importance;
  std::unique_ptr<MoeRoutingCollector> routing;     // MoE models only
  std::unique_ptr<SuperWeightCollector> spikes;     // when collect_spikes
  int64_t windows = 0, tokens = 0;
  int64_t resumed_windows = 0;   // windows restored from a checkpoint
  double seconds = 0;            // forward time of this run (not of resumed windows)
  double tokens_per_second = 0;  // over the windows run now
};

// The fingerprint a checkpoint must carry to be resumed by this run.
std::string analysis_fingerprint(const ModelConfig& cfg, const CalibrationWindows& windows, const AnalysisOptions& opt);

// Runs the pass, resuming from opt.checkpoint_path when it holds this run's
// checkpoint. The checkpoint is left in place: remove it once the results
// are safely written.
std::unique_ptr<Analysis> run_analysis(const Transformer& model, const CalibrationWindows& windows,
                                       const AnalysisOptions& opt);

}  // namespace llmq
