#pragma once
// Shared inputs of the dynamic mixed-precision tests: importance matrices of
// the fixture models from a short calibration pass (with the MoE routing
// counts of the same pass), and synthetic sensitivity tables with known
// shapes.
#include <cmath>
#include <map>
#include <memory>
#include <string>

#include "calibration/calibration_data.h"
#include "calibration/calibration_pass.h"
#include "calibration/imatrix_builder.h"
#include "calibration/importance_collector.h"
#include "calibration/moe_routing_collector.h"
#include "common/cached_model.h"
#include "common/fixtures.h"
#include "export/gguf/gguf_names.h"
#include "mixed/bit_allocation.h"
#include "mixed/tensor_catalog.h"
#include "tokenizer/tokenizer.h"

namespace llmq::test {

struct CalibratedModel {
  std::string imatrix_path;
  std::map<int, std::vector<int64_t>> routing;  // from MoeRoutingCollector (MoE models)
};

// 4 windows of 96 tokens of the shared calibration text, run once per process.
inline const CalibratedModel& calibrated(const std::string& name) {
  static TempDir dir;
  static std::map<std::string, CalibratedModel> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  const LoadedModel& m = cached_model(name);
  const ModelConfig& c = m.weights->cfg;
  const std::vector<int32_t> tokens =
      m.tokenizer->encode(read_calibration_text(data_file("calibration.txt")).text.substr(0, 40000), false);
  const CalibrationWindows w = select_windows(tokens, {4, 96, 3});
  Transformer model(m.weights);
  ImportanceCollector imp;
  std::unique_ptr<MoeRoutingCollector> routing;
  CalibrationPass pass(model);
  pass.add(imp);
  if (c.is_moe()) {
    routing = std::make_unique<MoeRoutingCollector>(c.n_experts);
    pass.add(*routing);
  }
  pass.run(w.windows);
  CalibratedModel out;
  out.imatrix_path = dir / (name + ".imatrix");
  write_imatrix_gguf(build_imatrix(imp, c, gguf_tensor_name, {"calibration.txt"}, 4, 96), out.imatrix_path);
  if (routing)
    for (const auto& [l, s] : routing->layers()) out.routing[l] = s.counts;
  return cache[name] = out;
}

inline const TensorCatalog& catalog(const std::string& name) {
  static std::map<std::string, std::unique_ptr<TensorCatalog>> cache;
  auto& c = cache[name];
  if (!c) c = std::make_unique<TensorCatalog>(model_dir(name));
  return *c;
}

// A table where each tensor's loss is its size (in millions of values) times
// 4^-bits (the noise of a uniform grid), scaled per tensor by `weight(name)`.
template <typename Weight>
SensitivityTable synthetic_table(const TensorCatalog& cat, const std::vector<TensorCandidates>& cands, Weight weight) {
  SensitivityTable t;
  for (const TensorCandidates& c : cands)
    for (ggml::GgmlType type : c.types)
      t.tensors[c.name][type].value = weight(c.name) * double(cat.find(c.name)->spec.n_elements()) * 1e-6 *
                                      std::pow(4.0, -ggml::type_bpw(type));
  return t;
}

}  // namespace llmq::test
