#include "io/hf_checkpoint.h"

#include <filesystem>
#include <fstream>
#include <set>

#include "util/error.h"
#include "util/json_file.h"

namespace fs = std::filesystem;

namespace llmq {

bool is_hf_checkpoint_dir(const std::string& path) {
  return fs::is_directory(path) && fs::exists(fs::path(path) / "config.json");
}

HfCheckpoint::HfCheckpoint(const std::string& dir) : dir_(dir) {
  if (!fs::exists(dir)) throw file_error(dir, "model not found");
  if (!fs::is_directory(dir)) throw file_error(dir, "expected a Hugging Face checkpoint directory");
  config_ = read_json_file((fs::path(dir) / "config.json").string());

  const fs::path index = fs::path(dir) / "model.safetensors.index.json";
  const fs::path single = fs::path(dir) / "model.safetensors";
  if (fs::exists(index)) {
    nlohmann::json idx = read_json_file(index.string());
    if (!idx.contains("weight_map") || !idx["weight_map"].is_object())
      throw file_error(index.string(), "no weight_map object");
    std::set<std::string> files;
    for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
      if (!it->is_string()) throw file_error(index.string(), "weight_map entry " + it.key() + " is not a file name");
      files.insert(it->get<std::string>());
    }
    std::map<std::string, const SafetensorsFile*> by_file;
    for (const auto& f : files) {
      const fs::path p = fs::path(dir) / f;
      if (!fs::exists(p)) throw file_error(p.string(), "shard listed in " + index.filename().string() + " is missing");
      shards_.push_back(std::make_unique<SafetensorsFile>(p.string()));
      by_file[f] = shards_.back().get();
    }
    for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
      const SafetensorsFile* sf = by_file[it->get<std::string>()];
      const TensorView* tv = sf->find(it.key());
      if (!tv) throw file_error(sf->path(), "tensor " + it.key() + " listed in the index is not in this shard");
      index_[it.key()] = tv;
    }
  } else if (fs::exists(single)) {
    shards_.push_back(std::make_unique<SafetensorsFile>(single.string()));
    for (const auto& [name, tv] : shards_.back()->tensors()) index_[name] = &tv;
  } else {
    throw file_error(dir, "no model.safetensors or model.safetensors.index.json");
  }
}

const TensorView* HfCheckpoint::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second;
}

const TensorView& HfCheckpoint::get(const std::string& name) const {
  const TensorView* tv = find(name);
  if (!tv) throw file_error(dir_, "checkpoint has no tensor " + name);
  return *tv;
}

std::vector<std::string> HfCheckpoint::tensor_names() const {
  std::vector<std::string> v;
  for (const auto& [n, _] : index_) v.push_back(n);
  return v;
}

size_t HfCheckpoint::total_bytes() const {
  size_t s = 0;
  for (const auto& [_, tv] : index_) s += tv->nbytes;
  for (const TensorView& v : views_) s -= v.nbytes;
  return s;
}

void HfCheckpoint::add_view(TensorView view) {
  if (index_.count(view.name)) throw file_error(view.file, "tensor " + view.name + " is stored both stacked and on its own");
  views_.push_back(std::move(view));
  index_[views_.back().name] = &views_.back();
}

}  // namespace llmq
