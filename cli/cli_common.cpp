#include "cli_common.h"

#include <cstdio>
#include <functional>
#include <filesystem>
#include <iostream>

#include "cli_app.h"
#include "distributed/cluster.h"
#include "io/model_locator.h"
#include "model/ops.h"
#include "util/error.h"
#include "util/output_guard.h"
#include "util/peak_memory.h"
#include "util/progress.h"

namespace llmq::cli {

namespace {
bool g_text_report = false;  // text output and not --quiet: say the peak memory at the end

// Files of an input directory may be symlinks to elsewhere (a Hugging Face cache snapshot links
// into ../../blobs/): their targets are inputs too.
void protect_link_targets(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  int budget = 100000;  // entries looked at; model directories hold a few dozen
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end && --budget > 0; it.increment(ec)) {
    if (!it->is_symlink(ec)) continue;
    const fs::path target = fs::canonical(it->path(), ec);
    if (!ec) protect_input(target.string());
    ec.clear();
  }
}
}

void add_common_options(CLI::App* cmd, CommonOptions& opts) {
  cmd->add_option("--format", opts.format, "Output format")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
  cmd->add_option("-t,--threads", opts.threads, "Threads (0 = all cores)")->capture_default_str()->check(CLI::Range(0, 1024));
  cmd->add_flag("-q,--quiet", opts.quiet, "No progress output");
  add_overwrite_option(cmd, opts);
}

void add_overwrite_option(CLI::App* cmd, CommonOptions& opts) {
  cmd->add_flag("--overwrite", opts.overwrite,
                "Replace an existing output directory, if an earlier run of llm-quantize wrote it");
}

CLI::Validator model_argument() {
  return CLI::Validator([](std::string& arg) { arg = resolve_model_path(arg); return std::string(); }, "", "MODEL");
}

void protect_run_inputs(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const std::string& p : paths) {
    if (p.empty() || !fs::exists(p, ec)) continue;
    // A FIFO or device would block a reader forever, or read differently each time (resume
    // fingerprints, two passes over calibration text): inputs are files and directories.
    const fs::file_type t = fs::status(p, ec).type();
    if (t != fs::file_type::regular && t != fs::file_type::directory)
      throw file_error(p, "is not a regular file or directory (a FIFO, device or socket); give a file");
    protect_input(p);
    if (t == fs::file_type::directory) protect_link_targets(p);
  }
}

void apply_common_options(CommonOptions& opts) {
  if (!Cluster::get().is_root()) opts.quiet = true;  // rank 0 reports for a distributed job
  const int threads = ops::set_num_threads(opts.threads);
  if (opts.threads > 0 && threads < opts.threads)
    std::fprintf(stderr, "warning: --threads %d: the address-space limit (ulimit -v) leaves room for %d thread%s; using %d\n",
                 opts.threads, threads, threads == 1 ? "" : "s", threads);
  set_progress_enabled(!opts.quiet && !opts.json());
  set_overwrite_outputs(opts.overwrite);
  g_text_report = !opts.quiet && !opts.json();
}

nlohmann::json peak_memory_json() {
  const MemoryPeak p = peak_memory();
  return {{"anonymous_bytes", p.anonymous_bytes}, {"resident_bytes", p.resident_bytes}};
}

static std::function<void(const nlohmann::json&)> g_json_sink;

void set_json_sink(std::function<void(const nlohmann::json&)> sink) { g_json_sink = std::move(sink); }

void print_json(const nlohmann::json& j) {
  nlohmann::json out = j;
  if (out.is_object()) out["peak_memory"] = peak_memory_json();
  if (g_json_sink) {
    g_json_sink(out);
    return;
  }
  std::cout << out.dump(2) << std::endl;
}

void report_peak_memory() {
  if (!g_text_report || !Cluster::get().is_root()) return;
  const MemoryPeak p = peak_memory();
  std::fprintf(stderr, "peak memory: %.1f MiB anonymous, %.1f MiB resident with mapped files\n",
               double(p.anonymous_bytes) / 1048576.0, double(p.resident_bytes) / 1048576.0);
}

}  // namespace llmq::cli
