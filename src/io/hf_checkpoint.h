#pragma once
// A Hugging Face checkpoint directory: config.json plus either one
// model.safetensors or shards listed in model.safetensors.index.json.
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/safetensors.h"

namespace llmq {

class HfCheckpoint {
 public:
  // Throws llmq::Error naming the missing/corrupt file.
  explicit HfCheckpoint(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const nlohmann::json& config() const { return config_; }
  const TensorView* find(const std::string& name) const;
  const TensorView& get(const std::string& name) const;  // throws if absent
  std::vector<std::string> tensor_names() const;
  size_t total_bytes() const;  // sum of tensor bytes over all shards (views not counted)
  // Adds a view of part of a stored tensor under a name of its own (a
  // reader's alias, e.g. one expert of a stacked tensor, whose bytes the
  // caller took from a stored tensor). Throws if the name exists.
  void add_view(TensorView view);
  const std::vector<std::unique_ptr<SafetensorsFile>>& shards() const { return shards_; }

 private:
  std::string dir_;
  nlohmann::json config_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::map<std::string, const TensorView*> index_;
  std::deque<TensorView> views_;  // stable addresses for index_
};
bool is_hf_checkpoint_dir(const std::string& path);

}  // namespace llmq
