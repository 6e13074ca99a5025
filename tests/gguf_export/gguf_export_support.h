#pragma once
// Shared helpers for the GGUF export tests: fixture configs and a cache of
// exported files (each fixture/preset is written once per test binary).
#include <map>
#include <string>

#include "common/fixtures.h"
#include "export/gguf/gguf_exporter.h"
#include "io/hf_checkpoint.h"
#include "model/config.h"

namespace llmq::test {

inline ModelConfig fixture_config(const std::string& model) {
  const std::string path = model_dir(model) + "/config.json";
  return ModelConfig::from_json(parse_json_file(path), path);
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
