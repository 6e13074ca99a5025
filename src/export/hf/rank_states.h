#pragma once
// Resuming a distributed layer walk (sequential GPTQ): every rank holds the
// hidden states of its own calibration windows, so each saves its own file in
// the job's checkpoint folder, states-rank<r>-of<N>.safetensors, when rank 0
// says it is time; a rerun with the same N continues at the layer every rank
// has states for, and starts over when any rank lacks them (another N, a
// folder not shared between machines).
#include <string>

#include "distributed/cluster.h"
#include "export/hf/layer_stream.h"

namespace llmq {

// Each rank's file; `due` is rank 0's decision (the others' value is ignored).
void save_rank_states(const std::string& dir, Cluster& cluster, bool due, int next_layer, const WindowStates& states);

// The layer to resume at (0: start over), the same on every rank; fills
// `states` (this rank's windows: `window_tokens[i] * hidden` values each).
// `finished_layers`: layers rank 0's checkpoint holds (others pass anything).
int resume_rank_states(const std::string& dir, Cluster& cluster, int finished_layers,
                       const std::vector<int64_t>& window_values, WindowStates& states);

}  // namespace llmq
