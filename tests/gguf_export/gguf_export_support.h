#pragma once
// Shared helpers for the GGUF export tests: fixture configs, type plans by
// tensor name, and a cache of exported files (each fixture/preset is
// written once per test binary).
#include <map>
#include <regex>
#include <string>

#include "common/fixtures.h"
#include "export/gguf/gguf_exporter.h"
#include "export/gguf/gguf_tensor_layout.h"
#include "export/gguf/gguf_type_plan.h"
#include "io/hf_checkpoint.h"
#include "model/config.h"
#include "util/json_file.h"

namespace llmq::test {

inline ModelConfig fixture_config(const std::string& model) {
  const std::string path = model_dir(model) + "/config.json";
  return ModelConfig::from_json(read_json_file(path), path);
}

// The planned type of every tensor, by GGUF name.
inline std::map<std::string, ggml::GgmlType> plan_by_name(const ModelConfig& cfg, const GgufQuantOptions& opt,
                                                          ggml::GgmlType source = ggml::GgmlType::BF16) {
  const auto layout = gguf_tensor_layout(cfg);
  const auto plan = plan_tensor_types(cfg, layout, opt, source);
  std::map<std::string, ggml::GgmlType> m;
  for (size_t i = 0; i < layout.size(); ++i) m[layout[i].name] = plan[i].type;
  return m;
}

// The block index of "blk.N.*" tensor names, -1 for the others.
inline int layer_of(const std::string& name) {
  std::smatch m;
  static const std::regex re(R"(^blk\.(\d+)\.)");
  return std::regex_search(name, m, re) ? std::stoi(m[1]) : -1;
}

// Exports `model` with `preset` into a directory that lives as long as the
// test binary, once; later calls return the same path.
inline std::string exported_gguf(const std::string& model, GgufPreset preset) {
  static TempDir dir;
  static std::map<std::string, std::string> cache;
  const std::string key = model + "-" + preset_info(preset).name;
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  GgufExportOptions opt;
  opt.quant.preset = preset;
  opt.output = dir / (key + ".gguf");
  export_gguf(model_dir(model), opt);
  return cache[key] = opt.output;
}

}  // namespace llmq::test
