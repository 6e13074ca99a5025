// llm-quantize analyze MODEL [-o FILE]: importance matrix (llama.cpp's
// imatrix formats), MoE routing statistics, super weights.
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "../cli_common.h"
#include "calibration/analysis.h"
#include "calibration/calibration_data.h"
#include "calibration/imatrix_builder.h"
#include "calibration/imatrix_file.h"
#include "calibration/model_fingerprint.h"
#include "calibration/super_weights.h"
#include "distributed/cluster.h"
#include "export/gguf/gguf_names.h"
#include "io/model_locator.h"
#include "model/model_loader.h"
#include "tokenizer/tokenizer.h"
#include "util/output_guard.h"
#include "util/atomic_output.h"
#include "util/error.h"
#include "util/progress.h"

namespace llmq::cli {

namespace fs = std::filesystem;

namespace {

struct AnalyzeArgs {
  std::string model, output, output_format = "gguf";
  std::string data;
  int64_t samples = 128, ctx = 512;
  uint64_t seed = 0;
  bool sequential = false;
  bool super_weights = false;
  double super_weight_ratio = 10.0;
  std::string resume_dir;
  int64_t checkpoint_every = 8;
  bool restart = false;
};

// <model dir>.imatrix beside the model directory (model.gguf -> model.imatrix); for a
// Hugging Face cache snapshot, <name>.imatrix in the current directory.
std::string default_output(const std::string& model) {
  fs::path p = fs::path(model_output_base(model)).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();  // trailing slash
  std::error_code ec;
  if (!fs::is_directory(model, ec)) p.replace_extension();
  return p.string() + ".imatrix";
}

struct ChosenData {
  std::string path, how;
};

ChosenData choose_calibration_data(const AnalyzeArgs& a) {
  if (!a.data.empty()) return {a.data, "given with --calibration-data"};
  if (auto p = default_calibration_path(a.model)) {
    const bool beside = fs::path(*p).parent_path() == (fs::is_directory(a.model) ? fs::path(a.model) : fs::path(a.model).parent_path());
    return {*p, beside ? "default: calibration.txt beside the model" : "default: the project's shared calibration text"};
  }
  fail("no calibration data: pass --calibration-data FILE (no calibration.txt beside the model, and no "
       "shared/data/calibration.txt beside the source checkout)");
}

nlohmann::json routing_json(const MoeRoutingCollector& r) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& [l, s] : r.layers())
    layers.push_back({{"layer", l}, {"tokens", s.tokens}, {"top_k", s.top_k}, {"counts", s.counts},
                      {"mean_weight", s.mean_weight()}});
  return layers;
}

void print_routing(const MoeRoutingCollector& r) {
  fmt::print("MoE routing (token slots per expert):\n");
  for (const auto& [l, s] : r.layers()) {
    int64_t lo = s.counts.empty() ? 0 : s.counts[0], hi = lo, unused = 0;
    size_t lo_e = 0, hi_e = 0;
    for (size_t e = 0; e < s.counts.size(); ++e) {
      if (s.counts[e] < lo) lo = s.counts[e], lo_e = e;
      if (s.counts[e] > hi) hi = s.counts[e], hi_e = e;
      unused += s.counts[e] == 0;
    }
    fmt::print("  layer {:>3}: {} tokens x top-{}; busiest expert {} ({}), quietest {} ({}), unused {}\n", l, s.tokens,
               s.top_k, hi_e, hi, lo_e, lo, unused);
  }
}

void print_super_weights(const std::vector<SuperWeight>& found, const std::vector<SuperWeight>& peaks, double ratio) {
  if (found.empty()) {
    if (peaks.empty()) fmt::print("super weights: none found (no down_proj ran)\n");
    else
      fmt::print("super weights: none found (largest down_proj output spike: layer {}, |y| {:.4g} = {:.1f}x the median; "
                 "threshold {:.1f}x)\n",
                 peaks[0].layer, peaks[0].output_activation, peaks[0].spike_ratio, ratio);
    return;
  }
  fmt::print("super weights (down_proj output spike >= {:.1f}x the median over layers):\n", ratio);
  for (const SuperWeight& s : found)
    fmt::print("  layer {:>3}{} {} [row {}, col {}] = {:.6g}   |y| {:.4g} ({:.1f}x median), |x| {:.4g}\n", s.layer,
               s.expert >= 0 ? fmt::format(" expert {}", s.expert) : std::string(), s.tensor, s.row, s.col, s.value,
               s.output_activation, s.spike_ratio, s.input_activation);
}

