#pragma once
// Checkpoints of a calibration pass: the exact state of every collector
// after a number of windows, in a GGUF file of float64 tensors named
// "<collector>/<array>". Written under a temporary name and renamed, so a
// run killed at any moment leaves the previous checkpoint or the new one.
// The fingerprint (model, data windows, collector configuration) keeps a
// checkpoint from being resumed into a different run.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "calibration/collector.h"

namespace llmq {

void save_checkpoint(const std::string& path, const std::string& fingerprint, int64_t windows_done,
                     const std::vector<Collector*>& collectors);

// Restores the collectors and returns the windows done; std::nullopt if
// there is no file at `path`. Throws llmq::Error naming the file when it was
// made for another run (fingerprint) or lacks a collector's state.
std::optional<int64_t> load_checkpoint(const std::string& path, const std::string& fingerprint,
                                       const std::vector<Collector*>& collectors);

}  // namespace llmq
