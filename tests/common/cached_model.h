#pragma once
// Fixture models loaded once per test program (loading dominates short tests);
// tests that modify weights copy them first.
#include <map>
#include <memory>
#include <string>

#include "common/fixtures.h"
#include "model/model_loader.h"

namespace llmq::test {

inline const LoadedModel& cached_model(const std::string& name) {
  static std::map<std::string, std::unique_ptr<LoadedModel>> cache;
  auto& m = cache[name];
  if (!m) m = std::make_unique<LoadedModel>(load_model(model_dir(name)));
  return *m;
}

}  // namespace llmq::test