void run(const AnalyzeArgs& a, const CommonOptions& opts) {
  const std::string output = a.output.empty() ? default_output(a.model) : a.output;
  const ChosenData data = choose_calibration_data(a);
  protect_run_inputs({a.model, data.path});
  const std::string ckpt_dir = a.resume_dir.empty() ? output + ".checkpoint" : a.resume_dir;
  check_output_path(output, {ckpt_dir});  // before any work: the imatrix may not land in (or on) the checkpoint
  std::vector<std::string> warnings;
  auto warn = [&](const std::string& w) {
    warnings.push_back(w);
    if (!opts.quiet) std::fprintf(stderr, "warning: %s\n", w.c_str());
  };

  const CalibrationText text = read_calibration_text(data.path);
  if (!opts.quiet) std::fprintf(stderr, "calibration data: %s (%s; %s)\n", data.path.c_str(), data.how.c_str(), text.format.c_str());
  LoadedModel m = load_model(a.model, {.lazy = true});
  if (a.ctx > m.weights->cfg.max_positions)
    warn(fmt::format("--ctx {} exceeds the model's context length {} (max_position_embeddings): positions past it are extrapolated",
                     a.ctx, m.weights->cfg.max_positions));
  Transformer model(m.weights);
  const std::vector<int32_t> tokens = m.tokenizer->encode(text.text, false);
  std::optional<int32_t> bos;
  if (m.tokenizer->add_bos()) bos = m.tokenizer->bos_id();
  const CalibrationWindows windows = select_windows(tokens, {a.samples, a.ctx, a.seed, a.sequential}, bos);
  if (windows.windows.empty()) throw file_error(data.path, "calibration data tokenizes to nothing");
  if (windows.fewer_than_requested() || windows.windows_available == 0)
    warn(fmt::format("{} has {} tokens: {} window(s) of {} tokens, fewer than the {} asked for ({} tokens); using {}",
                     data.path, tokens.size(), windows.windows_available, a.ctx, a.samples, a.samples * a.ctx,
                     windows.windows_available == 0 ? "one shorter window" : "all of them"));

  const Cluster& cluster = Cluster::get();
  std::error_code ec;
  if (cluster.is_root()) fs::create_directories(ckpt_dir, ec);  // rank 0 keeps the checkpoint and writes the outputs
  if (ec) throw file_error(ckpt_dir, "cannot create the checkpoint folder: " + ec.message() + " (choose another -o or --resume)");
  const std::string ckpt = (fs::path(ckpt_dir) / "analyze.ckpt.gguf").string();

  AnalysisOptions ao;
  ao.collect_spikes = a.super_weights;
  ao.checkpoint_path = ckpt;
  ao.checkpoint_every = a.checkpoint_every;
  ao.restart = a.restart;
  ao.model_id = fs::weakly_canonical(a.model).string();
  const int64_t total_tokens = windows.tokens();
  std::unique_ptr<Progress> bar;
  ao.on_window_done = [&](int64_t done, int64_t total, int64_t t) {
    if (!bar) bar = std::make_unique<Progress>("analyze", size_t(total_tokens), true, "tok");
    bar->update(size_t(t), fmt::format("window {}/{}", done, total));
  };
  std::unique_ptr<Analysis> r = run_analysis(model, windows, ao);
  if (bar) bar->finish();
  if (!cluster.is_root()) return;  // its windows' statistics went to rank 0
  if (r->resumed_windows > 0 && !opts.quiet)
    std::fprintf(stderr, "resumed from checkpoint %s after %lld of %lld windows\n", ckpt.c_str(),
                 (long long)r->resumed_windows, (long long)r->windows);

  ImatrixData im = build_imatrix(r->importance, m.weights->cfg, gguf_tensor_name, {data.path},
                                 int32_t(windows.windows.size()), int32_t(a.ctx));
  im.model_fingerprint = model_fingerprint(*m.weights);
  if (a.output_format == "dat") write_imatrix_dat(im, output);
  else write_imatrix_gguf(im, output);

  std::vector<SuperWeight> found, peaks;
  std::string sw_path;
  if (r->spikes) {
    peaks = down_proj_peaks(*r->spikes, *m.weights, gguf_tensor_name);
    SuperWeightOptions so;
    so.min_spike_ratio = a.super_weight_ratio;
    found = identify_super_weights(*r->spikes, *m.weights, gguf_tensor_name, so);
    sw_path = super_weights_path_for(output);
    nlohmann::json extra = {{"model", a.model}, {"imatrix", output}, {"calibration_data", data.path},
                            {"min_spike_ratio", a.super_weight_ratio}};
    extra["down_proj_peaks"] = nlohmann::json::array();
    for (const SuperWeight& p : peaks) extra["down_proj_peaks"].push_back(super_weight_to_json(p));
    write_super_weights(sw_path, found, extra);
  }

  // Outputs are safe: the checkpoint has done its job.
  fs::remove(ckpt, ec);
  if (fs::is_empty(ckpt_dir, ec)) fs::remove(ckpt_dir, ec);

  if (opts.json()) {
    nlohmann::json j = {{"model", a.model},
                        {"calibration_data", data.path},
                        {"calibration_source", data.how},
                        {"calibration_format", text.format},
                        {"samples", r->windows},
                        {"samples_requested", a.samples},
                        {"ctx", a.ctx},
                        {"seed", a.seed},
                        {"sequential", a.sequential},
                        {"tokens", r->tokens},
                        {"tokens_in_text", tokens.size()},
                        {"resumed_samples", r->resumed_windows},
                        {"seconds", r->seconds},
                        {"tokens_per_second", r->tokens_per_second},
                        {"processes", cluster.size()},
                        {"output", output},
                        {"output_format", a.output_format},
                        {"entries", im.entries.size()},
                        {"warnings", warnings}};
    if (r->spikes) {
      j["super_weights"] = nlohmann::json::array();
      for (const SuperWeight& s : found) j["super_weights"].push_back(super_weight_to_json(s));
      j["super_weights_file"] = sw_path;
    }
    if (r->routing) j["moe_routing"] = routing_json(*r->routing);
    print_json(j);
    return;
  }
  fmt::print("analyzed {} windows of {} tokens ({} tokens) in {:.1f} s, {:.0f} tokens/s{}\n", r->windows, a.ctx,
             r->tokens, r->seconds, r->tokens_per_second,
             r->resumed_windows ? fmt::format(" (resumed after {} windows)", r->resumed_windows) : std::string());
  fmt::print("importance matrix: {} ({} format, {} entries)\n", output, a.output_format, im.entries.size());
  if (r->routing) print_routing(*r->routing);
  if (r->spikes) {
    print_super_weights(found, peaks, a.super_weight_ratio);
    fmt::print("super weight list: {}\n", sw_path);
  }
}

}  // namespace

