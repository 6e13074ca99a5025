#include "cli_common.h"

#include <cstdio>
#include <iostream>

#include "model/ops.h"
#include "util/progress.h"

namespace llmq::cli {

void add_common_options(CLI::App* cmd, CommonOptions& opts) {
  cmd->add_option("--format", opts.format, "Output format")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
  cmd->add_option("-t,--threads", opts.threads, "Threads (0 = all cores)")->capture_default_str();
  cmd->add_flag("-q,--quiet", opts.quiet, "No progress output");
}

void apply_common_options(const CommonOptions& opts) {
  ops::set_num_threads(opts.threads);
  set_progress_enabled(!opts.quiet && !opts.json());
}

void print_json(const nlohmann::json& j) {
  std::cout << j.dump(2) << std::endl;
}

}  // namespace llmq::cli
