#include "calibration/analysis.h"

#include <chrono>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "calibration/calibration_pass.h"
#include "calibration/checkpoint.h"

namespace llmq {

std::string analysis_fingerprint(const ModelConfig& cfg, const CalibrationWindows& windows, const AnalysisOptions& opt) {
  nlohmann::json j = {{"model", opt.model_id},
                      {"arch", cfg.model_type},
                      {"layers", cfg.n_layers},
                      {"hidden", cfg.hidden},
                      {"windows", windows.windows.size()},
                      {"tokens", windows.tokens()},
                      {"data", fmt::format("{:016x}", windows.fingerprint())},
                      {"spikes", opt.collect_spikes}};
  return j.dump();
}

std::unique_ptr<Analysis> run_analysis(const Transformer& model, const CalibrationWindows& windows,
                                       const AnalysisOptions& opt) {
  const ModelConfig& cfg = model.config();
  auto a = std::make_unique<Analysis>();
  CalibrationPass pass(model);
  pass.add(a->importance);
  if (cfg.is_moe()) {
    a->routing = std::make_unique<MoeRoutingCollector>(cfg.n_experts);
    pass.add(*a->routing);
  }
  if (opt.collect_spikes) {
    a->spikes = std::make_unique<SuperWeightCollector>();
    pass.add(*a->spikes);
  }

  const std::string fingerprint = analysis_fingerprint(cfg, windows, opt);
  const int64_t total = int64_t(windows.windows.size());
  int64_t first = 0;
  if (!opt.checkpoint_path.empty() && !opt.restart) {
    if (auto done = load_checkpoint(opt.checkpoint_path, fingerprint, pass.collectors())) first = std::min(*done, total);
  }
  a->resumed_windows = first;
  a->windows = total;
  for (int64_t i = 0; i < total; ++i) a->tokens += int64_t(windows.windows[size_t(i)].size());

  int64_t tokens_now = 0;
  const auto start = std::chrono::steady_clock::now();
  CalibrationPassOptions po;
  po.first_window = first;
  po.on_window_done = [&](int64_t i, int64_t tokens) {
    tokens_now += tokens;
    const int64_t done = i + 1;
    if (!opt.checkpoint_path.empty() && opt.checkpoint_every > 0 && done % opt.checkpoint_every == 0 && done < total)
      save_checkpoint(opt.checkpoint_path, fingerprint, done, pass.collectors());
    if (opt.on_window_done) opt.on_window_done(done, total, tokens);
  };
  pass.run(windows.windows, po);
  a->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  a->tokens_per_second = a->seconds > 0 ? double(tokens_now) / a->seconds : 0.0;
  return a;
}

}  // namespace llmq