void register_analyze(CLI::App& app) {
  auto* cmd = app.add_subcommand("analyze", "Calibration statistics: importance matrix (llama.cpp imatrix), MoE routing, super weights");
  auto opts = std::make_shared<CommonOptions>();
  auto a = std::make_shared<AnalyzeArgs>();
  cmd->add_option("model", a->model, "Model directory, .gguf file or Hugging Face id")->required()->transform(model_argument());
  cmd->add_option("-o,--output", a->output, "Importance matrix file (default: <model>.imatrix beside the model)");
  cmd->add_option("--output-format", a->output_format, "gguf (llama.cpp's current format) or dat (legacy)")
      ->check(CLI::IsMember({"gguf", "dat"}))
      ->capture_default_str();
  cmd->add_option("--calibration-data", a->data,
                  "Plain text, JSON array of strings, or JSONL with a \"text\" field (default: calibration.txt beside "
                  "the model, else the project's shared calibration text)");
  cmd->add_option("--calibration-samples", a->samples, "Windows to run")->capture_default_str()->check(CLI::Range(int64_t(1), int64_t(1) << 30));
  cmd->add_option("-c,--ctx", a->ctx, "Tokens per window")->capture_default_str()->check(CLI::Range(int64_t(1), int64_t(1) << 20));
  cmd->add_option("--seed", a->seed, "Seed of the window selection")->capture_default_str();
  cmd->add_flag("--sequential", a->sequential, "Use the first windows of the text instead of a seeded sample (as llama-imatrix does)");
  cmd->add_flag("--identify-super-weights", a->super_weights, "Find super weights from down_proj activation spikes");
  cmd->add_option("--super-weight-ratio", a->super_weight_ratio,
                  "A down_proj spikes when its peak |output| is this many times the median over layers")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--resume", a->resume_dir, "Checkpoint folder to save to and resume from (default: <output>.checkpoint)");
  cmd->add_option("--checkpoint-every", a->checkpoint_every, "Windows between checkpoints (0 = none)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--restart", a->restart, "Ignore an existing checkpoint and start over");
  add_common_options(cmd, *opts);
  cmd->callback([=] {
    apply_common_options(*opts);
    run(*a, *opts);
  });
}

}  // namespace llmq::cli
