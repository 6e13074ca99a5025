#include "mixed/sensitivity_runner.h"

#include <chrono>

#include "distributed/ordered_jobs.h"
#include "export/gguf/gguf_tensor_source.h"
#include "mixed/fast_sensitivity.h"
#include "model/model_loader.h"
#include "util/error.h"

namespace llmq {

namespace {

// Bump when a codec or the measure changes what a cached value means.
constexpr int kMeasureRevision = 2;  // 2: Q2_K/Q3_K row gain (row_gain.h)

}  // namespace

nlohmann::json sensitivity_fingerprint(const TensorCatalog& catalog, const SensitivityRunOptions& opt) {
  nlohmann::json j = model_fingerprint(catalog.model_dir(), catalog.checkpoint().total_bytes());
  j["imatrix"] = opt.imatrix_path.empty() ? "none" : file_fingerprint(opt.imatrix_path);
  j["mode"] = sensitivity_mode_name(opt.mode);
  j["revision"] = kMeasureRevision;
  if (opt.mode == SensitivityMode::Accurate)
    j["kld"] = {{"data", file_fingerprint(opt.data_path)}, {"windows", opt.kld.windows}, {"ctx", opt.kld.ctx}};
  return j;
}

namespace {

// One tensor's measurements as a message: {type name: [value, experts...] | "refused: why"}.
nlohmann::json measured_json(const TensorSensitivity& values, const std::map<ggml::GgmlType, std::string>& refused) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [type, v] : values) j["v"][ggml::type_name(type)] = {{"value", v.value}, {"experts", v.experts}};
  for (const auto& [type, why] : refused) j["r"][ggml::type_name(type)] = why;
  return j;
}

ggml::GgmlType type_named(const std::string& name) {
  const auto t = ggml::type_from_name(name);
  if (!t) fail("sensitivity message names an unknown type {}", name);
  return *t;
}

}  // namespace

SensitivityRun measure_sensitivities(const TensorCatalog& catalog, const std::vector<SensitivityRequest>& requests,
                                     const SensitivityRunOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  // Every rank reads the cache; rank 0 alone writes it (and is the only one
  // that receives measurements), after all have read it.
  Cluster& cluster = Cluster::get();
  SensitivityCache cache(opt.cache_path, opt.mode, sensitivity_fingerprint(catalog, opt));
  cluster.barrier();
  SensitivityRun run;
  run.cache_note = cache.note();
  SensitivityTable& table = cache.table();
  // The accurate meter needs a base run over the (lazily loaded) model: build
  // it only when something is left to measure.
  std::unique_ptr<KldSensitivityMeter> meter;
  auto need_meter = [&] {
    if (meter) return;
    if (opt.data_path.empty()) fail("accurate sensitivity needs calibration text (--sensitivity-data)");
    meter = make_kld_meter(load_hf_model(catalog.model_dir(), {.lazy = true}), opt.data_path, opt.kld, opt.importance);
  };
  auto missing_of = [&](const SensitivityRequest& rq) {
    std::vector<ggml::GgmlType> missing;
    for (ggml::GgmlType type : rq.types)
      if (!table.has_all(rq.name, {type})) missing.push_back(type);
    return missing;
  };
  std::vector<float> values, scratch;
  // A tensor at a time, on whichever rank is free (distributed/ordered_jobs.h); rank 0 records them in order.
  auto produce = [&](int64_t i) {
    const SensitivityRequest& rq = requests[size_t(i)];
    const CatalogTensor* t = catalog.find(rq.name);
    if (!t) fail("internal error: no tensor {} in the model's GGUF layout", rq.name);
    const std::vector<ggml::GgmlType> missing = missing_of(rq);
    TensorSensitivity measured;
    std::map<ggml::GgmlType, std::string> refused;
    if (!missing.empty()) {
      if (opt.mode == SensitivityMode::Fast) read_gguf_tensor(catalog.checkpoint(), catalog.config(), t->spec, values, scratch);
      else need_meter();
    }
    for (ggml::GgmlType type : missing) {
      try {
        if (opt.mode == SensitivityMode::Fast) measured[type] = fast_sensitivity(t->spec, values, type, opt.importance);
        else measured[type].value = meter->measure(t->spec, type);
      } catch (const Error& e) {
        refused[type] = e.what();  // the codec cannot store this tensor in that type
      }
    }
    const std::string text = measured_json(measured, refused).dump();
    return std::vector<uint8_t>(text.begin(), text.end());
  };
  auto consume = [&](int64_t i, std::vector<uint8_t>& bytes) {
    const SensitivityRequest& rq = requests[size_t(i)];
    const size_t missing = missing_of(rq).size();
    run.reused += int64_t(rq.types.size() - missing);
    const nlohmann::json j = nlohmann::json::parse(bytes.begin(), bytes.end());
    const nlohmann::json none = nlohmann::json::object();
    const nlohmann::json& measured = j.contains("v") ? j["v"] : none;
    const nlohmann::json& refused = j.contains("r") ? j["r"] : none;
    for (const auto& [type, v] : measured.items()) {
      TypeSensitivity& ts = table.tensors[rq.name][type_named(type)];
      ts.value = v.at("value").get<double>();
      ts.experts = v.at("experts").get<std::vector<double>>();
    }
    for (const auto& [type, why] : refused.items())
      table.refused[rq.name][type_named(type)] = why.get<std::string>();
    run.measured += int64_t(missing);
    if (missing) cache.save();
    if (opt.progress) opt.progress(size_t(i) + 1, requests.size(), rq.name);
  };
  run_ordered_jobs(cluster, int64_t(requests.size()), produce, consume);
  if (!cluster.single()) {  // every rank plans from the same table
    std::string text = cluster.is_root() ? table.to_json().dump() : std::string();
    std::vector<uint8_t> bytes(text.begin(), text.end());
    cluster.broadcast(bytes, 0);
    if (!cluster.is_root()) table = SensitivityTable::from_json(nlohmann::json::parse(bytes.begin(), bytes.end()), "rank 0's sensitivities");
  }
  run.table = table;
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return run;
}

}  // namespace llmq
