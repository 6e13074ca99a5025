#pragma once
// Shared plumbing of the CLI: options every command takes, output in text or
// JSON, and the exit-code contract (0 ok, 1 runtime failure, 2 usage error,
// 3 quality gate failed).
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace llmq::cli {

enum ExitCode { kOk = 0, kRuntimeError = 1, kUsageError = 2, kQualityGate = 3 };

struct CommonOptions {
  std::string format = "text";  // text | json
  int threads = 0;               // 0 = all cores
  bool quiet = false;
  bool overwrite = false;        // replace an existing output directory that an earlier run of ours wrote
  bool json() const { return format == "json"; }
};

// Adds --format, --threads, --quiet, --overwrite to a subcommand.
void add_common_options(CLI::App* cmd, CommonOptions& opts);
void add_overwrite_option(CLI::App* cmd, CommonOptions& opts);
// Transform for every option naming a model (MODEL, ORIGINAL, QUANTIZED, --model):
// a path stays a path; a Hugging Face id ("Qwen/Qwen3-4B") becomes its snapshot
// directory in the local cache (io/model_locator.h), so later code, input
// protection included, sees the resolved path. An id not in the cache ends
// the run with one line (exit code 1) before any work.
CLI::Validator model_argument();
// Applies the options: thread count, progress on/off (off for JSON output), --overwrite.
void apply_common_options(CommonOptions& opts);
// Names the run's input files and directories (those that exist): no output may
// be, contain or lie inside one of them (util/output_guard.h).
void protect_run_inputs(const std::vector<std::string>& paths);
// Prints the result object on stdout as one JSON document, with the run's
// peak memory under "peak_memory" when it is an object.
void print_json(const nlohmann::json& j);
// After a command: "peak memory ..." on stderr in text mode unless --quiet.
void report_peak_memory();
// Thrown by a command that finished its work but failed a quality gate.
struct QualityGateFailure {
  std::string message;
};

// Each command file registers its subcommand(s).
void register_inspect(CLI::App& app);
void register_generate(CLI::App& app);
void register_quality(CLI::App& app);
void register_quantize(CLI::App& app);
void register_analyze(CLI::App& app);
void register_profile(CLI::App& app);  // dynamic quantization profiles
void register_synth(CLI::App& app);    // synthetic checkpoints for benchmarks
// `quality report` and `quality compare`, added under the `quality` group.
void register_quality_report(CLI::App* quality);
// `quality tasks`: multiple-choice task accuracy.
void register_quality_tasks(CLI::App* quality);

}  // namespace llmq::cli
