#include "mixed/sensitivity_runner.h"

#include <chrono>

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

SensitivityRun measure_sensitivities(const TensorCatalog& catalog, const std::vector<SensitivityRequest>& requests,
                                     const SensitivityRunOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  SensitivityCache cache(opt.cache_path, opt.mode, sensitivity_fingerprint(catalog, opt));
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

  std::vector<float> values, scratch;
  for (size_t i = 0; i < requests.size(); ++i) {
    const SensitivityRequest& rq = requests[i];
    const CatalogTensor* t = catalog.find(rq.name);
    if (!t) fail("internal error: no tensor {} in the model's GGUF layout", rq.name);
    std::vector<ggml::GgmlType> missing;
    for (ggml::GgmlType type : rq.types)
      if (!table.has_all(rq.name, {type})) missing.push_back(type);
    run.reused += int64_t(rq.types.size() - missing.size());
    if (!missing.empty()) {
      if (opt.mode == SensitivityMode::Fast) read_gguf_tensor(catalog.checkpoint(), catalog.config(), t->spec, values, scratch);
      else need_meter();
      for (ggml::GgmlType type : missing) {
        try {
          if (opt.mode == SensitivityMode::Fast) {
            table.tensors[rq.name][type] = fast_sensitivity(t->spec, values, type, opt.importance);
          } else {
            table.tensors[rq.name][type].value = meter->measure(t->spec, type);
          }
        } catch (const Error& e) {
          table.refused[rq.name][type] = e.what();  // the codec cannot store this tensor in that type
        }
        ++run.measured;
      }
      cache.save();
    }
    if (opt.progress) opt.progress(i + 1, requests.size(), rq.name);
  }
  run.table = table;
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return run;
}

}  // namespace llmq
