#include "export/hf/streamed_layers.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "model/layer_residency.h"
#include "util/finite_check.h"

namespace fs = std::filesystem;

namespace llmq {

std::string default_checkpoint_dir(const std::string& output_dir) {
  std::string base = fs::path(output_dir).lexically_normal().string();
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  return base + ".checkpoint";
}

nlohmann::json checkpoint_identity(const std::string& model_dir) {
  std::error_code ec;
  nlohmann::json files = nlohmann::json::array();
  std::vector<fs::path> paths;
  for (const fs::directory_entry& e : fs::directory_iterator(model_dir, ec))
    if (e.path().extension() == ".safetensors") paths.push_back(e.path());
  std::sort(paths.begin(), paths.end());
  for (const fs::path& p : paths) {
    const auto mtime = fs::last_write_time(p, ec).time_since_epoch().count();
    files.push_back({p.filename().string(), fs::file_size(p, ec), int64_t(mtime)});
  }
  std::ifstream cfg(fs::path(model_dir) / "config.json", std::ios::binary);
  std::stringstream ss;
  ss << cfg.rdbuf();
  return {{"model", fs::weakly_canonical(model_dir, ec).string()}, {"config", fingerprint_hash(ss.str())}, {"files", files}};
}

std::string windows_hash(const std::vector<std::vector<int32_t>>& windows) {
  std::string bytes;
  for (const auto& w : windows) {
    bytes += std::to_string(w.size()) + ":";
    bytes.append(reinterpret_cast<const char*>(w.data()), w.size() * sizeof(int32_t));
  }
  return fingerprint_hash(bytes);
}

int resume_layer(const LayerSpill& spill, bool carries_states, int n_layers, WindowStates& states) {
  const int finished = std::min(spill.finished_layers(), n_layers);
  if (!carries_states) return finished;
  auto saved = spill.saved_states();
  if (!saved || saved->first <= 0 || saved->first > finished) return 0;
  states = std::move(saved->second);
  return saved->first;
}

bool StateSaveClock::due(const WindowStates& s, bool last_layer) {
  if (last_layer) return false;  // nothing left to resume into
  size_t bytes = 0;
  for (const auto& w : s) bytes += w.size() * sizeof(float);
  const double now = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  if (bytes > (size_t(256) << 20) && now - last_ < 30.0) return false;
  last_ = now;
  return true;
}

namespace {

void check_tensor_finite(const NamedTensor& nt, const std::string& source) {
  const Tensor& t = *nt.tensor;
  for_each_row_tile(t, [&](int64_t r0, int64_t n, const float* v) {
    check_finite(v, size_t(n * t.cols()), source, t.lazy() ? fmt::format("{} (rows {}..{})", nt.name, r0, r0 + n - 1) : nt.name);
  });
}

}  // namespace

void check_outer_tensors_finite(ModelWeights& w, const std::string& source) {
  if (allow_nonfinite()) return;
  for (const NamedTensor& nt : named_tensors(w))
    if (nt.layer < 0) check_tensor_finite(nt, source);
}

void check_layer_finite(ModelWeights& w, int l, const std::string& source) {
  if (allow_nonfinite()) return;
  for (const NamedTensor& nt : layer_tensors(w, l)) check_tensor_finite(nt, source);
}

std::vector<OutTensor> tensors_with_spilled_layers(
    ModelWeights& w, const LayerSpill& spill,
    const std::function<void(const NamedTensor&, std::vector<OutTensor>&)>& outside) {
  std::vector<OutTensor> out;
  int last_layer = -1;
  for (const NamedTensor& nt : named_tensors(w)) {
    if (nt.layer < 0) {
      outside(nt, out);
    } else if (nt.layer != last_layer) {
      for (OutTensor& t : spill.layer_tensors(nt.layer)) out.push_back(std::move(t));
      last_layer = nt.layer;
    }
  }
  return out;
}

}  // namespace llmq
