#include "calibration/analysis.h"

#include <chrono>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "calibration/calibration_pass.h"
#include "calibration/checkpoint.h"
#include "calibration/window_blocks.h"
#include "util/error.h"

namespace llmq {

std::string analysis_fingerprint(const ModelConfig& cfg, const CalibrationWindows& windows, const AnalysisOptions& opt) {
  nlohmann::json j = {{"model", opt.model_id},
                      {"arch", cfg.model_type},
                      {"layers", cfg.n_layers},
                      {"hidden", cfg.hidden},
                      {"windows", windows.windows.size()},
                      {"tokens", windows.tokens()},
                      {"data", fmt::format("{:016x}", windows.fingerprint())},
                      {"spikes", opt.collect_spikes},
                      {"windows_per_block", kAnalysisWindowsPerBlock}};
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
  const WindowBlocks blocks(total, kAnalysisWindowsPerBlock);
  Cluster& cluster = Cluster::get();
  // Rank 0 keeps the checkpoint (it merges the blocks in order, so its totals are always a prefix of the windows).
  int64_t first = 0;
  if (cluster.is_root() && !opt.checkpoint_path.empty() && !opt.restart) {
    if (auto done = load_checkpoint(opt.checkpoint_path, fingerprint, pass.collectors())) first = std::min(*done, total);
  }
  first = cluster.broadcast(first, 0);
  int64_t first_block = 0;
  while (first_block < blocks.count() && blocks.end_window(first_block) <= first) ++first_block;
  if (first_block < blocks.count() && blocks.first_window(first_block) != first)
    fail("{}: the checkpoint ends inside a block of calibration windows; rerun with --restart", opt.checkpoint_path);

  a->resumed_windows = first;
  a->windows = total;
  for (int64_t i = 0; i < total; ++i) a->tokens += int64_t(windows.windows[size_t(i)].size());

  int64_t tokens_now = 0, last_saved = first;
  auto block_tokens = [&](int64_t b) {
    int64_t n = 0;
    for (int64_t i = blocks.first_window(b); i < blocks.end_window(b); ++i) n += int64_t(windows.windows[size_t(i)].size());
    return n;
  };
  const auto start = std::chrono::steady_clock::now();
  auto run = [&](int64_t w0, int64_t w1, const std::vector<Collector*>& into) {
    CalibrationPass block_pass(model);
    for (Collector* c : into) block_pass.add(*c);
    for (int64_t i = w0; i < w1; ++i) {
      block_pass.run_window(windows.windows[size_t(i)], i);
      // Rank 0 reports its own windows as they finish; the others' arrive a block at a time.
      if (cluster.is_root() && opt.on_window_done) opt.on_window_done(i + 1, total, int64_t(windows.windows[size_t(i)].size()));
    }
  };
  auto after_block = [&](int64_t b, bool ran_here) {
    tokens_now += block_tokens(b);
    const int64_t done = blocks.end_window(b);
    if (!opt.checkpoint_path.empty() && opt.checkpoint_every > 0 && done - last_saved >= opt.checkpoint_every && done < total) {
      save_checkpoint(opt.checkpoint_path, fingerprint, done, pass.collectors());
      last_saved = done;
    }
    if (!ran_here && opt.on_window_done) opt.on_window_done(done, total, block_tokens(b));
  };
  collect_in_blocks(pass.collectors(), blocks, cluster, run, Delivery::Root, first_block, after_block);
  a->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  a->tokens_per_second = a->seconds > 0 ? double(tokens_now) / a->seconds : 0.0;
  return a;
}

}  // namespace llmq
