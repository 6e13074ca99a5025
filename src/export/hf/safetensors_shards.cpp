#include "export/hf/safetensors_shards.h"

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "io/safetensors_writer.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace llmq {

namespace {

uint64_t tensor_bytes(const OutTensor& t) {
  uint64_t n = dtype_size(t.dtype);
  for (int64_t d : t.shape) n *= uint64_t(d);
  return n;
}

// "model.layers.0.mlp.down_proj.qweight" -> "model.layers.0.mlp.down_proj"
std::string module_of(const std::string& tensor_name) {
  const size_t dot = tensor_name.rfind('.');
  return dot == std::string::npos ? tensor_name : tensor_name.substr(0, dot);
}

}  // namespace

std::vector<int> plan_shards(const std::vector<OutTensor>& tensors, uint64_t max_shard_bytes, int* n_shards) {
  std::vector<int> shard(tensors.size(), 0);
  int current = 0;
  uint64_t filled = 0;
  for (size_t i = 0; i < tensors.size();) {
    // One module's tensors, kept together.
    size_t j = i;
    uint64_t unit = 0;
    const std::string module = module_of(tensors[i].name);
    while (j < tensors.size() && module_of(tensors[j].name) == module) unit += tensor_bytes(tensors[j++]);
    if (filled > 0 && filled + unit > max_shard_bytes) {
      ++current;
      filled = 0;
    }
    for (size_t k = i; k < j; ++k) shard[k] = current;
    filled += unit;
    i = j;
  }
  if (n_shards) *n_shards = tensors.empty() ? 0 : current + 1;
  return shard;
}

uint64_t sharded_safetensors_bytes(const std::vector<OutTensor>& tensors, const std::map<std::string, std::string>& metadata,
                                   uint64_t max_shard_bytes) {
  int n = 0;
  const std::vector<int> shard = plan_shards(tensors, max_shard_bytes, &n);
  std::vector<std::vector<SafetensorsEntry>> entries(static_cast<size_t>(n));
  uint64_t total = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const uint64_t b = tensor_bytes(tensors[i]);
    entries[size_t(shard[i])].push_back({tensors[i].name, tensors[i].dtype, tensors[i].shape, size_t(b)});
    total += b;
  }
  for (const auto& e : entries) total += 8 + safetensors_header(metadata, e).size();
  return total;
}

ShardedWrite write_safetensors_shards(const AtomicOutputDir& dir, const std::vector<OutTensor>& tensors,
                                      const std::map<std::string, std::string>& metadata, uint64_t max_shard_bytes) {
  if (max_shard_bytes == 0) fail("shard size must be positive");
  int n = 0;
  const std::vector<int> shard = plan_shards(tensors, max_shard_bytes, &n);
  ShardedWrite r;
  for (int s = 0; s < n; ++s)
    r.files.push_back(n == 1 ? "model.safetensors" : fmt::format("model-{:05d}-of-{:05d}.safetensors", s + 1, n));

  nlohmann::ordered_json weight_map = nlohmann::ordered_json::object();
  uint64_t total = 0;
  size_t i = 0;
  for (int s = 0; s < n; ++s) {
    SafetensorsWriter st(dir.file(r.files[size_t(s)]));
    for (const auto& [k, v] : metadata) st.set_metadata(k, v);
    const size_t begin = i;
    for (; i < tensors.size() && shard[i] == s; ++i) {
      st.declare(tensors[i].name, tensors[i].dtype, tensors[i].shape);
      weight_map[tensors[i].name] = r.files[size_t(s)];
      total += tensor_bytes(tensors[i]);
    }
    for (size_t k = begin; k < i; ++k) write_out_tensor(st, tensors[k]);
    st.finish();
    r.bytes += fs::file_size(dir.file(r.files[size_t(s)]));
  }
  if (n > 1) {
    const std::string path = dir.file("model.safetensors.index.json");
    std::ofstream f(path);
    f << nlohmann::ordered_json{{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}}.dump(2) << "\n";
    if (!f) throw file_error(path, "cannot write");
  }
  return r;
}

}  // namespace llmq
