#include "export/hf/rank_states.h"

#include <filesystem>

#include <fmt/format.h>

#include "export/hf/layer_spill.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace llmq {

namespace {

std::string rank_states_path(const std::string& dir, const Cluster& c) {
  return (fs::path(dir) / fmt::format("states-rank{}-of{}.safetensors", c.rank(), c.size())).string();
}

}  // namespace

void save_rank_states(const std::string& dir, Cluster& cluster, bool due, int next_layer, const WindowStates& states) {
  if (!cluster.broadcast(int64_t(due), 0)) return;
  save_window_states(rank_states_path(dir, cluster), next_layer, states);
  cluster.barrier();  // a checkpoint counts once every rank's file is in place
}

int resume_rank_states(const std::string& dir, Cluster& cluster, int finished_layers,
                       const std::vector<int64_t>& window_values, WindowStates& states) {
  std::optional<std::pair<int, WindowStates>> mine;
  try {
    mine = load_window_states(rank_states_path(dir, cluster));
  } catch (const Error&) {
    mine.reset();  // unreadable: start over rather than fail the job
  }
  // Rank 0 proposes the layer its own states enter, if its checkpoint has every layer before it.
  int64_t layer = 0;
  if (cluster.is_root() && mine && mine->first > 0 && mine->first <= finished_layers) layer = mine->first;
  layer = cluster.broadcast(layer, 0);
  bool ok = layer > 0 && mine && mine->first == layer && mine->second.size() == window_values.size();
  for (size_t i = 0; ok && i < window_values.size(); ++i) ok = int64_t(mine->second[i].size()) == window_values[i];
  if (!cluster.all_ok(ok)) return 0;
  states = std::move(mine->second);
  return int(layer);
}

}  // namespace llmq
